"""Blender Fabric addon: serves one command registry to a Blender Fabric bridge.
This module only registers; see PROTOCOL.md beside the package for the wire contract."""

import bpy

from .gui import FABRIC_OT_start_server, FABRIC_OT_stop_server, FABRIC_PT_panel, stop_server
from .preferences import FabricPreferences

bl_info = {
    "name": "Blender Fabric",
    "author": "Blender Fabric",
    "version": (0, 1, 0),
    "blender": (3, 4, 0),
    "location": "View3D > Sidebar > Fabric",
    "description": "Serve scene commands and scripts to LLM sessions over a Blender Fabric bridge",
    "category": "Interface",
}

classes = (FabricPreferences, FABRIC_OT_start_server, FABRIC_OT_stop_server, FABRIC_PT_panel)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    stop_server()
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
