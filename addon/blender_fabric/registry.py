"""The command registry: every handler module registers its commands with @command.
Plain Python (no bpy)."""

import dataclasses
import inspect

from .errors import FabricError


@dataclasses.dataclass(frozen=True)
class Command:
    name: str
    function: object
    mutating: bool
    gate: str | None
    """The addon preference (e.g. "enable_polyhaven") that must be on, or None."""

    def check_params(self, params):
        """Raises FabricError naming unexpected or missing parameters."""
        signature = inspect.signature(self.function)
        accepted = set(signature.parameters)
        unexpected = sorted(set(params) - accepted)
        if unexpected:
            raise FabricError(
                f"{self.name}: unexpected parameter(s) {', '.join(unexpected)}; "
                f"accepted: {', '.join(signature.parameters) or 'none'}"
            )
        missing = [
            name
            for name, parameter in signature.parameters.items()
            if parameter.default is inspect.Parameter.empty and name not in params
        ]
        if missing:
            raise FabricError(f"{self.name}: missing parameter(s) {', '.join(missing)}")


COMMANDS = {}


def command(name, mutating=False, gate=None):
    """Registers the decorated function as command `name`. Mutating commands become one undo step."""

    def register(function):
        if name in COMMANDS:
            raise ValueError(f"command {name} registered twice")
        COMMANDS[name] = Command(name, function, mutating, gate)
        return function

    return register


def find_command(name):
    found = COMMANDS.get(name)
    if found is None:
        raise FabricError(f"Unknown command: {name}")
    return found
