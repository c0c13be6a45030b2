"""Runs one scheduled step through the transformer and picks each due sequence's next tokens.

A sequence is due when the step reaches its last token: it gets one row of logits, or 1 + m
rows when it feeds a draft of m tokens, and `verify` keeps the drafted tokens the model agrees
with. Steps with a draft always run eagerly; decode graphs replay only one-token-per-sequence
steps.
"""

from __future__ import annotations

import torch

from .attention import PagedAttention, Segment
from .decode_graphs import DecodeGraphs
from .kernels import PAGED_DECODE, resolve_kernel
from .kv_cache import PagedKVCache, split_layer_devices
from .model import Attend, Transformer
from .sampler import sample
from .scheduler import Sampled, Step
from .sequence import Sequence
from .verify import accept, accept_greedy


class ModelRunner:
    def __init__(
        self,
        transformer: Transformer,
        cache: PagedKVCache,
        device: torch.device,
        decode_kernel: str = "auto",
        graphs: DecodeGraphs | None = None,
    ):
        self.transformer, self.cache, self.device = transformer, cache, device
        self.paged_decode = resolve_kernel(decode_kernel, device, PAGED_DECODE)  # None: decode attention in torch
        self.layer_devices = split_layer_devices(transformer)  # a split model attends on each layer's device
        if self.layer_devices:
            self.decode_kernels = {d: resolve_kernel(decode_kernel, d, PAGED_DECODE) for d in set(self.layer_devices)}
        self.graphs = graphs  # decode-only steps replay from these when given

    def run(self, step: Step) -> Sampled:
        """The step's forward; returns {sequence id: new tokens} for the sequences due a token."""
        seqs, logits, greedy = self.forward(step)
        if not any(seq.draft for seq in seqs):
            plain = all(s.params.greedy and s.params.repetition_penalty == 1.0 for s in seqs)
            tokens = greedy.tolist() if plain and greedy is not None else self.sample(seqs, logits)
            return {seq.id: [token] for seq, token in zip(seqs, tokens)}
        return self.verify(seqs, logits)

    @staticmethod
    def verify(seqs: list[Sequence], logits: torch.Tensor) -> Sampled:
        """logits [R, vocab], 1 + len(draft) rows per sequence -> each sequence's kept draft and next token."""
        choices = logits.argmax(-1).tolist()  # one op for every plain greedy row
        out, row = {}, 0
        for seq in seqs:
            rows = slice(row, row + 1 + len(seq.draft))
            row = rows.stop
            if seq.params.greedy and seq.params.repetition_penalty == 1.0:
                out[seq.id] = accept_greedy(seq.draft, choices[rows])
            else:
                out[seq.id] = accept(seq.draft, logits[rows], seq.token_ids, seq.params, seq.generator)
        assert row == logits.shape[0]
        return out

    def forward(self, step: Step) -> tuple[list[Sequence], torch.Tensor, torch.Tensor | None]:
        """The step on the device, from a decode graph when one fits, else eager: the sequences due a
        token, their logits [R, vocab] (1 + len(draft) rows each), and their greedy tokens [R] when a
        graph computed them.

        Every step's device work, on either path, runs inside this one call.
        """
        if self.graphs is not None and self.graphs.supports(step):
            logits, greedy = self.graphs.run(step, lambda s: self._eager(s)[1])
            return [seq for seq, _ in step], logits, greedy
        finishing, logits = self._eager(step)
        return finishing, logits, None

    def _eager(self, step: Step) -> tuple[list[Sequence], torch.Tensor]:
        """The transformer on the step's tokens: the sequences due a token, and their logits [R, vocab]."""
        segments: list[Segment] = []
        tokens: list[int] = []
        positions: list[int] = []
        rows: list[int] = []
        finishing: list[Sequence] = []
        for seq, n in step:
            start = seq.num_computed
            segments.append(Segment(len(tokens), n, start, seq.block_table))
            tokens += seq.step_tokens(n)
            positions += range(start, start + n)
            if start + n == len(seq) + len(seq.draft):  # the last prompt chunk, or a decode step: tokens are due
                rows += range(len(tokens) - 1 - len(seq.draft), len(tokens))
                finishing.append(seq)
        as_tensor = lambda values: torch.tensor(values, dtype=torch.long, device=self.device)  # noqa: E731
        attend = self.attention(segments)
        with torch.inference_mode():
            logits = self.transformer(as_tensor(tokens), as_tensor(positions), attend, as_tensor(rows))
        return finishing, logits

    def attention(self, segments: list[Segment]) -> Attend:
        """Paged attention for the step: one for the device, or one per device of a split model, each
        with the same block tables and its own pool (the KV of the layers on that device)."""
        if self.layer_devices is None:
            return PagedAttention(self.cache, segments, self.device, self.paged_decode)
        on_device = {d: PagedAttention(self.cache, segments, d, k) for d, k in self.decode_kernels.items()}
        return lambda layer, q, k, v: on_device[self.layer_devices[layer]](layer, q, k, v)

    @staticmethod
    def sample(seqs: list[Sequence], logits: torch.Tensor) -> list[int]:
        if all(s.params.greedy and s.params.repetition_penalty == 1.0 for s in seqs):
            return logits.argmax(-1).tolist()  # one op for the whole batch
        picked = []
        for seq, row in zip(seqs, logits):
            history = torch.tensor(seq.token_ids, dtype=torch.long, device=row.device)
            picked.append(sample(row, history, seq.params, seq.generator))
        return picked
