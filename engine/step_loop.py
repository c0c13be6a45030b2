"""The serving loop: a background thread that schedules and runs steps while there is work.

Requests join and leave between steps. A step that runs out of memory is retried once with
each sequence alone; a sequence that still does not fit fails by itself, never the loop.
"""

from __future__ import annotations

import logging
import threading

import torch

from .model_runner import ModelRunner
from .scheduler import Scheduler, Step
from .sequence import Sequence

log = logging.getLogger(__name__)


class StepLoop:
    def __init__(self, scheduler: Scheduler, runner: ModelRunner):
        self.scheduler, self.runner = scheduler, runner
        self.lock = threading.Lock()  # the scheduler's state
        self.forward_lock = threading.Lock()  # one forward at a time on the device
        self._thread: threading.Thread | None = None
        self.steps = 0

    def submit(self, seq: Sequence) -> None:
        with self.lock:
            self.scheduler.add(seq)
            if self._thread is None:  # the thread lives only while there is work, so models can be dropped
                self._thread = threading.Thread(target=self._run, name="codellama-engine", daemon=True)
                self._thread.start()

    def abort(self, seq: Sequence) -> None:
        """End `seq` now; its blocks are free for the next step (a step in flight may still write them)."""
        with self.lock:
            self.scheduler.abort(seq)

    def _run(self) -> None:
        while True:
            with self.lock:
                if not self.scheduler:
                    self._thread = None
                    return
                step = self.scheduler.schedule()
            sampled = self._execute(step) if step else {}
            with self.lock:
                self.scheduler.advance(step, sampled)
            self.steps += 1

    def _execute(self, step: Step) -> dict[int, int]:
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
        sampled: dict[int, int] = {}
        for seq, n in step:
            try:
                sampled |= self._forward([(seq, n)])
            except torch.OutOfMemoryError as e:
                self._fail(seq, e)
        return sampled

    def _forward(self, step: Step) -> dict[int, int]:
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
