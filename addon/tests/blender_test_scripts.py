"""Scripts (job_dispatch): captured output, report_progress rate limiting, cancellation while
running and before starting, tracebacks naming the job, undo."""

import threading
import time

import bpy
from blender_harness import JOBS, BlenderTestCase, run_request


def run_script(job_id, script, events=None):
    if not JOBS.add(job_id):  # The server registers a script when it queues it.
        raise AssertionError(f"job {job_id} already registered")
    return run_request({"type": "script", "job_id": job_id, "script": script}, events)


class ScriptTest(BlenderTestCase):
    def test_output_and_helpers(self):
        response = run_script("job-hello", "print(type(bpy).__name__, bmesh.__name__, mathutils.Vector((3, 4)).length)")
        self.assertTrue(response["ok"], response)
        self.assertEqual(response["result"], {"executed": True, "result": "module bmesh 5.0\n"})
        self.assertFalse(JOBS.cancel("job-hello"), "a finished job leaves the board")

    def test_progress_is_rate_limited_and_completion_always_sent(self):
        events = []
        script = "for step in range(50):\n    report_progress(step / 49, f'step {step}')\n"
        response = run_script("job-progress", script, events)
        self.assertTrue(response["ok"], response)
        self.assertEqual(events[0], {"type": "progress", "id": response["id"], "job_id": "job-progress", "fraction": 0.0, "message": "step 0"})
        self.assertEqual(events[-1]["fraction"], 1.0)
        self.assertEqual(len(events), 2, "50 calls within 100 ms give the first event and the final one")

    def test_progress_flows_at_most_every_100_ms(self):
        events = []
        script = "import time\nfor step in range(10):\n    time.sleep(0.03)\n    report_progress(step / 10)\n"
        self.assertTrue(run_script("job-slow", script, events)["ok"])
        self.assertTrue(2 <= len(events) <= 4, events)

    def test_cancel_while_running_raises_job_cancelled_at_report_progress(self):
        script = "import time\nfor step in range(200):\n    time.sleep(0.01)\n    report_progress(step / 200)\nprint('finished')\n"
        canceller = threading.Timer(0.2, lambda: JOBS.cancel("job-long"))
        canceller.start()
        started = time.monotonic()
        response = run_script("job-long", script)
        canceller.join()
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertFalse(response["ok"])
        self.assertTrue(response["cancelled"])
        self.assertIn("JobCancelled", response["error"])
        self.assertIsNone(response["traceback"])

    def test_cancel_before_start(self):
        JOBS.add("job-queued")
        self.assertTrue(JOBS.cancel("job-queued"))
        response = run_request({"type": "script", "job_id": "job-queued", "script": "print('never')"})
        self.assertTrue(response["cancelled"])
        self.assertIn("before it started", response["error"])

    def test_traceback_names_the_job(self):
        response = run_script("job-bake-001", "x = 1\ny = 2\nraise ValueError('bad frame')\n")
        self.assertFalse(response["ok"])
        self.assertEqual(response["error"], "ValueError: bad frame")
        self.assertIn('File "<job_job-bake-001>", line 3', response["traceback"])
        self.assertNotIn("cancelled", response)

    def test_syntax_error_names_the_job(self):
        response = run_script("job-syntax", "x = (\n")
        self.assertIn("SyntaxError", response["error"])
        self.assertIn('File "<job_job-syntax>", line 1', response["traceback"])

    def test_a_script_is_one_undo_step(self):
        script = "bpy.data.objects['Cube'].location.z = 2.0\nbpy.data.objects['Cube'].scale.x = 3.0\n"
        self.assertTrue(run_script("job-undo", script)["ok"])
        bpy.ops.ed.undo()
        cube = bpy.data.objects["Cube"]
        self.assertEqual((cube.location.z, cube.scale.x), (0.0, 1.0))
