"""The serving loop: a background thread that schedules and runs steps while there is work.

Requests join and leave between steps. A step that runs out of memory is retried once with
each sequence alone; a sequence that still does not fit fails by itself, never the loop.

`close()` ends every request and joins the thread. Every loop still open is closed at
interpreter exit as well: a thread left inside a torch op while the process tears down
its C++ runtime aborts the process ("terminate called without an active exception").
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref

import torch

from .errors import EngineClosedError
from .model_runner import ModelRunner
from .scheduler import Sampled, Scheduler, Step
from .sequence import Sequence

log = logging.getLogger(__name__)
JOIN_TIMEOUT = 60.0  # seconds: longer than any one step, even a 70B prefill chunk on a slow GPU

_open_loops: weakref.WeakSet[StepLoop] = weakref.WeakSet()


@atexit.register
def close_all() -> None:
    """Close every open loop: the last line of defence for callers that never close their model."""
    for loop in list(_open_loops):
        loop.close()


class StepLoop:
    def __init__(self, scheduler: Scheduler, runner: ModelRunner):
        self.scheduler, self.runner = scheduler, runner
        self.lock = threading.Lock()  # the scheduler's state
        self.forward_lock = threading.Lock()  # one forward at a time on the device
        self._thread: threading.Thread | None = None
        self.closed = False
        self.steps = 0
        _open_loops.add(self)

    def submit(self, seq: Sequence) -> None:
        with self.lock:
            if self.closed:
                raise EngineClosedError("the model was closed")
            self.scheduler.add(seq)
            if self._thread is None:  # the thread lives only while there is work, so models can be dropped
                self._thread = threading.Thread(target=self._run, name="codellama-engine", daemon=True)
                self._thread.start()

    def abort(self, seq: Sequence) -> None:
        """End `seq` now; its blocks are free for the next step (a step in flight may still write them)."""
        with self.lock:
            self.scheduler.abort(seq)

    def close(self, timeout: float = JOIN_TIMEOUT) -> bool:
        """End every request with EngineClosedError, refuse new ones, and wait for a step in flight.

        Idempotent. Returns False if the thread did not stop within `timeout`.
        """
        with self.lock:
            self.closed = True
            for seq in [*self.scheduler.waiting, *self.scheduler.running]:
                self.scheduler.finish(seq, EngineClosedError("the model was closed"))
            thread = self._thread
        _open_loops.discard(self)
        if thread is None or thread is threading.current_thread():
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.error("the engine's step did not finish within %.0f s of closing", timeout)
            return False
        return True

    def _run(self) -> None:
        while True:
            with self.lock:
                if self.closed or not self.scheduler:
                    self._thread = None
                    return
                step = self.scheduler.schedule()
            sampled = self._execute(step) if step else {}
            with self.lock:
                self.scheduler.advance(step, sampled)
            self.steps += 1

    def _execute(self, step: Step) -> Sampled:
        try:
            return self._forward(step)
        except torch.OutOfMemoryError as e:
            if len(step) == 1:
                self._fail(step[0][0], e)
                return {}
            log.warning("out of memory in a step of %d sequences; retrying each alone", len(step))
        except Exception as e:  # a bug must not take the loop down: the step's requests get the error
            log.exception("a step failed")
            for seq, _ in step:
                self._fail(seq, e)
            return {}
        sampled: Sampled = {}
        for seq, n in step:
            try:
                sampled |= self._forward([(seq, n)])
            except torch.OutOfMemoryError as e:
                self._fail(seq, e)
        return sampled

    def _forward(self, step: Step) -> Sampled:
        with self.forward_lock:
            try:
                return self.runner.run(step)
            except torch.OutOfMemoryError:
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                raise

    def _fail(self, seq: Sequence, error: BaseException) -> None:
        with self.lock:
            self.scheduler.finish(seq, error)
