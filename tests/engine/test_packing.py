"""GPTQ bit packing, checked against the layout written out by hand."""

from __future__ import annotations

import pytest
import torch

from codellama_lsp.engine.packing import pack, shift_zeros, unpack


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_pack_unpack_round_trip_along_either_dim(bits):
    values = torch.randint(0, 1 << bits, (64, 96), generator=torch.Generator().manual_seed(bits))
    packed = pack(values, bits, dim=0)
    assert packed.dtype == torch.int32 and packed.shape == (64 * bits // 32, 96)
    assert torch.equal(unpack(packed, bits, dim=0), values)
    assert torch.equal(unpack(pack(values, bits, dim=1), bits, dim=1), values)


def test_4bit_values_sit_low_bits_first():
    values = torch.arange(16).repeat(2).view(32, 1)  # k = 0..31 -> 0..15, 0..15
    packed = pack(values, 4, dim=0)
    assert packed[:, 0].tolist() == [0x76543210, 0xFEDCBA98 - 2**32, 0x76543210, 0xFEDCBA98 - 2**32]


def test_3bit_values_form_one_bit_stream_across_three_words():
    values = torch.zeros(32, 1, dtype=torch.int64)
    values[10, 0] = 0b111  # bits 30..32: two in word 0, one in word 1
    values[21, 0] = 0b101  # bits 63..65: one in word 1, two in word 2
    packed = pack(values, 3, dim=0)[:, 0].tolist()
    assert packed == [-(2**31) + 2**30, 1 | (1 << 31) - 2**32, 0b10]
    assert torch.equal(unpack(pack(values, 3, dim=0), 3, dim=0), values)


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_v1_zero_shift_borrows_and_carries_like_packed_integers(bits):
    zeros = torch.randint(0, 1 << bits, (4, 64), generator=torch.Generator().manual_seed(0))
    zeros[:, 0] = 0  # a zero of 0 stores -1 and borrows from its neighbour
    stored = shift_zeros(zeros, bits, -1)
    assert torch.equal(shift_zeros(stored, bits, +1), zeros)
    if bits in (2, 4, 8):  # same as subtracting 0x11111111-style constants from the int32 words
        ones = sum(1 << (i * bits) for i in range(32 // bits))
        words = (pack(zeros, bits, dim=1).to(torch.int64) - ones) & 0xFFFFFFFF
        words = torch.where(words >= 2**31, words - 2**32, words).to(torch.int32)
        assert torch.equal(unpack(words, bits, dim=1), stored)
