import logging
import sys
import unittest

import plain_package  # noqa: F401 - loads blender_fabric without bpy
from blender_fabric.console import ConsoleBuffer, ConsoleLogHandler, capture_output


class ConsoleBufferTest(unittest.TestCase):
    def test_keeps_the_newest_lines_oldest_first(self):
        buffer = ConsoleBuffer(capacity=3)
        for index in range(5):
            buffer.append("info", f"line {index}")
        self.assertEqual([line["text"] for line in buffer.lines()], ["line 2", "line 3", "line 4"])
        self.assertEqual(set(buffer.lines()[0]), {"time", "level", "text"})

    def test_filters_by_level_and_refuses_unknown_levels(self):
        buffer = ConsoleBuffer()
        buffer.append("info", "a")
        buffer.append("error", "b")
        self.assertEqual([line["text"] for line in buffer.lines("error")], ["b"])
        with self.assertRaises(ValueError):
            buffer.lines("loud")
        with self.assertRaises(ValueError):
            buffer.append("loud", "x")

    def test_stats_search_clear(self):
        buffer = ConsoleBuffer()
        buffer.append_text("info", "Rendering frame 1\n\nSaved frame 1\n")
        buffer.append("warning", "low memory")
        self.assertEqual(buffer.stats(), {"total": 3, "by_level": {"debug": 0, "info": 2, "warning": 1, "error": 0}})
        self.assertEqual([line["text"] for line in buffer.search("FRAME")], ["Rendering frame 1", "Saved frame 1"])
        self.assertEqual(buffer.clear(), 3)
        self.assertEqual(buffer.lines(), [])


class CaptureOutputTest(unittest.TestCase):
    def test_stdout_and_stderr_go_to_the_buffer_and_the_caller(self):
        buffer = ConsoleBuffer()
        with capture_output(buffer) as captured:
            print("hello")
            print("oops", file=sys.stderr)
        self.assertEqual(captured, {"stdout": "hello\n", "stderr": "oops\n"})
        self.assertEqual([(line["level"], line["text"]) for line in buffer.lines()], [("info", "hello"), ("error", "oops")])

    def test_output_is_kept_when_the_body_raises(self):
        buffer = ConsoleBuffer()
        with self.assertRaises(RuntimeError), capture_output(buffer):
            print("before the failure")
            raise RuntimeError("boom")
        self.assertEqual(buffer.lines()[0]["text"], "before the failure")

    def test_nested_captures_each_feed_the_buffer_once(self):
        buffer = ConsoleBuffer()
        with capture_output(buffer) as outer:
            print("outer")
            with capture_output(buffer) as inner:
                print("inner")
        self.assertEqual((outer["stdout"], inner["stdout"]), ("outer\n", "inner\n"))
        self.assertEqual([line["text"] for line in buffer.lines()], ["inner", "outer"])


class ConsoleLogHandlerTest(unittest.TestCase):
    def test_log_records_become_lines_with_their_level(self):
        buffer = ConsoleBuffer()
        logger = logging.getLogger("fabric-console-test")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        logger.addHandler(ConsoleLogHandler(buffer))
        logger.debug("d")
        logger.warning("w")
        logger.critical("c")
        self.assertEqual([(line["level"], line["text"]) for line in buffer.lines()], [("debug", "d"), ("warning", "w"), ("error", "c")])


if __name__ == "__main__":
    unittest.main()
