"""PolyHaven: categories, search, downloads (HDRIs, textures, glTF models) and set_texture.
Every request goes to the 'polyhaven_base_url' preference (https://api.polyhaven.com)."""

import os
import tempfile

import bpy

from .. import http_client
from ..errors import FabricError
from ..registry import command
from .downloads import import_gltf, path_inside
from .service_settings import base_url
from .texture_material import ASSET_PROPERTY, MAP_PROPERTY, build_texture_material, texture_images

ASSET_TYPES = ("hdris", "textures", "models")
SEARCH_LIMIT = 20
"""search_polyhaven_assets returns at most this many assets (the full count is in total_count)."""
NON_MAP_FILES = {"blend", "gltf", "mtlx"}
"""Entries of a texture's file list that are not texture maps."""


def _api(path, query=None):
    return http_client.get_json(http_client.join_url(base_url("polyhaven_base_url"), path, query))


def _check_asset_type(asset_type, allow_all):
    valid = ASSET_TYPES + (("all",) if allow_all else ())
    if asset_type not in valid:
        raise FabricError(f"Invalid asset type: {asset_type}; expected one of {', '.join(valid)}")


@command("get_polyhaven_categories", gate="enable_polyhaven")
def get_polyhaven_categories(asset_type="hdris"):
    _check_asset_type(asset_type, allow_all=True)
    return {"asset_type": asset_type, "categories": _api(f"categories/{asset_type}")}


@command("search_polyhaven_assets", gate="enable_polyhaven")
def search_polyhaven_assets(asset_type="all", categories=None):
    _check_asset_type(asset_type, allow_all=True)
    query = {"type": None if asset_type == "all" else asset_type, "categories": categories}
    assets = _api("assets", query)
    returned = dict(list(assets.items())[:SEARCH_LIMIT])
    return {"assets": returned, "total_count": len(assets), "returned_count": len(returned)}


def _file_entry(files, asset_id, keys):
    """files[keys[0]][keys[1]]...; a missing key is named with what is available instead."""
    entry = files
    for depth, key in enumerate(keys):
        if not isinstance(entry, dict) or key not in entry:
            where = "/".join(keys[:depth]) or "its files"
            available = ", ".join(sorted(entry)) if isinstance(entry, dict) else "nothing"
            raise FabricError(f"{asset_id} has no '{key}' under {where}; available: {available}")
        entry = entry[key]
    return entry


def _set_world_environment(image):
    scene = bpy.context.scene
    world = scene.world or bpy.data.worlds.new("World")
    scene.world = world
    world.use_nodes = True
    nodes, links = world.node_tree.nodes, world.node_tree.links
    nodes.clear()
    environment = nodes.new("ShaderNodeTexEnvironment")
    environment.image = image
    background = nodes.new("ShaderNodeBackground")
    output = nodes.new("ShaderNodeOutputWorld")
    links.new(environment.outputs["Color"], background.inputs["Color"])
    links.new(background.outputs["Background"], output.inputs["Surface"])


def _load_packed_image(url, folder, filename):
    """Downloads into the temp folder and packs, so the image outlives the folder."""
    path = path_inside(folder, filename)
    http_client.download(url, path)
    image = bpy.data.images.load(path)
    image.pack()
    if image.size[0] == 0:
        raise FabricError(f"Blender could not read the downloaded image {filename}")
    return image


def _download_hdri(asset_id, files, resolution, file_format, folder):
    file_format = file_format or "hdr"
    entry = _file_entry(files, asset_id, ["hdri", resolution, file_format])
    image = _load_packed_image(entry["url"], folder, f"{asset_id}_{resolution}.{file_format}")
    _set_world_environment(image)
    return {"success": True, "message": f"HDRI {asset_id} set as the world environment", "image_name": image.name}


def _download_textures(asset_id, files, resolution, file_format, folder):
    file_format = file_format or "jpg"
    images = {}
    for map_name, by_resolution in files.items():
        if map_name in NON_MAP_FILES or file_format not in by_resolution.get(resolution, {}):
            continue
        url = by_resolution[resolution][file_format]["url"]
        image = _load_packed_image(url, folder, f"{asset_id}_{map_name}_{resolution}.{file_format}")
        image.name = f"{asset_id}_{map_name}.{file_format}"
        image[ASSET_PROPERTY] = asset_id
        image[MAP_PROPERTY] = map_name
        images[map_name] = image
    if not images:
        raise FabricError(f"{asset_id} has no {resolution} {file_format} texture maps")
    material, roles = build_texture_material(asset_id, images)
    return {
        "success": True,
        "message": f"Texture {asset_id} downloaded into material {material.name}",
        "material": material.name,
        "maps": sorted(images),
        "roles": roles,
    }


def _download_model(asset_id, files, resolution, file_format, folder):
    file_format = file_format or "gltf"
    entry = _file_entry(files, asset_id, [file_format, resolution, file_format])
    main_path = path_inside(folder, os.path.basename(entry["url"].split("?")[0]))
    http_client.download(entry["url"], main_path)
    for relative_path, include in entry.get("include", {}).items():
        http_client.download(include["url"], path_inside(folder, relative_path))
    imported = import_gltf(main_path)
    return {
        "success": True,
        "message": f"Model {asset_id} imported ({len(imported)} objects)",
        "imported_objects": [obj.name for obj in imported],
    }


DOWNLOADERS = {"hdris": _download_hdri, "textures": _download_textures, "models": _download_model}


@command("download_polyhaven_asset", mutating=True, gate="enable_polyhaven")
def download_polyhaven_asset(asset_id, asset_type, resolution="1k", file_format=None):
    _check_asset_type(asset_type, allow_all=False)
    files = _api(f"files/{asset_id}")
    with tempfile.TemporaryDirectory(prefix="fabric-polyhaven-") as folder:
        return DOWNLOADERS[asset_type](asset_id, files, resolution, file_format, folder)


@command("set_texture", mutating=True, gate="enable_polyhaven")
def set_texture(object_name, texture_id):
    obj = bpy.data.objects.get(object_name)
    if obj is None:
        raise FabricError(f"Object not found: {object_name}")
    if not hasattr(obj.data, "materials"):
        raise FabricError(f"Object {object_name} ({obj.type}) cannot hold materials")
    images = texture_images(texture_id)
    if not images:
        raise FabricError(f"No downloaded texture {texture_id}: download it first with download_polyhaven_asset")
    material, roles = build_texture_material(texture_id, images)
    obj.data.materials.clear()
    obj.data.materials.append(material)
    return {"success": True, "object": obj.name, "material": material.name, "maps": sorted(images), "roles": roles}
