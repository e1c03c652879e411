"""Builds a Principled BSDF material from PolyHaven texture maps (images tagged by download)."""

import bpy

ASSET_PROPERTY = "fabric_polyhaven_asset"
MAP_PROPERTY = "fabric_polyhaven_map"


def _role(map_name):
    """What a PolyHaven map name feeds: base_color, roughness, metallic, normal, displacement, arm."""
    name = map_name.lower()
    if name in {"diffuse", "diff", "color", "col", "albedo", "basecolor"}:
        return "base_color"
    if name in {"rough", "roughness"}:
        return "roughness"
    if name in {"metal", "metallic", "metalness"}:
        return "metallic"
    if name in {"nor_gl", "normal", "nor"}:
        return "normal"  # Blender expects OpenGL-style normals, so nor_dx is left out.
    if name in {"disp", "displacement", "height"}:
        return "displacement"
    if name == "arm":
        return "arm"  # Packed ambient occlusion (R), roughness (G), metalness (B).
    return None


def texture_images(asset_id):
    """map name -> image, for the images download_polyhaven_asset tagged with this asset."""
    return {
        image[MAP_PROPERTY]: image
        for image in bpy.data.images
        if image.get(ASSET_PROPERTY) == asset_id and MAP_PROPERTY in image
    }


def build_texture_material(asset_id, images):
    """Returns a material named after the asset (replacing any earlier one of that name)."""
    existing = bpy.data.materials.get(asset_id)
    if existing is not None:
        bpy.data.materials.remove(existing)
    material = bpy.data.materials.new(asset_id)
    material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    nodes.clear()
    output = nodes.new("ShaderNodeOutputMaterial")
    principled = nodes.new("ShaderNodeBsdfPrincipled")
    links.new(principled.outputs["BSDF"], output.inputs["Surface"])
    coordinates = nodes.new("ShaderNodeTexCoord")
    roles = {}
    for map_name, image in images.items():
        role = _role(map_name)
        if role is None or role in roles:
            continue
        image.colorspace_settings.name = "sRGB" if role == "base_color" else "Non-Color"
        texture = nodes.new("ShaderNodeTexImage")
        texture.image = image
        links.new(coordinates.outputs["UV"], texture.inputs["Vector"])
        roles[role] = texture
    _connect_roles(roles, nodes, links, principled, output)
    return material, sorted(roles)


def _connect_roles(roles, nodes, links, principled, output):
    if "base_color" in roles:
        links.new(roles["base_color"].outputs["Color"], principled.inputs["Base Color"])
    if "roughness" in roles:
        links.new(roles["roughness"].outputs["Color"], principled.inputs["Roughness"])
    if "metallic" in roles:
        links.new(roles["metallic"].outputs["Color"], principled.inputs["Metallic"])
    if "arm" in roles:
        separate = nodes.new("ShaderNodeSeparateColor")
        links.new(roles["arm"].outputs["Color"], separate.inputs["Color"])
        if "roughness" not in roles:
            links.new(separate.outputs["Green"], principled.inputs["Roughness"])
        if "metallic" not in roles:
            links.new(separate.outputs["Blue"], principled.inputs["Metallic"])
    if "normal" in roles:
        normal_map = nodes.new("ShaderNodeNormalMap")
        links.new(roles["normal"].outputs["Color"], normal_map.inputs["Color"])
        links.new(normal_map.outputs["Normal"], principled.inputs["Normal"])
    if "displacement" in roles:
        displacement = nodes.new("ShaderNodeDisplacement")
        links.new(roles["displacement"].outputs["Color"], displacement.inputs["Height"])
        links.new(displacement.outputs["Displacement"], output.inputs["Displacement"])
