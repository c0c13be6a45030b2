"""The action ids are defined once (server/actions.py ACTIONS); every place that takes them agrees."""

from __future__ import annotations

from pathlib import Path

import pytest
from pygls.exceptions import JsonRpcInvalidParams

from codellama_lsp.server.action_request import ActionRequest
from codellama_lsp.server.actions import ACTION_IDS, ACTIONS, offered_actions
from codellama_lsp.server.cli import build_parser
from codellama_lsp.server.languages import language_for
from codellama_lsp.server.prompts import action_instruction

ROOT = Path(__file__).parents[2]
OFFERED = [action for action, spec in ACTIONS.items() if spec.offered]
RANGE = {"start": {"line": 0, "character": 0}, "end": {"line": 1, "character": 0}}


def test_ask_is_defined_with_the_others_but_only_run_by_its_command():
    assert ACTION_IDS == tuple(ACTIONS) and "ask" in ACTION_IDS
    assert OFFERED == [action for action in ACTION_IDS if action != "ask"]
    assert ACTIONS["ask"].title == "Code Llama: Ask"
    assert len({spec.title for spec in ACTIONS.values()}) == len(ACTIONS)


def test_the_code_action_list_offers_the_offered_ones_and_fix_only_with_diagnostics():
    assert offered_actions(True, None) == OFFERED
    assert offered_actions(False, None) == [action for action in OFFERED if action != "fix"]


def test_each_action_has_its_own_instruction_for_the_model():
    python = language_for("python")
    instructions = {action: action_instruction(action, python, instruction="use a list") for action in ACTION_IDS}
    assert len(set(instructions.values())) == len(ACTION_IDS)
    assert instructions["ask"] == "Do this with the selected code: use a list"
    with pytest.raises(ValueError, match="unknown action 'rewrite'"):
        action_instruction("rewrite", python)


@pytest.mark.parametrize("action", ACTION_IDS)
def test_action_data_and_the_command_line_accept_each_id(action):
    data = {"uri": "file:///a.py", "action": action, "range": RANGE, "instruction": "use a list"}
    assert ActionRequest.from_data(data).action == action
    assert build_parser().parse_args(["action", action, "a.py", "--range", "1:1"]).action == action


def test_unknown_ids_are_refused_naming_the_known_ones():
    with pytest.raises(
        JsonRpcInvalidParams, match="unknown action 'rewrite'; one of explain, fix, doc, tests, refactor, ask"
    ):
        ActionRequest.from_data({"uri": "file:///a.py", "action": "rewrite", "range": RANGE})
    with pytest.raises(SystemExit):
        build_parser().parse_args(["action", "rewrite", "a.py", "--range", "1:1"])


@pytest.mark.parametrize(
    "doc", ["README.md", "editors/vscode/README.md", "editors/nvim/doc/codellama.txt"], ids=lambda doc: doc
)
def test_the_docs_name_each_offered_action_by_its_title(doc):
    text = " ".join((ROOT / doc).read_text().split())
    for action in OFFERED:
        assert ACTIONS[action].title.removeprefix("Code Llama: ") in text, action
