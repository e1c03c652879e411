"""get_viewport_screenshot: the 3D viewport in GUI mode; in background mode (no window, and
Eevee/Workbench need a display) a small Cycles CPU render of the scene camera instead."""

import math
import os
import tempfile

import bpy
import mathutils

from ..errors import FabricError
from ..registry import command
from .bounds import world_bounding_box

FILE_FORMATS = {"png": "PNG", "jpeg": "JPEG", "jpg": "JPEG"}
BACKGROUND_SAMPLES = 4
"""Cycles samples for the background stand-in: a preview, not a final frame."""


def _scaled(width, height, max_size):
    factor = max_size / max(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def _scene_bounds(scene):
    boxes = [world_bounding_box(obj) for obj in scene.objects if obj.type not in {"CAMERA", "LIGHT"}]
    if not boxes:
        return mathutils.Vector((0, 0, 0)), 1.0
    low = mathutils.Vector([min(box[0][axis] for box in boxes) for axis in range(3)])
    high = mathutils.Vector([max(box[1][axis] for box in boxes) for axis in range(3)])
    return (low + high) / 2, max((high - low).length / 2, 0.1)


def _add_camera_looking_at_scene(scene):
    center, radius = _scene_bounds(scene)
    camera = bpy.data.objects.new("FabricScreenshotCamera", bpy.data.cameras.new("FabricScreenshotCamera"))
    scene.collection.objects.link(camera)
    direction = mathutils.Vector((1.0, -1.0, 0.8)).normalized()
    # The lens angle spans the longer image side; the bounding sphere must fit the shorter one.
    aspect = min(scene.render.resolution_x, scene.render.resolution_y) / max(scene.render.resolution_x, scene.render.resolution_y)
    narrow_half_angle = math.atan(math.tan(camera.data.angle / 2) * aspect)
    distance = radius / math.sin(narrow_half_angle) * 1.05
    camera.location = center + direction * distance
    camera.rotation_euler = (-direction).to_track_quat("-Z", "Y").to_euler()
    return camera


def _remove_camera(camera):
    camera_data = camera.data
    bpy.data.objects.remove(camera, do_unlink=True)
    bpy.data.cameras.remove(camera_data)


def _render_scene_camera(filepath, max_size, file_format):
    """Renders with temporary settings and restores every one of them afterwards."""
    scene = bpy.context.scene
    render, cycles = scene.render, scene.cycles
    saved_render = {name: getattr(render, name) for name in ("engine", "resolution_x", "resolution_y", "resolution_percentage")}
    saved_cycles = {name: getattr(cycles, name) for name in ("device", "samples", "use_denoising")}
    saved_format = render.image_settings.file_format
    width, height = _scaled(render.resolution_x, render.resolution_y, max_size)
    temporary_camera = _add_camera_looking_at_scene(scene) if scene.camera is None else None
    try:
        if temporary_camera is not None:
            scene.camera = temporary_camera
        render.engine = "CYCLES"
        cycles.device = "CPU"
        cycles.samples = BACKGROUND_SAMPLES
        cycles.use_denoising = False  # OpenImageDenoise fails on some hosts; a preview needs none.
        render.resolution_x, render.resolution_y, render.resolution_percentage = width, height, 100
        render.image_settings.file_format = file_format
        bpy.ops.render.render()
        bpy.data.images["Render Result"].save_render(filepath=filepath, scene=scene)
    finally:
        for name, value in saved_render.items():
            setattr(render, name, value)
        for name, value in saved_cycles.items():
            setattr(cycles, name, value)
        render.image_settings.file_format = saved_format
        if temporary_camera is not None:
            scene.camera = None
            _remove_camera(temporary_camera)
    return width, height


def _find_view3d():
    for window in bpy.context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == "VIEW_3D":
                return window, area
    raise FabricError("No 3D viewport is open to take a screenshot of")


def _capture_viewport(filepath, max_size, file_format):
    window, area = _find_view3d()
    with bpy.context.temp_override(window=window, area=area):
        bpy.ops.screen.screenshot_area(filepath=filepath)
    image = bpy.data.images.load(filepath)
    try:
        width, height = _scaled(image.size[0], image.size[1], max_size)
        image.scale(width, height)
        image.filepath_raw = filepath
        image.file_format = file_format
        image.save()
    finally:
        bpy.data.images.remove(image)
    return width, height


@command("get_viewport_screenshot")
def get_viewport_screenshot(filepath=None, max_size=800, format="png"):  # noqa: A002 - the wire name
    file_format = FILE_FORMATS.get(str(format).lower())
    if file_format is None:
        raise FabricError(f"format must be one of {', '.join(FILE_FORMATS)}, got {format!r}")
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise FabricError(f"max_size must be a positive integer, got {max_size!r}")
    if filepath is None:
        filepath = os.path.join(tempfile.mkdtemp(prefix="fabric-screenshot-"), f"screenshot.{format.lower()}")
    capture = _render_scene_camera if bpy.app.background else _capture_viewport
    width, height = capture(filepath, max_size, file_format)
    return {"filepath": filepath, "width": width, "height": height, "format": format.lower()}
