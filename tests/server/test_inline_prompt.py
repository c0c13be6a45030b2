"""The inline path renders and tokenizes the chat once per keystroke, and hands those ids to the engine."""

from __future__ import annotations

from dataclasses import replace

from codellama_lsp.server.inline import complete_inline
from codellama_lsp.server.options import Options
from codellama_lsp.server.snapshot import Snapshot

URI = "file:///w/calc.py"


async def test_a_keystroke_renders_the_chat_once_and_the_engine_gets_its_ids(chat_model, monkeypatch):
    renders, submitted = [], []
    render, submit = chat_model.tokenizer.apply_chat_template, chat_model.submit

    def counting_render(*args, **kwargs):
        renders.append(args[0])
        return render(*args, **kwargs)

    def recording_submit(prompt, *args, **kwargs):
        submitted.append(prompt)
        return submit(prompt, *args, **kwargs)

    monkeypatch.setattr(chat_model.tokenizer, "apply_chat_template", counting_render)
    monkeypatch.setattr(chat_model, "submit", recording_submit)
    options = replace(Options(), inline=replace(Options().inline, max_new_tokens=2))
    other = [("util.py", "def helper():\n    return 1\n")]
    await complete_inline(chat_model, Snapshot(URI, "def add(a, b):\n    \n", 1, "python"), 1, 4, options, other)
    assert len(renders) == 3  # the fixed text twice (before and after the other file's excerpt), then the prompt
    renders.clear()
    typed = Snapshot(URI, "def add(a, b):\n    r\n", 2, "python")
    await complete_inline(chat_model, typed, 1, 5, options, other)
    (turns,) = renders  # the next keystroke: only the prompt itself; its fixed text was measured before
    assert "    r<CURSOR>" in turns[-1]["content"]
    prefill = {"role": "assistant", "content": "```python\n    r"}  # the default layout begins the answer
    assert submitted[-1] == chat_model.encode_chat([*turns, prefill])  # token ids, encoded once, not the messages
