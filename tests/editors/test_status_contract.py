"""Both editor plugins name the server's status notification, handle exactly its states and read
each of its fields.

The contract is `server/status.py` (STATUS_NOTIFICATION, State, ServerStatus); the plugins'
sources are read as text: status.ts (the `ServerState` type, its VIEWS table, the `ServerStatus`
interface and parseStatus) and status.lua (its TEXT table and `---@field` annotations; the
fields are read there and in commands.lua, which renders :CodellamaStatus).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codellama_lsp.server.status import STATUS_NOTIFICATION, ServerStatus, State

EDITORS = Path(__file__).parents[2] / "editors"
STATUS_TS = EDITORS / "vscode" / "src" / "status.ts"
STATUS_LUA = EDITORS / "nvim" / "lua" / "codellama" / "status.lua"
COMMANDS_LUA = (EDITORS / "nvim" / "lua" / "codellama" / "commands.lua").read_text()
SERVER_STATES = {state.value for state in State}
SERVER_FIELDS = set(ServerStatus(State.IDLE, "model", "revision").to_json())  # as sent


def block(source: str, opening: str, closing: str) -> str:
    """The text between the line that starts with `opening` and the next line that is `closing`."""
    match = re.search(rf"^{re.escape(opening)}.*?\n(.*?)^{re.escape(closing)}$", source, re.MULTILINE | re.DOTALL)
    assert match, f"no block starting with {opening!r}"
    return match.group(1)


def single(pattern: str, source: str) -> str:
    found = re.findall(pattern, source, re.MULTILINE)
    assert len(found) == 1, f"{pattern!r} found {len(found)} times"
    return found[0]


def typescript_contract(source: str) -> dict[str, object]:
    union = single(r"^export type ServerState = (.*);$", source)
    views = block(source, "const VIEWS: Record<ServerState,", "};")
    return {
        "method": single(r'^export const STATUS_NOTIFICATION = "([^"]*)";$', source),
        "type": set(re.findall(r'"(\w+)"', union)),
        "handled": set(re.findall(r"^  (\w+): ", views, re.MULTILINE)),
        "fields": set(re.findall(r"^  (\w+): ", block(source, "export interface ServerStatus {", "}"), re.MULTILINE)),
        "parsed": set(re.findall(r"\bp\.(\w+)", block(source, "export function parseStatus(", "}"))),
    }


def lua_contract(source: str) -> dict[str, object]:
    text = block(source, "local TEXT = {", "}")
    return {
        "method": single(r'^M\.NOTIFICATION = "([^"]*)"$', source),
        "annotated": set(re.findall(r'"(\w+)"', single(r"^---@field state (.*)$", source))),
        "handled": set(re.findall(r"^  (\w+) = function", text, re.MULTILINE)),
        "fields": set(re.findall(r"^---@field (\w+) ", source, re.MULTILINE)),
        # a status's fields as status.lua and commands.lua read them (`status.busy`, `s.model`)
        "read": set(re.findall(r"\b(?:status|s)\.(\w+)", source + COMMANDS_LUA)),
    }


def mismatches(
    ts_source: str, lua_source: str, method: str, states: set[str], fields: set[str] = SERVER_FIELDS
) -> list[str]:
    found = []
    for name, contract in (("status.ts", typescript_contract(ts_source)), ("status.lua", lua_contract(lua_source))):
        for key, value in contract.items():
            expected = method if key == "method" else fields if key in ("fields", "parsed", "read") else states
            if key == "read":  # module functions (`status.text`) are read the same way
                value = value & expected
            if value != expected:
                found.append(f"{name} {key}: {value!r}, the server: {expected!r}")
    return found


@pytest.fixture(scope="module")
def sources() -> tuple[str, str]:
    return STATUS_TS.read_text(), STATUS_LUA.read_text()


def test_plugins_follow_the_servers_status_contract(sources):
    assert mismatches(*sources, STATUS_NOTIFICATION, SERVER_STATES) == []


def test_a_state_the_server_adds_fails_both_plugins(sources):
    found = mismatches(*sources, STATUS_NOTIFICATION, SERVER_STATES | {"paused"})
    assert {line.split(" ", 1)[0] for line in found} == {"status.ts", "status.lua"}, found


def test_a_field_the_server_adds_fails_both_plugins(sources):
    found = mismatches(*sources, STATUS_NOTIFICATION, SERVER_STATES, SERVER_FIELDS | {"queue"})
    assert {line.split(" ", 1)[0] for line in found} == {"status.ts", "status.lua"}, found


def test_a_field_left_unread_fails(sources):
    ts, lua = sources
    assert "placement" in SERVER_FIELDS
    unparsed = re.sub(r"^    placement: .*\n", "", ts, count=1, flags=re.MULTILINE)
    unread = lua.replace("status.placement", "status.where")
    for changed_ts, changed_lua, where in ((unparsed, lua, "status.ts parsed"), (ts, unread, "status.lua read")):
        assert (changed_ts, changed_lua) != sources  # the edit took
        found = mismatches(changed_ts, changed_lua, STATUS_NOTIFICATION, SERVER_STATES)
        assert [line.split(":", 1)[0] for line in found] == [where], found


def test_a_renamed_method_fails(sources):
    assert len(mismatches(*sources, "codellama/status", SERVER_STATES)) == 2


def test_a_state_one_plugin_adds_fails(sources):
    ts, lua = sources
    ts_union = re.sub(r"^(export type ServerState = .*);$", r'\1 | "paused";', ts, count=1, flags=re.MULTILINE)
    ts_view = ts.replace("  idle: () => STARTING,\n", "  idle: () => STARTING,\n  paused: () => STARTING,\n", 1)
    lua_text = lua.replace("local TEXT = {\n", 'local TEXT = {\n  paused = function()\n    return ""\n  end,\n', 1)
    for changed_ts, changed_lua in ((ts_union, lua), (ts_view, lua), (ts, lua_text)):
        assert (changed_ts, changed_lua) != sources  # the edit took
        assert mismatches(changed_ts, changed_lua, STATUS_NOTIFICATION, SERVER_STATES), "a one-sided state passed"
