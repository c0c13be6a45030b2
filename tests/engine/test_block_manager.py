"""The prefix cache's blocks: hash chaining, sharing by refcount, LRU eviction."""

from __future__ import annotations

from codellama_lsp.engine.block_manager import BlockManager, chain_hash
from codellama_lsp.engine.sampler import SamplingParams
from codellama_lsp.engine.sequence import Sequence

BS = 4


def seq(tokens: list[int]) -> Sequence:
    return Sequence(tokens, SamplingParams(max_new_tokens=4))


def computed(manager: BlockManager, tokens: list[int]) -> Sequence:
    """A sequence allocated and fully computed (its full blocks registered)."""
    s = seq(tokens)
    manager.allocate(s)
    s.num_computed = len(s)
    manager.commit(s)
    return s


def test_a_block_hash_covers_every_block_before_it():
    a = chain_hash(chain_hash(b"", [1, 2, 3, 4]), [5, 6, 7, 8])
    b = chain_hash(chain_hash(b"", [9, 2, 3, 4]), [5, 6, 7, 8])  # same second block, other first block
    assert a != b
    assert a == chain_hash(chain_hash(b"", [1, 2, 3, 4]), [5, 6, 7, 8])
    assert chain_hash(b"", [1, 2]) != chain_hash(b"", [2, 1])


def test_a_prompt_reuses_the_full_blocks_of_an_earlier_one():
    m = BlockManager(num_blocks=16, block_size=BS)
    first = computed(m, list(range(10)))  # blocks [0..3] [4..7] full, [8, 9] partial
    assert len(first.block_hashes) == 2
    second = seq(list(range(8)) + [42, 43, 44])
    m.allocate(second)
    assert second.block_table[:2] == first.block_table[:2]
    assert second.block_table[2] not in first.block_table
    assert second.num_computed == second.num_cached_prompt == 8
    assert [m.blocks[b].ref_count for b in first.block_table] == [2, 2, 1]


def test_a_different_first_block_shares_nothing():
    m = BlockManager(num_blocks=16, block_size=BS)
    computed(m, list(range(12)))
    other = seq([99] + list(range(1, 12)))
    m.allocate(other)
    assert other.num_computed == 0


def test_the_last_prompt_token_is_always_computed():
    m = BlockManager(num_blocks=16, block_size=BS)
    computed(m, list(range(8)))
    again = seq(list(range(8)))  # the same 8 tokens: only the first block may be reused
    m.allocate(again)
    assert again.num_computed == 4


def test_released_blocks_stay_cached_and_are_revived():
    m = BlockManager(num_blocks=8, block_size=BS)
    first = computed(m, list(range(9)))
    m.deallocate(first)
    assert m.num_used == 0 and m.num_available == 8
    assert len(m.evictable) == 2 and len(m.free) == 6
    second = seq(list(range(9)))
    m.allocate(second)
    assert second.num_computed == 8 and m.num_used == 3


def test_eviction_takes_the_least_recently_used_block_and_a_sequence_tail_first():
    m = BlockManager(num_blocks=4, block_size=BS)
    old = computed(m, list(range(8)) + [0])  # 2 hashed blocks + 1 partial
    old_head, old_tail, old_partial = old.block_table
    m.deallocate(old)
    new = computed(m, [50, 51, 52, 53, 54])  # 1 hashed block + 1 partial
    new_head, new_partial = new.block_table
    m.deallocate(new)
    assert list(m.evictable) == [old_tail, old_head, new_head]  # oldest first; a sequence's tail before its head
    assert list(m.free) == [new_partial]
    taker = seq([7] * 12)
    m.allocate(taker)
    assert taker.block_table == [new_partial, old_tail, old_head]
    assert set(m.by_hash.values()) == {new_head}


def test_refcounts_keep_shared_blocks_until_the_last_user_leaves():
    m = BlockManager(num_blocks=8, block_size=BS)
    a = computed(m, list(range(9)))
    b = seq(list(range(8)) + [77])
    m.allocate(b)
    shared = a.block_table[:2]
    m.deallocate(a)
    assert all(m.blocks[i].ref_count == 1 for i in shared)
    assert not any(i in m.evictable for i in shared)
    m.deallocate(b)
    assert all(i in m.evictable for i in shared)


def test_can_allocate_counts_revived_blocks():
    m = BlockManager(num_blocks=3, block_size=BS)
    first = computed(m, list(range(9)))
    m.deallocate(first)
    assert m.can_allocate(seq(list(range(9))))  # 2 revived + 1 fresh of 3
    assert not m.can_allocate(seq(list(range(13))))  # 2 revived + 2 fresh > 3


def test_decode_appends_a_block_only_at_a_boundary():
    m = BlockManager(num_blocks=8, block_size=BS)
    s = seq([1, 2, 3])
    m.allocate(s)
    assert len(s.block_table) == 1
    s.token_ids.append(4)
    m.append(s)
    assert len(s.block_table) == 1
    s.token_ids.append(5)
    m.append(s)
    assert len(s.block_table) == 2
