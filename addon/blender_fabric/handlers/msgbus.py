"""msgbus commands: subscribe to RNA property changes and collect the notifications.

Background Blender never dispatches msgbus notifications: they are delivered by the window
manager's notifier loop, which does not run with -b (checked on 3.4.1: neither publish_rna,
view_layer.update, undo_push, frame_set nor operators deliver them). Subscribing and
publishing still work there, but the notification buffer stays empty; results say so in
"delivers_notifications". In GUI mode notifications arrive on the main thread as usual.

Opening another .blend drops Blender's own subscriptions; msgbus_list_subscriptions keeps
listing them until msgbus_clear_by_owner.

A data_path is a Python expression starting with "bpy.": a property of one struct
("bpy.data.objects['Cube'].location") or of every struct of a type ("bpy.types.Object.location").
"""

import collections
import time

import bpy

from ..errors import FabricError
from ..registry import command
from .rna_values import json_value

NOTIFICATION_CAPACITY = 1000

_owner_tokens = {}
"""Owner name -> the object Blender's msgbus knows that owner by."""
_subscriptions = []
_notifications = collections.deque(maxlen=NOTIFICATION_CAPACITY)


def _evaluate(expression):
    if not expression.startswith("bpy."):
        raise FabricError(f"data_path must start with 'bpy.', got {expression!r}")
    try:
        return eval(expression, {"__builtins__": {}, "bpy": bpy})  # noqa: S307 - paths come from the same callers execute_code trusts
    except Exception as error:  # noqa: BLE001 - any failure means the path does not resolve
        raise FabricError(f"Cannot resolve {expression}: {type(error).__name__}: {error}") from error


def _subscription_key(data_path):
    struct_path, _, property_name = data_path.rpartition(".")
    if not struct_path or not property_name.isidentifier():
        raise FabricError(f"data_path must end in .<property>, got {data_path!r}")
    owner = _evaluate(struct_path)
    if isinstance(owner, type) and issubclass(owner, bpy.types.bpy_struct):
        if property_name not in owner.bl_rna.properties:
            raise FabricError(f"{struct_path} has no property {property_name}")
        return (owner, property_name)
    if not isinstance(owner, bpy.types.bpy_struct):
        raise FabricError(f"{struct_path} is not a Blender struct")
    try:
        return owner.path_resolve(property_name, False)
    except ValueError as error:
        raise FabricError(f"{struct_path} has no property {property_name}") from error


def _delivers_notifications():
    return not bpy.app.background


def _record_notification(owner, data_path):
    value = None
    if not data_path.startswith("bpy.types."):
        try:
            value = json_value(_evaluate(data_path))
        except FabricError:
            value = None  # The struct went away since subscribing; the notification still counts.
    _notifications.append({"time": time.time(), "owner": owner, "data_path": data_path, "value": value})


@command("msgbus_subscribe_rna", gate="enable_msgbus")
def msgbus_subscribe_rna(data_path, owner="fabric"):
    key = _subscription_key(data_path)
    token = _owner_tokens.setdefault(owner, object())
    bpy.msgbus.subscribe_rna(key=key, owner=token, args=(owner, data_path), notify=_record_notification)
    _subscriptions.append({"owner": owner, "data_path": data_path})
    return {"subscribed": True, "owner": owner, "data_path": data_path, "delivers_notifications": _delivers_notifications()}


@command("msgbus_publish_rna", gate="enable_msgbus")
def msgbus_publish_rna(data_path):
    bpy.msgbus.publish_rna(key=_subscription_key(data_path))
    return {"published": True, "data_path": data_path, "delivers_notifications": _delivers_notifications()}


@command("msgbus_get_notifications", gate="enable_msgbus")
def msgbus_get_notifications(owner=None, clear=True):
    selected = [item for item in _notifications if owner is None or item["owner"] == owner]
    if clear:
        kept = [item for item in _notifications if not (owner is None or item["owner"] == owner)]
        _notifications.clear()
        _notifications.extend(kept)
    return {"notifications": selected, "count": len(selected), "delivers_notifications": _delivers_notifications()}


@command("msgbus_list_subscriptions", gate="enable_msgbus")
def msgbus_list_subscriptions():
    return {"subscriptions": list(_subscriptions), "count": len(_subscriptions)}


@command("msgbus_clear_by_owner", gate="enable_msgbus")
def msgbus_clear_by_owner(owner):
    token = _owner_tokens.pop(owner, None)
    if token is not None:
        bpy.msgbus.clear_by_owner(token)
    removed = [item for item in _subscriptions if item["owner"] == owner]
    _subscriptions[:] = [item for item in _subscriptions if item["owner"] != owner]
    return {"owner": owner, "cleared": len(removed)}
