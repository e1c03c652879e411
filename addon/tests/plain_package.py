"""Makes the bpy-free modules of blender_fabric importable by plain python3.

The package's __init__ registers Blender classes and so imports bpy. These tests load the
package as an empty namespace instead, so `blender_fabric.protocol` and its plain siblings
import without running __init__ (and without bpy).
"""

import os
import sys
import types

PACKAGE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "blender_fabric")


def load_plain_package():
    if "blender_fabric" not in sys.modules:
        package = types.ModuleType("blender_fabric")
        package.__path__ = [PACKAGE_DIR]
        sys.modules["blender_fabric"] = package


load_plain_package()
