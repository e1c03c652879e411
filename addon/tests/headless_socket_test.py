"""End to end over the real socket: spawns `blender -b --factory-startup --python addon/headless.py`
and speaks the protocol to it. Plain python3:

    python3 addon/tests/headless_socket_test.py
"""

import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

ADDON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADLESS = os.path.join(ADDON_DIR, "headless.py")
TOKEN = "test-token-5f2a"
READY_TIMEOUT_S = 30
ORPHAN_EXIT_S = 2
"""How long headless Blender may outlive a parent that died or let go of its stdin (seconds)."""


def blender_executable():
    """$BLENDER, else blender on PATH, else /usr/bin/blender."""
    found = os.environ.get("BLENDER") or shutil.which("blender") or ("/usr/bin/blender" if os.path.exists("/usr/bin/blender") else None)
    if found is None:
        raise RuntimeError("blender is not on PATH nor at /usr/bin/blender (or set BLENDER)")
    return found


def spawn_headless(env_extra, stdin=subprocess.PIPE):
    env = {**os.environ, "FABRIC_ADDON_PORT": "0", "FABRIC_ADDON_TOKEN": TOKEN, **env_extra}
    return subprocess.Popen(
        [blender_executable(), "-b", "--factory-startup", "--python", HEADLESS],
        env=env,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def wait_ready(process):
    """Reads stdout until FABRIC_ADDON_READY <port>; returns the port."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"blender exited before it was ready: {process.stderr.read().decode()}")
        if line.startswith(b"FABRIC_ADDON_READY "):
            return int(line.split()[1])
    raise AssertionError("no FABRIC_ADDON_READY line in time")


def has_exited(pid):
    """True when the process is gone or a zombie (orphans may never be reaped in a container)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            return any(line.startswith("State:\tZ") for line in status)
    except FileNotFoundError:
        return True


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.reader = self.sock.makefile("rb")

    def send(self, message):
        self.send_raw(json.dumps(message).encode() + b"\n")

    def send_raw(self, data):
        self.sock.sendall(data)

    def receive(self):
        line = self.reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        return json.loads(line)

    def hello(self, token=TOKEN):
        self.send({"type": "hello", "token": token})
        return self.receive()

    def request(self, message):
        self.send(message)
        return self.receive()

    def close(self):
        self.reader.close()
        self.sock.close()


class HeadlessSocketTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        prefs = {"enable_polyhaven": True, "polyhaven_base_url": "http://127.0.0.1:9/unused"}
        cls.process = spawn_headless({"FABRIC_ADDON_PREFS": json.dumps(prefs)})
        cls.port = wait_ready(cls.process)

    @classmethod
    def tearDownClass(cls):
        cls.process.stdin.close()  # The documented way for a parent to let go.
        try:
            cls.process.wait(timeout=10)
        finally:
            if cls.process.poll() is None:
                cls.process.kill()
            cls.process.stdout.close()
            cls.process.stderr.close()

    def connect(self):
        client = Client(self.port)
        self.addCleanup(client.close)
        return client

    def test_bad_token_is_refused_and_closed(self):
        client = self.connect()
        self.assertEqual(client.hello("wrong"), {"type": "hello", "ok": False, "error": "bad token"})
        self.assertEqual(client.reader.readline(), b"")

    def test_first_line_must_be_hello(self):
        client = self.connect()
        reply = client.request({"id": "r-1", "type": "ping"})
        self.assertFalse(reply["ok"])
        self.assertEqual(reply["type"], "hello")
        self.assertEqual(client.reader.readline(), b"")

    def test_hello_describes_blender(self):
        hello = self.connect().hello()
        self.assertTrue(hello["ok"])
        self.assertEqual((hello["mode"], hello["blend_file"], hello["pid"]), ("headless", "", self.process.pid))
        self.assertRegex(hello["blender_version"], r"^\d+\.\d+")
        self.assertEqual(len(hello["commands"]), 24)
        self.assertIn("get_scene_info", hello["commands"])

    def test_commands_ping_and_errors(self):
        client = self.connect()
        client.hello()
        scene = client.request({"id": "c-1", "type": "command", "command": "get_scene_info", "params": {}, "job_id": "j-1"})
        self.assertEqual((scene["id"], scene["ok"], scene["result"]["object_count"]), ("c-1", True, 3))
        self.assertGreaterEqual(scene["duration_ms"], 0)
        cube = client.request({"id": "c-2", "type": "command", "command": "get_object_info", "params": {"name": "Cube"}})
        self.assertEqual(cube["result"]["mesh"]["vertices"], 8)
        missing = client.request({"id": "c-3", "type": "command", "command": "get_object_info", "params": {"name": "Cubee"}})
        self.assertEqual((missing["ok"], missing["error"], missing["traceback"]), (False, "Object not found: Cubee", None))
        unknown = client.request({"id": "c-4", "type": "command", "command": "fly"})
        self.assertEqual(unknown["error"], "Unknown command: fly")
        extra = client.request({"id": "c-5", "type": "command", "command": "get_scene_info", "params": {"deep": True}})
        self.assertIn("unexpected parameter(s) deep", extra["error"])
        ping = client.request({"id": "p-1", "type": "ping"})
        self.assertEqual((ping["id"], ping["result"]["pid"]), ("p-1", self.process.pid))

    def test_malformed_lines_get_errors_and_the_connection_lives_on(self):
        client = self.connect()
        client.hello()
        client.send_raw(b"{not json}\n")
        self.assertEqual(client.receive()["id"], None)
        reply = client.request({"id": "x-1", "type": "teleport"})
        self.assertEqual((reply["id"], reply["ok"]), ("x-1", False))
        self.assertIn("unknown request type", reply["error"])
        self.assertTrue(client.request({"id": "x-2", "type": "ping"})["ok"])

    def test_preferences_from_the_environment(self):
        client = self.connect()
        client.hello()
        status = client.request({"id": "s-1", "type": "command", "command": "get_polyhaven_status"})
        self.assertTrue(status["result"]["enabled"])
        gated = client.request({"id": "s-2", "type": "command", "command": "msgbus_list_subscriptions"})
        self.assertIn("Turn on 'enable_msgbus'", gated["error"])

    def test_script_progress_and_result(self):
        client = self.connect()
        client.hello()
        script = "import time\nfor step in range(5):\n    time.sleep(0.06)\n    report_progress((step + 1) / 5, f'step {step}')\nprint('baked')\n"
        client.send({"id": "s-1", "type": "script", "job_id": "job-bake-001", "script": script})
        messages = []
        while not messages or messages[-1].get("type") == "progress":
            messages.append(client.receive())
        progress, response = messages[:-1], messages[-1]
        self.assertEqual(response["result"], {"executed": True, "result": "baked\n"})
        self.assertGreaterEqual(len(progress), 2)
        self.assertTrue(all(event["job_id"] == "job-bake-001" and event["id"] == "s-1" for event in progress))
        self.assertEqual(progress[-1]["fraction"], 1.0)

    def test_cancel_a_running_script(self):
        client = self.connect()
        client.hello()
        script = "import time\nreport_progress(0.0, 'start')\nfor step in range(500):\n    time.sleep(0.01)\n    report_progress(step / 500)\n"
        client.send({"id": "s-2", "type": "script", "job_id": "job-cancel", "script": script})
        self.assertEqual(client.receive()["message"], "start")
        duplicate = client.request({"id": "s-3", "type": "script", "job_id": "job-cancel", "script": "pass"})
        self.assertIn("already queued or running", duplicate["error"])
        client.send({"id": "k-1", "type": "cancel", "job_id": "job-cancel"})
        replies = {}
        while "s-2" not in replies or "k-1" not in replies:
            message = client.receive()
            if message.get("type") != "progress":
                replies[message["id"]] = message
        self.assertEqual(replies["k-1"]["result"], {"cancelled": True})
        self.assertTrue(replies["s-2"]["cancelled"])
        self.assertIn("JobCancelled", replies["s-2"]["error"])
        unknown = client.request({"id": "k-2", "type": "cancel", "job_id": "job-cancel"})
        self.assertEqual(unknown["result"], {"cancelled": False})

    def test_script_traceback_names_the_job(self):
        client = self.connect()
        client.hello()
        failed = client.request({"id": "s-4", "type": "script", "job_id": "job-typo", "script": "a = 1\nb = c\n"})
        self.assertEqual(failed["error"], "NameError: name 'c' is not defined")
        self.assertIn('File "<job_job-typo>", line 2', failed["traceback"])


class HeadlessLifecycleTest(unittest.TestCase):
    def test_sigterm_stops_it(self):
        process = spawn_headless({}, stdin=subprocess.DEVNULL)
        self.addCleanup(process.kill)
        wait_ready(process)
        process.send_signal(signal.SIGTERM)
        self.assertEqual(process.wait(timeout=10), 0)
        process.stdout.close()
        process.stderr.close()

    def test_closing_stdin_ends_it_mid_request(self):
        process = spawn_headless({})
        self.addCleanup(process.kill)
        client = Client(wait_ready(process))
        self.addCleanup(client.close)
        client.hello()
        client.send({"id": "c-1", "type": "command", "command": "execute_code", "params": {"code": "import time; time.sleep(60)"}})
        client.send({"id": "p-1", "type": "ping"})
        readable, _, _ = select.select([client.sock], [], [], 0.3)
        self.assertEqual(readable, [], "the ping queued behind the sleep is not answered: the main thread is busy")
        process.stdin.close()
        self.assertEqual(process.wait(timeout=ORPHAN_EXIT_S), 0)
        self.assertIn(b"FABRIC_ADDON_ORPHANED stdin closed", process.stderr.read())
        process.stdout.close()
        process.stderr.close()

    def test_missing_token_or_bad_preferences_fail_loudly(self):
        for env, expected in (
            ({"FABRIC_ADDON_TOKEN": ""}, "FABRIC_ADDON_TOKEN is empty"),
            ({"FABRIC_ADDON_PREFS": '{"enable_teleport": true}'}, "unknown addon preference(s): enable_teleport"),
        ):
            with self.subTest(env=env):
                process = spawn_headless(env, stdin=subprocess.DEVNULL)
                stdout, stderr = process.communicate(timeout=30)
                self.assertEqual(process.returncode, 1, stdout)
                self.assertIn(expected, stderr.decode())

    def test_exits_when_its_parent_dies(self):
        launcher = (
            "import subprocess, sys\n"
            "child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)\n"
            "for line in child.stdout:\n"
            "    if line.startswith(b'FABRIC_ADDON_READY'):\n"
            "        print(child.pid, flush=True)\n"
            "        break\n"
        )
        env = {**os.environ, "FABRIC_ADDON_PORT": "0", "FABRIC_ADDON_TOKEN": TOKEN}
        command = [sys.executable, "-c", launcher, blender_executable(), "-b", "--factory-startup", "--python", HEADLESS]
        output = subprocess.run(command, env=env, stdout=subprocess.PIPE, timeout=READY_TIMEOUT_S, check=True).stdout
        blender_pid = int(output)
        deadline = time.monotonic() + ORPHAN_EXIT_S
        while not has_exited(blender_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not has_exited(blender_pid):
            os.kill(blender_pid, signal.SIGKILL)
            self.fail("headless Blender outlived its parent")


if __name__ == "__main__":
    unittest.main(verbosity=2)
