"""Every other place that lists the `codellama` settings agrees with server/options.py.

The places: the VS Code extension's package.json (the settings schema) and settings.ts (what it
sends), the Neovim help, and the settings tables of both READMEs. TypeScript and the docs are
read as text, so the test needs no node_modules.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Any, get_type_hints

import pytest

from codellama_lsp.server.options import NAMES, Options, Spec, spec_of, wire_name

ROOT = Path(__file__).parents[2]
VSCODE = ROOT / "editors" / "vscode"
SETTINGS_TS = (VSCODE / "src" / "settings.ts").read_text()
PROPERTIES = json.loads((VSCODE / "package.json").read_text())["contributes"]["configuration"]["properties"]
NVIM_HELP = (ROOT / "editors" / "nvim" / "doc" / "codellama.txt").read_text()


@dataclass(frozen=True)
class Setting:
    name: str  # on the wire, dotted for a group's member: "inline.topP"
    hint: Any
    default: Any
    spec: Spec


def flattened(cls: type = Options, default: Any = None, prefix: str = "") -> list[Setting]:
    default = cls() if default is None else default
    hints, found = get_type_hints(cls), []
    for f in fields(cls):
        name, hint, value = prefix + wire_name(f.name), hints[f.name], getattr(default, f.name)
        found += flattened(hint, value, name + ".") if is_dataclass(hint) else [Setting(name, hint, value, spec_of(f))]
    return found


SETTINGS = flattened()
NAMES_ON_WIRE = [s.name for s in SETTINGS]
HINTS = get_type_hints(Options)
GROUPS = {wire_name(f.name): HINTS[f.name] for f in fields(Options) if is_dataclass(HINTS[f.name])}
CLIENT_ONLY = re.findall(r'"(\w+)"', re.search(r"CLIENT_ONLY_KEYS[^=]*= \[(.*?)\]", SETTINGS_TS).group(1))


def test_the_settings_are_flattened_with_wire_names_and_group_defaults():
    assert NAMES_ON_WIRE[:4] == ["model", "revision", "device", "engine"]
    assert sorted(GROUPS) == ["actions", "inline"]
    by_name = {s.name: s for s in SETTINGS}
    assert (by_name["inline.topP"].default, by_name["actions.topP"].default) == (0.9, 0.95)
    assert all(s.spec.description for s in SETTINGS)


# --- package.json ------------------------------------------------------------------------------
JSON_TYPES = {
    bool: "boolean",
    int: "integer",
    float: "number",
    str: "string",
    str | None: ["string", "null"],
    NAMES: "array",
}
DOCUMENTATION = {"markdownDescription", "description", "scope", "order"}


def json_schema(setting: Setting) -> dict:
    spec = setting.spec
    schema = {"type": JSON_TYPES[setting.hint], "default": setting.default}
    if setting.hint == NAMES:
        schema.update(items={"type": "string"}, default=list(setting.default))
    keywords = {
        "minimum": spec.minimum,
        "exclusiveMinimum": spec.exclusive_minimum,
        "maximum": spec.maximum,
        "pattern": spec.pattern,
        "patternErrorMessage": spec.pattern_message,
    }
    return schema | {k: v for k, v in keywords.items() if v is not None}


def test_package_json_contributes_exactly_the_settings_and_the_client_only_ones():
    contributed = [name.removeprefix("codellama.") for name in PROPERTIES]
    assert CLIENT_ONLY == ["serverCommand"]
    assert sorted(set(contributed) - set(CLIENT_ONLY)) == sorted(NAMES_ON_WIRE)


@pytest.mark.parametrize("setting", SETTINGS, ids=NAMES_ON_WIRE)
def test_package_json_has_each_setting_type_default_and_bounds(setting):
    contributed = PROPERTIES.get(f"codellama.{setting.name}", {})
    assert {k: v for k, v in contributed.items() if k not in DOCUMENTATION} == json_schema(setting)


# --- settings.ts -----------------------------------------------------------------------------
TS_TYPES = {
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    str | None: "string | null",
    NAMES: "string[]",
}


def ts_interface(name: str) -> dict[str, str]:
    body = re.search(rf"export interface {name} \{{(.*?)\n\}}", SETTINGS_TS, re.S).group(1)
    return dict(re.findall(r"^\s*(\w+)\??: ([^;]+);", body, re.M))


def ts_group(cls: type) -> str:
    """The TypeScript interface of a group's class: GenerationOptions -> GenerationSettings."""
    return cls.__name__.replace("Options", "Settings")


def ts_keys(group: str) -> list[str]:
    """The members settings.ts reads for a group: GENERATION_KEYS, and INLINE_KEYS' own for "inline"."""
    keys = re.findall(r'"(\w+)"', re.search(r"GENERATION_KEYS = \[(.*?)\]", SETTINGS_TS).group(1))
    if group == "inline":
        keys += re.findall(
            r'"(\w+)"', re.search(r"INLINE_KEYS = \[\.\.\.GENERATION_KEYS, (.*?)\]", SETTINGS_TS).group(1)
        )
    return keys


def test_settings_ts_server_settings_has_each_key_with_its_type():
    expected = {}
    for f in fields(Options):
        hint = HINTS[f.name]
        expected[wire_name(f.name)] = ts_group(hint) if is_dataclass(hint) else TS_TYPES[hint]
    assert ts_interface("ServerSettings") == expected


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_settings_ts_generation_settings_and_keys_match_each_group(group):
    cls = GROUPS[group]
    members = {wire_name(f.name): TS_TYPES[get_type_hints(cls)[f.name]] for f in fields(cls)}
    assert ts_interface(ts_group(cls)) == members
    assert ts_keys(group) == list(members)


def test_settings_ts_reads_every_setting():
    read = set(re.findall(r'read\("([\w.]+)"\)', SETTINGS_TS))
    assert "read(`${group}.${key}`)" in SETTINGS_TS  # each group's members, by GENERATION_KEYS / INLINE_KEYS
    for group in re.findall(r'generation\(read, "(\w+)"\)', SETTINGS_TS):
        read |= {f"{group}.{member}" for member in ts_keys(group)}
    assert sorted(read) == sorted(NAMES_ON_WIRE)


# --- documentation -----------------------------------------------------------------------------
def lua(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "{ " + ", ".join(lua(v) for v in value) + " }"
    return repr(value)


def test_the_neovim_help_lists_each_setting_with_its_default():
    block = re.search(r"\*codellama-settings\*.*?\n    settings = \{\n(.*?)\n    \}\n<", NVIM_HELP, re.S).group(1)
    assert set(re.findall(r"(\w+) = ", block)) == {name.rpartition(".")[2] for name in NAMES_ON_WIRE} | set(GROUPS)
    for setting in SETTINGS:
        group, _, key = setting.name.rpartition(".")
        scope = re.search(rf"^      {group} = \{{(.*?)\}},$", block, re.S | re.M).group(1) if group else block
        assert re.search(rf"(^|[ {{]){key} = {re.escape(lua(setting.default))},", scope, re.M), setting.name


def markdown(value: Any) -> str:
    if isinstance(value, bool):
        return f"`{json.dumps(value)}`"
    if isinstance(value, (int, float)):
        return repr(value)
    return f"`{json.dumps(list(value)) if isinstance(value, tuple) else 'null' if value is None else value}`"


def settings_table(path: Path) -> dict[str, str]:
    """Setting -> the start of its default's cell, from the table under the "Settings" heading."""
    table = re.search(r"^#+ Settings\n(?:.*\n)*?((?:\|.*\|\n)+)", path.read_text(), re.M).group(1)
    documented = {}
    for row in table.splitlines()[2:]:
        names_cell, defaults_cell = (cell.strip() for cell in row.split(" | ")[:2])
        first, *more = re.findall(r"`([\w.]+)`", names_cell)
        first = first.removeprefix("codellama.")
        group = first.rpartition(".")[0]
        names = [first] + [group + member for member in more]
        defaults = defaults_cell.split(", ") if more else [defaults_cell]
        documented |= dict(zip(names, defaults, strict=True))
    return documented


@pytest.mark.parametrize("path", [ROOT / "README.md", VSCODE / "README.md"], ids=["README", "vscode README"])
def test_the_readme_tables_list_each_setting_with_its_default(path):
    documented = settings_table(path)
    assert sorted(set(documented) - set(CLIENT_ONLY)) == sorted(NAMES_ON_WIRE)
    for setting in SETTINGS:
        assert documented[setting.name].startswith(markdown(setting.default)), setting.name
