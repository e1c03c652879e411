"""Addon preferences: feature gates, service endpoints and keys, server port and token.
Secrets and endpoints live here, never in scene properties."""

import bpy

from .errors import FabricError

ADDON_ID = __package__
"""The add-on's module name: "blender_fabric", or "bl_ext.<repo>.blender_fabric" as a 4.2+ extension."""

GATE_LABELS = {
    "enable_msgbus": "The msgbus bridge",
    "enable_polyhaven": "PolyHaven",
    "enable_hyper3d": "Hyper3D Rodin",
    "enable_sketchfab": "Sketchfab",
}


class FabricPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_ID

    enable_msgbus: bpy.props.BoolProperty(name="Enable msgbus commands", default=False)
    enable_polyhaven: bpy.props.BoolProperty(name="Enable PolyHaven", default=False)
    enable_hyper3d: bpy.props.BoolProperty(name="Enable Hyper3D Rodin", default=False)
    enable_sketchfab: bpy.props.BoolProperty(name="Enable Sketchfab", default=False)
    polyhaven_base_url: bpy.props.StringProperty(name="PolyHaven API URL", default="https://api.polyhaven.com")
    hyper3d_base_url: bpy.props.StringProperty(name="Hyper3D API URL", default="https://hyperhuman.deemos.com/api")
    sketchfab_base_url: bpy.props.StringProperty(name="Sketchfab API URL", default="https://api.sketchfab.com/v3")
    hyper3d_api_key: bpy.props.StringProperty(name="Hyper3D API key", default="", subtype="PASSWORD")
    sketchfab_api_key: bpy.props.StringProperty(name="Sketchfab API key", default="", subtype="PASSWORD")
    server_port: bpy.props.IntProperty(name="Server port", default=9876, min=0, max=65535)
    server_token: bpy.props.StringProperty(
        name="Server token",
        description="Clients must send it in their hello; a random one is generated when empty",
        default="",
        subtype="PASSWORD",
    )

    def draw(self, context):
        layout = self.layout
        layout.label(text="Server")
        layout.prop(self, "server_port")
        layout.prop(self, "server_token")
        for gate, base_url, api_key in (
            ("enable_msgbus", None, None),
            ("enable_polyhaven", "polyhaven_base_url", None),
            ("enable_hyper3d", "hyper3d_base_url", "hyper3d_api_key"),
            ("enable_sketchfab", "sketchfab_base_url", "sketchfab_api_key"),
        ):
            box = layout.box()
            box.prop(self, gate)
            for name in (base_url, api_key):
                if name:
                    box.prop(self, name)


def get_preferences():
    addon = bpy.context.preferences.addons.get(ADDON_ID)
    if addon is None:
        raise FabricError(f"the {ADDON_ID} add-on is not enabled, so its preferences do not exist")
    return addon.preferences


def apply_preferences(values):
    """Sets preferences from a dict of name -> value (FABRIC_ADDON_PREFS); unknown names fail."""
    preferences = get_preferences()
    known = set(FabricPreferences.__annotations__)
    unknown = sorted(set(values) - known)
    if unknown:
        raise FabricError(f"unknown addon preference(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    for name, value in values.items():
        setattr(preferences, name, value)


def gate_message(gate):
    """The hint a closed gate answers with."""
    return f"{GATE_LABELS[gate]} is disabled. Turn on '{gate}' in the Blender Fabric addon preferences."


def require_gate(gate):
    if not getattr(get_preferences(), gate):
        raise FabricError(gate_message(gate))
