"""Credits in the forms other sites print them, each with the counter-example the rule must refuse."""

from __future__ import annotations

import pytest

from service.extract.blocks import Block
from service.extract.body import assemble
from service.text.credits import bare_names, dateline_names, person_names, split_trailing_names


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("胡璐、王立彬", ("胡璐", "王立彬")),
        ("常书香 马丹阳 ", ("常书香", "马丹阳")),
        ("阿依古丽·买买提", ("阿依古丽·买买提",)),
        # counter-examples: an organisation is not a person; a photo credit is not a bare name
        ("中国日报", ()),
        ("新华网", ()),
        ("杨文斌摄", ()),
        ("本报评论员", ()),
        ("张三、李四、王五、赵六、钱七", ()),  # more than a byline holds: a list
    ],
)
def test_bare_names(text: str, names: tuple[str, ...]) -> None:
    assert bare_names(text) == names


@pytest.mark.parametrize(
    ("paragraph", "names"),
    [
        ("新华社北京5月19日电（胡璐、王立彬）记者19日从国家粮食和物资储备局获悉", ("胡璐", "王立彬")),
        ("中新网上海5月19日电（陈静 李佳佳）", ("陈静", "李佳佳")),
        # counter-examples: a role word (parsed as a labelled credit elsewhere), an organisation, no dateline
        ("新华社北京5月19日电（记者胡璐）", ()),
        ("新华社北京5月19日电（国际锐评评论员）", ()),
        ("他在会上说（张三、李四）都到了。", ()),
    ],
)
def test_dateline_names(paragraph: str, names: tuple[str, ...]) -> None:
    assert dateline_names(paragraph) == names


@pytest.mark.parametrize(
    ("paragraph", "rest", "names"),
    [
        (
            "据了解，灯光工程每晚19时至23时开放。（陈思远）",
            "据了解，灯光工程每晚19时至23时开放。",
            ("陈思远",),
        ),
        ("（陈思远）", "", ("陈思远",)),
        ("…新春佳节。（常书香 马丹阳 ）", "…新春佳节。", ("常书香", "马丹阳")),
        # counter-examples: one name glossing a word inside a sentence; a photographer's credit
        ("“这是我们村的带头人（张建国）", "“这是我们村的带头人（张建国）", ()),
        ("农民在田间收割小麦。新华社发（杨文斌摄）", "农民在田间收割小麦。新华社发（杨文斌摄）", ()),
    ],
)
def test_trailing_names(paragraph: str, rest: str, names: tuple[str, ...]) -> None:
    assert split_trailing_names(paragraph) == (rest, names)


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("沈立群", ("沈立群",)),
        ("作者：记者 王海燕", ("王海燕",)),
        ("【作者：周宛秋 】", ("周宛秋",)),
        ("张三 李四", ("张三", "李四")),
        # counter-examples: the paper, the site, a CMS account, an editor's credit
        ("江南晚报", ()),
        ("金山网", ()),
        ("admin", ()),
        ("责任编辑：钟敏", ()),
        ("https://www.facebook.com/someone", ()),
    ],
)
def test_person_names_of_a_byline_field(field: str, names: tuple[str, ...]) -> None:
    assert person_names(field) == names


def blocks(*texts: str) -> list[Block]:
    return [Block(text=t) for t in texts]


def test_byline_group_below_an_ad_line_is_read() -> None:
    parts = assemble(
        blocks(
            "扫码下载客户端 看更多本地新闻",
            "（记者孙明）昨日，首批500辆共享电单车在主城区投放，市民扫码即可骑行。",
            "交警部门提醒，骑行电单车须佩戴头盔。",
        ),
        skip_texts=set(),
        lead_tags=(),
        traditional=False,
    )
    assert parts.credits.reporters == ("孙明",)
    assert parts.paragraphs[1].startswith("昨日，")


def test_a_parenthesis_in_a_later_paragraph_is_not_a_byline() -> None:
    parts = assemble(
        blocks("第一段。", "第二段。", "第三段。", "（记者孙明）第四段，不在导语里。"),
        skip_texts=set(),
        lead_tags=(),
        traditional=False,
    )
    assert parts.credits.reporters == ()


def test_an_agency_photo_credit_is_a_photographer_only() -> None:
    parts = assemble(
        blocks(
            "新华社北京5月19日电（胡璐、王立彬）记者19日获悉，全国夏粮收购工作有序启动。",
            "5月18日，农民在田间收割小麦。新华社发（杨文斌摄）",
            "各地将提前做好仓容、资金、人员等准备。",
        ),
        skip_texts=set(),
        lead_tags=(),
        traditional=False,
    )
    assert parts.credits.photographers == ("杨文斌",)
    assert "杨文斌" not in parts.bare_writers and parts.bare_writers == ("胡璐", "王立彬")
    assert all("杨文斌" not in p for p in parts.paragraphs)  # the caption is not body text
