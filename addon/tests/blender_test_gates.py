"""Tier 2 status probes and tier 3 gates, closed (the default) and msgbus open."""

import bpy
from blender_harness import BlenderTestCase, preferences
from blender_fabric.registry import COMMANDS

GATED = {
    "enable_msgbus": ["msgbus_subscribe_rna", "msgbus_publish_rna", "msgbus_get_notifications", "msgbus_list_subscriptions", "msgbus_clear_by_owner"],
    "enable_polyhaven": ["get_polyhaven_categories", "search_polyhaven_assets", "download_polyhaven_asset", "set_texture"],
    "enable_hyper3d": ["create_rodin_job", "poll_rodin_job_status", "import_generated_asset"],
    "enable_sketchfab": ["search_sketchfab_models", "download_sketchfab_model"],
}


class RegistryTest(BlenderTestCase):
    def test_24_commands(self):
        self.assertEqual(len(COMMANDS), 24)
        gated = {name: command.gate for name, command in COMMANDS.items() if command.gate}
        self.assertEqual(gated, {name: gate for gate, names in GATED.items() for name in names})


class ClosedGateTest(BlenderTestCase):
    def test_preferences_default_to_off(self):
        prefs = bpy.context.preferences.addons["blender_fabric"].preferences
        self.assertEqual([getattr(prefs, gate) for gate in GATED], [False] * 4)
        self.assertEqual(prefs.polyhaven_base_url, "https://api.polyhaven.com")
        self.assertEqual(prefs.hyper3d_base_url, "https://hyperhuman.deemos.com/api")
        self.assertEqual(prefs.sketchfab_base_url, "https://api.sketchfab.com/v3")
        self.assertEqual(prefs.server_port, 9876)

    def test_every_gated_command_names_its_preference(self):
        for gate, names in GATED.items():
            for name in names:
                with self.subTest(command=name):
                    response = self.fails(name, f"Turn on '{gate}' in the Blender Fabric addon preferences")
                    self.assertIsNone(response["traceback"])

    def test_status_probes_say_disabled_and_how_to_enable(self):
        self.assertEqual(
            self.ok("get_polyhaven_status"),
            {"enabled": False, "message": "PolyHaven is disabled. Turn on 'enable_polyhaven' in the Blender Fabric addon preferences."},
        )
        hyper3d = self.ok("get_hyper3d_status")
        self.assertFalse(hyper3d["enabled"])
        self.assertIn("'enable_hyper3d'", hyper3d["message"])
        sketchfab = self.ok("get_sketchfab_status")
        self.assertFalse(sketchfab["enabled"])
        self.assertIn("'enable_sketchfab'", sketchfab["message"])

    def test_open_gate_without_api_key_is_not_ready(self):
        with preferences(enable_hyper3d=True, enable_sketchfab=True):
            self.assertIn("'hyper3d_api_key'", self.ok("get_hyper3d_status")["message"])
            self.assertFalse(self.ok("get_sketchfab_status")["enabled"])
            self.fails("poll_rodin_job_status", "'hyper3d_api_key'", subscription_key="abc")
            self.fails("search_sketchfab_models", "'sketchfab_api_key'", query="chair")


class MsgbusTest(BlenderTestCase):
    def test_subscribe_publish_list_clear(self):
        with preferences(enable_msgbus=True):
            subscribed = self.ok("msgbus_subscribe_rna", data_path="bpy.data.objects['Cube'].location", owner="watcher")
            self.assertEqual(subscribed["owner"], "watcher")
            self.assertFalse(subscribed["delivers_notifications"], "background Blender never dispatches msgbus")
            self.ok("msgbus_subscribe_rna", data_path="bpy.types.Object.name")
            listed = self.ok("msgbus_list_subscriptions")
            self.assertEqual(listed["count"], 2)
            self.assertIn({"owner": "fabric", "data_path": "bpy.types.Object.name"}, listed["subscriptions"])
            self.ok("execute_code", code="bpy.data.objects['Cube'].location.x = 1.5")
            self.assertTrue(self.ok("msgbus_publish_rna", data_path="bpy.data.objects['Cube'].location")["published"])
            self.assertEqual(self.ok("msgbus_get_notifications")["count"], 0)
            self.assertEqual(self.ok("msgbus_clear_by_owner", owner="watcher"), {"owner": "watcher", "cleared": 1})
            self.assertEqual(self.ok("msgbus_clear_by_owner", owner="nobody")["cleared"], 0)
            self.assertEqual(self.ok("msgbus_clear_by_owner", owner="fabric")["cleared"], 1)
            self.assertEqual(self.ok("msgbus_list_subscriptions")["count"], 0)

    def test_bad_data_paths(self):
        with preferences(enable_msgbus=True):
            self.fails("msgbus_subscribe_rna", "must start with 'bpy.'", data_path="os.system")
            self.fails("msgbus_subscribe_rna", "Cannot resolve", data_path="bpy.data.objects['Nope'].location")
            self.fails("msgbus_subscribe_rna", "has no property", data_path="bpy.data.objects['Cube'].colour")
            self.fails("msgbus_subscribe_rna", "has no property", data_path="bpy.types.Object.colour")
