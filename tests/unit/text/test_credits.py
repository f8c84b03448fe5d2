"""Credits: every form of SITE.md, in both scripts, and lines that must not be taken for credits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.model import CREDIT_ROLES
from service.text.credits import (
    caption_credits,
    parse_credit_line,
    split_leading_credits,
    split_trailing_credits,
)


def roles(line: str) -> dict[str, list[str]]:
    credits = parse_credit_line(line)
    assert credits is not None, line
    out = {r: list(getattr(credits, r)) for r in CREDIT_ROLES if getattr(credits, r)}
    if credits.source:
        out["source"] = [credits.source]
    return out


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("（记者 曾海蓉）", {"reporters": ["曾海蓉"]}),
        ("（全媒体记者 古瑾）", {"reporters": ["古瑾"]}),
        ("（镇江报业全媒体记者陈洁 盛林娟）", {"reporters": ["陈洁", "盛林娟"]}),
        ("(记者 张三 李四 通讯员 王五)", {"reporters": ["张三", "李四"], "correspondents": ["王五"]}),
        ("（记者 陈志奎　通讯员 王五、赵六）", {"reporters": ["陈志奎"], "correspondents": ["王五", "赵六"]}),
        ("本报记者 张三", {"reporters": ["张三"]}),
        ("实习记者 沈雨", {"reporters": ["沈雨"]}),
        ("实习生 李明", {"interns": ["李明"]}),
        ("责任编辑：龚逍遥", {"editors": ["龚逍遥"]}),
        ("编辑:缪小兵", {"editors": ["缪小兵"]}),
        ("责编 刘畅", {"editors": ["刘畅"]}),
        ("编辑:缪小兵 审核:杨佩佩", {"editors": ["缪小兵"], "reviewers": ["杨佩佩"]}),
        ("校对：刘洋", {"reviewers": ["刘洋"]}),
        ("马镇丹 谢道韫 摄", {"photographers": ["马镇丹", "谢道韫"]}),
        ("李斌 朱叶 摄影报道", {"photographers": ["李斌", "朱叶"]}),
        ("王呈 摄影报道", {"photographers": ["王呈"]}),
        ("谢道韫摄", {"photographers": ["谢道韫"]}),
        ("图/王呈", {"photographers": ["王呈"]}),
        ("摄影：朱叶", {"photographers": ["朱叶"]}),
        ("记者 张三 摄", {"photographers": ["张三"]}),
        ("来源：镇江日报", {"source": ["镇江日报"]}),
        ("來源：鎮江日報", {"source": ["鎮江日報"]}),
        ("（記者 曾海蓉 通訊員 王五）", {"reporters": ["曾海蓉"], "correspondents": ["王五"]}),
        ("責任編輯:龔逍遙", {"editors": ["龔逍遙"]}),
        ("马镇丹 謝道韫 攝", {"photographers": ["马镇丹", "謝道韫"]}),
        ("记者 阿依古丽·买买提", {"reporters": ["阿依古丽·买买提"]}),
    ],
)
def test_credit_forms(line: str, expected: dict[str, list[str]]) -> None:
    assert roles(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "记者昨天采访了市民",  # a sentence, not a byline
        "记者",  # a label with no name
        "编辑推荐",
        "1月28日，全市项目攻坚暨产业强市大会召开。",
        "张三 李四",  # names without a role
        "党(工)委书记",
        "",
    ],
)
def test_not_credit_lines(line: str) -> None:
    assert parse_credit_line(line) is None


def test_trailing_byline_is_cut_from_the_paragraph() -> None:
    text, credits = split_trailing_credits("双方现场签约。（记者 陈志奎）")
    assert text == "双方现场签约。"
    assert credits is not None and credits.reporters == ("陈志奎",)


def test_trailing_parenthesis_that_is_not_a_byline_stays() -> None:
    text, credits = split_trailing_credits("全市新增就业岗位（含灵活就业）")
    assert credits is None and text == "全市新增就业岗位（含灵活就业）"


def test_leading_byline() -> None:
    text, credits = split_leading_credits("（记者 古瑾）1月28日，镇江召开会议。")
    assert text == "1月28日，镇江召开会议。"
    assert credits is not None and credits.reporters == ("古瑾",)


@pytest.mark.parametrize(
    ("caption", "names"),
    [
        ("镇江市项目攻坚暨产业强市大会现场。 马镇丹 谢道韫 摄", ("马镇丹", "谢道韫")),
        ("图为活动现场 记者 张三 摄", ("张三",)),
        ("市民在西津渡游览。（李斌 摄）", ("李斌",)),
        ("西津渡街景", ()),
    ],
)
def test_caption_photographers(caption: str, names: tuple[str, ...]) -> None:
    found = caption_credits(caption)
    assert (found.photographers if found else ()) == names


@given(st.text(max_size=200))
def test_parser_never_crashes_and_names_come_from_the_line(text: str) -> None:
    credits = parse_credit_line(text)
    if credits is not None:
        for role in CREDIT_ROLES:
            for name in getattr(credits, role):
                assert name in text


@given(st.text(max_size=200))
def test_trailing_split_loses_no_text(text: str) -> None:
    rest, credits = split_trailing_credits(text)
    if credits is None:
        assert rest == text
    else:
        assert text.startswith(rest)
