"""`codellama-lsp serve`: its command line, and running it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .options import Options


def cmd_serve(args: argparse.Namespace) -> int:
    from .engine_server import ServeConfig, run_server
    from .listen_socket import ListenRefused

    if args.model == "demo":
        from codellama_lsp.engine.demo import NOTICE

        print(NOTICE, file=sys.stderr)
    config = ServeConfig(
        model=args.model,
        revision=args.revision,
        device=args.device,
        gpu_split=args.gpu_split,
        host=args.host,
        port=args.port,
        socket=Path(args.socket).expanduser().absolute() if args.socket else None,
        api_key_env=args.api_key_env,
        served_model_name=args.served_model_name,
        kv_cache_bytes=args.kv_cache_bytes,
        max_queue=args.max_queue,
        idle_minutes=args.idle_minutes,
    )
    try:
        return run_server(config)
    except ListenRefused as e:
        print(f"codellama-lsp serve: {e}", file=sys.stderr)
        return 2


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def add_serve_parser(sub, logs: argparse.ArgumentParser) -> None:
    serve = sub.add_parser(
        "serve", parents=[logs], help="serve the model over an OpenAI-compatible HTTP API (TCP or a unix socket)"
    )
    serve.add_argument("--model", default=Options.model, help="hub id, local folder, or 'demo' (default %(default)s)")
    serve.add_argument("--revision", default=None, help="hub branch (default: main)")
    serve.add_argument(
        "--device",
        default=Options.device,
        help="auto, cpu, cuda, cuda:N, or a list such as cuda:0,cuda:1 that splits the layers (default %(default)s)",
    )
    serve.add_argument(
        "--gpu-split", default="", metavar="GB,GB", help="GB of weights on each listed device (default: planned)"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    where = serve.add_mutually_exclusive_group()
    where.add_argument("--port", type=int, default=8000, help="TCP port (default %(default)s)")
    where.add_argument("--socket", metavar="PATH", help="listen on this unix socket instead (made mode 0600)")
    serve.add_argument(
        "--api-key-env", metavar="VAR", help="require `Authorization: Bearer $VAR` (needed beyond loopback)"
    )
    serve.add_argument("--served-model-name", metavar="NAME", help="the model's name in the API (default: --model)")
    serve.add_argument(
        "--kv-cache-bytes", type=int, default=0, metavar="N", help="KV cache size; 0 = 80%% of the GPU memory left"
    )
    serve.add_argument(
        "--max-queue",
        type=_positive(int),
        metavar="N",
        help="requests that may wait for the engine; more are answered 429 (default: the engine's, 64)",
    )
    serve.add_argument(
        "--idle-minutes",
        type=_positive(float),
        metavar="X",
        default=None,
        help="exit after this long with no client attached and no request (default: never)",
    )
    serve.set_defaults(run=cmd_serve)
