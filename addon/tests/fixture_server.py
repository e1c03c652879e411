"""A local HTTP server with canned answers, standing in for PolyHaven, Sketchfab and Hyper3D
(no internet in tests). Plain Python; runs in a thread inside the test process."""

import http.server
import json
import threading
import urllib.parse


class FixtureServer:
    """Serves `routes[path] = (content_type, body bytes)` on 127.0.0.1 and records each request."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        fixture = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def _answer(self):
                parsed = urllib.parse.urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                fixture.requests.append(
                    {
                        "method": self.command,
                        "path": parsed.path,
                        "query": dict(urllib.parse.parse_qsl(parsed.query)),
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length),
                    }
                )
                route = fixture.routes.get((self.command, parsed.path))
                if route is None:
                    self.send_error(404, "no fixture for this path")
                    return
                content_type, body = route
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format, *args):  # noqa: A002 - the base class's name
                return  # Keep test output to the test results.

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="fixture-http", daemon=True).start()

    def add_json(self, path, payload, method="GET"):
        self.routes[(method, path)] = ("application/json", json.dumps(payload).encode())

    def add_file(self, path, data):
        self.routes[("GET", path)] = ("application/octet-stream", data)
        return self.base_url + path

    def requests_to(self, path):
        return [request for request in self.requests if request["path"] == path]

    def close(self):
        self._server.shutdown()
        self._server.server_close()
