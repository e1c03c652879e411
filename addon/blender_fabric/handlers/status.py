"""Status probes, always on: whether each asset service can be used right now, and why not."""

from .. import http_client
from ..errors import FabricError
from ..preferences import gate_message, get_preferences
from ..registry import command
from .service_settings import api_key, base_url

STATUS_TIMEOUT_S = 10
"""The Sketchfab probe checks its key with one request; probes must stay quick (seconds)."""


def _disabled(message):
    return {"enabled": False, "message": message}


@command("get_polyhaven_status")
def get_polyhaven_status():
    if not get_preferences().enable_polyhaven:
        return _disabled(gate_message("enable_polyhaven"))
    return {"enabled": True, "message": f"PolyHaven is enabled; assets come from {base_url('polyhaven_base_url')}."}


@command("get_hyper3d_status")
def get_hyper3d_status():
    if not get_preferences().enable_hyper3d:
        return _disabled(gate_message("enable_hyper3d"))
    try:
        api_key("hyper3d_api_key", "Hyper3D Rodin")
        url = base_url("hyper3d_base_url")
    except FabricError as error:
        return _disabled(f"Hyper3D Rodin is enabled, but {error}")
    return {"enabled": True, "message": f"Hyper3D Rodin is enabled; jobs go to {url}."}


@command("get_sketchfab_status")
def get_sketchfab_status():
    """Checks the key against GET {base}/me, as the Sketchfab API documents for token auth."""
    if not get_preferences().enable_sketchfab:
        return _disabled(gate_message("enable_sketchfab"))
    try:
        key = api_key("sketchfab_api_key", "Sketchfab")
        url = http_client.join_url(base_url("sketchfab_base_url"), "me")
        user = http_client.get_json(url, {"Authorization": f"Token {key}"}, timeout_s=STATUS_TIMEOUT_S)
    except FabricError as error:
        return _disabled(f"Sketchfab is enabled, but {error}")
    return {"enabled": True, "message": f"Sketchfab is enabled; logged in as {user.get('username', 'an unknown user')}."}
