"""JSON-friendly values of a datablock's RNA properties (browse_data detail_level="full")."""

import mathutils

SIMPLE_TYPES = {"BOOLEAN", "INT", "FLOAT", "STRING", "ENUM"}


def json_value(value):
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, set):
        return sorted(value)
    if isinstance(value, (mathutils.Vector, mathutils.Color, mathutils.Euler, mathutils.Quaternion)):
        return [round(float(component), 6) for component in value]
    if isinstance(value, mathutils.Matrix):
        return [[round(float(cell), 6) for cell in row] for row in value]
    try:
        return [json_value(item) for item in value]
    except TypeError:
        return str(value)


def describe_full(datablock):
    """Simple properties by value, pointers by the name of what they point to, collections by length."""
    described = {}
    for prop in datablock.bl_rna.properties:
        name = prop.identifier
        if name == "rna_type":
            continue
        try:
            value = getattr(datablock, name)
        except AttributeError:
            continue  # Some RNA properties exist only in contexts this datablock is not in.
        if prop.type in SIMPLE_TYPES:
            described[name] = json_value(value)
        elif prop.type == "POINTER":
            pointed_name = getattr(value, "name", None)
            described[name] = pointed_name if isinstance(pointed_name, str) else None
        elif prop.type == "COLLECTION":
            described[name] = len(value)
    return described
