import json
import unittest

import plain_package  # noqa: F401 - loads blender_fabric without bpy
from blender_fabric import protocol


class EncodeTest(unittest.TestCase):
    def test_one_line_per_message_even_with_newlines_inside(self):
        line = protocol.encode({"id": "r-1", "text": "a\nb", "name": "Würfel"})
        self.assertTrue(line.endswith(b"\n"))
        self.assertEqual(line.count(b"\n"), 1)
        self.assertEqual(json.loads(line), {"id": "r-1", "text": "a\nb", "name": "Würfel"})


class LineSplitterTest(unittest.TestCase):
    def test_splits_on_newlines_across_chunks(self):
        splitter = protocol.LineSplitter()
        self.assertEqual(splitter.feed(b'{"a":'), [])
        self.assertEqual(splitter.feed(b'1}\n{"b":2}\n{"c"'), [b'{"a":1}', b'{"b":2}'])
        self.assertEqual(splitter.feed(b":3}\n"), [b'{"c":3}'])

    def test_refuses_a_line_over_the_limit_without_waiting_for_its_end(self):
        splitter = protocol.LineSplitter(max_line_bytes=8)
        with self.assertRaisesRegex(protocol.ProtocolError, "longer than 8 bytes"):
            splitter.feed(b"0123456789")

    def test_refuses_a_complete_line_over_the_limit(self):
        splitter = protocol.LineSplitter(max_line_bytes=4)
        with self.assertRaises(protocol.ProtocolError):
            splitter.feed(b"123456\n")

    def test_default_limit_is_64_mib(self):
        self.assertEqual(protocol.MAX_LINE_BYTES, 64 * 1024 * 1024)


class HelloTest(unittest.TestCase):
    def test_returns_the_token(self):
        self.assertEqual(protocol.parse_hello(b'{"type":"hello","token":"t0k"}'), "t0k")

    def test_refuses_other_first_lines(self):
        for line in (b'{"type":"ping","id":"1"}', b'{"type":"hello"}', b"[1]", b"not json"):
            with self.subTest(line=line), self.assertRaises(protocol.ProtocolError):
                protocol.parse_hello(line)

    def test_builders(self):
        accepted = protocol.hello_accepted("3.4.1", "", 42, "headless", ["b", "a"])
        self.assertEqual(accepted["commands"], ["a", "b"])
        self.assertTrue(accepted["ok"])
        self.assertEqual(protocol.hello_refused("bad token"), {"type": "hello", "ok": False, "error": "bad token"})


class ParseRequestTest(unittest.TestCase):
    def parse(self, message):
        return protocol.parse_request(json.dumps(message).encode())

    def test_command_gets_empty_params_by_default(self):
        request = self.parse({"id": "r-1", "type": "command", "command": "get_scene_info"})
        self.assertEqual(request["params"], {})

    def test_valid_requests_of_each_type(self):
        self.parse({"id": "r-1", "type": "command", "command": "x", "params": {"a": 1}, "job_id": "j"})
        self.parse({"id": "r-2", "type": "script", "job_id": "j", "script": "print(1)"})
        self.parse({"id": "r-3", "type": "cancel", "job_id": "j"})
        self.parse({"id": "r-4", "type": "ping"})

    def test_invalid_requests_keep_their_id_when_they_have_one(self):
        cases = [
            ({"type": "ping"}, None, "'id'"),
            ({"id": 7, "type": "ping"}, None, "'id'"),
            ({"id": "r-1", "type": "launch"}, "r-1", "unknown request type"),
            ({"id": "r-1", "type": "command"}, "r-1", "'command'"),
            ({"id": "r-1", "type": "command", "command": "x", "params": [1]}, "r-1", "params"),
            ({"id": "r-1", "type": "script", "script": "x"}, "r-1", "'job_id'"),
            ({"id": "r-1", "type": "script", "job_id": "j"}, "r-1", "'script'"),
            ({"id": "r-1", "type": "cancel"}, "r-1", "'job_id'"),
        ]
        for message, request_id, fragment in cases:
            with self.subTest(message=message):
                with self.assertRaises(protocol.ProtocolError) as caught:
                    self.parse(message)
                self.assertEqual(caught.exception.request_id, request_id)
                self.assertIn(fragment, str(caught.exception))


class ResponseBuilderTest(unittest.TestCase):
    def test_ok_and_error_shapes(self):
        self.assertEqual(
            protocol.ok_response("r-1", {"x": 1}, 0.84321),
            {"id": "r-1", "ok": True, "result": {"x": 1}, "duration_ms": 0.843},
        )
        self.assertEqual(
            protocol.error_response("r-1", "Object not found: Cubee", None, 0.12),
            {"id": "r-1", "ok": False, "error": "Object not found: Cubee", "traceback": None, "duration_ms": 0.12},
        )
        self.assertTrue(protocol.error_response("r-2", "stopped", cancelled=True)["cancelled"])

    def test_progress_event(self):
        self.assertEqual(
            protocol.progress_event("r-2", "job-1", 0.47, "frame 120"),
            {"type": "progress", "id": "r-2", "job_id": "job-1", "fraction": 0.47, "message": "frame 120"},
        )


if __name__ == "__main__":
    unittest.main()
