import unittest

import plain_package  # noqa: F401 - loads blender_fabric without bpy
from blender_fabric.errors import FabricError
from blender_fabric.jobs import JobBoard, JobCancelled, ProgressReporter
from blender_fabric.paging import paginate


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class ProgressReporterTest(unittest.TestCase):
    def setUp(self):
        self.board = JobBoard()
        self.board.add("job-1")
        self.sent = []
        self.clock = FakeClock()
        self.report = ProgressReporter("job-1", self.board, lambda fraction, message: self.sent.append((fraction, message)), self.clock)

    def test_one_event_per_100_ms_but_completion_always_passes(self):
        self.report(0.1, "a")
        self.clock.now = 0.05
        self.report(0.2, "b")
        self.report(1.0, "done")
        self.clock.now = 0.16
        self.report(0.3, "c")
        self.assertEqual(self.sent, [(0.1, "a"), (1.0, "done"), (0.3, "c")])

    def test_cancellation_raises_at_the_next_call(self):
        self.report(0.1)
        self.assertTrue(self.board.cancel("job-1"))
        with self.assertRaises(JobCancelled):
            self.report(0.2)

    def test_refuses_fractions_outside_zero_to_one(self):
        for fraction in (-0.1, 1.5, "half", True):
            with self.subTest(fraction=fraction), self.assertRaises(ValueError):
                self.report(fraction)


class JobBoardTest(unittest.TestCase):
    def test_duplicate_jobs_and_unknown_cancels(self):
        board = JobBoard()
        self.assertTrue(board.add("j"))
        self.assertFalse(board.add("j"))
        self.assertFalse(board.cancel("other"))
        board.remove("j")
        self.assertFalse(board.cancel("j"))


class PaginateTest(unittest.TestCase):
    def test_pages(self):
        self.assertEqual(paginate(list(range(5)), 1, 2), ([0, 1], 3))
        self.assertEqual(paginate(list(range(5)), 3, 2), ([4], 3))
        self.assertEqual(paginate(list(range(5)), 9, 2), ([], 3))
        self.assertEqual(paginate([], 1, 50), ([], 0))

    def test_invalid_page_or_size(self):
        for page, size in ((0, 1), (1, 0), ("1", 5), (1, 2.5), (True, 5)):
            with self.subTest(page=page, size=size), self.assertRaises(FabricError):
                paginate([1], page, size)


if __name__ == "__main__":
    unittest.main()
