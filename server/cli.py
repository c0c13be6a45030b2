"""The `codellama-lsp` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

DEFAULT_MODEL = "TheBloke/CodeLlama-70B-Instruct-GPTQ"


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=DEFAULT_MODEL, help="hub id, local folder, or 'demo' (tiny random model, CPU)")
    p.add_argument("--revision", default=None, help="hub branch, e.g. gptq-4bit-128g-actorder_True (default: main)")
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available)")


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _load(args: argparse.Namespace):
    from codellama_lsp.engine import load_model
    from codellama_lsp.engine.demo import NOTICE

    if args.model == "demo":
        print(NOTICE, file=sys.stderr)
    return load_model(args.model, revision=args.revision, device=args.device or _default_device())


def cmd_demo_model(args: argparse.Namespace) -> int:
    from codellama_lsp.engine.demo import NOTICE, write_demo_model

    folder = write_demo_model(Path(args.dir))
    print(f"Wrote a demo GPTQ checkpoint (4-bit, act-order, group 128) to {folder}")
    print(NOTICE)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from codellama_lsp.engine import SamplingParams

    model = _load(args)
    params = SamplingParams(temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed)
    messages = [{"role": "system", "content": args.system}, {"role": "user", "content": args.prompt}]

    async def run() -> None:
        async for delta in model.stream(messages, params):
            print(delta, end="", flush=True)
        print()

    asyncio.run(run())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="codellama-lsp", description="Local GPTQ Code Llama for your editor.")
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING or ERROR")
    sub = parser.add_subparsers(dest="command")

    demo = sub.add_parser("demo-model", help="write a tiny random-weight GPTQ checkpoint (output is noise)")
    demo.add_argument("dir", help="folder to write")
    demo.set_defaults(run=cmd_demo_model)

    gen = sub.add_parser("generate", help="answer one instruction with the model, streamed to stdout")
    _add_model_options(gen)
    gen.add_argument("prompt", help="the instruction (user turn)")
    gen.add_argument("--system", default="You are a helpful and honest code assistant.", help="system turn")
    gen.add_argument("--max-new-tokens", type=int, default=256)
    gen.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    gen.add_argument("--seed", type=int, default=None)
    gen.set_defaults(run=cmd_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    if not hasattr(args, "run"):
        build_parser().print_help()
        return 2
    from codellama_lsp.engine import EngineError

    try:
        return args.run(args)
    except (EngineError, ValueError) as e:
        print(f"codellama-lsp: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
