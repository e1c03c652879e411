"""Prints, as JSON, every addon command's keyword parameters and their defaults, read from the
handler sources with `ast` (no bpy needed): {"command": [{"name": ..., "default": ...}], ...}.
A parameter without a default has no "default" key. The gateway's catalog must agree with it
(test/addon/catalog-parity.test.ts)."""

import ast
import json
import pathlib
import sys

HANDLERS = pathlib.Path(__file__).resolve().parent.parent / "blender_fabric" / "handlers"


def command_name(function):
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", None) == "command":
            return ast.literal_eval(decorator.args[0])
    return None


def parameters(function):
    arguments = function.args.args
    defaults = [None] * (len(arguments) - len(function.args.defaults)) + list(function.args.defaults)
    described = []
    for argument, default in zip(arguments, defaults):
        entry = {"name": argument.arg}
        if default is not None:
            entry["default"] = ast.literal_eval(default)
        described.append(entry)
    return described


def main():
    signatures = {}
    for source in sorted(HANDLERS.glob("*.py")):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.FunctionDef):
                name = command_name(node)
                if name is not None:
                    signatures[name] = parameters(node)
    json.dump(signatures, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
