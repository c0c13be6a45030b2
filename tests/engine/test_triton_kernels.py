"""The Triton GPTQ kernels match the torch reference: compiled on CUDA, interpreted on the CPU.

Every layout (bits x group x act-order x v1/v2 zeros, asymmetric so v1 zeros borrow), decode
(1-16 rows, split-K) and both prefill paths, with every buffer a kernel writes poisoned first.
Shapes are small and odd (N = 96 or 160: a partial 128-column block; K = 160: a partial last
group of 128) because the interpreter runs each program in Python.
"""

from __future__ import annotations

import pytest
import torch

from codellama_lsp.engine import EngineError, QuantConfig, load_model
from codellama_lsp.engine.kernels import GPTQ, load_module, resolve_kernel
from codellama_lsp.engine.quant import QuantLinear, TorchKernel
from codellama_lsp.engine.synthetic import SyntheticSpec, random_gptq_linear
from tests.conftest import relative_error

pytest.importorskip("triton")
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")  # CPU: Triton's interpreter

K, N, PREFILL_ROWS = 160, 96, 37
TOLERANCE = {torch.float32: 1e-3, torch.float16: 1e-2, torch.bfloat16: 2e-2}
LAYOUTS = [
    QuantConfig(bits, group, act, False, fmt)
    for bits in (4, 3, 2, 8)
    for group in (-1, 32, 128)
    for act in ((False,) if group == -1 else (False, True))  # with one group, act-order changes nothing
    for fmt in ("gptq", "gptq_v2")
]


def layout_id(q: QuantConfig) -> str:
    return f"{q.bits}bit-g{q.group_size}-{'act' if q.desc_act else 'seq'}-{'v1' if q.zeros_stored_minus_one else 'v2'}"


@pytest.fixture(scope="module")
def TritonKernel():
    try:
        return load_module(GPTQ, DEVICE).TritonKernel
    except EngineError as e:
        pytest.skip(str(e))


def layer_pair(
    quant: QuantConfig, kernel, dtype: torch.dtype, seed: int, k: int = K, n: int = N, g_idx: torch.Tensor | None = None
):
    """(layer on `kernel`, the same tensors on the torch reference) on DEVICE."""
    tensors, _ = random_gptq_linear(k, n, quant, torch.Generator().manual_seed(seed), bias=False)
    if g_idx is not None:
        tensors["g_idx"] = g_idx
    t = {name: v.to(DEVICE) for name, v in tensors.items()}

    def make(kern) -> QuantLinear:
        return QuantLinear(quant, t["qweight"], t["qzeros"], t["scales"], t["g_idx"], None, dtype, kern)

    return make(kernel), make(TorchKernel(cache=False))


def poison(kernel, rows: int, n: int, dtype: torch.dtype) -> torch.Tensor:
    """NaN in every buffer the kernel may write: its workspace (split-K partials, dequantized W) and `out`."""
    kernel.buffer("partials", 4 * 16 * 256, DEVICE, torch.float32)
    kernel.buffer("weight", 256 * 256, DEVICE, dtype)
    for buf in kernel.workspace.values():
        buf.fill_(float("nan"))
    return torch.full((rows, n), float("nan"), device=DEVICE, dtype=dtype)


def check(kernel, layer, ref, rows: int, dtype: torch.dtype, seed: int) -> float:
    x = torch.randn(rows, layer.in_features, generator=torch.Generator().manual_seed(seed)).to(DEVICE, dtype)
    out = poison(kernel, rows, layer.out_features, dtype)
    y = kernel.forward(layer, x, out=out)
    assert y.data_ptr() == out.data_ptr() and not y.isnan().any()
    err = relative_error(y.float(), ref(x).float())
    assert err <= TOLERANCE[dtype], f"{rows} rows: relative error {err:.2e}"
    return err


@pytest.mark.parametrize("quant", LAYOUTS, ids=layout_id)
def test_decode_matches_reference(TritonKernel, quant):
    i = LAYOUTS.index(quant)
    kernel = TritonKernel()
    layer, ref = layer_pair(quant, kernel, torch.float32, seed=i)
    assert (layer.perm is not None) == quant.desc_act
    assert torch.equal(layer.dequantize(), ref.dequantize())  # the layout rewrite is exact
    kernel.split_k = 1
    check(kernel, layer, ref, 1, torch.float32, seed=100 + i)
    kernel.split_k = 3  # K = 160 in slices of 64/64/32 rows (or 32 x 5 over 3 splits)
    check(kernel, layer, ref, (2, 5, 16)[i % 3], torch.float32, seed=200 + i)


@pytest.mark.parametrize("quant", LAYOUTS, ids=layout_id)
def test_prefill_matches_reference(TritonKernel, quant):
    i = LAYOUTS.index(quant)
    kernel = TritonKernel(prefill="fused")
    layer, ref = layer_pair(quant, kernel, torch.float32, seed=i)
    check(kernel, layer, ref, PREFILL_ROWS, torch.float32, seed=300 + i)
    kernel.prefill = "dequant"
    check(kernel, layer, ref, PREFILL_ROWS, torch.float32, seed=400 + i)


HALF_LAYOUTS = [
    q for q in LAYOUTS if q.bits in (3, 4) and q.zeros_stored_minus_one and q.desc_act == (q.group_size > 0)
]


@pytest.mark.parametrize("quant", HALF_LAYOUTS, ids=layout_id)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16], ids=["fp16", "bf16"])
def test_half_precision(TritonKernel, quant, dtype):
    if dtype == torch.bfloat16 and DEVICE.type == "cpu":
        pytest.skip("Triton's interpreter computes bf16 tl.dot wrongly; checked on CUDA")
    kernel = TritonKernel()
    layer, ref = layer_pair(quant, kernel, dtype, seed=7, n=160)  # two column blocks
    for rows in (1, 3, PREFILL_ROWS):
        check(kernel, layer, ref, rows, dtype, seed=500 + rows)


def test_every_decode_row_count(TritonKernel):
    quant = QuantConfig(3, 32, True, False, "gptq")
    kernel = TritonKernel()
    layer, ref = layer_pair(quant, kernel, torch.float32, seed=1, k=64)
    for rows in range(1, 17):
        kernel.split_k = rows % 3 + 1
        check(kernel, layer, ref, rows, torch.float32, seed=600 + rows)


def test_leading_dims_and_equal_permutations_shared(TritonKernel):
    quant = QuantConfig(4, 32, True, True, "gptq")
    kernel = TritonKernel()
    q_proj, ref = layer_pair(quant, kernel, torch.float32, seed=2)
    k_proj, _ = layer_pair(quant, kernel, torch.float32, seed=2)  # same g_idx, as q/k/v have in GPTQ files
    assert q_proj.perm is k_proj.perm
    x = torch.randn(2, 3, K, device=DEVICE)  # [B, T, K]
    assert relative_error(q_proj(x), ref(x)) <= 1e-3


def test_uneven_groups_fall_back_to_the_reference(TritonKernel):
    quant = QuantConfig(4, 32, True, False, "gptq")
    g_idx = torch.randint(0, 5, (K,), generator=torch.Generator().manual_seed(3), dtype=torch.int32)
    layer, ref = layer_pair(quant, TritonKernel(), torch.float32, seed=3, g_idx=g_idx)  # not 32 rows per group
    assert layer.kernel.name == "torch"
    x = torch.randn(4, K, device=DEVICE)
    assert torch.allclose(layer(x), ref(x))


SPEC = SyntheticSpec(vocab_size=256, dim=128, n_layers=1, n_heads=4, n_kv_heads=2, intermediate_size=256)
TOKENS = [1, 17, 200, 42, 5, 255, 0, 99]


def kernel_names(model) -> set[str]:
    return {m.kernel.name for m in model.transformer.modules() if isinstance(m, QuantLinear)}


def test_load_model_triton_matches_torch(checkpoint_factory, TritonKernel):
    folder, _ = checkpoint_factory(SPEC, QuantConfig(3, 128, True, False, "gptq"), seed=31)
    triton_model = load_model(folder, device=DEVICE, kernel="triton")
    torch_model = load_model(folder, device=DEVICE, kernel="torch")
    assert kernel_names(triton_model) == {"triton"} and kernel_names(torch_model) == {"torch"}
    assert relative_error(triton_model.logits(TOKENS), torch_model.logits(TOKENS)) <= 1e-3
    assert kernel_names(load_model(folder, device="cpu")) == {"torch"}  # auto: the reference on the CPU


def test_auto_falls_back_to_the_reference_when_the_kernel_disagrees(
    checkpoint_factory, TritonKernel, monkeypatch, caplog
):
    from codellama_lsp.engine.kernels import check_or_fall_back

    folder, _ = checkpoint_factory(SPEC, QuantConfig(4, 32, True, True, "gptq"), seed=32)
    model = load_model(folder, device=DEVICE, kernel="triton")
    reference = load_model(folder, device=DEVICE, kernel="torch")
    check_or_fall_back(model.transformer, "auto")  # a working kernel stays
    assert kernel_names(model) == {"triton"}
    monkeypatch.setattr(
        TritonKernel, "forward", lambda self, layer, x, out=None: torch.zeros(*x.shape[:-1], layer.out_features)
    )
    check_or_fall_back(model.transformer, "triton")  # only "auto" is checked
    assert kernel_names(model) == {"triton"}
    check_or_fall_back(model.transformer, "auto")
    assert kernel_names(model) == {"torch"} and "failed their check" in caplog.text
    assert relative_error(model.logits(TOKENS), reference.logits(TOKENS)) <= 1e-5


def test_auto_kernel_choice_and_bad_names(TritonKernel):
    assert resolve_kernel("auto", torch.device("cpu"), GPTQ) is None
    assert resolve_kernel("torch", DEVICE, GPTQ) is None
    assert resolve_kernel("triton", DEVICE, GPTQ).TritonKernel is TritonKernel
    with pytest.raises(EngineError, match="unknown kernel"):
        resolve_kernel("cuda", DEVICE, GPTQ)


def test_kernels_of_the_other_kind_are_refused(TritonKernel, caplog, monkeypatch):
    """The GPTQ kernels are defined once per process, as their module is imported."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    other = torch.device("cpu") if DEVICE.type == "cuda" else torch.device("cuda")
    with pytest.raises(EngineError, match="already defined"):
        load_module(GPTQ, other)
    if other.type == "cuda":  # "auto" does not try Triton off CUDA
        assert resolve_kernel("auto", other, GPTQ) is None and "already defined" in caplog.text
