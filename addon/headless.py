"""Background-mode entry point, started by a bridge in spawn mode:

    blender -b --factory-startup --python addon/headless.py

Environment: FABRIC_ADDON_SOCKET (a Unix socket path to listen on) or FABRIC_ADDON_PORT
(localhost TCP; 0 = any free port), FABRIC_ADDON_PREFS (JSON object of addon preference
name -> value). The token clients must present is the first line on stdin, or
FABRIC_ADDON_TOKEN (see _read_token). Prints "FABRIC_ADDON_READY unix:<path>" or
"FABRIC_ADDON_READY <port>" once listening, then serves requests on the main thread until
SIGTERM, until its stdin pipe closes, or until its parent process dies (bpy.app.timers never
fire in background Blender, so this loop replaces the GUI's timer).

When the parent (the bridge) is gone, nobody can receive a result any more, so Blender ends
at once, even in the middle of a long command on the main thread: on Linux the kernel kills
it (PR_SET_PDEATHSIG, set first thing below); watcher threads on stdin and on the parent pid
are the fallback elsewhere.
"""

import ctypes
import json
import os
import signal
import stat
import sys
import threading
import time

PR_SET_PDEATHSIG = 1
"""prctl(2) option: the signal the kernel sends this process when its parent dies."""


def _request_parent_death_signal():
    """Asks Linux to SIGKILL Blender when its parent dies. It takes no thread, no GIL and no
    write, so it also ends a Blender whose main thread holds the GIL inside C code.

    The kernel fires it when the parent *thread* that forked Blender exits, not when the parent
    process does. The Node bridge spawns Blender from its main thread, whose exit is the
    bridge's exit; a parent that spawns from a short-lived worker thread must not rely on it.
    Returns False when prctl is unavailable or refused."""
    unused = ctypes.c_ulong(0)  # prctl is variadic: pass every argument at its full width
    try:
        libc = ctypes.CDLL(None)
        result = libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(signal.SIGKILL), unused, unused, unused)
    except (OSError, AttributeError):
        return False
    return result == 0


def _die_with_parent():
    """Returns the parent pid as it was before the death signal was armed. A parent that died
    in between would never send it, so that case exits here."""
    parent_pid = os.getppid()
    if not sys.platform.startswith("linux"):
        return parent_pid
    if not _request_parent_death_signal():
        print("FABRIC_ADDON_WARNING prctl(PR_SET_PDEATHSIG) failed; the orphan watchers remain", file=sys.stderr)
    if os.getppid() != parent_pid:
        os._exit(0)
    return parent_pid


ORIGINAL_PARENT_PID = _die_with_parent()

# Ctrl-C in a terminal reaches every process of its group. This Blender is its bridge's to
# stop (SIGTERM, or the death signal above); a stray SIGINT must not kill it while its bridge
# still saves a project's scene through it.
signal.signal(signal.SIGINT, signal.SIG_IGN)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import addon_utils  # noqa: E402 - Blender's module; the add-on path must come first

ADDON_MODULE = "blender_fabric"
LOOP_WAIT_S = 0.2
"""How long the main loop waits for a request before checking whether to stop (seconds)."""
PARENT_CHECK_S = 0.5
"""How often the orphan watcher checks that the parent process still exists (seconds)."""
EXIT_NOTICE_WAIT_S = 0.2
"""How long an orphaned Blender gives its last stderr line before it exits regardless (seconds)."""
MAX_TOKEN_BYTES = 4096
"""The longest first line of stdin taken as the token."""


def _fail(message):
    print(f"FABRIC_ADDON_ERROR {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def _read_stdin_line():
    """The first line of stdin, read a byte at a time so nothing after it is taken: the orphan
    watcher reads on from there."""
    line = b""
    while len(line) < MAX_TOKEN_BYTES:
        byte = os.read(0, 1)
        if byte in (b"", b"\n"):
            break
        line += byte
    return line.decode("utf-8", "replace").strip()


def _read_token():
    """The token clients must present. The bridge writes it as the first line on stdin, so code
    that runs in this Blender finds it neither in os.environ nor in /proc/self/environ.
    FABRIC_ADDON_TOKEN, for a parent that cannot write to stdin, is taken out of os.environ at
    once (child processes do not inherit it), but /proc/self/environ still shows it."""
    token = os.environ.pop("FABRIC_ADDON_TOKEN", None)
    if token is None:
        token = _read_stdin_line()
        if not token:
            _fail("no token: FABRIC_ADDON_TOKEN is unset and the first line on stdin is empty")
    elif not token:
        _fail("FABRIC_ADDON_TOKEN is empty; clients authenticate with it")
    return token


def _read_environment():
    token = _read_token()
    try:
        port = int(os.environ.get("FABRIC_ADDON_PORT", "0"))
        preferences = json.loads(os.environ.get("FABRIC_ADDON_PREFS") or "{}")
    except ValueError as error:
        _fail(f"bad FABRIC_ADDON_PORT or FABRIC_ADDON_PREFS: {error}")
    if not isinstance(preferences, dict):
        _fail("FABRIC_ADDON_PREFS must be a JSON object")
    return port, os.environ.get("FABRIC_ADDON_SOCKET") or None, token, preferences


def _write_exit_notice(reason):
    try:
        os.write(2, f"FABRIC_ADDON_ORPHANED {reason}; exiting\n".encode())
    except OSError:
        pass  # stderr went with the parent (EPIPE); the notice had no reader anyway.


def _exit_at_once(reason):
    """Ends Blender with code 0 whatever the notice does: with the parent gone, stderr is a
    dead pipe (the write raises EPIPE) or one nobody drains (the write blocks), so the notice
    gets its own thread and a short wait, and os._exit runs even if starting it fails."""
    try:
        notice = threading.Thread(target=_write_exit_notice, args=(reason,), name="fabric-exit-notice", daemon=True)
        notice.start()
        notice.join(EXIT_NOTICE_WAIT_S)
    finally:
        os._exit(0)  # not sys.exit: the main thread may be busy in a command for minutes


def _exit_when_orphaned(parent_pid):
    """Ends the process when the parent dies: its stdin pipe closes, or Blender is re-parented.
    Only a pipe counts as stdin: /dev/null (a parent that gave no stdin) reads EOF at once.
    Node's "pipe" stdio is a socketpair, not a FIFO, so a socket counts as a pipe too.
    These threads need the GIL, so they cover what the death signal does not (other systems,
    a refused prctl) but cannot end a main thread that holds the GIL in C code."""

    def drain_stdin():
        try:
            while os.read(0, 65536):
                pass
        finally:
            _exit_at_once("stdin closed: the parent let go")

    def poll_parent():
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        _exit_at_once("the parent process is gone")

    stdin_mode = os.fstat(0).st_mode
    if stat.S_ISFIFO(stdin_mode) or stat.S_ISSOCK(stdin_mode):
        threading.Thread(target=drain_stdin, name="fabric-stdin-watch", daemon=True).start()
    threading.Thread(target=poll_parent, name="fabric-parent-watch", daemon=True).start()


def main():
    port, unix_path, token, preferences = _read_environment()
    if addon_utils.enable(ADDON_MODULE, default_set=True, handle_error=lambda error: _fail(f"enable failed: {error}")) is None:
        _fail(f"could not enable the {ADDON_MODULE} add-on")
    from blender_fabric.errors import FabricError
    from blender_fabric.preferences import apply_preferences
    from blender_fabric.runtime import FabricRuntime

    try:
        apply_preferences(preferences)
    except (FabricError, TypeError, ValueError) as error:
        _fail(f"FABRIC_ADDON_PREFS: {error}")
    runtime = FabricRuntime(token=token, port=port, mode="headless", unix_path=unix_path)
    try:
        runtime.start()
    except OSError as error:
        _fail(f"cannot listen on {unix_path or f'port {port}'}: {error}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signal, _frame: stop.set())
    _exit_when_orphaned(ORIGINAL_PARENT_PID)
    print(f"FABRIC_ADDON_READY {runtime.server.endpoint}", flush=True)
    while not stop.is_set():
        runtime.serve_pending(LOOP_WAIT_S)
    runtime.stop()


main()
