"""The placement planner with CodeLlama-70B's real shapes and made-up free memory, and the README's fit table."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from codellama_lsp.engine import QuantConfig, load_model
from codellama_lsp.engine.fit_table import footprint, table
from codellama_lsp.engine.placement import (
    DEFAULT_RESERVE,
    DeviceMemory,
    Footprint,
    GiB,
    Placement,
    PlacementError,
    plan_auto,
    plan_placement,
)
from codellama_lsp.engine.quant import QuantLinear

from ..conftest import CHAT_SPEC

MAIN = footprint(4, -1)  # the default branch: 4-bit, no groups, act-order


def cards(*gb: float) -> list[DeviceMemory]:
    return [DeviceMemory(f"cuda:{i}", int(size * GiB)) for i, size in enumerate(gb)]


def check(plan: Placement, fp: Footprint, devices: list[DeviceMemory], context: int = 4096) -> None:
    """Every layer once and in order, embedding first and lm_head last, each device within its budget,
    and each layer's KV on its layer's device."""
    assert [i for part in plan.parts for i in part.layers] == list(range(fp.args.n_layers))
    assert plan.parts[0].embedding and plan.parts[-1].lm_head
    assert sum(p.embedding for p in plan.parts) == 1 and sum(p.lm_head for p in plan.parts) == 1
    assert plan.kv_tokens >= context
    free = {d.name: d.free for d in devices}
    per_layer_kv = plan.kv_blocks * plan.block_size * fp.kv_token_layer
    for part in plan.parts:
        held = part.embedding * fp.embedding + len(part.layers) * fp.layer + part.lm_head * fp.head
        assert part.weight_bytes == held
        assert part.kv_bytes == len(part.layers) * per_layer_kv
        assert part.weight_bytes + part.kv_bytes <= free[part.device] - DEFAULT_RESERVE


@pytest.mark.parametrize(
    ("setup", "devices_used"),
    [((24, 24), 2), ((24, 16), 2), ((48,), 1), ((80,), 1), ((16, 16, 16, 16), 4)],
    ids=["2x24", "24+16", "1x48", "1x80", "4x16"],
)
def test_the_70b_fits_these_setups(setup, devices_used):
    devices = cards(*setup)
    plan = plan_placement(MAIN, devices, 4096)
    check(plan, MAIN, devices)
    assert len(plan.parts) == devices_used


def test_two_24_gb_cards_split_the_layers_in_half_with_a_long_context():
    plan = plan_placement(MAIN, cards(24, 24), 4096)
    assert [p.layers for p in plan.parts] == [range(0, 40), range(40, 80)]
    assert plan.kv_tokens > 8 * 4096


def test_the_weights_are_the_model_cards_size():
    assert abs(MAIN.weights / 1e9 - 35.33) < 0.1  # "35.33 GB" in the branch table
    assert abs(footprint(3, -1).weights / 1e9 - 26.78) < 0.1


def test_nothing_fits_on_one_24_gb_card_and_the_message_says_what_would():
    with pytest.raises(PlacementError) as error:
        plan_placement(MAIN, cards(24), 4096)
    assert "another GPU" in str(error.value) and "remote engine" in str(error.value)
    with pytest.raises(PlacementError) as error:
        plan_placement(MAIN, cards(24, 12), 4096)
    message = str(error.value)
    assert "fewer context tokens (up to" in message and "a 3-bit branch" in message
    with pytest.raises(PlacementError):
        plan_placement(MAIN, cards(8, 8), 4096)


def test_auto_takes_the_fewest_devices_that_fit():
    devices = cards(24, 80, 24)
    plan = plan_auto(MAIN, devices, 4096)
    assert plan.devices == ["cuda:1"]
    plan = plan_auto(MAIN, cards(24, 24, 24), 4096)
    assert len(plan.parts) == 2
    check(plan, MAIN, cards(24, 24, 24))


def test_gpu_split_caps_the_weights_of_each_listed_device():
    devices = cards(24, 24)
    plan = plan_placement(MAIN, devices, 4096, gpu_split=[12, 24])
    check(plan, MAIN, devices)
    assert plan.parts[0].weight_bytes <= 12 * GiB + MAIN.layer / 2
    with pytest.raises(PlacementError, match="gpu_split has 1 entries for 2 devices"):
        plan_placement(MAIN, devices, 4096, gpu_split=[12])


def test_an_even_split_follows_free_memory():
    devices = cards(24, 16)
    plan = plan_placement(MAIN, devices, 4096, even=True)
    check(plan, MAIN, devices)
    assert len(plan.parts[0].layers) > len(plan.parts[1].layers)


def test_the_footprint_is_what_the_loader_holds(checkpoint_factory):
    """A layer's bytes as planned equal the tensors a loaded layer holds (packed GPTQ, norms)."""
    quant = QuantConfig(4, 32, True, True, "gptq")
    folder, _ = checkpoint_factory(CHAT_SPEC, quant, seed=3, tokenizer=True)
    model = load_model(folder, device="cpu")
    block = model.transformer.layers[0]
    held = sum(p.numel() * p.element_size() for p in block.parameters())
    for m in block.modules():
        if isinstance(m, QuantLinear):
            held += sum(t.numel() * t.element_size() for t in (m.qweight, m.qzeros, m.scales, m.g_idx))
    assert Footprint(model.args, quant, torch.float32).layer == held


def test_the_readme_fit_table_is_the_planners():
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    assert table() in readme
