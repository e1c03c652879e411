"""The socket server without Blender: the hello is answered on the reader thread from the facts
the main thread stored with describe_as(), so a handshake never needs bpy (nor the main thread)."""

import json
import socket
import unittest

import plain_package  # noqa: F401 - loads blender_fabric without bpy
from blender_fabric.jobs import JobBoard
from blender_fabric.server import FabricServer

TOKEN = "plain-token"
FACTS = {"blender_version": "3.4.1", "blend_file": "", "pid": 4242, "mode": "headless", "commands": ["ping_b", "ping_a"]}


def hello(port, token=TOKEN):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, sock.makefile("rwb") as stream:
        stream.write(json.dumps({"type": "hello", "token": token}).encode() + b"\n")
        stream.flush()
        return json.loads(stream.readline())


class ServerHandshakeTest(unittest.TestCase):
    def start_server(self, facts=FACTS):
        server = FabricServer(token=TOKEN, jobs=JobBoard())
        server.describe_as(facts)
        server.start()
        self.addCleanup(server.stop)
        return server

    def test_start_needs_a_description(self):
        with self.assertRaisesRegex(RuntimeError, "describe_as"):
            FabricServer(token=TOKEN, jobs=JobBoard()).start()

    def test_hello_comes_from_the_stored_facts_while_nobody_serves_the_queue(self):
        server = self.start_server()
        self.assertEqual(
            hello(server.port),
            {
                "type": "hello",
                "ok": True,
                "blender_version": "3.4.1",
                "blend_file": "",
                "pid": 4242,
                "mode": "headless",
                "commands": ["ping_a", "ping_b"],
            },
        )
        self.assertIsNone(server.next_request(0), "a hello is never queued for the main thread")

    def test_new_facts_show_in_the_next_hello(self):
        facts = dict(FACTS)
        server = self.start_server(facts)
        facts["blend_file"] = "/changed/in/place.blend"
        self.assertEqual(hello(server.port)["blend_file"], "", "the server keeps its own copy")
        server.describe_as({**FACTS, "blend_file": "/tmp/scene.blend"})
        self.assertEqual(hello(server.port)["blend_file"], "/tmp/scene.blend")

    def test_bad_token_is_refused(self):
        server = self.start_server()
        with self.assertLogs("blender_fabric.server", "WARNING"):
            self.assertEqual(hello(server.port, "wrong"), {"type": "hello", "ok": False, "error": "bad token"})


if __name__ == "__main__":
    unittest.main()
