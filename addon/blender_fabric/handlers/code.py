"""execute_code: run Python in Blender and return what it printed (stdout and stderr)."""

import bmesh
import bpy
import mathutils

from ..console import CONSOLE, capture_output
from ..jobs import current_report_progress
from ..registry import command


@command("execute_code", mutating=True)
def execute_code(code):
    """Fresh globals per call; an exception propagates so the response carries its traceback.
    report_progress(fraction, message) reports the job's progress and stops the code once its
    job is cancelled, as in scripts."""
    code_globals = {
        "__name__": "execute_code",
        "bpy": bpy,
        "bmesh": bmesh,
        "mathutils": mathutils,
        "report_progress": current_report_progress(),
    }
    with capture_output(CONSOLE) as captured:
        exec(compile(code, "<execute_code>", "exec"), code_globals)
    # `result` is stdout, as the seed has it; stdout and stderr by name for clients that want both.
    return {"executed": True, "result": captured["stdout"], "stdout": captured["stdout"], "stderr": captured["stderr"]}
