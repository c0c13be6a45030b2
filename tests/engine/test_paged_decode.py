"""The Triton paged decode-attention kernel matches a torch gather + masked softmax, alone and in the engine.

On the CPU it runs under Triton's interpreter (the kernel is defined interpreted for CPU
tensors, TRITON_INTERPRET put back afterwards), so shapes are small. Every cache slot that
no sequence may see, and the padding of the block tables, holds NaN: a stray read shows.
"""

from __future__ import annotations

import os

import pytest
import torch

from codellama_lsp.engine import EngineError, SamplingParams
from codellama_lsp.engine.attention import PagedAttention, Segment
from codellama_lsp.engine.config import ModelArgs
from codellama_lsp.engine.kernels import PAGED_DECODE, resolve_kernel
from codellama_lsp.engine.kernels.interpreter import interpreted
from codellama_lsp.engine.kv_cache import PagedKVCache

from ..conftest import relative_error
from .test_serving import prompt, rebuilt, run_together

pytest.importorskip("triton")
from codellama_lsp.engine.kernels import paged_decode

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # CPU: Triton's interpreter
TOLERANCE = {torch.float32: 1e-4, torch.float16: 1e-2, torch.bfloat16: 2e-2}
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
# (sequence lengths, KV heads, G = H / KVH, block size, head dim)
CASES = {
    "b1-len1": ([1], 2, 1, 16, 32),
    "b1-len100-g8": ([100], 1, 8, 32, 64),
    "b3-g4": ([15, 17, 100], 2, 4, 16, 64),
    "b3-g8-d128": ([1, 100, 17], 1, 8, 32, 128),
    "b8-g1": ([1, 15, 17, 100, 16, 32, 33, 2], 2, 1, 16, 32),
    "b8-g4-d128": ([100, 1, 17, 15, 64, 31, 5, 48], 1, 4, 32, 128),
}


def paged_inputs(lengths: list[int], kvh: int, g: int, bs: int, d: int, dtype: torch.dtype, seed: int):
    """q [B, H, D], k/v slots [num_slots, KVH, D], int32 tables [B, max_blocks] (shuffled blocks), int32 lengths [B]."""
    gen = torch.Generator().manual_seed(seed)
    need = [-(-n // bs) for n in lengths]
    num_blocks = sum(need) + 3  # spare blocks stay NaN; the last one pads the tables
    order = torch.randperm(num_blocks - 1, generator=gen).tolist()
    width = max(need) + 1  # at least one padding entry per row
    tables, first = [], 0
    for n in need:
        tables.append(order[first : first + n] + [num_blocks - 1] * (width - n))
        first += n
    k_slots = torch.full((num_blocks * bs, kvh, d), float("nan"), dtype=dtype)
    v_slots = torch.full_like(k_slots, float("nan"))
    for table, n in zip(tables, lengths):
        pos = torch.arange(n)
        slots = torch.tensor(table)[pos // bs] * bs + pos % bs
        k_slots[slots] = torch.randn(n, kvh, d, generator=gen).to(dtype)
        v_slots[slots] = torch.randn(n, kvh, d, generator=gen).to(dtype)
    q = torch.randn(len(lengths), kvh * g, d, generator=gen).to(dtype)
    as_int = lambda x: torch.tensor(x, dtype=torch.int32, device=DEVICE)  # noqa: E731
    return q.to(DEVICE), k_slots.to(DEVICE), v_slots.to(DEVICE), as_int(tables), as_int(lengths)


def reference(q, k_slots, v_slots, tables, lengths, bs: int, scale: float) -> torch.Tensor:
    """Gather every row's padded blocks, mask what it may not see, softmax in float32 -> [B, H, D] float32."""
    B, H, D = q.shape
    pos = torch.arange(tables.shape[1] * bs, device=q.device)  # [S]
    slots = tables.long()[:, pos // bs] * bs + pos % bs  # [B, S]
    visible = pos[None, :] < lengths.long()[:, None]  # [B, S]
    g = H // k_slots.shape[1]
    keys = k_slots[slots].float().where(visible[..., None, None], 0).repeat_interleave(g, 2)  # [B, S, H, D]
    values = v_slots[slots].float().where(visible[..., None, None], 0).repeat_interleave(g, 2)
    scores = torch.einsum("bhd,bshd->bhs", q.float(), keys) * scale
    weights = scores.masked_fill(~visible[:, None, :], float("-inf")).softmax(-1)
    return torch.einsum("bhs,bshd->bhd", weights, values)


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_kernel_matches_reference(case, dtype):
    lengths, kvh, g, bs, d = case
    seed = list(CASES.values()).index(case)
    q, k_slots, v_slots, tables, lens = paged_inputs(lengths, kvh, g, bs, d, dtype, seed)
    expected = reference(q, k_slots, v_slots, tables, lens, bs, d**-0.5)
    # one pass in 64-position tiles (spanning blocks), then 3 context splits of 16-position tiles
    for splits, block_n in ((1, 64), (3, 16)):
        out = torch.full_like(q, float("nan"))
        got = paged_decode.paged_decode_attention(q, k_slots, v_slots, tables, lens, bs, d**-0.5, out, splits, block_n)
        assert got.data_ptr() == out.data_ptr() and got.dtype == dtype and not got.isnan().any()
        err = relative_error(got.float(), expected)
        assert err <= TOLERANCE[dtype], f"splits={splits}: relative error {err:.2e}"


def test_interpreted_on_cpu_only(monkeypatch):
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    kernel = paged_decode.kernel_for(torch.device("cpu"))
    assert interpreted(kernel)
    assert paged_decode.kernel_for(torch.device("cpu")) is kernel  # defined once
    assert "TRITON_INTERPRET" not in os.environ  # switched on for the definition only
    if torch.cuda.is_available():
        assert not interpreted(paged_decode.kernel_for(DEVICE))


def test_decode_kernel_choice(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_kernel("auto", cpu, PAGED_DECODE) is None and resolve_kernel("torch", cpu, PAGED_DECODE) is None
    assert resolve_kernel("triton", cpu, PAGED_DECODE) is paged_decode
    with pytest.raises(EngineError, match="unknown kernel"):
        resolve_kernel("cuda", cpu, PAGED_DECODE)
    monkeypatch.setenv("TRITON_INTERPRET", "1")  # would build CUDA kernels wrongly: refused, or torch for "auto"
    with pytest.raises(EngineError, match="TRITON_INTERPRET=1 is set"):
        resolve_kernel("triton", torch.device("cuda"), PAGED_DECODE)


def test_paged_attention_mixed_step_matches_torch():
    """Two decodes beside a prompt chunk over a cached prefix: the decode rows agree with the torch path."""
    args = ModelArgs(vocab_size=32, dim=256, n_layers=1, n_heads=8, n_kv_heads=2, intermediate_size=64, head_dim=32)
    cache = PagedKVCache(args, num_blocks=12, block_size=16, device=DEVICE, dtype=torch.float32)
    gen = torch.Generator().manual_seed(5)
    cache.keys[0].copy_(torch.randn(cache.keys[0].shape, generator=gen))
    cache.values[0].copy_(torch.randn(cache.values[0].shape, generator=gen))
    segments = [Segment(0, 1, 20, [7, 2]), Segment(1, 5, 16, [3, 9]), Segment(6, 1, 40, [11, 0, 5])]
    q, k, v = (torch.randn(7, h, 32, generator=gen).to(DEVICE) for h in (8, 2, 2))
    outs = {}
    for kernel in ("torch", "triton"):
        attend = PagedAttention(cache, segments, DEVICE, resolve_kernel(kernel, DEVICE, PAGED_DECODE))
        assert (attend.kernel is not None) == (kernel == "triton")
        outs[kernel] = attend(0, q, k, v)
    assert relative_error(outs["triton"], outs["torch"]) <= 1e-5


def test_engine_greedy_tokens_equal_torch(chat_model, monkeypatch):
    calls: list[int] = []
    original = paged_decode.paged_decode_attention
    monkeypatch.setattr(
        paged_decode, "paged_decode_attention", lambda q, *a, **kw: (calls.append(q.shape[0]), original(q, *a, **kw))[1]
    )
    params = SamplingParams(max_new_tokens=8)
    prompts = [prompt(n, seed) for seed, n in enumerate([5, 37, 70, 2])]
    results = {}
    for kernel in ("torch", "triton"):
        model = rebuilt(chat_model, step_tokens=48, max_batch=8)
        model.runner.paged_decode = resolve_kernel(kernel, model.device, PAGED_DECODE)
        results[kernel] = run_together(model, prompts, params)
        assert model.blocks.num_used == 0
    assert results["triton"] == results["torch"]
    assert all(len(tokens) == 8 for tokens in results["triton"])
    assert calls and max(calls) >= 3  # the kernel decoded several sequences at once
