"""Tier 1 reading commands: get_scene_info, get_object_info, browse_data; parameter checking."""

import bpy
from blender_harness import BlenderTestCase, call


class SceneInfoTest(BlenderTestCase):
    def test_factory_scene(self):
        info = self.ok("get_scene_info")
        self.assertEqual(info["object_count"], 3)
        self.assertEqual(sorted(obj["name"] for obj in info["objects"]), ["Camera", "Cube", "Light"])
        cube = next(obj for obj in info["objects"] if obj["name"] == "Cube")
        self.assertEqual(cube, {"name": "Cube", "type": "MESH", "location": [0.0, 0.0, 0.0]})
        self.assertEqual((info["frame_current"], info["frame_start"], info["frame_end"]), (1, 1, 250))
        self.assertEqual(info["materials_count"], len(bpy.data.materials))
        self.assertEqual(info["render_engine"], bpy.context.scene.render.engine)
        self.assertEqual(info["blend_file"], "")


class ObjectInfoTest(BlenderTestCase):
    def test_cube(self):
        info = self.ok("get_object_info", name="Cube")
        self.assertEqual(info["mesh"], {"vertices": 8, "edges": 12, "polygons": 6})
        self.assertEqual(info["world_bounding_box"], [[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]])
        self.assertEqual(info["materials"], ["Material"])
        self.assertEqual((info["type"], info["visible"], info["parent"]), ("MESH", True, None))
        self.assertEqual(info["scale"], [1.0, 1.0, 1.0])

    def test_camera_has_no_mesh_and_a_parent_when_parented(self):
        bpy.data.objects["Camera"].parent = bpy.data.objects["Cube"]
        info = self.ok("get_object_info", name="Camera")
        self.assertNotIn("mesh", info)
        self.assertEqual(info["parent"], "Cube")

    def test_unknown_object(self):
        response = self.fails("get_object_info", "Object not found: Cubee", name="Cubee")
        self.assertEqual(response["error"], "Object not found: Cubee")
        self.assertIsNone(response["traceback"])


class ParameterCheckTest(BlenderTestCase):
    def test_unknown_command_missing_and_unexpected_params(self):
        self.assertEqual(call("make_coffee")["error"], "Unknown command: make_coffee")
        self.fails("get_object_info", "missing parameter(s) name")
        self.fails("get_object_info", "unexpected parameter(s) colour", name="Cube", colour="red")


class BrowseDataTest(BlenderTestCase):
    def test_paginated_list(self):
        first = self.ok("browse_data", collection="objects", page_size=2)
        self.assertEqual((first["total"], first["pages"], first["page"], first["page_size"]), (3, 2, 1, 2))
        self.assertEqual(len(first["items"]), 2)
        second = self.ok("browse_data", collection="objects", page=2, page_size=2)
        self.assertEqual(len(second["items"]), 1)
        names = {item["name"] for item in first["items"] + second["items"]}
        self.assertEqual(names, {"Camera", "Cube", "Light"})
        self.assertEqual(self.ok("browse_data", collection="objects", page=7)["items"], [])

    def test_summary_and_full_item(self):
        summary = self.ok("browse_data", collection="objects", item_name="Cube")
        self.assertEqual(summary["item"], {"name": "Cube", "users": bpy.data.objects["Cube"].users, "type": "MESH"})
        full = self.ok("browse_data", collection="objects", item_name="Cube", detail_level="full")["item"]
        self.assertEqual(full["location"], [0.0, 0.0, 0.0])
        self.assertEqual(full["data"], "Cube")
        self.assertEqual(full["material_slots"], 1)
        materials = self.ok("browse_data", collection="materials", detail_level="full")
        self.assertIn("Material", [item["name"] for item in materials["items"]])

    def test_other_collections(self):
        for collection in ("meshes", "materials", "cameras", "lights", "collections", "scenes", "worlds", "images", "node_groups"):
            with self.subTest(collection=collection):
                listing = self.ok("browse_data", collection=collection)
                self.assertEqual(listing["total"], len(getattr(bpy.data, collection)))

    def test_errors(self):
        response = self.fails("browse_data", "Unknown data collection: widgets", collection="widgets")
        self.assertIn("meshes", response["error"])
        self.fails("browse_data", "Item not found in objects: Nope", collection="objects", item_name="Nope")
        self.fails("browse_data", "page must be", collection="objects", page=0)
        self.fails("browse_data", "page_size must be", collection="objects", page_size=-3)
        self.fails("browse_data", "detail_level", collection="objects", detail_level="everything")
