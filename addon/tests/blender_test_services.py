"""Hyper3D Rodin and Sketchfab with their gates open, against a local fixture server."""

import base64
import json

import bpy
from blender_harness import BlenderTestCase, preferences
from fixture_server import FixtureServer
from gltf_fixtures import glb, gltf_with_bin, numpy_available, zipped


class ServiceFixtureCase(BlenderTestCase):
    @classmethod
    def setUpClass(cls):
        cls.fixture = FixtureServer()

    @classmethod
    def tearDownClass(cls):
        cls.fixture.close()


class Hyper3dTest(ServiceFixtureCase):
    def gate_open(self):
        return preferences(enable_hyper3d=True, hyper3d_api_key="rodin-key", hyper3d_base_url=self.fixture.base_url + "/api")

    def test_status(self):
        with self.gate_open():
            self.assertTrue(self.ok("get_hyper3d_status")["enabled"])

    def test_create_job_posts_multipart_with_bearer_key(self):
        answer = {"error": None, "uuid": "task-1", "jobs": {"uuids": ["a"], "subscription_key": "sub-1"}}
        self.fixture.add_json("/api/v2/rodin", answer, method="POST")
        image = base64.b64encode(b"\x89PNG fake bytes").decode()
        with self.gate_open():
            self.assertEqual(self.ok("create_rodin_job", text_prompt="a red chair", images=[[".png", image]], bbox_condition=[1, 2, 3]), answer)
            self.fails("create_rodin_job", "needs text_prompt, images, or both")
            self.fails("create_rodin_job", "not valid base64", images=[[".png", "***"]])
        request = self.fixture.requests_to("/api/v2/rodin")[-1]
        self.assertEqual(request["headers"]["Authorization"], "Bearer rodin-key")
        self.assertIn(b'name="prompt"\r\n\r\na red chair', request["body"])
        self.assertIn(b'filename="0000.png"', request["body"])
        self.assertIn(b'name="bbox_condition"\r\n\r\n[1, 2, 3]', request["body"])

    def test_poll_status(self):
        self.fixture.add_json("/api/v2/status", {"jobs": [{"uuid": "a", "status": "Done"}, {"uuid": "b", "status": "Generating"}]}, method="POST")
        with self.gate_open():
            polled = self.ok("poll_rodin_job_status", subscription_key="sub-1")
            self.fails("poll_rodin_job_status", "fal.ai", request_id="fal-1")
        self.assertEqual(polled["status_list"], ["Done", "Generating"])
        self.assertEqual(json.loads(self.fixture.requests_to("/api/v2/status")[-1]["body"]), {"subscription_key": "sub-1"})

    def test_import_generated_asset(self):
        glb_url = self.fixture.add_file("/files/task-1/base.glb", glb("Generated"))
        self.fixture.add_json("/api/v2/download", {"list": [{"name": "preview.webp", "url": "x"}, {"name": "base.glb", "url": glb_url}]}, method="POST")
        with self.gate_open():
            if not numpy_available():
                self.fails("import_generated_asset", "needs numpy", name="Chair", task_uuid="task-1")
                return
            imported = self.ok("import_generated_asset", name="Chair", task_uuid="task-1")
        self.assertEqual((imported["succeed"], imported["name"], imported["type"]), (True, "Chair", "MESH"))
        self.assertEqual(bpy.data.objects["Chair"].data.name, "Chair")


class SketchfabTest(ServiceFixtureCase):
    def gate_open(self):
        return preferences(enable_sketchfab=True, sketchfab_api_key="sf-key", sketchfab_base_url=self.fixture.base_url + "/v3")

    def test_status_checks_the_key(self):
        self.fixture.add_json("/v3/me", {"username": "artist"})
        with self.gate_open():
            self.assertEqual(self.ok("get_sketchfab_status"), {"enabled": True, "message": "Sketchfab is enabled; logged in as artist."})
        self.assertEqual(self.fixture.requests_to("/v3/me")[-1]["headers"]["Authorization"], "Token sf-key")

    def test_search(self):
        model = {"uid": "u1", "name": "Chair", "user": {"username": "artist"}, "isDownloadable": True, "faceCount": 12,
                 "vertexCount": 8, "license": {"label": "CC BY"}, "viewerUrl": "https://example.invalid/u1"}
        self.fixture.add_json("/v3/search", {"results": [model], "next": None})
        with self.gate_open():
            found = self.ok("search_sketchfab_models", query="chair", count=5)
        self.assertEqual(found["count"], 1)
        self.assertEqual(found["results"][0]["uid"], "u1")
        self.assertEqual(found["results"][0]["license"], "CC BY")
        query = self.fixture.requests_to("/v3/search")[-1]["query"]
        self.assertEqual((query["q"], query["count"], query["downloadable"], query["type"]), ("chair", "5", "true", "models"))

    def test_download_model(self):
        archive_url = self.fixture.add_file("/storage/u1.zip", zipped(gltf_with_bin("Stool", "scene.bin")))
        self.fixture.add_json("/v3/models/u1/download", {"gltf": {"url": archive_url, "expires": 300}})
        evil_url = self.fixture.add_file("/storage/evil.zip", zipped({"x.gltf": b"{}"}, folder="../../escape"))
        self.fixture.add_json("/v3/models/evil/download", {"gltf": {"url": evil_url}})
        with self.gate_open():
            self.fails("download_sketchfab_model", "leaves its folder", uid="evil")
            if not numpy_available():
                self.fails("download_sketchfab_model", "needs numpy", uid="u1")
                return
            downloaded = self.ok("download_sketchfab_model", uid="u1")
        self.assertEqual(downloaded["imported_objects"], ["Stool"])
        self.assertNotIn("Authorization", self.fixture.requests_to("/storage/u1.zip")[-1]["headers"], "the signed URL needs no key")
