"""Base URLs and API keys of the external services, read from the addon preferences."""

from ..errors import FabricError
from ..preferences import get_preferences


def base_url(preference):
    url = getattr(get_preferences(), preference).strip()
    if not url:
        raise FabricError(f"'{preference}' is empty in the Blender Fabric addon preferences")
    return url


def api_key(preference, service):
    key = getattr(get_preferences(), preference).strip()
    if not key:
        raise FabricError(f"{service} needs an API key: set '{preference}' in the Blender Fabric addon preferences")
    return key
