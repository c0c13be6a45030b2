"""The code actions offered for a range, in the form the editor's capabilities can run."""

from __future__ import annotations

from lsprotocol import types as lsp

from .action_request import ActionRequest
from .actions import ActionSpec


def supports_resolve(capabilities: lsp.ClientCapabilities) -> bool:
    text = capabilities.text_document
    support = text and text.code_action and text.code_action.resolve_support
    return bool(support and "edit" in support.properties)


def code_action_item(
    capabilities: lsp.ClientCapabilities,
    request: ActionRequest,
    spec: ActionSpec,
    diagnostics: list[lsp.Diagnostic] | None,
) -> lsp.CodeAction | lsp.Command:
    """An action to resolve later; for editors that cannot resolve, one that runs a command;
    for editors without code action literals, the bare command."""
    data = request.to_data()
    text = capabilities.text_document
    literals = bool(text and text.code_action and text.code_action.code_action_literal_support)
    if literals and supports_resolve(capabilities):
        return lsp.CodeAction(title=spec.title, kind=spec.kind, diagnostics=diagnostics, data=data)
    command = lsp.Command(title=spec.title, command="codellama.runAction", arguments=[data])
    if not literals:
        return command
    return lsp.CodeAction(title=spec.title, kind=spec.kind, diagnostics=diagnostics, command=command)
