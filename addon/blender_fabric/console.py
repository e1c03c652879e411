"""A ring buffer of console lines (time, level, text), fed by the stdout/stderr that commands and
scripts print and by the `logging` records of the addon. Plain Python (no bpy)."""

import contextlib
import io
import logging
import threading
import time

LEVELS = ("debug", "info", "warning", "error")


class ConsoleBuffer:
    """Keeps the last `capacity` lines; safe to append from any thread."""

    def __init__(self, capacity=5000):
        self._capacity = capacity
        self._lines = []
        self._lock = threading.Lock()

    def append(self, level, text):
        if level not in LEVELS:
            raise ValueError(f"unknown console level {level!r}; expected one of {', '.join(LEVELS)}")
        entry = {"time": time.time(), "level": level, "text": text}
        with self._lock:
            self._lines.append(entry)
            overflow = len(self._lines) - self._capacity
            if overflow > 0:
                del self._lines[:overflow]

    def append_text(self, level, text):
        """Appends each non-empty line of a block of printed text."""
        for line in text.splitlines():
            if line.strip():
                self.append(level, line)

    def lines(self, level="all"):
        """Oldest first; `level` "all" or one of LEVELS."""
        if level != "all" and level not in LEVELS:
            raise ValueError(f"unknown console level {level!r}; expected all or one of {', '.join(LEVELS)}")
        with self._lock:
            snapshot = list(self._lines)
        return snapshot if level == "all" else [line for line in snapshot if line["level"] == level]

    def clear(self):
        """Returns how many lines were removed."""
        with self._lock:
            removed = len(self._lines)
            self._lines.clear()
        return removed

    def stats(self):
        by_level = {level: 0 for level in LEVELS}
        for line in self.lines():
            by_level[line["level"]] += 1
        return {"total": sum(by_level.values()), "by_level": by_level}

    def search(self, query):
        """Lines whose text contains `query`, case-insensitively."""
        needle = query.lower()
        return [line for line in self.lines() if needle in line["text"].lower()]


@contextlib.contextmanager
def capture_output(buffer):
    """Redirects stdout and stderr into strings for the duration; on exit their lines go to
    `buffer` (stdout as info, stderr as error). Yields a dict whose "stdout" and "stderr" are
    filled in on exit. Nested captures work: each inner one feeds the buffer itself."""
    stdout, stderr = io.StringIO(), io.StringIO()
    captured = {"stdout": "", "stderr": ""}
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            yield captured
    finally:
        captured["stdout"], captured["stderr"] = stdout.getvalue(), stderr.getvalue()
        buffer.append_text("info", captured["stdout"])
        buffer.append_text("error", captured["stderr"])


class ConsoleLogHandler(logging.Handler):
    """Sends `logging` records to a ConsoleBuffer."""

    def __init__(self, buffer):
        super().__init__()
        self._buffer = buffer

    def emit(self, record):
        if record.levelno >= logging.ERROR:
            level = "error"
        elif record.levelno >= logging.WARNING:
            level = "warning"
        elif record.levelno >= logging.INFO:
            level = "info"
        else:
            level = "debug"
        self._buffer.append(level, self.format(record))


CONSOLE = ConsoleBuffer()
"""The addon's one console, read by get_console_output and console_operations."""
