"""Wire format of the addon socket: newline-delimited JSON (see addon/PROTOCOL.md).

Plain Python (no bpy) so the framing and validation are tested by plain python3.
"""

import json

MAX_LINE_BYTES = 64 * 1024 * 1024
"""A line longer than this is refused rather than buffered without bound (bytes)."""

REQUEST_TYPES = ("command", "script", "cancel", "ping")


class ProtocolError(Exception):
    """A line that is not a valid message. `request_id` is set when the line carried one."""

    def __init__(self, message, request_id=None):
        super().__init__(message)
        self.request_id = request_id


def encode(message):
    """One message as one UTF-8 line. json.dumps escapes newlines inside strings."""
    return (json.dumps(message, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


class LineSplitter:
    """Turns received byte chunks into complete lines, split on b"\\n" only."""

    def __init__(self, max_line_bytes=MAX_LINE_BYTES):
        self._max_line_bytes = max_line_bytes
        self._pending = bytearray()

    def feed(self, chunk):
        """Returns the lines completed by `chunk` (without their newline)."""
        self._pending.extend(chunk)
        lines = []
        start = 0
        while True:
            end = self._pending.find(b"\n", start)
            if end < 0:
                break
            lines.append(bytes(self._pending[start:end]))
            start = end + 1
        del self._pending[:start]
        for line in lines:
            self._check_length(len(line))
        self._check_length(len(self._pending))
        return lines

    def _check_length(self, length):
        if length > self._max_line_bytes:
            raise ProtocolError(f"line longer than {self._max_line_bytes} bytes refused")


def decode_object(line):
    """Parses one line into a JSON object (dict)."""
    try:
        message = json.loads(line.decode("utf-8") if isinstance(line, bytes) else line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtocolError(f"invalid JSON line: {error}") from error
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


def parse_hello(line):
    """Returns the token of a hello line."""
    message = decode_object(line)
    if message.get("type") != "hello":
        raise ProtocolError('the first line must be {"type": "hello", "token": ...}')
    token = message.get("token")
    if not isinstance(token, str):
        raise ProtocolError("hello.token must be a string")
    return token


def _require_string(message, field, request_id):
    value = message.get(field)
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{message.get('type')} request needs a non-empty string '{field}'", request_id)
    return value


def parse_request(line):
    """Validates a request line. Returns the message dict with defaults filled in."""
    message = decode_object(line)
    request_id = message.get("id")
    if not isinstance(request_id, str) or not request_id:
        raise ProtocolError("request needs a non-empty string 'id'")
    request_type = message.get("type")
    if request_type not in REQUEST_TYPES:
        raise ProtocolError(
            f"unknown request type {request_type!r}; expected one of {', '.join(REQUEST_TYPES)}", request_id
        )
    if request_type == "command":
        _require_string(message, "command", request_id)
        params = message.setdefault("params", {})
        if params is None:
            message["params"] = {}
        elif not isinstance(params, dict):
            raise ProtocolError("command params must be a JSON object", request_id)
        job_id = message.get("job_id")
        if job_id is not None and not isinstance(job_id, str):
            raise ProtocolError("job_id must be a string", request_id)
    elif request_type == "script":
        _require_string(message, "job_id", request_id)
        _require_string(message, "script", request_id)
    elif request_type == "cancel":
        _require_string(message, "job_id", request_id)
    return message


def hello_accepted(blender_version, blend_file, pid, mode, commands):
    return {
        "type": "hello",
        "ok": True,
        "blender_version": blender_version,
        "blend_file": blend_file,
        "pid": pid,
        "mode": mode,
        "commands": sorted(commands),
    }


def hello_refused(error):
    return {"type": "hello", "ok": False, "error": error}


def ok_response(request_id, result, duration_ms):
    return {"id": request_id, "ok": True, "result": result, "duration_ms": round(duration_ms, 3)}


def error_response(request_id, error, traceback_text=None, duration_ms=0.0, cancelled=False):
    """`error` is one line; `cancelled` marks a script stopped by a cancel request."""
    response = {
        "id": request_id,
        "ok": False,
        "error": error,
        "traceback": traceback_text,
        "duration_ms": round(duration_ms, 3),
    }
    if cancelled:
        response["cancelled"] = True
    return response


def progress_event(request_id, job_id, fraction, message):
    return {"type": "progress", "id": request_id, "job_id": job_id, "fraction": fraction, "message": message}
