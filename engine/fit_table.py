"""Which CodeLlama-70B branch fits which common GPU setup, and the KV cache each leaves: the README's table.

    python -m codellama_lsp.engine.fit_table      # prints the Markdown table

Every card of a setup is used (`device="cuda:0,cuda:1,..."`); each is taken at its nominal size less
what the CUDA context holds, and keeps the planner's default reserve besides. Each cell is every token
the KV cache holds (all requests together; one request takes at most `contextTokens`).
"""

from __future__ import annotations

from .config import QuantConfig, parse_model_args
from .placement import DeviceMemory, Footprint, GiB, PlacementError, plan_placement
from .synthetic import CODELLAMA_70B

CUDA_CONTEXT = GiB // 2  # held by the CUDA context before the model loads
CONTEXT_WANTED = 4096
BRANCHES = (  # the model card's branches: (name, bits, group size), all act-order
    ("main", 4, -1),
    ("gptq-4bit-128g-actorder_True", 4, 128),
    ("gptq-4bit-32g-actorder_True", 4, 32),
    ("gptq-3bit--1g-actorder_True", 3, -1),
    ("gptq-3bit-128g-actorder_True", 3, 128),
    ("gptq-3bit-32g-actorder_True", 3, 32),
)
SETUPS = (("1× 24 GB", (24,)), ("2× 24 GB", (24, 24)), ("24 + 16 GB", (24, 16)), ("1× 48 GB", (48,)),
          ("4× 16 GB", (16, 16, 16, 16)), ("1× 80 GB", (80,)))  # fmt: skip


def footprint(bits: int, group_size: int) -> Footprint:
    args = parse_model_args(CODELLAMA_70B.config_json("float16"))
    return Footprint(args, QuantConfig(bits, group_size, desc_act=True))


def fit(cards_gb: tuple[int, ...], bits: int, group_size: int) -> int | None:
    """Tokens of KV cache the branch leaves on these cards, or None if it does not fit."""
    devices = [DeviceMemory(f"cuda:{i}", gb * GiB - CUDA_CONTEXT) for i, gb in enumerate(cards_gb)]
    try:
        return plan_placement(footprint(bits, group_size), devices, CONTEXT_WANTED).kv_tokens
    except PlacementError:
        return None


def cell(tokens: int | None) -> str:
    return "no" if tokens is None else f"{tokens:,}"


def table() -> str:
    """Markdown: a row per setup, a column per branch; each cell the KV tokens left, or "no"."""
    head = "| GPUs | " + " | ".join(f"`{name}` ({bits}-bit)" for name, bits, _ in BRANCHES) + " |"
    rule = "| --- |" + " ---: |" * len(BRANCHES)
    rows = [
        f"| {label} | " + " | ".join(cell(fit(cards, bits, group)) for _, bits, group in BRANCHES) + " |"
        for label, cards in SETUPS
    ]
    return "\n".join([head, rule, *rows])


if __name__ == "__main__":
    print(table())
