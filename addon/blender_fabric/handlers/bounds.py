"""World-space bounding boxes of objects."""

import mathutils


def world_bounding_box(obj):
    """[[min x, y, z], [max x, y, z]] of the object's bound_box corners in world space."""
    corners = [obj.matrix_world @ mathutils.Vector(corner) for corner in obj.bound_box]
    return [
        [min(corner[axis] for corner in corners) for axis in range(3)],
        [max(corner[axis] for corner in corners) for axis in range(3)],
    ]
