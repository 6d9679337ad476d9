"""Finding the same person twice over a whole roster, in bounded memory.

A person is keyed by the 17 digits that fix their normalised ID (`ids.key17`), an int64. Keys are
hash-partitioned into PARTITIONS buckets, kept in memory and appended to one file per bucket
once they outgrow SPILL_ROWS, and each bucket is sorted on its own at the end: a 50M-row roster
never needs one 50M-key sort in memory.

Two passes use this (see stream.stream_month):

* `RepeatedKeys`: the first, cheap pass over the raw ID column: which keys occur more than once,
  counted by a 32-bit hash of the key (`hash32`; a uint32 sorts in half the time of an int64).
  Only rows whose key's hash repeats can be duplicates; every other payable row is written at
  once. A hash shared by two different people only holds their rows back for the exact dedup
  below (5M rows: some 3,000 such rows; 50M: some 600,000), never merges them.
* `PayableKeys`: (key, amount_fen, source_row) of the payable rows that might be duplicates: which
  row is kept for each person (the highest amount, ties the first row) and which are dropped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

PARTITIONS = 16
SPILL_ROWS = 8_000_000  # keys in memory across all buckets before they go to disk


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def hash32(key: np.ndarray) -> np.ndarray:
    """A 32-bit hash of int64 keys (the top half of key x 2^64/phi, wrapping): equal keys, equal hashes."""
    return ((np.asarray(key, dtype=np.int64).view(np.uint64) * _GOLDEN) >> np.uint64(32)).astype(np.uint32)


def _partition(key: np.ndarray) -> np.ndarray:
    return (key * 0x9E3779B1 >> 7) % PARTITIONS


class _Partitioned:
    """Rows of `width` int64 columns (the first is the key), bucketed by key, spilled when large."""

    width = 1

    def __init__(self, folder, name: str):
        self.folder = folder  # a Path, or a callable giving one when first needed
        self.name = name
        self.parts: list[list[np.ndarray]] = [[] for _ in range(PARTITIONS)]
        self.rows = 0
        self.spilled = False

    def _add(self, rec: np.ndarray) -> None:
        if len(rec) == 0:
            return
        part = _partition(rec[:, 0])
        order = np.argsort(part, kind="stable")
        bounds = np.searchsorted(part[order], np.arange(PARTITIONS + 1))
        rec = rec[order]
        for p in range(PARTITIONS):
            if bounds[p + 1] > bounds[p]:
                self.parts[p].append(rec[bounds[p] : bounds[p + 1]])
        self.rows += len(rec)
        if self.rows > SPILL_ROWS:
            self._flush()

    def _file(self, p: int) -> Path:
        folder = self.folder() if callable(self.folder) else Path(self.folder)
        return folder / f"{self.name}-{p}.bin"

    def _flush(self) -> None:
        for p in range(PARTITIONS):
            if self.parts[p]:
                with open(self._file(p), "ab") as fh:
                    for a in self.parts[p]:
                        fh.write(a.tobytes())
                self.parts[p] = []
        self.rows = 0
        self.spilled = True

    def partition(self, p: int) -> np.ndarray:
        """Bucket p's rows (in the order added), emptied from memory and disk."""
        arrays = list(self.parts[p])
        f = self._file(p)
        if self.spilled and f.exists():
            arrays.insert(0, np.fromfile(f, dtype=np.int64).reshape(-1, self.width))
            f.unlink()
        self.parts[p] = []
        return np.concatenate(arrays) if arrays else np.zeros((0, self.width), np.int64)


class RepeatedKeys(_Partitioned):
    """Counts keys by hash32; `repeated()` gives the hashes seen more than once. They stay in one
    flat list (one sort at the end) until they outgrow SPILL_ROWS; only then are they bucketed
    and spilled."""

    width = 1

    def __init__(self, folder):
        super().__init__(folder, "ids")
        self.flat: list[np.ndarray] | None = []
        self.flat_rows = 0

    def add(self, key: np.ndarray) -> None:
        key = hash32(key)
        if self.flat is not None:
            self.flat.append(key)
            self.flat_rows += len(key)
            if self.flat_rows <= SPILL_ROWS:
                return
            pending, self.flat = self.flat, None
            for k in pending:
                self._add(k.astype(np.int64).reshape(-1, 1))
            return
        self._add(key.astype(np.int64).reshape(-1, 1))

    @staticmethod
    def _repeats(k: np.ndarray) -> np.ndarray | None:
        k = np.sort(k)
        same = k[1:] == k[:-1]
        return np.unique(k[1:][same]) if len(k) > 1 and same.any() else None

    def repeated(self) -> np.ndarray:
        """Sorted uint32 hashes (hash32) that occur at least twice (test rows with HashBitmap(...).hits)."""
        if self.flat is not None:
            r = self._repeats(np.concatenate(self.flat)) if self.flat else None
            self.flat = []
            return r if r is not None else np.zeros(0, np.uint32)
        out = [r for p in range(PARTITIONS) if (r := self._repeats(self.partition(p)[:, 0])) is not None]
        return np.sort(np.concatenate(out)).astype(np.uint32) if out else np.zeros(0, np.uint32)


class HashBitmap:
    """A set of hash32 values as a 2^27-bit bitmap (16 MiB), by their top 27 bits: testing a
    batch's keys is a gather instead of a binary search (7x faster than searchsorted for 235k
    keys against 53k hashes). Two hashes sharing their top 27 bits only hold a few more rows back
    for the exact dedup (5M rows: about 1 in 2,500)."""

    def __init__(self, hashes: np.ndarray):
        self.bits = np.zeros(1 << 24, np.uint8)
        idx = np.sort(np.asarray(hashes, np.uint32) >> np.uint32(5))
        if len(idx) == 0:
            return
        # the bits of each byte OR-ed together over the sorted positions (np.bitwise_or.at took
        # 65 ms for 53k hashes, at the moment the held-back batches wait for this bitmap)
        byte = idx >> np.uint32(3)
        start = np.flatnonzero(np.r_[True, byte[1:] != byte[:-1]])
        self.bits[byte[start]] = np.bitwise_or.reduceat(np.uint8(1) << (idx & np.uint32(7)).astype(np.uint8), start)

    def hits(self, key: np.ndarray) -> np.ndarray:
        """Bool mask: which int64 keys' hash32 may be in the set (no false misses)."""
        idx = hash32(key) >> np.uint32(5)
        return ((self.bits[idx >> np.uint32(3)] >> (idx & np.uint32(7)).astype(np.uint8)) & np.uint8(1)).astype(bool)


class PayableKeys(_Partitioned):
    """(key, amount_fen, source_row) of payable rows; `duplicates()` decides who is kept."""

    width = 3

    def __init__(self, folder: Path):
        super().__init__(folder, "keys")

    def add(self, key: np.ndarray, amount: np.ndarray, row: np.ndarray) -> None:
        rec = np.empty((len(key), 3), np.int64)
        rec[:, 0], rec[:, 1], rec[:, 2] = key, amount, row
        self._add(rec)

    def duplicates(self) -> tuple[np.ndarray, np.ndarray]:
        """(source rows to drop, sorted; the source row kept for each): highest amount, ties the first row."""
        drops, kept = [], []
        for p in range(PARTITIONS):
            rec = self.partition(p)
            if len(rec) < 2:
                continue
            key = rec[:, 0]
            order = np.argsort(key, kind="stable")
            sk = key[order]
            same = sk[1:] == sk[:-1]
            if not same.any():
                continue
            multi = np.zeros(len(sk), bool)
            multi[1:] |= same
            multi[:-1] |= same
            sub = rec[order[multi]]
            o = np.lexsort((sub[:, 2], -sub[:, 1], sub[:, 0]))
            sub = sub[o]
            first = np.ones(len(sub), bool)
            first[1:] = sub[1:, 0] != sub[:-1, 0]
            group_start = np.maximum.accumulate(np.where(first, np.arange(len(sub)), 0))
            drop = ~first
            drops.append(sub[drop, 2])
            kept.append(sub[group_start[drop], 2])
        if not drops:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        d, k = np.concatenate(drops), np.concatenate(kept)
        o = np.argsort(d)
        return d[o], k[o]
