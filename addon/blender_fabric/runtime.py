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

    def __init__(self, token, port, mode, unix_path=None):
        _route_logging_to_console()
        jobs = JobBoard()
        self.mode = mode
        self.executor = Executor(jobs)
        self.server = FabricServer(token=token, jobs=jobs, port=port, unix_path=unix_path)

    def _refresh_description(self):
        """Reads bpy for the hello, on the main thread: the reader threads that answer the hello
        must not touch bpy. Only blend_file changes over a session (a script or the artist opens
        or saves a file), and only on the main thread, which calls this between requests."""
        self.server.describe_as({**blender_facts(), "mode": self.mode, "commands": list(COMMANDS)})

    def start(self):
        """Listens and returns the TCP port (None on a Unix socket; see server.endpoint)."""
        if bpy.app.background:
            push_undo_step("Blender Fabric: initial state")
        self._refresh_description()
        return self.server.start()

    def stop(self):
        self.server.stop()

    def serve_pending(self, timeout_s):
        """Runs queued requests on the calling (main) thread: waits up to timeout_s seconds for
        the first, then takes whatever else is already queued. Returns how many ran. Refreshes
        the hello's facts on every call, so a file the artist opened in the GUI shows too."""
        served = 0
        item = self.server.next_request(timeout_s)
        while item is not None:
            connection, request = item
            response = self.executor.execute(request, emit=connection.send)
            # Before the response: a client that reconnects once it has it sees the new file.
            self._refresh_description()
            connection.send(response)
            served += 1
            item = self.server.next_request(0)
        self._refresh_description()
        return served
