"""Command handlers, one module per area. Importing this package registers all 24 commands."""

from . import code, console_ops, hyper3d, msgbus, polyhaven, scene, screenshot, sketchfab, status  # noqa: F401
