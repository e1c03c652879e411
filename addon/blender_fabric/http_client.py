"""Small urllib helpers for the external asset services. Plain Python (no bpy, no third-party
packages); every failure becomes one FabricError line naming the request."""

import json
import shutil
import urllib.error
import urllib.parse
import urllib.request
import uuid

from .errors import FabricError

TIMEOUT_S = 60
"""Per-request socket timeout (seconds)."""

USER_AGENT = "blender-fabric-addon"


def join_url(base_url, path, query=None):
    url = base_url.rstrip("/") + "/" + path.lstrip("/")
    if query:
        present = {name: value for name, value in query.items() if value is not None}
        url += "?" + urllib.parse.urlencode(present)
    return url


def _open(method, url, headers=None, body=None, timeout_s=TIMEOUT_S):
    request = urllib.request.Request(url, data=body, method=method, headers={"User-Agent": USER_AGENT, **(headers or {})})
    try:
        return urllib.request.urlopen(request, timeout=timeout_s)
    except urllib.error.HTTPError as error:
        raise FabricError(f"{method} {url} failed: HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, OSError) as error:
        raise FabricError(f"{method} {url} failed: {getattr(error, 'reason', error)}") from error


def _read_json(method, url, response):
    with response:
        payload = response.read()
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FabricError(f"{method} {url} did not answer JSON: {error}") from error


def get_json(url, headers=None, timeout_s=TIMEOUT_S):
    return _read_json("GET", url, _open("GET", url, headers, timeout_s=timeout_s))


def post_json(url, payload, headers=None):
    body = json.dumps(payload).encode("utf-8")
    response = _open("POST", url, {"Content-Type": "application/json", **(headers or {})}, body)
    return _read_json("POST", url, response)


def post_multipart(url, fields, files, headers=None):
    """`fields`: list of (name, text); `files`: list of (name, filename, bytes)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, text in fields:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + text.encode() + b"\r\n")
    for name, filename, data in files:
        header = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        )
        parts.append(header.encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    content_type = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return _read_json("POST", url, _open("POST", url, {**content_type, **(headers or {})}, body))


def download(url, destination_path, headers=None):
    """Streams `url` into a file; returns the number of bytes written."""
    with _open("GET", url, headers) as response, open(destination_path, "wb") as destination:
        shutil.copyfileobj(response, destination)
        return destination.tell()
