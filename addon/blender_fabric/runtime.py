"""Wires the server, the job board and the executor together; shared by GUI and headless mode."""

import logging

import bpy

from . import handlers  # noqa: F401 - importing registers every command
from .console import CONSOLE, ConsoleLogHandler
from .executor import Executor, blender_facts, push_undo_step
from .jobs import JobBoard
from .registry import COMMANDS
from .server import FabricServer

log = logging.getLogger(__name__)


def _route_logging_to_console():
    package_logger = logging.getLogger(__package__)
    if not any(isinstance(handler, ConsoleLogHandler) for handler in package_logger.handlers):
        package_logger.addHandler(ConsoleLogHandler(CONSOLE))
        package_logger.setLevel(logging.INFO)


class FabricRuntime:
    """A running addon server plus the main-thread side that executes its requests."""

    def __init__(self, token, port, mode):
        _route_logging_to_console()
        jobs = JobBoard()
        self.mode = mode
        self.executor = Executor(jobs)
        self.server = FabricServer(token=token, describe=self._describe, jobs=jobs, port=port)

    def _describe(self):
        return {**blender_facts(), "mode": self.mode, "commands": list(COMMANDS)}

    def start(self):
        """Listens and returns the port."""
        if bpy.app.background:
            push_undo_step("Blender Fabric: initial state")
        return self.server.start()

    def stop(self):
        self.server.stop()

    def serve_pending(self, timeout_s):
        """Runs queued requests on the calling (main) thread: waits up to timeout_s seconds for
        the first, then takes whatever else is already queued. Returns how many ran."""
        served = 0
        item = self.server.next_request(timeout_s)
        while item is not None:
            connection, request = item
            response = self.executor.execute(request, emit=connection.send)
            connection.send(response)
            served += 1
            item = self.server.next_request(0)
        return served
