"""Runs one scheduled step through the transformer and picks each finished row's next token."""

from __future__ import annotations

import torch

from .attention import PagedAttention, Segment
from .decode_graphs import DecodeGraphs
from .kv_cache import PagedKVCache
from .model import Attend, Transformer
from .sampler import sample
from .scheduler import Step
from .sequence import Sequence


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
        self.decode_kernel = decode_kernel  # PagedAttention's: "auto", "triton" or "torch"
        self.graphs = graphs  # decode-only steps replay from these when given

    def forward(
        self, tokens: torch.Tensor, positions: torch.Tensor, attend: Attend, logit_rows: torch.Tensor
    ) -> torch.Tensor:
        with torch.inference_mode():
            return self.transformer(tokens, positions, attend, logit_rows)

    def run(self, step: Step) -> dict[int, int]:
        """The step's forward; returns {sequence id: next token} for sequences whose tokens are all computed."""
        if self.graphs is not None and self.graphs.supports(step):
            logits, greedy = self.graphs.run(step, lambda s: self._logits(s)[1])
            seqs = [seq for seq, _ in step]
            plain = all(s.params.greedy and s.params.repetition_penalty == 1.0 for s in seqs)
            tokens = greedy.tolist() if plain else self.sample(seqs, logits)
            return dict(zip((seq.id for seq in seqs), tokens))
        finishing, logits = self._logits(step)
        return dict(zip((seq.id for seq in finishing), self.sample(finishing, logits)))

    def _logits(self, step: Step) -> tuple[list[Sequence], torch.Tensor]:
        """The eager forward: the sequences due a token, and their logits [R, vocab]."""
        segments: list[Segment] = []
        tokens: list[int] = []
        positions: list[int] = []
        rows: list[int] = []
        finishing: list[Sequence] = []
        for seq, n in step:
            start = seq.num_computed
            segments.append(Segment(len(tokens), n, start, seq.block_table))
            tokens += seq.token_ids[start : start + n]
            positions += range(start, start + n)
            if start + n == len(seq):  # the last prompt chunk, or a decode step: the next token is due
                rows.append(len(tokens) - 1)
                finishing.append(seq)
        as_tensor = lambda values: torch.tensor(values, dtype=torch.long, device=self.device)  # noqa: E731
        attend = PagedAttention(self.cache, segments, self.device, self.decode_kernel)
        return finishing, self.forward(as_tensor(tokens), as_tensor(positions), attend, as_tensor(rows))

    @staticmethod
    def sample(seqs: list[Sequence], logits: torch.Tensor) -> list[int]:
        if all(s.params.greedy and s.params.repetition_penalty == 1.0 for s in seqs):
            return logits.argmax(-1).tolist()  # one op for the whole batch
        picked = []
        for seq, row in zip(seqs, logits):
            history = torch.tensor(seq.token_ids, dtype=torch.long, device=row.device)
            picked.append(sample(row, history, seq.params, seq.generator))
        return picked
