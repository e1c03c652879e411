"""Hyper3D Rodin (its main-site API, v2): create a generation job, poll it, import the result.
Requests go to the 'hyper3d_base_url' preference with 'hyper3d_api_key' as a Bearer token.

The fal.ai-hosted Rodin queue (addressed by request_id) is a different API on another host;
this addon speaks only the main-site API, so request_id is refused with a hint.
"""

import base64
import binascii
import json
import tempfile

import bpy

from .. import http_client
from ..errors import FabricError
from ..registry import command
from .bounds import world_bounding_box
from .downloads import import_gltf, path_inside
from .service_settings import api_key, base_url

FAL_AI_REFUSAL = "request_id addresses the fal.ai Rodin queue, which this addon does not use; pass {} instead"


def _url(path):
    return http_client.join_url(base_url("hyper3d_base_url"), path)


def _auth():
    return {"Authorization": f"Bearer {api_key('hyper3d_api_key', 'Hyper3D Rodin')}"}


def _decode_images(images):
    """`images`: a list of [suffix, base64 data] pairs, e.g. [[".png", "iVBOR..."]]."""
    files = []
    for index, pair in enumerate(images or []):
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise FabricError("images must be a list of [suffix, base64 data] pairs")
        suffix, data = pair
        try:
            files.append(("images", f"{index:04d}{suffix}", base64.b64decode(data, validate=True)))
        except (binascii.Error, ValueError) as error:
            raise FabricError(f"images[{index}] is not valid base64: {error}") from error
    return files


@command("create_rodin_job", gate="enable_hyper3d")
def create_rodin_job(text_prompt=None, images=None, bbox_condition=None):
    """Answers the API's own JSON: {uuid, jobs: {uuids, subscription_key}, ...}."""
    files = _decode_images(images)
    if not text_prompt and not files:
        raise FabricError("create_rodin_job needs text_prompt, images, or both")
    fields = [("tier", "Sketch"), ("mesh_mode", "Raw"), ("texture_mode", "high")]
    if text_prompt:
        fields.append(("prompt", text_prompt))
    if bbox_condition:
        fields.append(("bbox_condition", json.dumps(bbox_condition)))
    return http_client.post_multipart(_url("v2/rodin"), fields, files, _auth())


@command("poll_rodin_job_status", gate="enable_hyper3d")
def poll_rodin_job_status(subscription_key=None, request_id=None):
    if not subscription_key:
        raise FabricError(FAL_AI_REFUSAL.format("subscription_key") if request_id else "poll_rodin_job_status needs subscription_key")
    data = http_client.post_json(_url("v2/status"), {"subscription_key": subscription_key}, _auth())
    jobs = data.get("jobs", [])
    return {"status_list": [job.get("status") for job in jobs], "jobs": jobs}


def _single_mesh(imported, name):
    """Rodin results hold one mesh, sometimes under an empty: keep the mesh, drop the empties."""
    meshes = [obj for obj in imported if obj.type == "MESH"]
    if len(meshes) != 1:
        raise FabricError(f"expected one mesh in the generated asset, found {len(meshes)}")
    mesh = meshes[0]
    world_matrix = mesh.matrix_world.copy()
    mesh.parent = None
    mesh.matrix_world = world_matrix
    for obj in imported:
        if obj is not mesh and obj.type == "EMPTY" and not obj.children:
            bpy.data.objects.remove(obj, do_unlink=True)
    mesh.name = name
    mesh.data.name = name
    return mesh


@command("import_generated_asset", mutating=True, gate="enable_hyper3d")
def import_generated_asset(name, task_uuid=None, request_id=None):
    if not task_uuid:
        raise FabricError(FAL_AI_REFUSAL.format("task_uuid") if request_id else "import_generated_asset needs task_uuid")
    listing = http_client.post_json(_url("v2/download"), {"task_uuid": task_uuid}, _auth())
    glb = next((item for item in listing.get("list", []) if item.get("name", "").endswith(".glb")), None)
    if glb is None:
        raise FabricError("the task has no .glb yet: wait until poll_rodin_job_status reports every job Done")
    with tempfile.TemporaryDirectory(prefix="fabric-rodin-") as folder:
        path = path_inside(folder, "generated.glb")
        http_client.download(glb["url"], path)
        mesh = _single_mesh(import_gltf(path), name)
    return {
        "succeed": True,
        "name": mesh.name,
        "type": mesh.type,
        "location": list(mesh.location),
        "rotation": list(mesh.rotation_euler),
        "scale": list(mesh.scale),
        "world_bounding_box": world_bounding_box(mesh),
    }
