"""64-bit SimHash over character shingles of a normalised text: the near-duplicate fingerprint.

Pure functions, no I/O. ``store`` calls ``simhash`` on ``Article.normalized_text`` (already
Simplified, without spaces or punctuation) and looks the fingerprint up through a banded index:
two texts a few characters apart get fingerprints a few bits apart. ``index_keys`` cuts the 64 bits
into ``BLOCKS`` blocks and keys each *pair* of blocks: two fingerprints within ``INDEX_DISTANCE``
bits (3) differ in at most that many blocks, so at least ``BLOCKS - INDEX_DISTANCE`` = 2 blocks
agree and they share the key of that pair (pigeonhole). A key holds 25 or 26 bits, so a probe
returns about N / 2**25 unrelated fingerprints: the work per lookup (10 probes, next to no
candidates) stays the same into the tens of millions, where 16-bit bands returned N / 65,536 per
probe. Six blocks would give recall up to 4 bits, at 15 probes and 15 index rows per article: the
store's throughput fell below its target, so 3 it is.

Each shingle is hashed with a polynomial rolling hash of its code points followed by the
SplitMix64 finaliser: deterministic across processes and machines (Python's ``hash`` is salted per
process, so it cannot be used), and computable in one vectorised pass. numpy is used when it is
installed (about 100x faster on an 800-character article); a pure-Python path gives bit-identical results.
"""

from __future__ import annotations

from collections.abc import Sequence

try:  # numpy is an accelerator, not a requirement: the pure path gives the same fingerprints
    import numpy as np
except ImportError:  # pragma: no cover - exercised by forcing the pure path in tests
    np = None  # type: ignore[assignment]

BITS = 64
#: the blocks the fingerprint is cut into: widths 13, 13, 13, 13, 12 (lowest bits first)
BLOCKS = 5
#: any two fingerprints within this many bits share an index key; no larger threshold is exact
INDEX_DISTANCE = BLOCKS - 2
_MASK = (1 << BITS) - 1
_WIDTHS = tuple(BITS // BLOCKS + (i < BITS % BLOCKS) for i in range(BLOCKS))
#: the pairs of blocks, in a fixed order: the pair's position is part of its key
PAIRS = tuple((i, j) for i in range(BLOCKS) for j in range(i + 1, BLOCKS))
#: bits of a key below the pair number (the widest pair: 13 + 13)
PAIR_BITS = 2 * max(_WIDTHS)
#: multiplier of the rolling hash (a large odd constant; any would do, this one is fixed forever)
_P = 0x100000001B3
_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
if np is not None:
    #: bit i of each byte value, as a 256 x 8 matrix; the offset of byte position j in a count
    _BYTE_BITS = np.array([[(v >> i) & 1 for i in range(8)] for v in range(256)], dtype=np.float64)
    _BYTE_OFFSETS = np.arange(8, dtype=np.intp) * 256


def prepare(text: str) -> str:
    """The hashing form of ``text``: whitespace removed, case folded (Latin letters in Chinese text)."""
    return "".join(text.split()).casefold()


def simhash(text: str, shingle_size: int = 4) -> int:
    """The 64-bit SimHash (an unsigned int) of ``text``'s overlapping ``shingle_size``-char shingles.

    A text shorter than one shingle is one shingle; an empty text has fingerprint 0.
    """
    return simhash_prepared(prepare(text), shingle_size)


def simhash_prepared(text: str, shingle_size: int = 4) -> int:
    """``simhash`` of a text already in its hashing form (``prepare``): the work without the copy."""
    if not text:
        return 0
    k = max(1, min(shingle_size, len(text)))
    if np is not None:
        return _simhash_numpy(text, k)
    return _simhash_pure(text, k)


def _simhash_numpy(text: str, k: int) -> int:
    codes = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    m = len(codes) - k + 1
    h = codes[:m].copy()
    p = np.uint64(_P)
    for j in range(1, k):  # uint64 arithmetic wraps modulo 2**64, like the masks of the pure path
        h *= p
        h += codes[j : j + m]
    h += np.uint64(_GOLDEN)
    h ^= h >> np.uint64(30)
    h *= np.uint64(_MIX1)
    h ^= h >> np.uint64(27)
    h *= np.uint64(_MIX2)
    h ^= h >> np.uint64(31)
    # how many hashes set each bit: one count of the values of each byte (position j of 8, little
    # endian) times the bits of each value; half the time of unpacking every bit and summing
    octets = h.astype("<u8", copy=False).view(np.uint8).reshape(m, 8).astype(np.intp) + _BYTE_OFFSETS
    per_value = np.bincount(octets.ravel(), minlength=8 * 256).reshape(8, 256).astype(np.float64)
    counts = (per_value @ _BYTE_BITS).ravel()  # bit 8 * j + i; exact: whole numbers far below 2**53
    majority = np.packbits(2 * counts > m, bitorder="little")  # as ``_majority``: ties unset
    return int.from_bytes(majority.tobytes(), "little")


def _simhash_pure(text: str, k: int) -> int:
    codes = [ord(c) for c in text]
    hashes = [_mix(_poly(codes[i : i + k])) for i in range(len(codes) - k + 1)]
    counts = [sum((h >> bit) & 1 for h in hashes) for bit in range(BITS)]
    return _majority(counts, len(hashes))


def _poly(codes: Sequence[int]) -> int:
    h = 0
    for c in codes:
        h = (h * _P + c) & _MASK
    return h


def _mix(h: int) -> int:
    """SplitMix64 finaliser: spreads the rolling hash over all 64 bits."""
    z = (h + _GOLDEN) & _MASK
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK
    return z ^ (z >> 31)


def _majority(counts: Sequence[int], n: int) -> int:
    """Bit i is set when more than half of the ``n`` shingle hashes have it set (ties: unset)."""
    fp = 0
    for bit, count in enumerate(counts):
        if 2 * count > n:
            fp |= 1 << bit
    return fp


def hamming(a: int, b: int) -> int:
    """Number of differing bits between two fingerprints."""
    return ((a ^ b) & _MASK).bit_count()


def blocks(fp: int) -> tuple[int, ...]:
    """The ``BLOCKS`` slices of ``fp``, lowest bits first (the first ``BITS % BLOCKS`` are one bit wider)."""
    fp &= _MASK
    out = []
    for width in _WIDTHS:
        out.append(fp & ((1 << width) - 1))
        fp >>= width
    return tuple(out)


def index_keys(fp: int) -> tuple[int, ...]:
    """One integer per pair of blocks, ``pair_no << PAIR_BITS | block_i << width_j | block_j``.

    A single indexed column serves every pair; keys of different pairs never collide.
    """
    b = blocks(fp)
    return tuple((n << PAIR_BITS) | (b[i] << _WIDTHS[j]) | b[j] for n, (i, j) in enumerate(PAIRS))


def to_signed(fp: int) -> int:
    """``fp`` as a signed 64-bit integer, the range of SQL BIGINT."""
    fp &= _MASK
    return fp - (1 << BITS) if fp >= 1 << (BITS - 1) else fp


def to_unsigned(value: int) -> int:
    """Inverse of ``to_signed``."""
    return value & _MASK
