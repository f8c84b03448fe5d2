"""Normalisation: spaces, mirror pinyin, Traditional → Simplified, the hashing form."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from service.text.normalize import clean_spaces, hash_text, is_traditional, strip_pinyin, to_display

MIRROR = "鎮(zhèn)江市項(xiàng)目攻堅(jiān)暨產(chǎn)業(yè)強(qiáng)市大會(huì)召開(kāi)"
ORIGINAL = "镇江市项目攻坚暨产业强市大会召开"


def test_spaces_of_every_kind_fold_to_one() -> None:
    assert clean_spaces("\u3000\u3000甲\u00a0 乙\u200b丙\t\n丁 ") == "甲 乙丙 丁"


def test_mirror_text_comes_back_to_the_original() -> None:
    assert to_display(MIRROR) == ORIGINAL
    assert hash_text(MIRROR) == hash_text(ORIGINAL)


def test_ordinary_parentheses_stay() -> None:
    assert strip_pinyin("党(工)委和街道(社区)") == "党(工)委和街道(社区)"
    assert to_display("党(工)委") == "党(工)委"


def test_toneless_pinyin_is_stripped_only_among_toned_annotations() -> None:
    assert strip_pinyin("的(de)") == "的(de)"
    assert strip_pinyin("鎮(zhèn)江(jiāng)市(shì)的(de)") == "鎮江市的"


def test_full_width_parentheses_pinyin() -> None:
    assert strip_pinyin("鎮（zhèn）江（jiāng）市（shì）") == "鎮江市"


def test_detects_traditional() -> None:
    assert is_traditional("鎮江市項目攻堅暨產業強市大會召開")
    assert not is_traditional(ORIGINAL)
    assert not is_traditional("")


def test_hash_ignores_punctuation_width_and_spaces() -> None:
    assert hash_text("镇江，召开 大会。") == hash_text("镇江,召开大会.")


@given(st.text(max_size=300))
def test_clean_spaces_is_idempotent_and_keeps_non_space_text(text: str) -> None:
    once = clean_spaces(text)
    assert clean_spaces(once) == once
    kept = [c for c in text if not c.isspace() and c not in "\u200b\u200c\u200d\u2060\ufeff\u00ad"]
    assert [c for c in once if not c.isspace()] == kept


@given(st.text(alphabet=st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=200))
def test_display_of_simplified_chinese_loses_no_character(text: str) -> None:
    if not is_traditional(text):
        assert to_display(text) == text.strip()
    assert len(to_display(text)) <= len(text)


@given(st.text(max_size=300))
def test_normalisers_never_crash(text: str) -> None:
    to_display(text)
    hash_text(text)
