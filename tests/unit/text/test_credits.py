"""Credits: every form of SITE.md, in both scripts, and lines that must not be taken for credits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.model import CREDIT_ROLES
from service.text.credits import (
    caption_credits,
    credit_lines,
    dateline_credits,
    parse_credit_line,
    split_leading_credits,
    split_trailing_credits,
    split_trailing_names,
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
        ("校对：刘洋", {"proofreaders": ["刘洋"]}),
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
def test_site_credit_forms(line: str, expected: dict[str, list[str]]) -> None:
    assert roles(line) == expected


# Forms of real pages of other news sites (issue #10): a changed template may bring any of them.
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("本报记者 王乐文 方 敏", {"reporters": ["王乐文", "方敏"]}),  # a two-character name spaced out
        ("澎湃新闻记者 贺梨萍", {"reporters": ["贺梨萍"]}),
        ("中青报·中青网记者 魏其濛 来源：中国青年报", {"reporters": ["魏其濛"], "source": ["中国青年报"]}),
        ("□ 本报记者 葛灵丹", {"reporters": ["葛灵丹"]}),
        ("作者：曹磊", {"reporters": ["曹磊"]}),
        ("作者︱春春", {"reporters": ["春春"]}),
        ("文/图 刘玺东 易赛楠", {"reporters": ["刘玺东", "易赛楠"], "photographers": ["刘玺东", "易赛楠"]}),
        ("文丨政能亮特约评论员 韩涵", {"reporters": ["韩涵"]}),
        ("（评论员 罗博 萧海川）", {"reporters": ["罗博", "萧海川"]}),
        ("发布日期：2019-03-06 责任编辑：龙慧", {"editors": ["龙慧"]}),
        ("[作者: 刘满仓 责任编辑: 杨丹宇 ]", {"reporters": ["刘满仓"], "editors": ["杨丹宇"]}),
        ("来源：巴彦淖尔日报 编辑：苏亮", {"editors": ["苏亮"], "source": ["巴彦淖尔日报"]}),
        ("编辑 刘晓阳 校对 李铭", {"editors": ["刘晓阳"], "proofreaders": ["李铭"]}),
        ("本文来源：新京报 责任编辑：姚立伟_NT6056", {"editors": ["姚立伟"], "source": ["新京报"]}),
        ("责编：黄忆南 PN269", {"editors": ["黄忆南"]}),
        ("新京报记者 彭冲 山东冠县报道", {"reporters": ["彭冲"]}),
        ("整合 新华日报·交汇点记者 徐睿翔", {"reporters": ["徐睿翔"]}),
        ("顶端新闻·河南商报记者马俊峰/文受访者供图", {"reporters": ["马俊峰"]}),
        ("(作者：方敏北京大学经济学院教授)", {"reporters": ["方敏"]}),
        ("（实习生王金茹对此文亦有贡献）", {"interns": ["王金茹"]}),
        ("医技药剂党支部、药剂科供稿 摄影/张艳 编辑/苏芳", {"photographers": ["张艳"], "editors": ["苏芳"]}),
        ("（松花江网编辑 孙桂芳）", {"editors": ["孙桂芳"]}),
        ("审 读：崔向升", {"reviewers": ["崔向升"]}),
        ("选稿：许文杰", {"editors": ["许文杰"]}),
        ("蔡雪婧/摄", {"photographers": ["蔡雪婧"]}),
        ("本文来源于 国家统计局 2024-05-11 09:36:26", {"source": ["国家统计局"]}),
        ("（记者陈智 整合）", {"reporters": ["陈智"]}),
        ("本文来源于北京商报 2024-05-20 09:47:48", {"source": ["北京商报"]}),
        ("新华网黑龙江频道 记者 伊琳 李清芬", {"reporters": ["伊琳", "李清芬"]}),
    ],
)
def test_credit_forms_of_other_sites(line: str, expected: dict[str, list[str]]) -> None:
    assert roles(line) == expected


@pytest.mark.parametrize("line", ["总监制：邹 明", "监 制：高明勇", "责任编辑："])
def test_staff_and_empty_credit_lines_are_credit_lines_that_keep_nobody(line: str) -> None:
    credits = parse_credit_line(line)
    assert credits is not None and not any(getattr(credits, r) for r in CREDIT_ROLES)


@pytest.mark.parametrize(
    ("paragraph", "names"),
    [
        ("新华社深圳5月12日电（记者戴小河、印朋）记者12日从深圳市获悉，", ("戴小河", "印朋")),
        ("据新华社拉萨电（记者 格桑边觉）近年来，西藏", ("格桑边觉",)),
        ("北京商报讯（记者 岳品瑜 董晗萱）5月20日，", ("岳品瑜", "董晗萱")),
        ("长江网10月4日讯（记者陈智 整合）国庆假期", ("陈智",)),
    ],
)
def test_dateline_credits(paragraph: str, names: tuple[str, ...]) -> None:
    credits = dateline_credits(paragraph)
    assert credits is not None and credits.reporters == names


def test_dateline_needs_its_parenthesis() -> None:
    assert dateline_credits("本报讯 昨天，记者来到现场。") is None


def test_bare_names_in_a_trailing_parenthesis() -> None:
    assert split_trailing_names("…过一个廉洁的新春佳节。（常书香 马丹阳 ）")[1] == ("常书香", "马丹阳")
    assert split_trailing_names("（刘艺、杨吉）")[1] == ("刘艺", "杨吉")
    assert split_trailing_names("他对记者说（张三）")[1] == ()  # one name glossing a sentence
    assert split_trailing_names("全市新增就业岗位（含灵活就业）")[1] == ()


def test_credit_words_found_in_page_text() -> None:
    text = "首页 > 新闻\n标题\n2024-05-20 来源：新华社\n正文第一段。\n（责任编辑：王五）\n记者博客"
    lines = [line for _, line in credit_lines(text)]
    assert lines == ["（责任编辑：王五）", "记者博客"]
    assert parse_credit_line("记者博客") is None  # a link, not a byline


@pytest.mark.parametrize(
    "line",
    ["（经济日报评论员）", "作者：医技药剂党支部", "记者 张三昨天说。"],
)
def test_organisations_and_prose_are_not_credits(line: str) -> None:
    assert parse_credit_line(line) is None


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
        squeezed = "".join(text.split())  # "方 敏" is credited as 方敏
        for role in CREDIT_ROLES:
            for name in getattr(credits, role):
                assert name in squeezed


@given(st.text(max_size=200))
def test_trailing_split_loses_no_text(text: str) -> None:
    rest, credits = split_trailing_credits(text)
    if credits is None:
        assert rest == text
    else:
        assert text.startswith(rest)
