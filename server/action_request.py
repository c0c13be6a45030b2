"""What a code action or command asks for, parsed and checked from JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInvalidParams

from .actions import ACTION_IDS
from .prompts import Diagnostic

SEVERITY = {1: "error", 2: "warning", 3: "information", 4: "hint"}


def _position(raw: Any, what: str) -> lsp.Position:
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), int) and not isinstance(raw.get(k), bool) for k in ("line", "character")
    ):
        raise JsonRpcInvalidParams(f"{what} must be {{line, character}} with integers, got {raw!r}")
    if raw["line"] < 0 or raw["character"] < 0:
        raise JsonRpcInvalidParams(f"{what} must not be negative, got {raw!r}")
    return lsp.Position(line=raw["line"], character=raw["character"])


def parse_range(raw: Any) -> lsp.Range:
    if not isinstance(raw, dict):
        raise JsonRpcInvalidParams(f"range must be {{start, end}}, got {raw!r}")
    start, end = _position(raw.get("start"), "range.start"), _position(raw.get("end"), "range.end")
    if (end.line, end.character) < (start.line, start.character):
        start, end = end, start  # a reversed range means the same lines
    return lsp.Range(start=start, end=end)


def diagnostics_from_lsp(items: list[lsp.Diagnostic]) -> list[Diagnostic]:
    return [
        Diagnostic(
            line=d.range.start.line,
            message=d.message,
            severity=SEVERITY.get(int(d.severity or 1), "error"),
            source=d.source,
        )
        for d in items
    ]


@dataclass(frozen=True)
class ActionRequest:
    uri: str
    action: str
    range: lsp.Range
    diagnostics: list[Diagnostic] = field(default_factory=list)
    instruction: str = ""

    def to_data(self) -> dict:
        """JSON for `CodeAction.data` / command arguments."""
        pos = lambda p: {"line": p.line, "character": p.character}  # noqa: E731
        return {
            "uri": self.uri,
            "action": self.action,
            "range": {"start": pos(self.range.start), "end": pos(self.range.end)},
            "diagnostics": [
                {"line": d.line, "message": d.message, "severity": d.severity, "source": d.source}
                for d in self.diagnostics
            ],
            "instruction": self.instruction,
        }

    @classmethod
    def from_data(cls, raw: Any) -> ActionRequest:
        if not isinstance(raw, dict) or not isinstance(raw.get("uri"), str):
            raise JsonRpcInvalidParams("expected action data {uri, action, range}")
        action = raw.get("action")
        if action not in ACTION_IDS:
            raise JsonRpcInvalidParams(f"unknown action {action!r}; one of {', '.join(ACTION_IDS)}")
        diagnostics = []
        for d in raw.get("diagnostics") or []:
            if isinstance(d, dict) and isinstance(d.get("message"), str) and isinstance(d.get("line"), int):
                diagnostics.append(
                    Diagnostic(d["line"], d["message"], str(d.get("severity") or "error"), d.get("source"))
                )
        instruction = raw.get("instruction") or ""
        if not isinstance(instruction, str) or (action == "ask" and not instruction.strip()):
            raise JsonRpcInvalidParams("ask needs a non-empty instruction string")
        return cls(raw["uri"], action, parse_range(raw.get("range")), diagnostics, instruction)

    @classmethod
    def from_command(cls, action: str, raw: Any) -> ActionRequest:
        """`{"textDocument": {"uri": ...}, "range": Range, "instruction": str}` as the commands take it."""
        if not isinstance(raw, dict) or not isinstance(raw.get("textDocument"), dict):
            raise JsonRpcInvalidParams(
                f"codellama.{action} takes one argument {{textDocument: {{uri}}, range, instruction}}"
            )
        data = {
            "uri": raw["textDocument"].get("uri"),
            "action": action,
            "range": raw.get("range"),
            "instruction": raw.get("instruction"),
        }
        return cls.from_data(data)
