"""Minimal glTF 2.0 files (one triangle mesh) for the fixture server. Plain Python, written by
hand so the fixtures need neither Blender's glTF exporter nor numpy."""

import io
import json
import struct
import zipfile

TRIANGLE = struct.pack("<9f", 0, 0, 0, 1, 0, 0, 0, 1, 0)


def _document(mesh_name, buffer_uri=None):
    buffer = {"byteLength": len(TRIANGLE)}
    if buffer_uri:
        buffer["uri"] = buffer_uri
    return {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0, "name": mesh_name}],
        "meshes": [{"name": mesh_name, "primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [buffer],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(TRIANGLE)}],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]}
        ],
    }


def gltf_with_bin(mesh_name, bin_name):
    """{".gltf" file bytes, bin_name: buffer bytes}: a .gltf whose buffer is a separate file."""
    return {f"{mesh_name}.gltf": json.dumps(_document(mesh_name, bin_name)).encode(), bin_name: TRIANGLE}


def glb(mesh_name):
    """A binary glTF: 12-byte header, a JSON chunk and a BIN chunk, each padded to 4 bytes."""
    json_chunk = json.dumps(_document(mesh_name)).encode()
    json_chunk += b" " * (-len(json_chunk) % 4)
    bin_chunk = TRIANGLE + b"\x00" * (-len(TRIANGLE) % 4)
    body = struct.pack("<II", len(json_chunk), 0x4E4F534A) + json_chunk + struct.pack("<II", len(bin_chunk), 0x004E4942) + bin_chunk
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def zipped(files, folder="scene"):
    archive_bytes = io.BytesIO()
    with zipfile.ZipFile(archive_bytes, "w") as archive:
        for name, data in files.items():
            archive.writestr(f"{folder}/{name}", data)
    return archive_bytes.getvalue()


def numpy_available():
    """Blender's glTF importer imports numpy; Debian's blender package does not pull it in."""
    try:
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True
