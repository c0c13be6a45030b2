"""The language server's state: settings, the model, open documents, running requests."""

from __future__ import annotations

import asyncio
import logging
import os
import weakref

import torch
from lsprotocol import types as lsp
from pygls.exceptions import (
    JsonRpcContentModified,
    JsonRpcException,
)
from pygls.lsp.server import LanguageServer

from codellama_lsp.engine import EngineBusyError, EngineClosedError, load_model

from .action_request import ActionRequest
from .actions import ACTIONS, ActionFailed, ActionResult, run_action
from .context import ContextTooLarge
from .edits import StaleDocumentError, check_version
from .engines import Engine, RemoteEngineError
from .model_host import ModelHost
from .open_documents import OpenDocuments
from .option_parsing import parse_options
from .options import Options
from .progress import ProgressBar
from .protocol import CodellamaProtocol
from .snapshot import UnusableDocument
from .status import State, StatusBoard, process_figures
from .suggestions import Suggestions

log = logging.getLogger(__name__)
VERSION = "0.1.0"
OOM_ADVICE = (
    "The GPU ran out of memory. Lower codellama.contextTokens or choose a smaller model branch (e.g. a 3-bit one)."
)


class RequestFailed(JsonRpcException):
    CODE = -32803  # LSP RequestFailed


class CodellamaServer(LanguageServer):
    def __init__(self, loader=load_model):
        super().__init__(
            "codellama-lsp",
            VERSION,
            protocol_cls=CodellamaProtocol,
            text_document_sync_kind=lsp.TextDocumentSyncKind.Incremental,
        )
        self.options = Options()
        self.host = ModelHost(loader)
        self.inline_tasks: dict[str, asyncio.Task] = {}  # uri -> the inline request being answered
        self.documents = OpenDocuments(lambda: self.workspace)
        self.shown: set[str] = set()  # messages already shown once
        self.shutdown_requested = False  # LSP: exit with 0 only after a `shutdown` request
        self.superseded: weakref.WeakSet[asyncio.Task] = weakref.WeakSet()  # inline requests a newer one replaced
        self.suggestions = Suggestions()  # per document, the last ghost text answered
        self.board = StatusBoard(self.protocol.notify, self.options.model, self.options.revision or "main")

    # --- messages -------------------------------------------------------------------
    def show(self, message: str, kind: lsp.MessageType = lsp.MessageType.Error, once_key: str | None = None) -> None:
        if once_key is not None:
            if once_key in self.shown:
                return
            self.shown.add(once_key)
        log.log(logging.ERROR if kind == lsp.MessageType.Error else logging.INFO, "%s", message)
        self.window_show_message(lsp.ShowMessageParams(type=kind, message=f"Code Llama: {message}"))

    # --- settings and model -------------------------------------------------------------
    def apply_settings(self, raw, load: bool = True) -> None:
        """New settings; a different model/revision/device reloads in the background."""
        options, errors = parse_options(raw)
        for error in errors:
            self.show(
                f"invalid setting: {error} (using the default)", lsp.MessageType.Warning, once_key=f"setting:{error}"
            )
        self.options = options
        self.suggestions.shown.clear()  # made with the settings before
        if load and self.host.wants_reload(options):
            self.start_loading()

    async def pull_settings(self) -> None:
        """Ask the editor for the `codellama` section (workspace/configuration), if it can answer."""
        workspace = self.client_capabilities.workspace
        if not (workspace and workspace.configuration):
            return
        try:
            result = await self.workspace_configuration_async(
                lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section="codellama")])
            )
        except Exception as e:  # an editor that fails here still gets served with what it sent before
            log.warning("workspace/configuration failed: %s", e)
            return
        if result and isinstance(result[0], dict):
            self.apply_settings(result[0], load=self.host.key is not None)

    def start_loading(self) -> None:
        """Load the configured model in the background, with a progress bar, the status, and one message on
        failure."""
        bar = ProgressBar(self, "Code Llama: loading model", cancellable=False)
        options = self.options
        revision = options.revision or "main"
        shown = asyncio.ensure_future(bar.begin(f"{options.model} ({revision})"))
        loading = {"state": State.LOADING, "device": None, "message": "", "percentage": 0}
        self.board.update(model=options.model, revision=revision, placement=options.engine, **loading)

        def report(message: str, fraction: float | None) -> None:
            bar.report(message, fraction)
            percentage = self.board.current.percentage if fraction is None else int(max(0.0, min(fraction, 1.0)) * 100)
            self.board.update(message=message, percentage=percentage)

        async def finish(model: Engine | None, error: str | None) -> None:
            await shown  # the bar exists before it ends, however fast the load was
            if model is not None:
                self.shown.discard("load")
                device = None if model.device is None else getattr(model, "device_label", str(model.device))
                where = f"on {device}" if device else f"at {options.engine}"
                bar.end(
                    f"{options.model} ready {where}" + (" (shared engine)" if options.placement == "shared" else "")
                )
                self.board.update(state=State.READY, device=device, message="", percentage=None)
                failure = getattr(model, "failure", None)  # a remote engine that did not answer its probe
                if failure is not None:
                    self.engine_trouble(failure)
                return
            bar.end("failed")
            self.board.update(state=State.ERROR, message=error or "", percentage=None)
            advice = "Check codellama.model / codellama.revision, the network (or HF_HUB_OFFLINE), and free GPU memory."
            self.show(f"could not load {options.model}: {error}. {advice}", once_key="load")

        self.host.start(options, report, lambda model, error: asyncio.ensure_future(finish(model, error)))

    def status(self) -> dict:
        """What `codellama.status` answers: the status the editors were last sent and, once loaded, the engine's."""
        status = {
            **self.board.current.to_json(),
            "error": self.host.error,
            "process": process_figures(self.protocol.requests_in_flight),
            "inline": self.suggestions.figures(),
        }
        if self.host.model is not None and not self.host.loading:
            status["engine"] = self.host.model.stats()
        return status

    def engine_trouble(self, error: RemoteEngineError) -> None:
        """A remote engine failed: say so once per kind of failure (with what to do); the next request retries."""
        self.show(str(error), once_key=f"engine:{error.kind}")
        self.board.update(state=State.ERROR, message=str(error))

    def engine_back(self) -> None:
        """A remote engine answered again: clear what its failure showed."""
        if self.board.current.state == State.ERROR and self.host.model is not None and not self.host.loading:
            self.shown = {key for key in self.shown if not key.startswith("engine:")}
            self.board.update(state=State.READY, message="")

    async def require_model(self) -> Engine:
        model = await self.host.get()
        if model is None:
            raise RequestFailed(f"The model is not loaded: {self.host.error or 'no model configured'}")
        return model

    # --- documents -------------------------------------------------------------------
    def forget(self, uri: str) -> None:
        self.documents.forget(uri)
        self.suggestions.forget(uri)
        task = self.inline_tasks.pop(uri, None)
        if task is not None:
            task.cancel()

    def other_files(self, uri: str) -> list[tuple[str, str]]:
        return self.documents.others(uri, self.options.other_files)

    # --- running requests ----------------------------------------------------------------
    def replace_inline_task(self, uri: str) -> None:
        """A newer inline request for a document cancels the older one (its generation stops)."""
        old = self.inline_tasks.get(uri)
        if old is not None and not old.done():
            self.superseded.add(old)
            old.cancel()
        self.inline_tasks[uri] = asyncio.current_task()

    def translate_error(self, error: Exception) -> Exception:
        """Known failures -> an LSP error with a clear message (shown to the user where it helps)."""
        if isinstance(error, torch.OutOfMemoryError):
            self.show(OOM_ADVICE, once_key="oom")
            return RequestFailed(OOM_ADVICE)
        if isinstance(error, StaleDocumentError):
            self.show(str(error), lsp.MessageType.Warning)
            return JsonRpcContentModified(str(error))
        if isinstance(error, (ActionFailed, ContextTooLarge, UnusableDocument)):
            self.show(str(error), lsp.MessageType.Info)
            return RequestFailed(str(error))
        if isinstance(error, EngineClosedError):
            return RequestFailed("The model was replaced (the settings changed) while this ran; run it again.")
        if isinstance(error, EngineBusyError):
            self.show(str(error), lsp.MessageType.Warning)
            return RequestFailed(str(error))
        if isinstance(error, RemoteEngineError):
            self.engine_trouble(error)
            return RequestFailed(str(error))
        return error

    def watch_parent(self, pid: int | None) -> None:
        """Exit when the editor process dies, so no orphan keeps the GPU."""
        if not pid:
            return

        async def watch() -> None:
            while True:
                await asyncio.sleep(1.0)
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    log.warning("editor process %s is gone; exiting", pid)
                    await self.close()
                    os._exit(0)
                except PermissionError:
                    pass  # alive, owned by someone else

        asyncio.ensure_future(watch())

    async def close(self) -> None:
        """Stop serving: cancel inline requests, abandon a load in progress, close the model (joins its thread)."""
        for task in self.inline_tasks.values():
            task.cancel()
        await self.host.close()

    # --- the two jobs ----------------------------------------------------------------------
    async def perform_action(self, request: ActionRequest) -> ActionResult:
        """Run a code action on the document as it is now, with cancellable progress; refuse stale results."""
        doc = self.documents.snapshot(request.uri)
        model = await self.require_model()
        bar = ProgressBar(self, ACTIONS[request.action].title, cancellable=True)
        await bar.begin(doc.name, on_cancel=asyncio.current_task().cancel)
        self.board.update(busy=self.board.current.busy + 1)
        try:
            result = await run_action(
                model,
                doc,
                request.action,
                request.range,
                self.options,
                request.diagnostics,
                request.instruction,
                self.other_files(doc.uri),
            )
            check_version(doc.uri, doc.version, self.documents.version(doc.uri))
            self.shown.discard("oom")
            self.engine_back()
            return result
        except Exception as e:
            raise self.translate_error(e) from None
        finally:
            bar.end()
            self.board.update(busy=self.board.current.busy - 1)

    async def apply_action(self, request: ActionRequest) -> dict:
        """Run an action and ask the editor to apply its edit (workspace/applyEdit)."""
        result = await self.perform_action(request)
        workspace = self.client_capabilities.workspace
        if not (workspace and workspace.apply_edit):
            return {"applied": False, "text": result.text, "edit": self.protocol._converter.unstructure(result.edit)}
        title = ACTIONS[request.action].title
        response = await self.workspace_apply_edit_async(lsp.ApplyWorkspaceEditParams(edit=result.edit, label=title))
        if not response.applied:
            self.show(
                f"the editor did not apply the edit: {response.failure_reason or 'no reason given'}",
                lsp.MessageType.Warning,
            )
        return {"applied": response.applied, "text": result.text}
