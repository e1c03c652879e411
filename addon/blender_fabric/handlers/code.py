"""execute_code: run Python in Blender and return what it printed."""

import bmesh
import bpy
import mathutils

from ..console import CONSOLE, capture_output
from ..registry import command


@command("execute_code", mutating=True)
def execute_code(code):
    """Fresh globals per call; an exception propagates so the response carries its traceback."""
    code_globals = {"__name__": "execute_code", "bpy": bpy, "bmesh": bmesh, "mathutils": mathutils}
    with capture_output(CONSOLE) as captured:
        exec(compile(code, "<execute_code>", "exec"), code_globals)
    return {"executed": True, "result": captured["stdout"]}
