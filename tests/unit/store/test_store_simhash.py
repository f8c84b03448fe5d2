"""SimHash: deterministic, bit-identical on both paths, close for close texts, banded correctly."""

from __future__ import annotations

import ast
import importlib.util
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import service.store
from service.text import simhash as sh
from service.text.simhash import index_keys


def cjk(seed: int, n: int) -> str:
    rnd = random.Random(seed)
    return "".join(chr(0x4E00 + rnd.randrange(0x51A5)) for _ in range(n))


def test_deterministic_and_insensitive_to_whitespace_and_case() -> None:
    text = cjk(1, 500)
    spaced = " ".join(text[i : i + 7] for i in range(0, len(text), 7)) + "\n"
    assert sh.simhash(text) == sh.simhash(text) == sh.simhash(spaced)
    assert sh.simhash("ABC镇江def") == sh.simhash("abc镇江DEF")
    assert sh.simhash("") == sh.simhash("  \n") == 0
    assert 0 < sh.simhash("镇") < 2**64  # shorter than a shingle: one shingle


@given(st.text(min_size=0, max_size=300), st.integers(min_value=1, max_value=8))
def test_numpy_and_pure_paths_agree(text: str, k: int) -> None:
    if sh.np is None:
        pytest.skip("numpy is not installed: only the pure path exists")
    fast = sh.simhash(text, k)
    saved, sh.np = sh.np, None
    try:
        assert sh.simhash(text, k) == fast
    finally:
        sh.np = saved


@pytest.mark.parametrize("n", [1, 4, 5, 199, 800, 2500])
def test_numpy_and_pure_paths_agree_on_long_articles(n: int) -> None:
    """Articles are hundreds to thousands of characters: every bit of the count is exercised."""
    if sh.np is None:
        pytest.skip("numpy is not installed: only the pure path exists")
    for seed in range(3):
        text = cjk(100 * n + seed, n)
        for k in (1, min(4, n)):
            assert sh._simhash_numpy(text, k) == sh._simhash_pure(text, k)


def test_fingerprints_are_frozen() -> None:
    """Stored fingerprints and index keys must never change: values pinned from the first release."""
    text = cjk(5, 1000)
    assert sh.simhash(text) == 0xEAAAE3C57ACDA155
    assert sh.simhash(text, 2) == 0xB959E7477923C1E6


def test_small_edits_move_few_bits_unrelated_texts_many() -> None:
    text = cjk(2, 2000)
    edited = text[:900] + "的" + text[901:]
    other = cjk(3, 2000)
    assert sh.hamming(sh.simhash(text), sh.simhash(edited)) <= 6
    assert sh.hamming(sh.simhash(text), sh.simhash(other)) >= 16


def test_shingle_size_matters() -> None:
    text = cjk(4, 400)
    assert sh.simhash(text, 2) != sh.simhash(text, 5)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_blocks_keys_and_signed_roundtrip(fp: int) -> None:
    blocks = sh.blocks(fp)
    assert len(blocks) == sh.BLOCKS
    rebuilt, shift = 0, 0
    for width, block in zip((13, 13, 13, 13, 12), blocks, strict=True):
        assert 0 <= block < 2**width
        rebuilt |= block << shift
        shift += width
    assert shift == 64 and rebuilt == fp
    keys = sh.index_keys(fp)
    assert [k >> sh.PAIR_BITS for k in keys] == list(range(len(sh.PAIRS))) == list(range(10))
    assert all(0 <= k < 2**31 for k in keys)  # fits the INTEGER key column on both databases
    assert -(2**63) <= sh.to_signed(fp) < 2**63 and sh.to_unsigned(sh.to_signed(fp)) == fp


@given(
    st.integers(min_value=0, max_value=2**64 - 1),
    st.sets(st.integers(0, 63), max_size=sh.INDEX_DISTANCE),
)
def test_pigeonhole_within_the_index_distance_shares_a_key(fp: int, flips: set[int]) -> None:
    other = fp
    for bit in flips:
        other ^= 1 << bit
    assert sh.hamming(fp, other) == len(flips) <= 3
    assert set(sh.index_keys(fp)) & set(sh.index_keys(other))


def test_a_key_holds_two_blocks_so_one_changed_bit_per_block_shares_nothing() -> None:
    # one bit flipped in four of the five blocks: 4 bits apart, no pair agrees, so no shared key
    fp, other, shift = 0x0123_4567_89AB_CDEF, 0x0123_4567_89AB_CDEF, 0
    for width in (13, 13, 13, 13):
        other ^= 1 << shift
        shift += width
    assert sh.hamming(fp, other) == 4
    assert not set(sh.index_keys(fp)) & set(sh.index_keys(other))
    # each key pins 25 or 26 bits: flipping a bit outside a pair keeps that pair's key
    assert sh.index_keys(fp)[0] == sh.index_keys(fp ^ (1 << 63))[0]


VERSIONS = Path(service.store.__file__).parent / "migrations" / "versions"


def _migration(name: str) -> Any:
    path = VERSIONS / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(deadline=None)  # loads the migration each example: no time limit on a busy machine
@given(st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_the_frozen_keys_of_0005_are_the_keys_the_store_writes(fp: int) -> None:
    assert _migration("0005_simhash_pairs").index_keys(fp) == index_keys(fp)


def test_migrations_import_no_live_code() -> None:
    """A migration that imported the schema or the text functions would change meaning with them."""
    for path in sorted(VERSIONS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("service"):
                assert node.module == "service.store.migrations.frozen", f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("service") for a in node.names), path.name
