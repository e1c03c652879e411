"""Shared set-up for the in-Blender tests: the add-on enabled for real (so AddonPreferences
exist), one Executor like the server's, and helpers to run requests through it."""

import contextlib
import itertools
import json
import os
import sys
import unittest

ADDON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ADDON_DIR not in sys.path:
    sys.path.insert(0, ADDON_DIR)

import addon_utils  # noqa: E402 - Blender's module

if addon_utils.enable("blender_fabric", default_set=True) is None:
    raise RuntimeError("could not enable the blender_fabric add-on")

import bpy  # noqa: E402

from blender_fabric import handlers  # noqa: E402,F401 - registers the commands
from blender_fabric.executor import Executor, push_undo_step  # noqa: E402
from blender_fabric.jobs import JobBoard  # noqa: E402
from blender_fabric.preferences import get_preferences  # noqa: E402

JOBS = JobBoard()
EXECUTOR = Executor(JOBS)
_request_ids = itertools.count(1)


def run_request(request, events=None):
    """Runs a request as the main loop would; progress events are appended to `events`."""
    request = {"id": f"r-{next(_request_ids)}", **request}
    response = EXECUTOR.execute(request, emit=(events.append if events is not None else lambda event: None))
    json.dumps(response)  # Everything a handler answers must survive the wire.
    return response


def call(command, **params):
    return run_request({"type": "command", "command": command, "params": params})


@contextlib.contextmanager
def preferences(**values):
    """Sets addon preferences for a block and restores them afterwards."""
    prefs = get_preferences()
    saved = {name: getattr(prefs, name) for name in values}
    for name, value in values.items():
        setattr(prefs, name, value)
    try:
        yield prefs
    finally:
        for name, value in saved.items():
            setattr(prefs, name, value)


class BlenderTestCase(unittest.TestCase):
    """Each test starts from the factory scene with an undo step to return to."""

    def setUp(self):
        bpy.ops.wm.read_homefile(use_factory_startup=True, use_empty=False)  # keeps add-ons enabled
        push_undo_step("test start")

    def ok(self, command, **params):
        response = call(command, **params)
        self.assertTrue(response["ok"], f"{command} failed: {response.get('error')}\n{response.get('traceback')}")
        self.assertIsInstance(response["duration_ms"], float)
        return response["result"]

    def fails(self, command, fragment, **params):
        response = call(command, **params)
        self.assertFalse(response["ok"], f"{command} should have failed, got {response.get('result')}")
        self.assertIn(fragment, response["error"])
        return response
