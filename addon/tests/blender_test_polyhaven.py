"""PolyHaven with the gate open, against a local fixture server at polyhaven_base_url."""

import bpy
from blender_harness import BlenderTestCase, preferences
from fixture_files import png_rgb, radiance_hdr_2x2
from fixture_server import FixtureServer
from gltf_fixtures import gltf_with_bin, numpy_available


def _assets(count):
    return {f"asset_{index:02d}": {"name": f"Asset {index}", "type": 0, "categories": ["outdoor"]} for index in range(count)}


class PolyHavenTest(BlenderTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fixture = FixtureServer()
        fixture = cls.fixture
        fixture.add_json("/categories/hdris", {"all": 3, "outdoor": 2, "studio": 1})
        fixture.add_json("/assets", _assets(25))
        hdr_url = fixture.add_file("/dl/sky_1k.hdr", radiance_hdr_2x2())
        fixture.add_json("/files/tiny_sky", {"hdri": {"1k": {"hdr": {"url": hdr_url, "size": 61}}}})
        texture_maps = {}
        for map_name, colour in (("Diffuse", (200, 60, 20)), ("nor_gl", (128, 128, 255)), ("Rough", (90, 90, 90))):
            url = fixture.add_file(f"/dl/brick_{map_name}_1k.png", png_rgb(4, 4, colour))
            texture_maps[map_name] = {"1k": {"png": {"url": url, "size": 100}}}
        texture_maps["blend"] = {"1k": {"blend": {"url": fixture.base_url + "/dl/missing.blend"}}}
        fixture.add_json("/files/tiny_brick", texture_maps)

    @classmethod
    def tearDownClass(cls):
        cls.fixture.close()

    def gate_open(self):
        return preferences(enable_polyhaven=True, polyhaven_base_url=self.fixture.base_url + "/")

    def test_status(self):
        with self.gate_open():
            status = self.ok("get_polyhaven_status")
        self.assertTrue(status["enabled"])
        self.assertIn(self.fixture.base_url, status["message"])

    def test_categories(self):
        with self.gate_open():
            self.assertEqual(
                self.ok("get_polyhaven_categories"),
                {"asset_type": "hdris", "categories": {"all": 3, "outdoor": 2, "studio": 1}},
            )
            self.fails("get_polyhaven_categories", "Invalid asset type: brushes", asset_type="brushes")

    def test_search_returns_at_most_20(self):
        with self.gate_open():
            found = self.ok("search_polyhaven_assets", asset_type="hdris", categories="outdoor")
        self.assertEqual((found["total_count"], found["returned_count"], len(found["assets"])), (25, 20, 20))
        self.assertEqual(found["assets"]["asset_00"]["name"], "Asset 0")
        self.assertEqual(self.fixture.requests_to("/assets")[-1]["query"], {"type": "hdris", "categories": "outdoor"})

    def test_download_hdri_sets_the_world(self):
        with self.gate_open():
            result = self.ok("download_polyhaven_asset", asset_id="tiny_sky", asset_type="hdris")
        self.assertTrue(result["success"])
        image = bpy.data.images[result["image_name"]]
        self.assertEqual(tuple(image.size), (2, 2))
        self.assertIsNotNone(image.packed_file, "the image outlives its temporary download folder")
        nodes = bpy.context.scene.world.node_tree.nodes
        environment = next(node for node in nodes if node.bl_idname == "ShaderNodeTexEnvironment")
        self.assertEqual(environment.image, image)
        background = next(node for node in nodes if node.bl_idname == "ShaderNodeBackground")
        self.assertEqual(background.inputs["Color"].links[0].from_node, environment)

    def test_download_errors(self):
        with self.gate_open():
            self.fails("download_polyhaven_asset", "has no '4k'", asset_id="tiny_sky", asset_type="hdris", resolution="4k")
            self.fails("download_polyhaven_asset", "HTTP 404", asset_id="unknown_sky", asset_type="hdris")
            self.fails("download_polyhaven_asset", "Invalid asset type: all", asset_id="tiny_sky", asset_type="all")

    def test_download_textures_then_set_texture(self):
        with self.gate_open():
            downloaded = self.ok("download_polyhaven_asset", asset_id="tiny_brick", asset_type="textures", file_format="png")
            self.assertEqual(downloaded["maps"], ["Diffuse", "Rough", "nor_gl"])
            self.assertEqual(downloaded["roles"], ["base_color", "normal", "roughness"])
            applied = self.ok("set_texture", object_name="Cube", texture_id="tiny_brick")
            self.fails("set_texture", "No downloaded texture never_downloaded", object_name="Cube", texture_id="never_downloaded")
            self.fails("set_texture", "Object not found: Ghost", object_name="Ghost", texture_id="tiny_brick")
            self.fails("set_texture", "cannot hold materials", object_name="Light", texture_id="tiny_brick")
        material = bpy.data.objects["Cube"].active_material
        self.assertEqual(material.name, applied["material"])
        principled = material.node_tree.nodes["Principled BSDF"]
        base_color_source = principled.inputs["Base Color"].links[0].from_node
        self.assertEqual(base_color_source.image.name, "tiny_brick_Diffuse.png")
        self.assertEqual(base_color_source.image.colorspace_settings.name, "sRGB")
        self.assertEqual(principled.inputs["Normal"].links[0].from_node.bl_idname, "ShaderNodeNormalMap")

    def test_download_model_imports_gltf_with_its_includes(self):
        files = gltf_with_bin("Rock", "rock.bin")
        base = self.fixture.base_url
        self.fixture.add_file("/dl/rock/rock_1k.gltf", files["Rock.gltf"])
        include_url = self.fixture.add_file("/dl/rock/rock.bin", files["rock.bin"])
        self.fixture.add_json(
            "/files/tiny_rock",
            {"gltf": {"1k": {"gltf": {"url": base + "/dl/rock/rock_1k.gltf", "include": {"rock.bin": {"url": include_url}}}}}},
        )
        with self.gate_open():
            if not numpy_available():
                self.fails("download_polyhaven_asset", "needs numpy", asset_id="tiny_rock", asset_type="models")
                return
            result = self.ok("download_polyhaven_asset", asset_id="tiny_rock", asset_type="models")
        self.assertEqual(result["imported_objects"], ["Rock"])
        self.assertEqual(len(bpy.data.objects["Rock"].data.polygons), 1)
