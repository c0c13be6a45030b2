"""Editor settings -> `Options`: strict JSON types, each field's `Spec`, one message per bad value.

cattrs structures the editor's JSON, as lsprotocol does. A bad value is reported once and
replaced by its default; the rest still apply.
"""

from __future__ import annotations

import math
from dataclasses import Field, fields, is_dataclass, replace
from typing import Any, get_type_hints

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .options import NAMES, PROMPT_ROOM, SECTION, GenerationOptions, Options, spec_of, wire_name


# --- structuring: strict JSON types, then each field's Spec ---------------------------------
def _integer(value: Any, _: type) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise TypeError("not an integer")
    return int(value)


def _boolean(value: Any, _: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError("not true or false")
    return value


def _number(value: Any, _: type) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TypeError("not a number")
    return float(value)


def _text(value: Any, _: type) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value.strip()


def _names(value: Any, _: type) -> NAMES:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise TypeError("not a list of strings")
    return tuple(value)


converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
converter.register_structure_hook(int, _integer)
converter.register_structure_hook(float, _number)
converter.register_structure_hook(bool, _boolean)
converter.register_structure_hook(str, _text)
converter.register_structure_hook_func(lambda hint: hint == NAMES, _names)


def _field_hook(f: Field, hint: Any):
    if is_dataclass(hint):  # a group: its keys that are left out keep the field default's values

        def group(value: Any, cls: type) -> Any:
            if not isinstance(value, dict):
                raise TypeError("not an object")
            return converter.structure({**converter.unstructure(f.default), **value}, cls)

        return group

    def checked(value: Any, _: type) -> Any:
        value = converter.structure(value, hint)
        if value is not None and not spec_of(f).admits(value):
            raise ValueError("outside the setting's range")
        return value

    return checked


def _structure_fn(cls: type):
    hints = get_type_hints(cls)
    named = {f.name: override(rename=wire_name(f.name), struct_hook=_field_hook(f, hints[f.name])) for f in fields(cls)}
    return make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True, **named)


def _unstructure_fn(cls: type):
    return make_dict_unstructure_fn(cls, converter, **{f.name: override(rename=wire_name(f.name)) for f in fields(cls)})


converter.register_structure_hook_factory(is_dataclass, _structure_fn)
converter.register_unstructure_hook_factory(is_dataclass, _unstructure_fn)


# --- parsing: report each bad value, drop it, structure the rest ----------------------------
Problem = tuple[tuple[str, ...], str]  # (wire path, message)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join((SECTION, *path))


def _problems(error: ClassValidationError, cls: type, raw: dict, path: tuple[str, ...] = ()) -> list[Problem]:
    """One problem per bad value or unknown key that cattrs found in `raw`."""
    found: list[Problem] = []
    specs, hints = {f.name: spec_of(f) for f in fields(cls)}, get_type_hints(cls)
    noted, unnoted = error.group_exceptions()
    for exc, note in noted:
        key = wire_name(note.name)
        where = (*path, key)
        if isinstance(exc, ClassValidationError):  # a group with bad members
            found += _problems(exc, hints[note.name], raw[key], where)
        else:
            wanted = specs[note.name].wanted(hints[note.name])
            found.append((where, f"{_dotted(where)} must be {wanted}, got {raw[key]!r}"))
    for exc in unnoted:
        if not isinstance(exc, ForbiddenExtraKeysError):
            raise exc
        found += [((*path, key), f"{_dotted((*path, key))} is not a setting") for key in sorted(exc.extra_fields)]
    return found


def _without_nulls(raw: dict) -> dict:
    """A copy of `raw` where null means "the default", as an absent key does."""
    return {k: _without_nulls(v) if isinstance(v, dict) else v for k, v in raw.items() if v is not None}


def _drop(raw: dict, path: tuple[str, ...]) -> None:
    for key in path[:-1]:
        raw = raw[key]
    del raw[path[-1]]


def _fit_budget(options: Options) -> tuple[Options, list[str]]:
    """Each group's answer must leave room for a prompt in the context, else both take their defaults."""
    errors = []
    for group in ("inline", "actions"):
        gen: GenerationOptions = getattr(options, group)
        if options.context_tokens <= gen.max_new_tokens + PROMPT_ROOM:
            errors.append(
                f"codellama.contextTokens ({options.context_tokens}) leaves no room for the prompt beside "
                f"codellama.{group}.maxNewTokens ({gen.max_new_tokens}); using the defaults for both"
            )
            default = getattr(Options, group).max_new_tokens
            fitted = {group: replace(gen, max_new_tokens=default), "context_tokens": Options.context_tokens}
            options = replace(options, **fitted)
    return options, errors


def parse_options(raw: Any) -> tuple[Options, list[str]]:
    """Settings from the editor, the section or `{"codellama": {...}}` -> (Options, one message per bad value)."""
    if isinstance(raw, dict) and SECTION in raw:
        raw = raw[SECTION]
    if raw is None:
        return Options(), []
    if not isinstance(raw, dict):
        return Options(), [f"codellama settings must be an object, got {type(raw).__name__}"]
    values, errors = _without_nulls(raw), []
    try:
        options = converter.structure(values, Options)
    except ClassValidationError as error:  # every bad value and unknown key, found in one pass
        for path, message in _problems(error, Options, values):
            errors.append(message)
            _drop(values, path)  # absent: the default applies
        options = converter.structure(values, Options)
    options, budget_errors = _fit_budget(options)
    return options, errors + budget_errors
