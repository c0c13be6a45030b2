"""Soak: a fast typist, code actions and invalid requests against the real language server.

Each keystroke is a `didChange` and then an inline completion request; most are superseded by the
next keystroke or cancelled by the editor, every tenth is awaited (a pause in the typing). Code
actions (some cancelled) and invalid requests are mixed in. Afterwards every request must have
been answered with a result or an expected error, the engine must hold no KV blocks, the server
no extra tasks, and its memory must not have grown by more than a bound.

    python bench/soak.py [--keystrokes 5000 --actions 500 --invalid 200]

The short version runs in the default tests (tests/server/test_soak.py).
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient

SOURCE = "def add(a, b):\n    \n"
URI = "file:///soak/add.py"
TYPED = "total = a + b  # the sum\n    "  # what the typist types, over and over
# Errors a request may end with, by code: anything else (an internal error, say) fails the soak.
EXPECTED_ERRORS = {-32800: "cancelled", -32801: "stale", -32602: "invalid params", -32803: "failed"}


@dataclass
class SoakReport:
    requests: int = 0
    outcomes: Counter = field(default_factory=Counter)  # "result", "cancelled", "stale", …
    unexpected: list[str] = field(default_factory=list)  # requests answered in a way they never should be
    superseded_latency: list[float] = field(default_factory=list)  # s from request to answer
    elapsed: float = 0.0  # s, from the first keystroke to the last answer
    before: dict = field(default_factory=dict)  # codellama.status after the warm-up
    after: dict = field(default_factory=dict)  # codellama.status once everything was answered

    @property
    def rss_growth(self) -> int:
        return self.after["process"]["rssBytes"] - self.before["process"]["rssBytes"]

    def percentile(self, p: float) -> float:
        return statistics.quantiles(self.superseded_latency, n=100)[round(p) - 1]


async def status(client: LanguageClient) -> dict:
    params = lsp.ExecuteCommandParams(command="codellama.status", arguments=[])
    return await client.workspace_execute_command_async(params)


async def request(client: LanguageClient, method: str, params, msg_id: str) -> asyncio.Future:
    """Send a request now; its answer comes later. (pytest-lsp's client returns a coroutine that sends once
    started, pygls' own a future that has already sent: either way it is on the wire when this returns.)"""
    answer = asyncio.ensure_future(client.protocol.send_request_async(method, params, msg_id=msg_id))
    await asyncio.sleep(0)
    return answer


class Typist:
    """Types TYPED at the cursor, one character per keystroke, and asks for ghost text after each."""

    def __init__(self, client: LanguageClient):
        self.client, self.version, self.line, self.col = client, 1, 1, 4

    def open(self) -> None:
        item = lsp.TextDocumentItem(uri=URI, language_id="python", version=1, text=SOURCE)
        self.client.text_document_did_open(lsp.DidOpenTextDocumentParams(text_document=item))

    async def key(self, i: int) -> asyncio.Future:
        char = TYPED[i % len(TYPED)]
        here = lsp.Position(line=self.line, character=self.col)
        self.version += 1
        self.client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=URI, version=self.version),
                content_changes=[
                    lsp.TextDocumentContentChangePartial(range=lsp.Range(start=here, end=here), text=char)
                ],
            )
        )
        self.line, self.col = (self.line + 1, 0) if char == "\n" else (self.line, self.col + 1)
        params = lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri=URI),
            position=lsp.Position(line=self.line, character=self.col),
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Automatic),
        )
        return await request(self.client, lsp.TEXT_DOCUMENT_INLINE_COMPLETION, params, f"key-{i}")

    async def action(self, i: int) -> asyncio.Future:
        whole = lsp.Range(start=lsp.Position(line=0, character=0), end=lsp.Position(line=self.line, character=0))
        data = {"uri": URI, "action": "refactor", "range": self.client.protocol._converter.unstructure(whole)}
        action = lsp.CodeAction(title="Code Llama: Refactor / simplify", data=data)
        return await request(self.client, lsp.CODE_ACTION_RESOLVE, action, f"action-{i}")

    async def invalid(self, i: int) -> asyncio.Future:
        """One of several kinds of bad request, in turn."""
        kind = i % 4
        if kind == 0:  # an action the server does not have
            bad = lsp.CodeAction(title="?", data={"uri": URI, "action": "format-disk", "range": None})
            return await request(self.client, lsp.CODE_ACTION_RESOLVE, bad, f"invalid-{i}")
        if kind == 1:  # a command the server does not have
            params = lsp.ExecuteCommandParams(command="codellama.rmrf", arguments=[])
            return await request(self.client, lsp.WORKSPACE_EXECUTE_COMMAND, params, f"invalid-{i}")
        if kind == 2:  # ask without an instruction
            params = lsp.ExecuteCommandParams(command="codellama.ask", arguments=[{"textDocument": {"uri": URI}}])
            return await request(self.client, lsp.WORKSPACE_EXECUTE_COMMAND, params, f"invalid-{i}")
        far = lsp.Position(line=10_000, character=10_000)  # past the end: clamped, answered
        params = lsp.InlineCompletionParams(
            text_document=lsp.TextDocumentIdentifier(uri="file:///soak/never-opened.py"),
            position=far,
            context=lsp.InlineCompletionContext(trigger_kind=lsp.InlineCompletionTriggerKind.Invoked),
        )
        return await request(self.client, lsp.TEXT_DOCUMENT_INLINE_COMPLETION, params, f"invalid-{i}")


def outcome(future: asyncio.Future) -> str:
    if not future.done():
        return "unanswered"
    error = future.exception()
    if error is None:
        return "result"
    code = getattr(error, "code", None)
    if isinstance(error, JsonRpcException) and code in EXPECTED_ERRORS:
        return EXPECTED_ERRORS[code]
    return f"unexpected {type(error).__name__} {code}: {error}"


async def soak(
    client: LanguageClient, keystrokes: int, actions: int, invalid: int, interval: float = 0.01
) -> SoakReport:
    """Drive the server (already initialized, model loaded) and report what came back."""
    typist, report = Typist(client), SoakReport()
    typist.open()
    for i in range(20):  # warm-up: every code path once, then the figures to compare with
        await (await typist.key(-i - 1))
    await asyncio.gather(await typist.action(-1), await typist.invalid(-1), return_exceptions=True)
    report.before = await status(client)

    sent: dict[str, tuple[asyncio.Future, float, str]] = {}  # id -> (answer, sent at, kind)
    answered_at: dict[str, float] = {}
    action_every, invalid_every = max(keystrokes // max(actions, 1), 1), max(keystrokes // max(invalid, 1), 1)
    started = time.perf_counter()

    def track(name: str, future: asyncio.Future, kind: str) -> None:
        sent[name] = (future, time.perf_counter(), kind)
        future.add_done_callback(lambda _: answered_at.setdefault(name, time.perf_counter()))

    for i in range(keystrokes):
        track(f"key-{i}", await typist.key(i), "pause" if i % 10 == 9 else "cancelled" if i % 3 == 0 else "superseded")
        if i % 3 == 0:
            client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=f"key-{i}"))
        if i % action_every == 0 and i // action_every < actions:
            n = i // action_every
            track(f"action-{n}", await typist.action(n), "action")
            if n % 5 == 4:
                client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id=f"action-{n}"))
        if i % invalid_every == 0 and i // invalid_every < invalid:
            n = i // invalid_every
            track(f"invalid-{n}", await typist.invalid(n), "invalid")
        if i % 10 == 9:
            await asyncio.wait([sent[f"key-{i}"][0]], timeout=60)
        await asyncio.sleep(interval)
    await asyncio.wait([future for future, _, _ in sent.values()], timeout=300)
    report.elapsed = time.perf_counter() - started

    report.requests = len(sent)
    for name, (future, at, kind) in sent.items():
        result = outcome(future)
        report.outcomes[result] += 1
        if result not in ("result", *EXPECTED_ERRORS.values()):
            report.unexpected.append(f"{name}: {result}")
        if kind == "superseded" and result == "result":
            report.superseded_latency.append(answered_at[name] - at)
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:  # aborted requests settle within a step
        report.after = await status(client)
        engine = report.after["engine"]
        if engine["running"] == engine["waiting"] == engine["kvBlocksUsed"] == 0:
            break
        await asyncio.sleep(0.05)
    return report


def table(report: SoakReport, keystrokes: int, actions: int, invalid: int) -> str:
    engine, before, after = report.after["engine"], report.before["process"], report.after["process"]
    mib = 1 << 20
    rows = [
        ("requests answered", f"{report.requests - report.outcomes['unanswered']} of {report.requests}"),
        ("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(report.outcomes.items()))),
        ("requests per second held", f"{report.requests / report.elapsed:.1f} ({report.elapsed:.1f} s)"),
        (
            "superseded keystroke, answer p50 / p99",
            f"{report.percentile(50) * 1e3:.0f} / {report.percentile(99) * 1e3:.0f} ms",
        ),
        ("KV blocks in use after", f"{engine['kvBlocksUsed']} of {engine['kvBlocks']}"),
        ("server tasks after / after warm-up", f"{after['tasks']} / {before['tasks']}"),
        ("requests in flight after", f"{after['requests']}"),
        (
            "resident memory after warm-up → after",
            f"{before['rssBytes'] / mib:.0f} → {after['rssBytes'] / mib:.0f} MiB",
        ),
    ]
    head = f"{keystrokes} keystrokes, {actions} code actions, {invalid} invalid requests"
    return "\n".join([head, "", "| measure | value |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows)])


async def run(args: argparse.Namespace) -> SoakReport:
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    from tests.fixtures.known_answer import write_known_answer_checkpoint

    with tempfile.TemporaryDirectory() as folder:
        write_known_answer_checkpoint(Path(folder), "return a + b")
        client = LanguageClient("soak", "1")
        log = Path(folder) / "server.log"  # not stderr: nothing here reads that pipe, and a full pipe blocks
        await client.start_io(sys.executable, "-m", "codellama_lsp.server", "--log-file", str(log))
        ready = asyncio.Event()
        client.feature("codellama/didChangeStatus")(lambda params: params.state == "ready" and ready.set())
        client.feature(lsp.WINDOW_SHOW_MESSAGE)(lambda params: None)  # stale edits and refusals, as expected
        options = {"codellama": {"model": folder, "device": "cpu"}}
        await client.initialize_async(
            lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), initialization_options=options)
        )
        client.initialized(lsp.InitializedParams())
        await asyncio.wait_for(ready.wait(), 300)
        try:
            return await soak(client, args.keystrokes, args.actions, args.invalid)
        finally:
            await client.shutdown_async(None)
            client.exit(None)
            await client.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keystrokes", type=int, default=5000)
    parser.add_argument("--actions", type=int, default=500)
    parser.add_argument("--invalid", type=int, default=200)
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    print(f"{platform.processor() or platform.machine()} · Python {platform.python_version()}")
    print(table(report, args.keystrokes, args.actions, args.invalid))
    if report.unexpected:
        print("\nUNEXPECTED:\n" + "\n".join(report.unexpected[:20]))
        sys.exit(1)


if __name__ == "__main__":
    main()
