"""Parsing the `codellama` settings: each bad value reported once and replaced by its default."""

from __future__ import annotations

from dataclasses import replace

import pytest

from codellama_lsp.server.option_parsing import parse_options
from codellama_lsp.server.options import ACTION_DEFAULTS, INLINE_DEFAULTS, Options


def test_the_section_or_the_settings_holding_it_parse_the_same():
    section = {"model": "demo", "device": "cpu", "contextTokens": 2048, "inline": {"temperature": 0}}
    wrapped = parse_options({"codellama": section})
    assert wrapped == parse_options(section) == (wrapped[0], [])
    options = wrapped[0]
    assert (options.model, options.device, options.context_tokens, options.inline.temperature) == (
        "demo",
        "cpu",
        2048,
        0,
    )


@pytest.mark.parametrize("raw", [None, {}, {"codellama": None}, {"codellama": {}}])
def test_no_settings_are_the_defaults(raw):
    assert parse_options(raw) == (Options(), [])


def test_a_bad_value_takes_its_default_and_the_others_still_apply():
    options, errors = parse_options({"contextTokens": 99, "otherFiles": 5, "inline": {"temperature": -1, "topP": 0.5}})
    assert errors == [
        "codellama.contextTokens must be an integer from 512 to 16384, got 99",
        "codellama.inline.temperature must be a number from 0 to 5, got -1",
    ]
    assert (options.context_tokens, options.other_files) == (4096, 5)
    assert (options.inline.temperature, options.inline.top_p) == (INLINE_DEFAULTS.temperature, 0.5)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (
            {"device": "gpu"},
            "codellama.device must be auto, cpu, cuda, cuda:N or a list such as cuda:0,cuda:1, got 'gpu'",
        ),
        (
            {"gpuSplit": "20;24"},
            "codellama.gpuSplit must be GB per device, separated by commas, e.g. 20,24, got '20;24'",
        ),
        ({"model": "  "}, "codellama.model must be a hub id, a folder or 'demo', got '  '"),
        ({"revision": ""}, "codellama.revision must be a branch name, got ''"),
        ({"systemPrompt": 3}, "codellama.systemPrompt must be a string, got 3"),
        ({"enabledLanguages": "python"}, "codellama.enabledLanguages must be a list of strings, got 'python'"),
        ({"kvCacheBytes": -1}, "codellama.kvCacheBytes must be an integer >= 0, got -1"),
        ({"speculative": "yes"}, "codellama.speculative must be true or false, got 'yes'"),
        ({"otherFiles": True}, "codellama.otherFiles must be an integer from 0 to 20, got True"),
        ({"actions": {"topP": 0}}, "codellama.actions.topP must be a number in (0, 1], got 0"),
        ({"actions": {"topK": 2.5}}, "codellama.actions.topK must be an integer >= 0, got 2.5"),
        (
            {"inline": {"maxNewTokens": "64"}},
            "codellama.inline.maxNewTokens must be an integer from 1 to 8192, got '64'",
        ),
        ({"inline": 5}, "codellama.inline must be an object, got 5"),
        ({"colour": "blue"}, "codellama.colour is not a setting"),
        ({"actions": {"top_p": 0.5}}, "codellama.actions.top_p is not a setting"),
    ],
)
def test_each_bad_value_is_named_with_what_was_wanted_and_what_came(raw, error):
    options, errors = parse_options(raw)
    assert errors == [error]
    assert options == Options()


def test_settings_that_are_not_an_object_are_reported():
    assert parse_options(["demo"]) == (Options(), ["codellama settings must be an object, got list"])


def test_null_means_the_default_and_text_is_trimmed():
    options, errors = parse_options({"model": " demo ", "revision": None, "systemPrompt": None, "device": None})
    assert errors == []
    assert (options.model, options.revision, options.system_prompt, options.device) == ("demo", None, None, "auto")


def test_whole_numbers_are_integers_and_languages_a_tuple():
    options, errors = parse_options({"contextTokens": 2048.0, "enabledLanguages": ["python", "rust"]})
    assert errors == []
    assert options.context_tokens == 2048 and isinstance(options.context_tokens, int)
    assert options.enabled_languages == ("python", "rust")
    assert options.language_enabled("rust") and not options.language_enabled("lua")


def test_a_group_left_partly_unset_keeps_its_own_defaults():
    options, _ = parse_options({"inline": {"temperature": 0.5}, "actions": {"topK": 7}})
    assert options.inline == replace(INLINE_DEFAULTS, temperature=0.5)
    assert options.actions == replace(ACTION_DEFAULTS, top_k=7)
    assert options.inline.top_p == 0.9 != options.actions.top_p


@pytest.mark.parametrize("group", ["inline", "actions"])
def test_an_answer_that_leaves_no_room_for_the_prompt_resets_both_values(group):
    options, errors = parse_options({"contextTokens": 1024, group: {"maxNewTokens": 900, "temperature": 0}})
    assert errors == [
        f"codellama.contextTokens (1024) leaves no room for the prompt beside codellama.{group}.maxNewTokens (900); "
        "using the defaults for both"
    ]
    gen = getattr(options, group)
    assert (options.context_tokens, gen.max_new_tokens, gen.temperature) == (
        4096,
        getattr(Options, group).max_new_tokens,
        0,
    )


def test_the_model_key_names_what_reloads_the_model():
    options, _ = parse_options({"model": "demo", "revision": "main", "device": "cpu", "kvCacheBytes": 1 << 20})
    assert options.model_key() == ("in-process", "demo", "main", "cpu", 1 << 20, None, True)  # True: speculative
    shared, _ = parse_options({"model": "demo", "engine": "shared", "engineIdleMinutes": 0.5})
    assert shared.model_key() == ("shared", "demo", None, "auto", 0, None, 0.5)
    split, _ = parse_options({"device": "cuda:0,cuda:1", "gpuSplit": "20,24.5"})
    assert (split.device, split.gpu_split_gb) == ("cuda:0,cuda:1", [20.0, 24.5])
    url = "http://gpu-box:8000/v1"
    remote, _ = parse_options({"model": "demo", "engine": url, "device": "cpu", "kvCacheBytes": 1 << 20})
    assert remote.model_key() == (url, "demo", None, "CODELLAMA_API_KEY")  # device and KV budget are the server's
    assert [o.placement for o in (options, shared, remote)] == ["in-process", "shared", "url"]


def test_engine_settings_are_checked():
    options, errors = parse_options({"engine": "ftp://x", "engineIdleMinutes": 0, "apiKeyEnv": "MY KEY"})
    assert (options.engine, options.engine_idle_minutes, options.api_key_env) == (
        "in-process",
        10.0,
        "CODELLAMA_API_KEY",
    )
    assert errors == [
        "codellama.engine must be in-process, shared, or an http(s):// URL, got 'ftp://x'",
        "codellama.engineIdleMinutes must be a number > 0, got 0",
        "codellama.apiKeyEnv must be an environment variable name, got 'MY KEY'",
    ]


def test_sampling_carries_the_group_values():
    params = INLINE_DEFAULTS.sampling()
    assert (params.max_new_tokens, params.temperature, params.top_p, params.top_k, params.repetition_penalty) == (
        128,
        0.2,
        0.9,
        0,
        1.0,
    )
