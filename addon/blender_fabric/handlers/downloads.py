"""Downloaded files: safe paths inside a temp folder, and importing glTF into the scene."""

import os

import bpy

from ..errors import FabricError


def path_inside(folder, relative_path):
    """Joins a server-supplied relative path to `folder`, refusing paths that escape it."""
    root = os.path.realpath(folder)
    target = os.path.realpath(os.path.join(root, relative_path))
    if os.path.commonpath([root, target]) != root:
        raise FabricError(f"Refused a download path that leaves its folder: {relative_path}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    return target


def import_gltf(filepath):
    """Imports a .gltf/.glb file; returns the new objects. Images the importer loaded from files
    are packed, because the files live in a temporary folder that is deleted afterwards."""
    objects_before, images_before = set(bpy.data.objects), set(bpy.data.images)
    options = {}
    if "import_shading" in bpy.ops.import_scene.gltf.get_rna_type().properties:
        # The default "NORMALS" guess in Blender 3.4's importer uses np.bool, which numpy >= 1.24
        # removed. "SMOOTH" avoids it and looks the same: glTF normals become custom split normals.
        options["import_shading"] = "SMOOTH"
    try:
        result = bpy.ops.import_scene.gltf(filepath=filepath, **options)
    except RuntimeError as error:
        if "No module named 'numpy'" in str(error):
            raise FabricError(
                "glTF import needs numpy in Blender's Python, which this Blender lacks (Debian: apt install python3-numpy)"
            ) from error
        raise
    if "FINISHED" not in result:
        raise FabricError(f"glTF import of {os.path.basename(filepath)} did not finish: {result}")
    for image in set(bpy.data.images) - images_before:
        if image.source == "FILE" and image.packed_file is None and os.path.exists(bpy.path.abspath(image.filepath)):
            image.pack()
    return [obj for obj in bpy.data.objects if obj not in objects_before]
