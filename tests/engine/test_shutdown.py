"""Closing the engine: requests end, the step thread is joined, and the process exits cleanly."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading

import pytest

from codellama_lsp.engine import EngineClosedError, SamplingParams
from codellama_lsp.engine.synthetic import SyntheticSpec, write_checkpoint

from .test_serving import prompt, rebuilt, streaming

# Exits while the engine's thread is inside a step: before the fix the process died at exit with
# "terminate called without an active exception" (SIGABRT), every time.
EXIT_MID_STEP = textwrap.dedent(
    """
    import sys, threading
    import torch
    from codellama_lsp.engine import load_model, SamplingParams

    model = load_model(sys.argv[1])
    in_step = threading.Event()
    run = model.runner.run

    def slow_run(step):
        in_step.set()
        a = torch.randn(512, 512)
        for _ in range(400):  # about a second inside torch's C++ code
            a = torch.tanh(a @ a)
        return run(step)

    model.runner.run = slow_run
    model.submit([1, 2, 3], SamplingParams(max_new_tokens=4), "action", lambda item: None)
    in_step.wait()
    print("exiting mid-step", flush=True)
    """
)


def test_exiting_while_a_step_runs_does_not_abort_the_process(tmp_path):
    write_checkpoint(tmp_path, SyntheticSpec(), None)
    done = subprocess.run(
        [sys.executable, "-c", EXIT_MID_STEP, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert done.stdout == "exiting mid-step\n"
    assert "terminate called" not in done.stderr
    assert done.returncode == 0, done.stderr


def test_an_abort_during_a_step_leaves_the_other_requests_of_that_step_alone(chat_model):
    model = rebuilt(chat_model)
    params = SamplingParams(max_new_tokens=6)
    alone = model.generate_ids(prompt(40, 2), params)
    victim, survivor = [], []
    finished = threading.Event()
    run = model.runner.run
    first = threading.Event()

    def collect(item):
        survivor.append(item)
        if not isinstance(item, int):
            finished.set()

    def abort_then_run(step):
        if not first.is_set() and len(step) == 2:
            first.set()
            model.abort(seqs[0])  # as a cancelled request does, between scheduling and the forward
        return run(step)

    model.runner.run = abort_then_run
    with model.loop.forward_lock:  # both requests meet in the first step
        seqs = [model.submit(prompt(30, 1), params, "action", victim.append)]
        seqs.append(model.submit(prompt(40, 2), params, "action", collect))
    assert finished.wait(60)
    assert first.is_set()
    assert repr(victim[-1]) == "Finish('abort')" and all(isinstance(t, int) for t in victim[:-1])
    assert survivor[:-1] == alone and repr(survivor[-1]) in ("Finish('length')", "Finish('eos')")
    assert model.blocks.num_used == 0


async def test_close_ends_every_request_waits_for_the_step_and_refuses_new_ones(chat_model):
    model = rebuilt(chat_model)
    task = await streaming(model)
    await asyncio.to_thread(model.close)
    with pytest.raises(EngineClosedError):
        await task
    assert model.closed and model.loop._thread is None
    assert model.blocks.num_used == 0 and model.active_requests == 0
    with pytest.raises(EngineClosedError):
        model.generate_ids([1, 2, 3], SamplingParams(max_new_tokens=2))
    model.close()  # again: nothing to do


def test_a_model_used_as_a_context_manager_is_closed_at_the_end(chat_model):
    with rebuilt(chat_model) as model:
        assert model.generate_ids([1, 2, 3], SamplingParams(max_new_tokens=2))
    assert model.closed
