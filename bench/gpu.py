"""CodeLlama-70B GPTQ on one GPU: decode, prefill and batch speed as ratios to measured floors.

    python bench/gpu.py                 # 80 layers, the real shapes; on a CUDA GPU (about 5 minutes)
    python bench/gpu.py --layers 2      # cut down; on a CPU also narrower and shorter (--small)
    python bench/gpu.py --devices cuda:0,cuda:0 --variants 4:-1   # two segments on one GPU: a segment hop's cost
    python bench/gpu.py --devices cuda:0,cuda:1 --variants 4:-1   # the layers split across two GPUs

Weights are random packed ints made on the device (nothing on disk): same shapes, same cost.
Each variant (bits/group, all act-order, v1 zeros as TheBloke's files) runs in its own process,
so memory is freed between them and a failing Triton kernel falls back to torch without
taking the run down. Floors: decode = copy bandwidth / (weight + KV bytes per token); prefill
= matmul FLOP / the fp16 peak a big torch.matmul reaches here.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import torch

from codellama_lsp.engine import QuantConfig, SamplingParams, load_model
from codellama_lsp.engine.kernels import KERNEL_CHOICES, kernel_factory
from codellama_lsp.engine.kv_cache import bytes_per_token
from codellama_lsp.engine.quant import QuantLinear, TorchKernel
from codellama_lsp.engine.synthetic import CODELLAMA_70B, RandomWeights, SyntheticSpec, write_config

SMALL = SyntheticSpec(vocab_size=32016, dim=1024, n_layers=80, n_heads=8, n_kv_heads=1, intermediate_size=3584)
VARIANTS = ("4:-1", "4:128", "4:32", "3:128")
ROW = "BENCH_ROW "  # a child's result line


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, fn, repeat: int = 1) -> float:
    """Seconds per call of fn()."""
    sync(device)
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    sync(device)
    return (time.perf_counter() - start) / repeat


def copy_bandwidth(device: torch.device) -> float:
    """Bytes/s of a device-to-device copy, counting the read and the write."""
    n = (1 << 30) if device.type == "cuda" else (1 << 27)
    src, dst = torch.empty(n, dtype=torch.uint8, device=device), torch.empty(n, dtype=torch.uint8, device=device)
    dst.copy_(src)
    seconds = min(timed(device, lambda: dst.copy_(src), 5) for _ in range(3))
    return 2 * n / seconds


def matmul_peak(device: torch.device, dtype: torch.dtype) -> float:
    n = 8192 if device.type == "cuda" else 1024
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    return 2 * n**3 / min(timed(device, lambda: a @ b, 5) for _ in range(3))


def weight_bytes(model) -> int:
    """What a decode step reads: packed GPTQ tensors (not cached copies), plain weights, one embedding row."""
    total = 0
    for name, module in model.transformer.named_modules():
        tensors = dict(module.named_parameters(recurse=False)) | dict(module.named_buffers(recurse=False))
        if isinstance(module, QuantLinear):
            tensors = {k: v for k, v in tensors.items() if k in ("qweight", "qzeros", "scales", "bias", "perm")}
        if name.endswith("embed_tokens"):
            total += module.weight[0].numel() * module.weight.element_size()
            continue
        total += sum(t.numel() * t.element_size() for t in tensors.values() if t is not None)
    return total


def prefill_flop(spec: SyntheticSpec, tokens: int) -> float:
    linear = (
        spec.n_layers
        * spec.dim
        * (2 * spec.n_heads * spec.head_dim + 2 * spec.n_kv_heads * spec.head_dim + 3 * spec.intermediate_size)
    )
    attention = 2 * tokens * tokens * spec.n_heads * spec.head_dim * spec.n_layers  # causal QK^T and PV
    return 2 * linear * tokens + attention + 2 * spec.dim * spec.vocab_size


def check_layer(spec: SyntheticSpec, quant: QuantConfig, kernel: str, device: torch.device, dtype: torch.dtype) -> str:
    """Relative error of one real-shaped layer (down_proj) on `kernel` against the torch reference."""
    weights = RandomWeights(spec, quant, device, seed=1)
    prefix, k, n = "model.layers.0.mlp.down_proj", spec.intermediate_size, spec.dim
    g = quant.n_groups(k)
    shapes = {
        "qweight": (k * quant.bits // 32, n),
        "qzeros": (g, n * quant.bits // 32),
        "scales": (g, n),
        "g_idx": (k,),
    }
    t = {key: weights.expect(f"{prefix}.{key}", shape) for key, shape in shapes.items()}
    ref = QuantLinear(quant, t["qweight"], t["qzeros"], t["scales"], t["g_idx"], None, dtype, TorchKernel(cache=False))
    fast = QuantLinear(
        quant, t["qweight"], t["qzeros"], t["scales"], t["g_idx"], None, dtype, kernel_factory(kernel, device)(False)
    )
    errors = []
    for rows in (1, 4, 512):
        x = torch.randn(rows, k, device=device, dtype=dtype)
        want = ref(x).float()
        errors.append(float((fast(x).float() - want).norm() / want.norm()))
    return "/".join(f"{e:.1e}" for e in errors)


def run_variant(opts: argparse.Namespace, variant: str, kernel: str) -> dict:
    """One process's measurements for one variant."""
    devices = [torch.device(d) for d in opts.devices.split(",")] if opts.devices else None
    device = devices[0] if devices else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    spec = dataclasses.replace(SMALL if opts.small else CODELLAMA_70B, n_layers=opts.layers)
    bits, group = (int(v) for v in variant.split(":"))
    quant = QuantConfig(bits, group, desc_act=True, sym=True, checkpoint_format="gptq")
    row: dict = {"variant": f"{bits}-bit/{'-1' if group < 0 else group}g", "kernel": kernel}
    row["check"] = check_layer(spec, quant, kernel, device, dtype)
    if device.type == "cuda":  # the check's temporaries must not shrink the KV cache or count as peak
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    folder = Path(tempfile.mkdtemp(prefix="bench-gpu-"))
    write_config(folder, spec, quant, torch.float16, eos_token_id=[])  # no EOS: every request runs to its length
    start = time.perf_counter()
    model = load_model(
        folder, device=opts.devices or device, dtype=dtype, kernel=kernel, checkpoint=RandomWeights(spec, quant, device)
    )
    row["build_s"] = time.perf_counter() - start
    row["placement"] = model.stats()["placement"]
    gen = torch.Generator().manual_seed(0)

    def run(n_prompt: int, n_new: int) -> list[int]:
        prompt = torch.randint(3, 32000, (n_prompt,), generator=gen).tolist()  # fresh: no prefix-cache reuse
        return model.generate_ids(prompt, SamplingParams(max_new_tokens=n_new))

    row["weight_bytes"], row["kv_bytes_per_token"] = weight_bytes(model), bytes_per_token(model.args, model.dtype)
    run(600, 2)  # compile: prefill (two chunk sizes) and decode
    fused = next((m.kernel for m in model.transformer.modules() if isinstance(m, QuantLinear)), None)
    modes = ("fused", "dequant") if getattr(fused, "name", "") == "triton" else ("torch",)
    for mode in modes:
        if mode != "torch":
            fused.prefill = mode
            run(600, 1)
        row[f"first_token_{mode}_s"] = timed(device, lambda: run(opts.contexts[0], 1))
    if len(modes) > 1:
        fused.prefill = min(modes, key=lambda m: row[f"first_token_{m}_s"])
    n_new = opts.decode_tokens if kernel != "torch" or device.type == "cpu" else 4
    for ctx in opts.contexts:
        first = timed(device, lambda ctx=ctx: run(ctx, 1))
        whole = timed(device, lambda ctx=ctx: run(ctx, 1 + n_new))
        row[f"decode_{ctx}_tok_s"] = n_new / max(whole - first, 1e-9)
    threads = [threading.Thread(target=run, args=(128, 2)) for _ in range(4)]  # compile the batched decode
    [t.start() for t in threads], [t.join() for t in threads]
    threads = [threading.Thread(target=run, args=(128, n_new)) for _ in range(4)]
    row["batch4_tok_s"] = 4 * n_new / timed(device, lambda: ([t.start() for t in threads], [t.join() for t in threads]))
    if device.type == "cuda":
        row["peak_memory"] = sum(torch.cuda.max_memory_allocated(d) for d in set(devices or [device]))
    else:
        row["peak_memory"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return row


def child(opts: argparse.Namespace, variant: str, kernel: str, timeout: float) -> dict:
    """Run one variant in a fresh process; on failure, the error as the row."""
    cmd = [sys.executable, __file__, "--child", variant, "--kernel", kernel, "--layers", str(opts.layers)]
    cmd += ["--contexts", ",".join(map(str, opts.contexts)), "--decode-tokens", str(opts.decode_tokens)] + (
        ["--small"] if opts.small else []
    )
    cmd += ["--devices", opts.devices] if opts.devices else []
    try:
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=max(timeout, 10), check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = done.stdout.splitlines()
    print("\n".join(line for line in lines if not line.startswith(ROW)), file=sys.stderr, end="")
    rows = [json.loads(line[len(ROW) :]) for line in lines if line.startswith(ROW)]
    return rows[0] if rows else {"error": f"exit status {done.returncode} (see its stderr above)"}


def fmt_ratio(value: float, floor: float, unit: str) -> str:
    return f"{value:,.4g} {unit} ({value / floor:.2f} of {floor:,.4g})"


def table(opts, rows: list[dict], bandwidth: float, peak: float) -> None:
    gb = 1e9
    lines: dict[str, list[str]] = {}

    def add(key: str, text: str) -> None:
        lines.setdefault(key, []).append(text)

    for r in rows:
        add("kernel", r.get("kernel", "?") + (f" [{r['note']}]" if r.get("note") else ""))
        if "error" in r:
            add("error", r["error"])
            continue
        worst = max(float(e) for e in r["check"].split("/"))
        check = r["check"] + (" MISMATCH" if worst > 1e-2 else " ok")
        add("layer check vs torch (1/4/512 rows)", check if r["kernel"] != "torch" else "n/a (is the reference)")
        w, kv = r["weight_bytes"], r["kv_bytes_per_token"]
        add("weight bytes read per token", f"{w / gb:.2f} GB (+ {kv:,} B KV per context token)")
        for ctx in opts.contexts:
            add(
                f"decode tok/s, batch 1, {ctx} context (floor)",
                fmt_ratio(r[f"decode_{ctx}_tok_s"], bandwidth / (w + kv * ctx), "tok/s"),
            )
        flop = prefill_flop(r["spec"], opts.contexts[0]) if "spec" in r else 0.0
        for mode in ("fused", "dequant", "torch"):
            if f"first_token_{mode}_s" in r:
                s = r[f"first_token_{mode}_s"]
                add(
                    f"first token, {opts.contexts[0]} prompt ({mode})",
                    f"{s:.3f} s ({flop / s / peak:.2f} of peak, {flop / s / 1e12:.3g} TFLOP/s)",
                )
        batch_floor = 4 * bandwidth / (w + 4 * kv * 128)
        add("tok/s, 4 concurrent requests (floor)", fmt_ratio(r["batch4_tok_s"], batch_floor, "tok/s"))
        add("peak memory", f"{r['peak_memory'] / gb:.1f} GB")
        add("build (random weights, load layout)", f"{r['build_s']:.1f} s")
        if opts.devices:
            add("placement", r["placement"])
    width = max(len(k) for k in lines)
    print("\n| " + " | ".join([" " * width] + [r.get("variant", "?") for r in rows]) + " |")
    print("|" + "---|" * (len(rows) + 1))
    for key, cells in lines.items():
        cells = cells + [""] * (len(rows) - len(cells))
        print("| " + " | ".join([key.ljust(width)] + cells) + " |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--layers", type=int, default=80)
    p.add_argument(
        "--small", action="store_true", help="narrow model and short contexts (default when there is no GPU)"
    )
    p.add_argument("--variants", default=",".join(VARIANTS), help="bits:group list, e.g. 4:-1,3:128")
    p.add_argument("--kernel", default="auto", choices=KERNEL_CHOICES)
    p.add_argument("--contexts", default=None, help="context lengths (default 2048,4096; 256,512 with --small)")
    p.add_argument("--decode-tokens", type=int, default=32)
    p.add_argument("--budget-s", type=float, default=330, help="stop starting variants past this")
    p.add_argument(
        "--devices",
        default=None,
        help="split the layers across these devices, e.g. cuda:0,cuda:1 (cuda:0,cuda:0: two segments on one GPU)",
    )
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    opts = p.parse_args(argv)
    cuda = torch.cuda.is_available()
    opts.small = opts.small or not cuda
    opts.contexts = [int(c) for c in (opts.contexts or ("256,512" if opts.small else "2048,4096")).split(",")]
    if opts.child:
        try:
            row = run_variant(opts, opts.child, opts.kernel)
        except Exception as e:
            traceback.print_exc()
            print(ROW + json.dumps({"error": f"{type(e).__name__}: {e}"[:300]}), flush=True)
            return 1
        print(ROW + json.dumps(row), flush=True)
        return 0
    start = time.perf_counter()
    device = torch.device("cuda" if cuda else "cpu")
    dtype = torch.float16 if cuda else torch.float32
    bandwidth, peak = copy_bandwidth(device), matmul_peak(device, dtype)
    name = torch.cuda.get_device_name(device) if cuda else f"CPU ({os.cpu_count()} cores)"
    try:
        import triton

        triton_version = triton.__version__
    except ImportError:
        triton_version = "not installed"
    spec = dataclasses.replace(SMALL if opts.small else CODELLAMA_70B, n_layers=opts.layers)
    print(f"{name}; torch {torch.__version__}, triton {triton_version}; {dtype}; {spec}")
    print(
        f"copy bandwidth {bandwidth / 1e9:,.0f} GB/s (read + write); "
        f"{str(dtype)[6:]} matmul peak {peak / 1e12:,.3g} TFLOP/s"
    )
    if cuda:
        torch.cuda.empty_cache()
    kernel = opts.kernel if opts.kernel != "auto" else ("triton" if cuda else "torch")
    rows = []
    for variant in opts.variants.split(","):
        left = opts.budget_s - (time.perf_counter() - start)
        if left < 20:
            rows.append({"variant": variant, "kernel": kernel, "error": "skipped: out of time"})
            continue
        print(f"[{time.perf_counter() - start:5.0f} s] {variant} on {kernel}", file=sys.stderr, flush=True)
        row = child(opts, variant, kernel, left)
        if "error" in row and kernel == "triton":
            failed = row
            print(f"triton failed for {variant} ({row['error']}); again on torch", file=sys.stderr, flush=True)
            row = child(opts, variant, "torch", opts.budget_s - (time.perf_counter() - start))
            row["note"] = f"Triton failed ({failed['error']}); torch fallback"
        row.setdefault("variant", variant)
        row["spec"] = spec
        rows.append(row)
    table(opts, rows, bandwidth, peak)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
