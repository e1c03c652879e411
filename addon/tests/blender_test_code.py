"""execute_code, undo steps of mutating commands, the console commands, screenshots."""

import os

import bpy
from blender_harness import BlenderTestCase, call


class ExecuteCodeTest(BlenderTestCase):
    def test_returns_captured_stdout_with_bpy_bmesh_mathutils(self):
        code = "print(len(bpy.data.objects))\nprint(bmesh.new() is not None, mathutils.Vector((1, 2, 3)).length > 3)"
        self.assertEqual(
            self.ok("execute_code", code=code),
            {"executed": True, "result": "3\nTrue True\n", "stdout": "3\nTrue True\n", "stderr": ""},
        )

    def test_each_call_gets_fresh_globals(self):
        self.ok("execute_code", code="leftover = 1")
        self.fails("execute_code", "NameError", code="print(leftover)")

    def test_error_carries_the_traceback(self):
        response = self.fails("execute_code", "ZeroDivisionError: division by zero", code="x = 1\ny = x / 0\n")
        self.assertIn('File "<execute_code>", line 2', response["traceback"])

    def test_is_one_undo_step(self):
        self.ok("execute_code", code="bpy.data.objects['Cube'].location.x = 4.0")
        self.ok("execute_code", code="bpy.data.objects['Cube'].location.x = 9.0")
        bpy.ops.ed.undo()
        self.assertEqual(bpy.data.objects["Cube"].location.x, 4.0)
        bpy.ops.ed.undo()
        self.assertEqual(bpy.data.objects["Cube"].location.x, 0.0)
        bpy.ops.ed.redo()
        self.assertEqual(bpy.data.objects["Cube"].location.x, 4.0)

    def test_a_failed_command_pushes_no_undo_step(self):
        self.ok("execute_code", code="bpy.data.objects['Cube'].location.x = 4.0")
        self.fails("execute_code", "RuntimeError", code="bpy.data.objects['Cube'].location.x = 5.0\nraise RuntimeError('stop')")
        bpy.ops.ed.undo()
        self.assertEqual(bpy.data.objects["Cube"].location.x, 0.0)


class ConsoleTest(BlenderTestCase):
    def setUp(self):
        super().setUp()
        self.ok("console_operations", operation="clear")

    def test_printed_output_is_kept_and_paginated(self):
        self.ok("execute_code", code="for index in range(5):\n    print('marker', index)")
        self.ok("execute_code", code="import sys\nprint('went wrong', file=sys.stderr)")
        output = self.ok("get_console_output", page_size=2, page=3)
        self.assertEqual((output["total"], output["pages"], output["level"]), (6, 3, "all"))
        self.assertEqual([line["text"] for line in output["lines"]], ["marker 4", "went wrong"])
        errors = self.ok("get_console_output", level="error")
        self.assertEqual([(line["level"], line["text"]) for line in errors["lines"]], [("error", "went wrong")])
        self.fails("get_console_output", "unknown console level", level="loud")
        self.fails("get_console_output", "page must be", page=0)

    def test_operations(self):
        self.ok("execute_code", code="print('alpha')\nprint('beta')")
        stats = self.ok("console_operations", operation="stats")
        self.assertEqual((stats["total"], stats["by_level"]["info"]), (2, 2))
        matches = self.ok("console_operations", operation="search", params={"query": "ALP"})["matches"]
        self.assertEqual([line["text"] for line in matches], ["alpha"])
        self.assertEqual(self.ok("console_operations", operation="clear"), {"cleared": 2})
        self.assertEqual(self.ok("get_console_output")["total"], 0)
        self.fails("console_operations", "params.query", operation="search")
        self.fails("console_operations", "Unknown console operation: shout", operation="shout")


class ScreenshotTest(BlenderTestCase):
    def test_renders_the_scene_camera_in_background(self):
        engine = bpy.context.scene.render.engine
        shot = self.ok("get_viewport_screenshot", max_size=64)
        self.assertEqual((shot["width"], shot["height"], shot["format"]), (64, 36, "png"))
        with open(shot["filepath"], "rb") as image_file:
            self.assertEqual(image_file.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertEqual(bpy.context.scene.render.engine, engine)
        self.assertEqual(bpy.context.scene.render.resolution_x, 1920)

    def test_jpeg_at_a_given_path(self):
        path = os.path.join(bpy.app.tempdir, "fabric-shot.jpg")
        shot = self.ok("get_viewport_screenshot", filepath=path, max_size=48, format="jpeg")
        self.assertEqual(shot["filepath"], path)
        with open(path, "rb") as image_file:
            self.assertEqual(image_file.read(2), b"\xff\xd8")

    def test_without_a_camera_uses_a_temporary_one(self):
        bpy.data.objects.remove(bpy.data.objects["Camera"])
        cameras_before = len(bpy.data.cameras)
        shot = self.ok("get_viewport_screenshot", max_size=32)
        self.assertTrue(os.path.getsize(shot["filepath"]) > 0)
        self.assertIsNone(bpy.context.scene.camera)
        self.assertEqual(len(bpy.data.cameras), cameras_before)
        self.assertNotIn("FabricScreenshotCamera", bpy.data.objects)

    def test_bad_arguments(self):
        self.fails("get_viewport_screenshot", "format must be one of", format="gif")
        self.fails("get_viewport_screenshot", "max_size must be", max_size=0)


class PingTest(BlenderTestCase):
    def test_ping_answers_blender_facts(self):
        from blender_harness import run_request

        response = run_request({"type": "ping"})
        self.assertTrue(response["ok"])
        self.assertEqual(response["result"]["blender_version"], bpy.app.version_string)
        self.assertEqual(response["result"]["pid"], os.getpid())
        self.assertIsInstance(call("get_scene_info")["duration_ms"], float)
