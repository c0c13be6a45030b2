"""The real server, with a model whose sampled ghost text differs from its greedy one.

The known-answer checkpoint answers the same however it samples, so a second candidate would be
dropped as a duplicate. Here an inline request that samples (temperature > 0: the candidates after
the first) answers SAMPLED_ANSWER instead; everything else goes to the checkpoint.
"""

import sys

from codellama_lsp.engine import load_model
from codellama_lsp.server.cli import serve_lsp
from codellama_lsp.server.handlers import build_server

SAMPLED_ANSWER = "return b + a"


class SampledOther:
    def __init__(self, model):
        self.model = model

    def __getattr__(self, name):
        return getattr(self.model, name)

    async def stream(self, prompt, params, priority="action"):
        if priority == "inline" and params.temperature > 0:
            yield SAMPLED_ANSWER
            return
        async for delta in self.model.stream(prompt, params, priority):
            yield delta


def load(*args, **kwargs):
    return SampledOther(load_model(*args, **kwargs))


if __name__ == "__main__":
    sys.exit(serve_lsp(build_server(load)))
