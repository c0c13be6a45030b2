"""Speculative decoding benchmark: prompt-lookup drafts against plain decoding, side by side in one run.

The demo model (SmolLM2-135M-Instruct, 8-bit GPTQ) answers real code actions on real code
(functions from Python's own standard library, so anyone can reproduce the run): Add
documentation, Refactor, Fix with a planted bug, Explain; and ghost text in a file that repeats
a pattern. Greedy. Each task runs on two engines over the same weights, one drafting
(`ServingConfig(speculative="ngram")`) and one not, alternately, best of `--repeats`. Per task:
decode tokens/s of both (from the first token to the last, so prefill is left out) and their
ratio, the acceptance rate, mean tokens kept per verify step, and whether the outputs are
identical.

    python bench/speculative.py            (or: codellama-lsp bench speculative)
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import inspect
import statistics
import textwrap
import threading
import time
from datetime import date

import torch

from codellama_lsp.engine import Model, SamplingParams, ServingConfig, load_model
from codellama_lsp.engine.sequence import Finish

SYSTEM = "You are an expert Python programmer. Answer with code in one ```python block unless asked to explain."


def source(function) -> str:
    return textwrap.dedent(inspect.getsource(function))


def action(instruction: str, code: str) -> list[dict]:
    user = f"{instruction}\n\n```python\n{code}```"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def repeating_file() -> str:
    """A module of near-identical properties, cut inside the next one: ghost text that can copy."""
    fields = ["name", "path", "size", "mode", "owner", "group", "created", "modified"]
    prop = '    @property\n    def {0}(self) -> str:\n        """The entry\'s {0}."""\n'
    prop += '        return self._data["{0}"]\n\n'
    body = "".join(prop.format(f) for f in fields)
    return (
        f"class Entry:\n    def __init__(self, data: dict):\n        self._data = data\n\n{body}    @property\n    def"
    )


def median_with_a_bug() -> str:
    code = source(statistics.median)
    assert "data[i - 1]" in code
    return code.replace("data[i - 1]", "data[i + 1]")


TASKS = {  # name -> (prompt, max new tokens)
    "Add documentation": (action("Add docstrings and comments to this function. Answer with the whole function.",
                                 source(textwrap.dedent)), 256),
    "Refactor": (action("Refactor this function for readability. Answer with the whole function.",
                        source(fnmatch.translate)), 256),
    "Fix (planted bug)": (action("Fix the bug in this function. Answer with the whole corrected function.",
                                 median_with_a_bug()), 256),
    "Explain": (action("Explain what this function does, in plain English, without code.",
                       source(difflib.get_close_matches)), 192),
    "Ghost text (repeated pattern)": (repeating_file(), 64),
}  # fmt: skip


def engine(model: Model, speculative: str | None, draft_tokens: int) -> Model:
    """The same weights behind a fresh engine that drafts or not."""
    serving = ServingConfig(kv_cache_bytes=256 << 20, speculative=speculative, draft_tokens=draft_tokens)
    return Model(
        model.transformer, model.tokenizer, model.eos_token_ids, model.device, model.dtype, model.source, serving
    )


def decode(model: Model, prompt, max_new: int) -> tuple[list[int], float]:
    """Greedy tokens and the decode rate in tokens/s from the first emitted token to the last."""
    tokens, times, done = [], [], threading.Event()

    def emit(item):
        if isinstance(item, (Finish, BaseException)):
            done.set()
        else:
            tokens.append(item)
            times.append(time.perf_counter())

    model.submit(prompt, SamplingParams(max_new_tokens=max_new), "action", emit)
    done.wait()
    rate = (len(tokens) - 1) / (times[-1] - times[0]) if len(tokens) > 1 and times[-1] > times[0] else 0.0
    return tokens, rate


def measure(model: Model, draft_tokens: int, repeats: int) -> list[tuple]:
    plain, drafting = engine(model, None, draft_tokens), engine(model, "ngram", draft_tokens)
    rows = []
    for name, (prompt, max_new) in TASKS.items():
        for m in (plain, drafting):
            decode(m, prompt, 1)  # the prompt is cached in both engines: only decoding is compared
        before = drafting.stats()
        rates: dict[str, list[float]] = {"plain": [], "drafting": []}
        outputs = {}
        for r in range(repeats):
            order = [("plain", plain), ("drafting", drafting)][:: 1 if r % 2 == 0 else -1]
            for key, m in order:
                outputs[key], rate = decode(m, prompt, max_new)
                rates[key].append(rate)
        after = drafting.stats()
        drafted = after["draftedTokens"] - before["draftedTokens"]
        accepted = after["acceptedTokens"] - before["acceptedTokens"]
        steps = after["draftSteps"] - before["draftSteps"]
        base, fast = max(rates["plain"]), max(rates["drafting"])
        rows.append(
            (
                name,
                len(outputs["plain"]),
                base,
                fast,
                fast / base if base else 0.0,
                accepted / drafted if drafted else 0.0,
                accepted / steps if steps else 0.0,
                drafted / repeats,
                outputs["plain"] == outputs["drafting"],
            )
        )
    plain.close(), drafting.close()
    return rows


def table(rows: list[tuple]) -> str:
    lines = [
        "| task | tokens | plain tok/s | drafting tok/s | speedup | acceptance | kept per verify step "
        "| drafted per answer | identical |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, n, base, fast, ratio, rate, kept, drafted, same in rows:
        lines.append(
            f"| {name} | {n} | {base:.1f} | {fast:.1f} | {ratio:.2f}× | {rate:.0%} | {kept:.2f} | {drafted:.0f} "
            f"| {'yes' if same else 'NO'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draft-tokens", type=int, default=ServingConfig.draft_tokens)
    parser.add_argument("--repeats", type=int, default=2, help="runs per task and engine; the best rate counts")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    model = load_model("demo", device="cpu")
    rows = measure(model, args.draft_tokens, args.repeats)
    model.close()
    print(
        f"{date.today()} · {torch.get_num_threads()} torch threads · torch {torch.__version__} · demo model "
        f"({model.source}, {model.dtype}) · draft_tokens {args.draft_tokens} · "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
