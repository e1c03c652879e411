"""GUI-mode operators in background Blender: timers never fire here, so the test calls the
timer callback itself, exactly as Blender's timer would."""

import json
import socket
import threading

import bpy
from blender_harness import BlenderTestCase, preferences
from blender_fabric import gui


class GuiServerTest(BlenderTestCase):
    def test_start_serve_and_stop(self):
        with preferences(server_port=0, server_token="") as prefs:
            self.assertEqual(bpy.ops.fabric.start_server(), {"FINISHED"})
            self.addCleanup(gui.stop_server)
            self.assertTrue(prefs.server_token, "an empty token is replaced by a random one")
            port = gui._state["runtime"].server.port
            replies = []

            def client():
                with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, sock.makefile("rwb") as stream:
                    for message in ({"type": "hello", "token": prefs.server_token}, {"id": "g-1", "type": "ping"}):
                        stream.write(json.dumps(message).encode() + b"\n")
                        stream.flush()
                        replies.append(json.loads(stream.readline()))

            thread = threading.Thread(target=client)
            thread.start()
            while thread.is_alive():
                self.assertEqual(gui._drain_requests(), gui.DRAIN_INTERVAL_S)
                thread.join(0.02)
            self.assertEqual(replies[0]["mode"], "gui")
            self.assertEqual((replies[1]["id"], replies[1]["ok"]), ("g-1", True))
            self.assertEqual(bpy.ops.fabric.stop_server(), {"FINISHED"})
            self.assertIsNone(gui._drain_requests(), "the timer unregisters once the server stopped")
            self.assertFalse(bpy.ops.fabric.stop_server.poll())
