"""The packed base of the MTA's suppression set: sorted 64-bit keys in numpy arrays.

A :class:`Packed` holds, for ``n`` keys, 9 bytes each (the key and a one-byte
code), a radix directory on the keys' top bits (one 4-byte offset per 8 to 16
keys), a one-bit-per-slot filter on their low bits (8 to 16 bits per key:
most keys that are not here are told so by one byte, without a search) and,
for keys that expire, a sorted side table (key and expiry, 16 bytes each).

It never changes once built: :func:`merged` builds a new one from an old one
and a batch of changes (numpy works without the GIL meanwhile), and the owner
swaps it in. Lookups go through memoryviews (``bisect`` on a slice the
directory names), because indexing a numpy array from Python is slow.

Codes: the reason's number (:data:`mta.suppression.REASONS`), with :data:`EXPIRES`
set when the key has an entry in the side table.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

__all__ = ["EXPIRES", "GONE", "Packed", "merged", "merged_arrays", "packed"]

EXPIRES: Final = 0x80  # in a code: the key's expiry is in the side table
GONE: Final = -1  # in a change: the key is removed
U64 = npt.NDArray[np.uint64]
U8 = npt.NDArray[np.uint8]
F64 = npt.NDArray[np.float64]


def _ints(array: npt.NDArray[Any], fmt: Literal["B", "I", "Q"]) -> memoryview[int]:
    return memoryview(np.ascontiguousarray(array).data).cast("B").cast(fmt)


def _floats(array: npt.NDArray[np.float64]) -> memoryview[float]:
    return memoryview(np.ascontiguousarray(array).data).cast("B").cast("d")


class Packed:
    """Sorted unique ``keys`` with their ``codes``; ``exp_keys``/``exp_at`` the expiring ones."""

    def __init__(self, keys: U64, codes: U8, exp_keys: U64, exp_at: F64) -> None:
        self.keys, self.codes, self.exp_keys, self.exp_at = keys, codes, exp_keys, exp_at
        n = len(keys)
        # 8 to 16 keys per directory slot: a bisect within one or two cache lines, and a
        # directory of a few bits per key (the lookup was measured no faster with more).
        bits = max(0, min(30, n.bit_length() - 4))
        self.shift = 64 - bits
        top = (keys >> np.uint64(self.shift)).astype(np.intp) if bits else np.zeros(n, np.intp)
        offsets = np.zeros((1 << bits) + 1, np.uint32 if n < 1 << 32 else np.uint64)
        np.cumsum(np.bincount(top, minlength=1 << bits), out=offsets[1:])
        del top
        self.directory = _ints(offsets, "I" if offsets.dtype == np.uint32 else "Q")
        slots_bits = max(64, 1 << (8 * n - 1).bit_length())
        self.fmask = slots_bits - 1
        seen = np.zeros(slots_bits, bool)  # a byte per slot for a moment: packed below
        seen[keys & np.uint64(self.fmask)] = True
        bitmap = np.packbits(seen, bitorder="little")
        del seen
        self.filter = bitmap
        self.fv = _ints(bitmap, "B")
        self.kv = _ints(keys, "Q")
        self.cv = _ints(codes, "B")
        self.ekv = _ints(exp_keys, "Q")
        self.eav = _floats(exp_at)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def nbytes(self) -> int:
        """The arrays' memory (keys, codes, directory, side table)."""
        arrays = (self.keys, self.codes, self.exp_keys, self.exp_at, self.filter)
        return sum(a.nbytes for a in arrays) + self.directory.nbytes

    def code(self, key: int) -> int:
        """The key's code, or -1 when it is not here."""
        if not self.fv[(key & self.fmask) >> 3] >> (key & 7) & 1:
            return -1
        d = self.directory
        b = key >> self.shift
        lo, hi = d[b], d[b + 1]
        i = bisect_left(self.kv, key, lo, hi)
        return self.cv[i] if i < hi and self.kv[i] == key else -1

    def expiry(self, key: int) -> float:
        """The expiry of a key whose code has :data:`EXPIRES` (inf if, oddly, none)."""
        i = bisect_left(self.ekv, key)
        return self.eav[i] if i < len(self.ekv) and self.ekv[i] == key else float("inf")


_EMPTY_U64 = np.zeros(0, np.uint64)


def packed(
    keys: U64,
    codes: U8,
    exp_keys: U64 | None = None,
    exp_at: F64 | None = None,
    *,
    runs: bool = False,
) -> Packed:
    """A base from unsorted keys (duplicates: one wins) with their reason codes, and the
    expiring ones' keys and expiry times (any order; keys not in ``keys`` are ignored).

    ``runs``: the keys come as a few long sorted runs (a loader's sorted slices, a
    snapshot): merged by a stable sort, which finds the runs, in a fraction of the time
    a sort from scratch takes.
    """
    order = np.argsort(keys, kind="stable" if runs else None)
    keys, codes = keys[order], codes[order] & np.uint8(0x7F)
    del order
    if len(keys) > 1:
        first = np.empty(len(keys), bool)
        first[0] = True
        np.not_equal(keys[1:], keys[:-1], out=first[1:])
        if not first.all():
            keys, codes = keys[first], codes[first]
    if exp_keys is None or exp_at is None or not len(exp_keys):
        return Packed(keys, codes, _EMPTY_U64, np.zeros(0))
    order = np.argsort(exp_keys)
    ek, ea = exp_keys[order], exp_at[order].astype(np.float64)
    at = np.minimum(np.searchsorted(keys, ek), max(len(keys) - 1, 0))
    held = keys[at] == ek if len(keys) else np.zeros(len(ek), bool)
    if len(ek) > 1:
        held[1:] &= ek[1:] != ek[:-1]
    codes[at[held]] |= np.uint8(EXPIRES)
    return Packed(keys, codes, ek[held], ea[held])


def merged_arrays(
    base: Packed, changes: dict[int, int], expiries: dict[int, float]
) -> tuple[U64, U8, U64, F64]:
    """``base``'s arrays with ``changes`` (key → code, or :data:`GONE`) applied;
    ``expiries`` holds the expiry of every changed key whose code has :data:`EXPIRES`."""
    if not changes:
        return base.keys, base.codes, base.exp_keys, base.exp_at
    ck = np.fromiter(changes.keys(), np.uint64, len(changes))
    cc = np.fromiter(changes.values(), np.int16, len(changes))
    order = np.argsort(ck)
    ck, cc = ck[order], cc[order]
    keys, codes = base.keys, base.codes
    at = np.searchsorted(keys, ck)
    hit = at < len(keys)
    hit[hit] = keys[at[hit]] == ck[hit]
    keys, codes = np.delete(keys, at[hit]), np.delete(codes, at[hit])
    live = cc != GONE
    ak, ac = ck[live], cc[live].astype(np.uint8)
    at = np.searchsorted(keys, ak)
    keys, codes = np.insert(keys, at, ak), np.insert(codes, at, ac)
    # The side table: the old one less every changed key, plus the changed expiring ones.
    ek, ea = base.exp_keys, base.exp_at
    if len(ek):
        keep = ~np.isin(ek, ck, assume_unique=True)
        ek, ea = ek[keep], ea[keep]
    expiring = ak[(ac & EXPIRES) != 0]
    if len(expiring):
        new_at = np.fromiter((expiries[int(k)] for k in expiring), np.float64, len(expiring))
        ek, ea = np.concatenate([ek, expiring]), np.concatenate([ea, new_at])
        order = np.argsort(ek)
        ek, ea = ek[order], ea[order]
    return keys, codes, ek, ea


def merged(base: Packed, changes: dict[int, int], expiries: dict[int, float]) -> Packed:
    """A new base: :func:`merged_arrays`, with its directory and filter built."""
    return Packed(*merged_arrays(base, changes, expiries)) if changes else base
