"""LSP handlers: parse, delegate to the server, wrap the result. Nothing else lives here."""

from __future__ import annotations

import re

from lsprotocol import types as lsp

from .action_items import code_action_item
from .action_request import ActionRequest, diagnostics_from_lsp
from .actions import ACTIONS, ADVERTISED_KINDS, offered_actions
from .ghost_text import ghost_texts
from .server import CodellamaServer

WORD_BEFORE = re.compile(r"[\w$]*$")
COMMANDS = ("codellama.ask", "codellama.explain", "codellama.runAction", "codellama.status")


def register(server: CodellamaServer) -> CodellamaServer:
    @server.feature(lsp.INITIALIZE)
    def initialize(ls: CodellamaServer, params: lsp.InitializeParams) -> None:
        ls.watch_parent(params.process_id)
        ls.apply_settings(params.initialization_options, load=False)  # loads once `initialized` pulled the settings

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: CodellamaServer, params: lsp.InitializedParams) -> None:
        await ls.pull_settings()
        if ls.host.key is None:
            ls.start_loading()

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: CodellamaServer, params: lsp.DidChangeConfigurationParams) -> None:
        if isinstance(params.settings, dict) and params.settings.get("codellama") is not None:
            ls.apply_settings(params.settings["codellama"])
        else:
            await ls.pull_settings()

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: CodellamaServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.documents.touch(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: CodellamaServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_INLINE_COMPLETION, lsp.InlineCompletionOptions())
    async def inline_completion(ls: CodellamaServer, params: lsp.InlineCompletionParams) -> lsp.InlineCompletionList:
        ls.replace_inline_task(params.text_document.uri)
        texts = await ghost_texts(ls, params.text_document.uri, params.position.line, params.position.character)
        here = lsp.Range(start=params.position, end=params.position)  # no `command`: partial accepts keep the rest
        return lsp.InlineCompletionList(items=[lsp.InlineCompletionItem(insert_text=t, range=here) for t in texts])

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(resolve_provider=False))
    async def completion(ls: CodellamaServer, params: lsp.CompletionParams) -> lsp.CompletionList:
        uri, pos = params.text_document.uri, params.position
        ls.replace_inline_task(uri)
        texts = await ghost_texts(ls, uri, pos.line, pos.character)
        if not texts:
            return lsp.CompletionList(is_incomplete=True, items=[])
        text = texts[0]
        word = WORD_BEFORE.search(ls.documents.line_before(uri, pos)).group(0)  # clients filter by the word being typed
        start = lsp.Position(line=pos.line, character=pos.character - len(word.encode("utf-16-le")) // 2)
        item = lsp.CompletionItem(
            label=(word + text).splitlines()[0][:60] or text.strip()[:60],
            kind=lsp.CompletionItemKind.Text,
            detail="Code Llama",
            documentation=word + text,
            filter_text=word + text,
            sort_text="0",
            preselect=True,
            text_edit=lsp.TextEdit(range=lsp.Range(start=start, end=pos), new_text=word + text),
        )
        return lsp.CompletionList(is_incomplete=True, items=[item])

    kinds = lsp.CodeActionOptions(code_action_kinds=ADVERTISED_KINDS, resolve_provider=True)

    @server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, kinds)
    def code_action(ls: CodellamaServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        uri = params.text_document.uri
        if uri not in ls.documents or not ls.options.language_enabled(ls.documents.snapshot(uri).language_id or ""):
            return []
        diagnostics = diagnostics_from_lsp(params.context.diagnostics)
        actions = []
        for action in offered_actions(bool(diagnostics), params.context.only):
            request = ActionRequest(uri, action, params.range, diagnostics if action == "fix" else [])
            actions.append(
                code_action_item(
                    ls.client_capabilities,
                    request,
                    ACTIONS[action],
                    params.context.diagnostics if action == "fix" else None,
                )
            )
        return actions

    @server.feature(lsp.CODE_ACTION_RESOLVE)
    async def resolve_code_action(ls: CodellamaServer, action: lsp.CodeAction) -> lsp.CodeAction:
        result = await ls.perform_action(ActionRequest.from_data(action.data))
        action.edit = result.edit
        return action

    @server.command("codellama.ask")
    async def ask(ls: CodellamaServer, *args) -> dict:
        return await ls.apply_action(ActionRequest.from_command("ask", args[0] if args else None))

    @server.command("codellama.runAction")
    async def run_action(ls: CodellamaServer, *args) -> dict:
        return await ls.apply_action(ActionRequest.from_data(args[0] if args else None))

    @server.command("codellama.explain")
    async def explain(ls: CodellamaServer, *args) -> dict:
        result = await ls.perform_action(ActionRequest.from_command("explain", args[0] if args else None))
        return {"text": result.text}

    @server.command("codellama.status")
    async def status(ls: CodellamaServer, *args) -> dict:
        return ls.status()

    @server.feature(lsp.SHUTDOWN)
    async def shutdown(ls: CodellamaServer, params: None) -> None:
        ls.shutdown_requested = True
        await ls.close()

    @server.feature(lsp.EXIT)
    def exit(ls: CodellamaServer, params: None) -> None:
        ls.host.close_now()  # after `shutdown`, nothing is left to close

    return server


def build_server(loader=None) -> CodellamaServer:
    return register(CodellamaServer() if loader is None else CodellamaServer(loader))
