"""Speculative decoding on trained weights (the demo model): a code edit copies from its prompt, drafts
are accepted, and the greedy answer is token for token the one decoding without drafts gives."""

from __future__ import annotations

import inspect
import textwrap

import pytest

from codellama_lsp.engine import Model, SamplingParams, ServingConfig, load_model

pytestmark = pytest.mark.slow


def test_a_code_edit_on_real_weights_accepts_drafts_and_answers_the_same():
    with load_model("demo", device="cpu", serving=ServingConfig(speculative=None, kv_cache_bytes=128 << 20)) as plain:
        code = textwrap.dedent(inspect.getsource(textwrap.dedent))
        ids = plain.encode_chat(
            [{"role": "user", "content": f"Add comments to this function:\n\n```python\n{code}```"}]
        )
        params = SamplingParams(max_new_tokens=96)
        expected = plain.generate_ids(ids, params)
        drafting = Model(
            plain.transformer, plain.tokenizer, plain.eos_token_ids, plain.device, plain.dtype, plain.source,
            ServingConfig(speculative="ngram", kv_cache_bytes=128 << 20),
        )  # fmt: skip
        with drafting:
            assert drafting.generate_ids(ids, params) == expected
            stats = drafting.stats()
    assert stats["acceptedTokens"] >= 10 and stats["acceptanceRate"] > 0.3, stats
