"""GUI mode: operators to start and stop the server, a sidebar panel, and the
bpy.app.timers callback that drains the request queue on the main thread."""

import secrets

import bpy

from .preferences import get_preferences
from .runtime import FabricRuntime

DRAIN_INTERVAL_S = 0.05
"""How often the timer looks for queued requests (seconds)."""

_state = {"runtime": None}


def _drain_requests():
    runtime = _state["runtime"]
    if runtime is None:
        return None  # Returning None unregisters the timer.
    runtime.serve_pending(timeout_s=0)
    return DRAIN_INTERVAL_S


class FABRIC_OT_start_server(bpy.types.Operator):
    bl_idname = "fabric.start_server"
    bl_label = "Start Fabric Server"
    bl_description = "Listen on localhost for a Blender Fabric bridge"

    @classmethod
    def poll(cls, context):
        return _state["runtime"] is None

    def execute(self, context):
        preferences = get_preferences()
        if not preferences.server_token:
            preferences.server_token = secrets.token_urlsafe(24)
        runtime = FabricRuntime(token=preferences.server_token, port=preferences.server_port, mode="gui")
        try:
            port = runtime.start()
        except OSError as error:
            self.report({"ERROR"}, f"Could not listen on port {preferences.server_port}: {error}")
            return {"CANCELLED"}
        _state["runtime"] = runtime
        bpy.app.timers.register(_drain_requests, first_interval=DRAIN_INTERVAL_S, persistent=True)
        self.report({"INFO"}, f"Blender Fabric server listening on 127.0.0.1:{port}")
        return {"FINISHED"}


class FABRIC_OT_stop_server(bpy.types.Operator):
    bl_idname = "fabric.stop_server"
    bl_label = "Stop Fabric Server"

    @classmethod
    def poll(cls, context):
        return _state["runtime"] is not None

    def execute(self, context):
        stop_server()
        return {"FINISHED"}


class FABRIC_PT_panel(bpy.types.Panel):
    bl_label = "Blender Fabric"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Fabric"

    def draw(self, context):
        layout = self.layout
        runtime = _state["runtime"]
        if runtime is None:
            layout.label(text="Server stopped")
            layout.operator(FABRIC_OT_start_server.bl_idname)
        else:
            layout.label(text=f"Listening on 127.0.0.1:{runtime.server.port}")
            layout.operator(FABRIC_OT_stop_server.bl_idname)


def stop_server():
    runtime, _state["runtime"] = _state["runtime"], None
    if runtime is not None:
        runtime.stop()
