"""Jobs (scripts, and commands sent with a job id): cancellation flags and rate-limited
progress. Plain Python (no bpy).

Cancellation is cooperative: a cancel request (handled on a reader thread) sets a flag, and the
job's next report_progress call raises JobCancelled on the main thread.
"""

import contextlib
import threading
import time

PROGRESS_INTERVAL_S = 0.1
"""At most one progress event per job per interval (seconds); a fraction of 1.0 always passes."""


class JobCancelled(Exception):
    """Raised inside a script by report_progress after its job was cancelled."""


class JobBoard:
    """Scripts that are queued or running, by job_id, each with a cancellation flag."""

    def __init__(self):
        self._flags = {}
        self._lock = threading.Lock()

    def add(self, job_id):
        """Returns False when a script with this job_id is already queued or running."""
        with self._lock:
            if job_id in self._flags:
                return False
            self._flags[job_id] = threading.Event()
            return True

    def cancel(self, job_id):
        """Returns False when no such script is queued or running."""
        with self._lock:
            flag = self._flags.get(job_id)
        if flag is None:
            return False
        flag.set()
        return True

    def is_cancelled(self, job_id):
        with self._lock:
            flag = self._flags.get(job_id)
        return flag is not None and flag.is_set()

    def remove(self, job_id):
        with self._lock:
            self._flags.pop(job_id, None)


class ProgressReporter:
    """The report_progress(fraction, message="") callable a script receives."""

    def __init__(self, job_id, board, emit, clock=time.monotonic, interval_s=PROGRESS_INTERVAL_S):
        self._job_id = job_id
        self._board = board
        self._emit = emit
        self._clock = clock
        self._interval_s = interval_s
        self._last_sent = None

    def __call__(self, fraction, message=""):
        if self._board.is_cancelled(self._job_id):
            raise JobCancelled(f"job {self._job_id} was cancelled")
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 <= fraction <= 1.0:
            raise ValueError(f"report_progress fraction must be a number in [0, 1], got {fraction!r}")
        now = self._clock()
        due = self._last_sent is None or now - self._last_sent >= self._interval_s
        if fraction >= 1.0 or due:
            self._last_sent = now
            self._emit(float(fraction), str(message))


_running_reporter = None
"""The report_progress of the command running on the main thread now, if it has a job."""


@contextlib.contextmanager
def running_job(reporter):
    """Makes `reporter` the running command's report_progress while the block runs."""
    global _running_reporter
    previous, _running_reporter = _running_reporter, reporter
    try:
        yield
    finally:
        _running_reporter = previous


def current_report_progress():
    """report_progress for code a command runs (execute_code): the job's, or, for a call with
    no job (a direct connection), one that only checks its arguments."""
    return _running_reporter or ProgressReporter(None, JobBoard(), lambda fraction, message: None)
