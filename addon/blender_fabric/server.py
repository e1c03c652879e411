"""The addon server, on localhost TCP (a GUI Blender) or on a Unix socket (a headless Blender
that its bridge started, maybe in a sandbox with no network): token handshake, one reader
thread per connection, a queue of requests for the main thread. Plain Python (no bpy): the
main thread hands in what the hello tells clients about Blender with describe_as(), and
takes requests with next_request(). The reader threads answer the hello from that stored
dict, because only the main thread may touch bpy.

`cancel` is answered on the reader thread: the script it targets is busy on the main thread,
so a queued cancel would only run after the script ended.
"""

import hmac
import logging
import os
import queue
import socket
import threading
import time

from . import protocol

log = logging.getLogger(__name__)

RECEIVE_CHUNK_BYTES = 1 << 16


class Connection:
    """One client socket; send() may be called from any thread."""

    def __init__(self, sock, address):
        self.address = address
        self._sock = sock
        self._write_lock = threading.Lock()

    def send(self, message):
        """Returns False (and logs) when the client is gone, so the caller can carry on."""
        data = protocol.encode(message)
        with self._write_lock:
            try:
                self._sock.sendall(data)
                return True
            except OSError as error:
                log.warning("could not send to %s: %s", self.address, error)
                return False

    def close(self):
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # Already disconnected by the peer; closing below is all that is left.
        self._sock.close()


class FabricServer:
    """Serves the protocol on host:port (port 0 picks a free port; see .port after start()), or
    on the Unix socket unix_path when given (its folder should be private to the user: the
    token is then the second lock, not the only one)."""

    def __init__(self, token, jobs, host="127.0.0.1", port=0, handshake_timeout_s=10.0, unix_path=None):
        if not token:
            raise ValueError("the server needs a non-empty token")
        self._token = token.encode("utf-8")
        self._description = None
        self._jobs = jobs
        self._host = host
        self._requested_port = port
        self._unix_path = unix_path
        self._handshake_timeout_s = handshake_timeout_s
        self._listener = None
        self._connections = set()
        self._connections_lock = threading.Lock()
        self._requests = queue.Queue()
        self.port = None

    @property
    def endpoint(self):
        """Where clients connect, as headless.py announces it: "unix:<path>", or the TCP port."""
        return f"unix:{self._unix_path}" if self._unix_path else str(self.port)

    def describe_as(self, description):
        """Sets the facts the hello reply gives (the keyword arguments of protocol.hello_accepted).
        Called on the main thread; reader threads only read the attribute, so the dict is
        replaced whole, never changed in place."""
        self._description = dict(description)

    def start(self):
        if self._description is None:
            raise RuntimeError("describe_as() must come before start(): the hello needs it")
        if self._unix_path:
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(self._unix_path)
            os.chmod(self._unix_path, 0o600)
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self._host, self._requested_port))
            self.port = listener.getsockname()[1]
        listener.listen()
        self._listener = listener
        threading.Thread(target=self._accept_loop, args=(listener,), name="fabric-accept", daemon=True).start()
        log.info("Blender Fabric addon server listening on %s", self.endpoint if self._unix_path else f"{self._host}:{self.port}")
        return self.port

    def stop(self):
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
            if self._unix_path:
                try:
                    os.unlink(self._unix_path)
                except FileNotFoundError:
                    pass  # Its folder went first (the bridge removes it once Blender exits).
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            connection.close()

    def next_request(self, timeout_s):
        """(connection, request) for the main thread, or None after timeout_s seconds."""
        try:
            return self._requests.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def _accept_loop(self, listener):
        while True:
            try:
                sock, address = listener.accept()
            except OSError:
                if self._listener is listener:
                    log.exception("accept failed; the server stops listening")
                return
            if sock.family == socket.AF_INET:
                # Replies are small and latency-bound; Nagle would hold one back behind the last.
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection = Connection(sock, address or self.endpoint)  # a Unix socket's peer has no address
            with self._connections_lock:
                self._connections.add(connection)
            threading.Thread(
                target=self._serve_connection, args=(sock, connection), name="fabric-reader", daemon=True
            ).start()

    def _serve_connection(self, sock, connection):
        splitter = protocol.LineSplitter()
        authenticated = False
        sock.settimeout(self._handshake_timeout_s)
        try:
            while True:
                chunk = sock.recv(RECEIVE_CHUNK_BYTES)
                if not chunk:
                    return
                for line in splitter.feed(chunk):
                    if authenticated:
                        self._accept_request(connection, line)
                        continue
                    if not self._handshake(connection, line):
                        return
                    authenticated = True
                    sock.settimeout(None)
        except protocol.ProtocolError as error:
            connection.send(protocol.error_response(None, str(error)))
        except OSError as error:
            if authenticated or not isinstance(error, socket.timeout):
                log.info("connection %s ended: %s", connection.address, error)
            else:
                log.warning("connection %s sent no hello within %.0f s", connection.address, self._handshake_timeout_s)
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            connection.close()

    def _handshake(self, connection, line):
        try:
            token = protocol.parse_hello(line)
        except protocol.ProtocolError as error:
            connection.send(protocol.hello_refused(str(error)))
            return False
        if not hmac.compare_digest(token.encode("utf-8"), self._token):
            log.warning("connection %s refused: bad token", connection.address)
            connection.send(protocol.hello_refused("bad token"))
            return False
        connection.send(protocol.hello_accepted(**self._description))
        return True

    def _accept_request(self, connection, line):
        started = time.perf_counter()
        try:
            request = protocol.parse_request(line)
        except protocol.ProtocolError as error:
            connection.send(protocol.error_response(error.request_id, str(error)))
            return
        if request["type"] == "cancel":
            cancelled = self._jobs.cancel(request["job_id"])
            elapsed_ms = (time.perf_counter() - started) * 1000
            connection.send(protocol.ok_response(request["id"], {"cancelled": cancelled}, elapsed_ms))
            return
        # Scripts, and commands with a job, can be cancelled: they are on the board until they end.
        if request.get("job_id") and request["type"] in ("script", "command") and not self._jobs.add(request["job_id"]):
            connection.send(
                protocol.error_response(request["id"], f"job {request['job_id']} is already queued or running")
            )
            return
        self._requests.put((connection, request))
