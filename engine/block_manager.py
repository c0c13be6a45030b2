"""KV-cache blocks: fixed size, named by a hash chained over their token ids, shared by refcount.

Block i of a sequence is identified by hash(hash of block i-1, tokens of block i), so a hash
names the whole prefix up to the block's end. Full, computed blocks are registered under their
hash; a later prompt starting with the same tokens reuses them instead of recomputing. Blocks
no sequence holds stay cached until space is needed, then go least recently used first.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict, deque

from .sequence import Sequence


def chain_hash(previous: bytes, tokens: list[int]) -> bytes:
    return hashlib.blake2b(previous + array("q", tokens).tobytes(), digest_size=16).digest()


class Block:
    __slots__ = ("id", "ref_count", "hash", "tokens")

    def __init__(self, block_id: int):
        self.id, self.ref_count, self.hash, self.tokens = block_id, 0, b"", ()


class BlockManager:
    def __init__(self, num_blocks: int, block_size: int):
        assert num_blocks > 0 and block_size > 0
        self.block_size = block_size
        self.blocks = [Block(i) for i in range(num_blocks)]
        self.free: deque[int] = deque(range(num_blocks))  # unreferenced, no content worth keeping
        self.evictable: OrderedDict[int, None] = OrderedDict()  # unreferenced but cached; oldest first
        self.by_hash: dict[bytes, int] = {}
        self.prompt_tokens = self.reused_tokens = 0  # over all admissions: tokens asked for, found cached

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @property
    def num_available(self) -> int:
        return len(self.free) + len(self.evictable)

    @property
    def num_used(self) -> int:
        return self.num_blocks - self.num_available

    def blocks_for(self, tokens: int) -> int:
        return -(-tokens // self.block_size)

    def _prefix_hits(self, tokens: list[int]) -> list[tuple[int, bytes]]:
        """Cached blocks (id, hash) that start `tokens`. The last token is never matched: its logits are needed."""
        hits, h, bs = [], b"", self.block_size
        for i in range((len(tokens) - 1) // bs):
            chunk = tokens[i * bs : (i + 1) * bs]
            h = chain_hash(h, chunk)
            block_id = self.by_hash.get(h)
            if block_id is None or self.blocks[block_id].tokens != tuple(chunk):
                break
            hits.append((block_id, h))
        return hits

    def can_allocate(self, seq: Sequence) -> bool:
        hits = self._prefix_hits(seq.token_ids)
        revived = sum(1 for block_id, _ in hits if self.blocks[block_id].ref_count == 0)
        return self.blocks_for(len(seq)) - len(hits) <= self.num_available - revived

    def allocate(self, seq: Sequence) -> None:
        """Blocks for every token of `seq`: cached prefix blocks shared, the rest fresh."""
        assert not seq.block_table and self.can_allocate(seq)
        hits = self._prefix_hits(seq.token_ids)
        for block_id, h in hits:
            block = self.blocks[block_id]
            if block.ref_count == 0:
                del self.evictable[block_id]
            block.ref_count += 1
            seq.block_table.append(block_id)
            seq.block_hashes.append(h)
        for _ in range(self.blocks_for(len(seq)) - len(hits)):
            seq.block_table.append(self._take())
        seq.num_computed = seq.num_cached_prompt = len(hits) * self.block_size
        self.prompt_tokens += len(seq)
        self.reused_tokens += seq.num_cached_prompt

    def _take(self) -> int:
        if self.free:
            block_id = self.free.popleft()
        else:
            block_id, _ = self.evictable.popitem(last=False)
            block = self.blocks[block_id]
            del self.by_hash[block.hash]
            block.hash, block.tokens = b"", ()
        self.blocks[block_id].ref_count = 1
        return block_id

    def can_append(self, seq: Sequence, extra: int = 0) -> bool:
        """Room for the KV of the last token (position len-1) and `extra` drafted tokens after it."""
        return self.blocks_for(len(seq) + extra) - len(seq.block_table) <= self.num_available

    def append(self, seq: Sequence, extra: int = 0) -> None:
        while len(seq.block_table) < self.blocks_for(len(seq) + extra):
            seq.block_table.append(self._take())

    def truncate(self, seq: Sequence) -> None:
        """Roll back a verify step: free the blocks past the sequence's tokens (rejected drafts only ever
        wrote there, or past `num_computed`, which no hash covers; those slots are written again)."""
        assert len(seq.block_hashes) * self.block_size <= seq.num_computed
        while len(seq.block_table) > self.blocks_for(len(seq)):
            block = self.blocks[seq.block_table.pop()]
            block.ref_count -= 1
            assert block.ref_count == 0 and not block.hash
            self.free.appendleft(block.id)

    def commit(self, seq: Sequence) -> None:
        """Register the blocks `seq` has filled and computed since the last call."""
        bs = self.block_size
        for i in range(len(seq.block_hashes), seq.num_computed // bs):
            chunk = seq.token_ids[i * bs : (i + 1) * bs]
            h = chain_hash(seq.block_hashes[-1] if seq.block_hashes else b"", chunk)
            seq.block_hashes.append(h)
            block = self.blocks[seq.block_table[i]]
            if h not in self.by_hash and not block.hash:  # an identical block computed elsewhere stays the one cached
                block.hash, block.tokens = h, tuple(chunk)
                self.by_hash[h] = block.id

    def deallocate(self, seq: Sequence, keep_view: bool = False) -> None:
        """Release `seq`'s blocks; the ones with a hash stay cached, its last blocks the first to go.

        `keep_view`: `seq` is finished, so leave its block table and progress as they were for a
        step in flight that still reads them (it writes only positions no cached block holds,
        and no block is handed out again before that step is over).
        """
        for block_id in reversed(seq.block_table):
            block = self.blocks[block_id]
            block.ref_count -= 1
            assert block.ref_count >= 0
            if block.ref_count == 0:
                if block.hash:
                    self.evictable[block_id] = None
                else:
                    self.free.append(block_id)
        if not keep_view:
            seq.block_table, seq.block_hashes, seq.num_computed = [], [], 0
