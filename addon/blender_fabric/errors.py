"""Failures a handler expects and reports as one line, without a traceback. Plain Python."""


class FabricError(Exception):
    """A failure the caller can act on (bad input, missing object, closed gate, HTTP error)."""
