"""Reading the scene: get_scene_info, get_object_info, browse_data."""

import bpy

from ..errors import FabricError
from ..paging import paginate
from ..registry import command
from .bounds import world_bounding_box
from .rna_values import describe_full


def _vector(values):
    return [round(float(value), 6) for value in values]


@command("get_scene_info")
def get_scene_info():
    scene = bpy.context.scene
    return {
        "name": scene.name,
        "object_count": len(scene.objects),
        "objects": [{"name": obj.name, "type": obj.type, "location": _vector(obj.location)} for obj in scene.objects],
        "materials_count": len(bpy.data.materials),
        "frame_current": scene.frame_current,
        "frame_start": scene.frame_start,
        "frame_end": scene.frame_end,
        "render_engine": scene.render.engine,
        "blend_file": bpy.data.filepath,
    }


@command("get_object_info")
def get_object_info(name):
    obj = bpy.data.objects.get(name)
    if obj is None:
        raise FabricError(f"Object not found: {name}")
    info = {
        "name": obj.name,
        "type": obj.type,
        "location": _vector(obj.location),
        "rotation": _vector(obj.rotation_euler),
        "scale": _vector(obj.scale),
        "visible": obj.visible_get(),
        "parent": obj.parent.name if obj.parent else None,
        "materials": [slot.material.name for slot in obj.material_slots if slot.material],
        "world_bounding_box": [_vector(corner) for corner in world_bounding_box(obj)],
    }
    if obj.type == "MESH":
        mesh = obj.data
        info["mesh"] = {"vertices": len(mesh.vertices), "edges": len(mesh.edges), "polygons": len(mesh.polygons)}
    return info


def data_collections():
    """Names of the bpy.data collections of datablocks (objects, meshes, materials, ...)."""
    return sorted(
        name
        for name in dir(bpy.data)
        if not name.startswith("_") and isinstance(getattr(bpy.data, name, None), bpy.types.bpy_prop_collection)
    )


def _summary(datablock):
    summary = {"name": datablock.name, "users": datablock.users}
    kind = getattr(datablock, "type", None)
    if isinstance(kind, str):
        summary["type"] = kind
    return summary


def _describe(datablock, detail_level):
    return _summary(datablock) if detail_level == "summary" else {**_summary(datablock), **describe_full(datablock)}


@command("browse_data")
def browse_data(collection, item_name=None, page=1, page_size=50, detail_level="summary"):
    valid = data_collections()
    if collection not in valid:
        raise FabricError(f"Unknown data collection: {collection}; valid: {', '.join(valid)}")
    if detail_level not in ("summary", "full"):
        raise FabricError(f"detail_level must be 'summary' or 'full', got {detail_level!r}")
    datablocks = getattr(bpy.data, collection)
    if item_name is not None:
        datablock = datablocks.get(item_name)
        if datablock is None:
            raise FabricError(f"Item not found in {collection}: {item_name}")
        return {"collection": collection, "item": _describe(datablock, detail_level)}
    items, pages = paginate(list(datablocks), page, page_size)
    return {
        "collection": collection,
        "total": len(datablocks),
        "page": page,
        "page_size": page_size,
        "pages": pages,
        "items": [_describe(datablock, detail_level) for datablock in items],
    }
