"""The LSP protocol with four fixes: UTF-16 positions, an answer to malformed requests, cancellable commands,
and no memory kept per notification."""

from __future__ import annotations

import logging
from typing import Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol, lsp_method

log = logging.getLogger(__name__)


class _Answered:
    """A request that was already answered with an error while it was being parsed."""

    jsonrpc = None


class CodellamaProtocol(LanguageServerProtocol):
    @lsp_method(lsp.INITIALIZE)
    def lsp_initialize(self, params: lsp.InitializeParams):
        """Positions are UTF-16 throughout the server, so never agree to another encoding."""
        general = params.capabilities.general
        if general is not None and general.position_encodings:
            general.position_encodings = [lsp.PositionEncodingKind.Utf16]
        return (yield from super().lsp_initialize(params))

    @property
    def requests_in_flight(self) -> int:
        return len(self._request_futures)

    def _execute_handler(self, msg_id, handler, callback, args=None, kwargs=None):
        """pygls (2.1) files the future of every notification that its built-in handlers take (didOpen,
        didChange, …), and of every step of those handlers, under a made-up id and never removes it:
        memory kept for each keystroke. Each future now leaves when it is done, as a request's does."""
        super()._execute_handler(msg_id, handler, callback, args, kwargs)
        future = self._request_futures.get(msg_id)

        def forget(done) -> None:
            if self._request_futures.get(msg_id) is done:
                del self._request_futures[msg_id]

        if future is not None:
            future.add_done_callback(forget)

    def structure_message(self, data: dict[str, Any]):
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if isinstance(data, dict) and "id" in data and "method" in data:
                log.warning("invalid params for %s (id %s)", data.get("method"), data.get("id"))
                invalid = JsonRpcInvalidParams(f"Invalid params for {data.get('method')}: {error.__cause__ or error}")
                self._send_response(data["id"], error=invalid.to_response_error())
                return _Answered()
            raise

    def handle_message(self, message):
        if isinstance(message, _Answered):
            return
        super().handle_message(message)

    @lsp_method(lsp.WORKSPACE_EXECUTE_COMMAND)
    async def lsp_workspace__execute_command(self, params: lsp.ExecuteCommandParams) -> Any:
        """Runs a command as a task of this request, so `$/cancelRequest` cancels the command itself."""
        handler = self.fm.commands.get(params.command)
        if handler is None:
            raise JsonRpcInvalidParams(f"Unknown command {params.command!r}")
        return await handler(*(params.arguments or []))
