"""Background-mode entry point, started by a bridge in spawn mode:

    blender -b --factory-startup --python addon/headless.py

Environment: FABRIC_ADDON_PORT (0 = any free port), FABRIC_ADDON_TOKEN (required),
FABRIC_ADDON_PREFS (JSON object of addon preference name -> value). Prints
"FABRIC_ADDON_READY <port>" once listening, then serves requests on the main thread until
SIGTERM, until its stdin pipe closes, or until its parent process dies (bpy.app.timers never
fire in background Blender, so this loop replaces the GUI's timer).

When the parent (the bridge) is gone, nobody can receive a result any more, so a watcher
thread ends Blender at once, even in the middle of a long command on the main thread.
"""

import json
import os
import signal
import stat
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import addon_utils  # noqa: E402 - Blender's module; the add-on path must come first

ADDON_MODULE = "blender_fabric"
LOOP_WAIT_S = 0.2
"""How long the main loop waits for a request before checking whether to stop (seconds)."""
PARENT_CHECK_S = 0.5
"""How often the orphan watcher checks that the parent process still exists (seconds)."""


def _fail(message):
    print(f"FABRIC_ADDON_ERROR {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def _read_environment():
    try:
        port = int(os.environ.get("FABRIC_ADDON_PORT", "0"))
        preferences = json.loads(os.environ.get("FABRIC_ADDON_PREFS") or "{}")
    except ValueError as error:
        _fail(f"bad FABRIC_ADDON_PORT or FABRIC_ADDON_PREFS: {error}")
    token = os.environ.get("FABRIC_ADDON_TOKEN", "")
    if not token:
        _fail("FABRIC_ADDON_TOKEN is empty; clients authenticate with it")
    if not isinstance(preferences, dict):
        _fail("FABRIC_ADDON_PREFS must be a JSON object")
    return port, token, preferences


def _exit_when_orphaned(parent_pid):
    """Ends the process when the parent dies: its stdin pipe closes, or Blender is re-parented.
    Only a pipe counts as stdin: /dev/null (a parent that gave no stdin) reads EOF at once."""

    def orphaned():
        print("FABRIC_ADDON_ORPHANED the parent process is gone; exiting", file=sys.stderr, flush=True)
        os._exit(0)  # not sys.exit: the main thread may be busy in a command for minutes

    def drain_stdin():
        while os.read(0, 65536):
            pass
        orphaned()

    def poll_parent():
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        orphaned()

    if stat.S_ISFIFO(os.fstat(0).st_mode):
        threading.Thread(target=drain_stdin, name="fabric-stdin-watch", daemon=True).start()
    threading.Thread(target=poll_parent, name="fabric-parent-watch", daemon=True).start()


def main():
    port, token, preferences = _read_environment()
    if addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=lambda error: _fail(f"enable failed: {error}")) is None:
        _fail(f"could not enable the {ADDON_MODULE} add-on")
    from blender_fabric.errors import FabricError
    from blender_fabric.preferences import apply_preferences
    from blender_fabric.runtime import FabricRuntime

    try:
        apply_preferences(preferences)
    except (FabricError, TypeError, ValueError) as error:
        _fail(f"FABRIC_ADDON_PREFS: {error}")
    runtime = FabricRuntime(token=token, port=port, mode="headless")
    try:
        listening_port = runtime.start()
    except OSError as error:
        _fail(f"cannot listen on port {port}: {error}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signal, _frame: stop.set())
    _exit_when_orphaned(os.getppid())
    print(f"FABRIC_ADDON_READY {listening_port}", flush=True)
    while not stop.is_set():
        runtime.serve_pending(LOOP_WAIT_S)
    runtime.stop()


main()
