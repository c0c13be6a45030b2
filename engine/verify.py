"""Checking a draft against the model: which drafted tokens to keep, and the token after them.

A verify step feeds the last token and the draft d1..dm, so the model gives m+1 rows of logits:
row i is its prediction after d1..di. Draft tokens are taken in order while the model agrees;
the first disagreement is replaced by the model's own token, and when all m agree, row m adds a
bonus token. Each step so yields 1 to m+1 tokens.

Greedy: "agree" is "is the argmax", so the output is the one decoding without drafts gives.
Sampled: standard speculative sampling with a deterministic draft (q = 1 on the drafted token):
di is kept with probability p_i(di); on rejection the token is drawn from the residual
max(0, p_i - q) normalised, i.e. p_i without di. Each emitted token then has exactly the
distribution p_i, as without drafts (Leviathan et al. 2023, Chen et al. 2023). p_i is the
distribution `sample` draws from (repetition penalty over the history so far, temperature,
top-k, top-p), so every setting behaves as without drafts.
"""

from __future__ import annotations

import torch

from .sampler import SamplingParams, apply_repetition_penalty, distribution


def accept_greedy(draft: list[int], choices: list[int]) -> list[int]:
    """choices: the argmax of each of the m+1 rows -> the tokens to append (the agreeing draft, then one more)."""
    assert len(choices) == len(draft) + 1
    kept = 0
    while kept < len(draft) and draft[kept] == choices[kept]:
        kept += 1
    return draft[:kept] + [choices[kept]]


def accept(
    draft: list[int],
    rows: torch.Tensor,  # [m+1, V] float32 logits
    history: list[int],  # the sequence's tokens before the draft (prompt + answer so far)
    params: SamplingParams,
    generator: torch.Generator | None,
) -> list[int]:
    """The tokens to append, one row at a time, with the repetition penalty over the history as it grows."""
    assert rows.shape[0] == len(draft) + 1
    out: list[int] = []
    for i, row in enumerate(rows):
        seen = torch.tensor(history + out, dtype=torch.long, device=row.device)
        row = apply_repetition_penalty(row, seen, params.repetition_penalty)
        proposed = draft[i] if i < len(draft) else None
        if params.greedy:
            token = int(row.argmax())
            out.append(token)
            if token != proposed:
                return out
            continue
        probs = distribution(row, params)  # [V]
        if proposed is None:  # every drafted token was kept: the bonus token
            return out + [int(torch.multinomial(probs, 1, generator=generator))]
        u = torch.rand((), generator=generator, device=probs.device)
        if u < probs[proposed]:
            out.append(proposed)
            continue
        residual = probs.clone()
        residual[proposed] = 0
        if not residual.sum() > 0:  # p_i(di) is 1 but for rounding: di it is
            out.append(proposed)
            continue
        return out + [int(torch.multinomial(residual, 1, generator=generator))]  # multinomial normalises
    raise AssertionError("unreachable: the last row always ends the loop")
