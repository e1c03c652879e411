"""The runtime's hello inside real Blender: its facts are read from bpy on the main thread and
kept current there, so a file saved by a request shows in the next connection's hello."""

import json
import os
import shutil
import socket
import tempfile
import threading

import bpy
from blender_harness import BlenderTestCase
from blender_fabric.runtime import FabricRuntime

TOKEN = "runtime-token"


def exchange(port, messages):
    """Sends the hello and then `messages` on one connection; returns every reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, sock.makefile("rwb") as stream:
        replies = []
        for message in ({"type": "hello", "token": TOKEN}, *messages):
            stream.write(json.dumps(message).encode() + b"\n")
            stream.flush()
            replies.append(json.loads(stream.readline()))
        return replies


class RuntimeHelloTest(BlenderTestCase):
    def serve_while(self, runtime, client):
        """Runs `client` on a thread while this (main) thread serves requests, as headless does."""
        outcome = {}
        thread = threading.Thread(target=lambda: outcome.setdefault("replies", client()))
        thread.start()
        while thread.is_alive():
            runtime.serve_pending(0.02)
        return outcome["replies"]

    def test_a_saved_file_shows_in_the_next_hello(self):
        runtime = FabricRuntime(token=TOKEN, port=0, mode="headless")
        port = runtime.start()
        self.addCleanup(runtime.stop)
        folder = tempfile.mkdtemp(prefix="fabric-hello-")
        self.addCleanup(shutil.rmtree, folder, ignore_errors=True)
        target = os.path.join(folder, "saved.blend")
        save = f"import bpy\nbpy.ops.wm.save_as_mainfile(filepath={target!r})"
        request = {"id": "save-1", "type": "command", "command": "execute_code", "params": {"code": save}}
        first_hello, saved = self.serve_while(runtime, lambda: exchange(port, [request]))
        self.assertEqual((first_hello["ok"], first_hello["blend_file"], first_hello["pid"]), (True, "", os.getpid()))
        self.assertTrue(saved["ok"], saved.get("traceback"))
        self.assertEqual(bpy.data.filepath, target)
        # No serve_pending here: the reply must already carry what the last request changed.
        second_hello = exchange(port, [])[0]
        self.assertEqual(second_hello["blend_file"], target)
        self.assertEqual({**second_hello, "blend_file": ""}, first_hello)
