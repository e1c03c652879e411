"""Runs one request on the main thread and builds its response.

Commands: parameters are checked against the handler's signature, gates against the addon
preferences, stdout/stderr go to the console buffer, and a mutating command that succeeds
becomes one undo step. Scripts run with report_progress and a cooperative cancellation flag;
their code is compiled under the filename "<job_<job_id>>" so tracebacks name the job.
"""

import logging
import os
import time
import traceback

import bmesh
import bpy
import mathutils

from . import protocol
from .console import CONSOLE, capture_output
from .errors import FabricError
from .jobs import JobCancelled, ProgressReporter, running_job
from .preferences import require_gate
from .registry import find_command

log = logging.getLogger(__name__)


def push_undo_step(message):
    """Pushes one undo step. In background Blender 3.4 (--factory-startup) ed.undo_push polls
    true and works: bpy.ops.ed.undo() then restores the previous step. Background Blender starts
    with an empty undo stack, so headless pushes an initial step before serving (else the first
    command could not be undone: ed.undo polls false with a single step)."""
    if not bpy.ops.ed.undo_push.poll():
        log.warning("undo step %r skipped: ed.undo_push cannot run in this context", message)
        return False
    bpy.ops.ed.undo_push(message=message)
    return True


def blender_facts():
    return {"blender_version": bpy.app.version_string, "blend_file": bpy.data.filepath, "pid": os.getpid()}


def _failure(request_id, error, started, with_traceback, cancelled=False):
    elapsed_ms = (time.perf_counter() - started) * 1000
    if isinstance(error, FabricError):
        return protocol.error_response(request_id, str(error), None, elapsed_ms)
    message = f"{type(error).__name__}: {error}".splitlines()[0]
    trace = traceback.format_exc() if with_traceback else None
    return protocol.error_response(request_id, message, trace, elapsed_ms, cancelled=cancelled)


def _progress_sender(request, emit):
    """Sends a job's progress as events of its request."""
    return lambda fraction, message: emit(protocol.progress_event(request["id"], request["job_id"], fraction, message))


class Executor:
    def __init__(self, jobs):
        self._jobs = jobs

    def execute(self, request, emit):
        """Returns the response to `request`; `emit` sends progress events meanwhile."""
        kind = request["type"]
        if kind == "ping":
            return protocol.ok_response(request["id"], blender_facts(), 0.0)
        if kind == "command":
            return self._run_command(request, emit)
        if kind == "script":
            return self._run_script(request, emit)
        raise ValueError(f"the main thread does not run {kind} requests")

    def _run_command(self, request, emit):
        started = time.perf_counter()
        job_id = request.get("job_id")
        # A command with a job (execute_code) reports progress and honours a cancel like a script.
        reporter = ProgressReporter(job_id, self._jobs, _progress_sender(request, emit)) if job_id else None
        try:
            command = find_command(request["command"])
            if command.gate:
                require_gate(command.gate)  # A closed gate answers the same, whatever the params.
            command.check_params(request["params"])
            if job_id and self._jobs.is_cancelled(job_id):
                raise JobCancelled(f"job {job_id} was cancelled before it started")
            with capture_output(CONSOLE), running_job(reporter):
                result = command.function(**request["params"])
            if command.mutating:
                push_undo_step(f"Fabric: {command.name}")
        except JobCancelled as error:
            return _failure(request["id"], error, started, with_traceback=False, cancelled=True)
        except Exception as error:  # noqa: BLE001 - every failure becomes an error response
            return _failure(request["id"], error, started, with_traceback=True)
        finally:
            if job_id:
                self._jobs.remove(job_id)
        return protocol.ok_response(request["id"], result, (time.perf_counter() - started) * 1000)


    def _run_script(self, request, emit):
        job_id = request["job_id"]
        started = time.perf_counter()
        script_globals = {
            "__name__": f"job_{job_id}",
            "bpy": bpy,
            "bmesh": bmesh,
            "mathutils": mathutils,
            "report_progress": ProgressReporter(job_id, self._jobs, _progress_sender(request, emit)),
        }
        try:
            if self._jobs.is_cancelled(job_id):
                raise JobCancelled(f"job {job_id} was cancelled before it started")
            code = compile(request["script"], f"<job_{job_id}>", "exec")
            with capture_output(CONSOLE) as captured:
                exec(code, script_globals)
            push_undo_step(f"Fabric job {job_id}")
        except JobCancelled as error:
            return _failure(request["id"], error, started, with_traceback=False, cancelled=True)
        except Exception as error:  # noqa: BLE001 - a failing script is a result, not a crash
            return _failure(request["id"], error, started, with_traceback=True)
        finally:
            self._jobs.remove(job_id)
        result = {"executed": True, "result": captured["stdout"]}
        return protocol.ok_response(request["id"], result, (time.perf_counter() - started) * 1000)
