"""Sketchfab (Data API v3): search downloadable models and import one as glTF.
Requests go to the 'sketchfab_base_url' preference with 'sketchfab_api_key' as "Token <key>"."""

import os
import tempfile
import zipfile

from .. import http_client
from ..errors import FabricError
from ..registry import command
from .downloads import import_gltf, path_inside
from .service_settings import api_key, base_url


def _auth():
    return {"Authorization": f"Token {api_key('sketchfab_api_key', 'Sketchfab')}"}


def _summary(model):
    license_info = model.get("license") or {}
    return {
        "uid": model.get("uid"),
        "name": model.get("name"),
        "user": (model.get("user") or {}).get("username"),
        "is_downloadable": model.get("isDownloadable"),
        "face_count": model.get("faceCount"),
        "vertex_count": model.get("vertexCount"),
        "license": license_info.get("label") if isinstance(license_info, dict) else license_info,
        "viewer_url": model.get("viewerUrl"),
    }


@command("search_sketchfab_models", gate="enable_sketchfab")
def search_sketchfab_models(query, categories=None, count=20, downloadable=True):
    url = http_client.join_url(
        base_url("sketchfab_base_url"),
        "search",
        {
            "type": "models",
            "q": query,
            "count": count,
            "downloadable": "true" if downloadable else "false",
            "archives_flavours": "false",
            "categories": categories,
        },
    )
    data = http_client.get_json(url, _auth())
    results = data.get("results")
    if not isinstance(results, list):
        raise FabricError("Sketchfab search answered without a results list")
    return {"results": [_summary(model) for model in results], "count": len(results), "next": data.get("next")}


def _extract_safely(archive_path, folder):
    with zipfile.ZipFile(archive_path) as archive:
        for member in archive.infolist():
            path_inside(folder, member.filename)
        archive.extractall(folder)


def _find_gltf(folder):
    for root, _directories, filenames in os.walk(folder):
        for filename in sorted(filenames):
            if filename.endswith((".gltf", ".glb")):
                return os.path.join(root, filename)
    raise FabricError("the downloaded Sketchfab archive holds no .gltf or .glb file")


@command("download_sketchfab_model", mutating=True, gate="enable_sketchfab")
def download_sketchfab_model(uid):
    links = http_client.get_json(http_client.join_url(base_url("sketchfab_base_url"), f"models/{uid}/download"), _auth())
    archive_url = (links.get("gltf") or {}).get("url")
    if not archive_url:
        raise FabricError(f"Sketchfab offers no glTF download for model {uid}")
    with tempfile.TemporaryDirectory(prefix="fabric-sketchfab-") as folder:
        archive_path = os.path.join(folder, f"{uid}.zip")
        http_client.download(archive_url, archive_path)
        extracted = os.path.join(folder, "model")
        _extract_safely(archive_path, extracted)
        imported = import_gltf(_find_gltf(extracted))
    return {
        "success": True,
        "message": f"Sketchfab model {uid} imported ({len(imported)} objects)",
        "imported_objects": [obj.name for obj in imported],
    }
