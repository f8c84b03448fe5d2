"""The generic layer on templates no profile knows: titles cut from <title>, dates from labels,
list pages refused on their structure, widget lines out of the body, a lone photo credit kept."""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser

from service.errors import NotAnArticle
from service.extract import extract_article
from service.extract.generic import generic_title, labelled_date, title_above, title_core
from service.settings import load_settings

PROFILE = load_settings(environ={}).profile
URL = "https://news.example.cn/a/20240520/123.html"
PROSE = "记者从市发展改革委获悉，今年以来全市重大项目建设进展顺利，一季度完成投资超过三百亿元，同比增长百分之十二。"


@pytest.mark.parametrize(
    ("full", "core"),
    [
        (
            "5月LPR按兵不动：1年期为3.45%_经济_宏观频道首页_财经网 - CAIJING.COM.CN",
            "5月LPR按兵不动：1年期为3.45%",
        ),
        ("17种产品入选国家绿色制造名单 - 要闻云南 - 云南日报网", "17种产品入选国家绿色制造名单"),
        (
            "为建设凝聚力量——热烈祝贺市政协会议开幕_巴彦淖尔市人民政府网",
            "为建设凝聚力量——热烈祝贺市政协会议开幕",
        ),
        (
            "书记市长这一周 | 奋马扬鞭争春色，“虎”力全开向未来",
            "书记市长这一周 | 奋马扬鞭争春色，“虎”力全开向未来",
        ),
        (
            "多数夫妻生活有名无实 日本无性婚姻问题严重(图)--雅虎新闻",
            "多数夫妻生活有名无实 日本无性婚姻问题严重(图)",
        ),
        (
            "刺死辱母者于欢的罪与悔：出狱第一晚仅睡三四个小时_苏银",
            "刺死辱母者于欢的罪与悔：出狱第一晚仅睡三四个小时",
        ),
        ("经济日报评论员：再驳“中国新能源产能过剩论”_腾讯新闻", "经济日报评论员：再驳“中国新能源产能过剩论”"),
    ],
)
def test_title_core_cuts_site_and_channel_names(full: str, core: str) -> None:
    assert title_core(full) == core


def test_the_heading_that_matches_the_title_wins_over_a_logo_h1() -> None:
    tree = LexborHTMLParser(
        "<title>土豆不“土” 土豆无“土” 松花江网</title><body><h1>松花江网</h1><h1>全新首页 焕新登场</h1>"
        "<h2 id='cont_title'>土豆不“土” 土豆无“土”</h2></body>"
    )
    hints = ["", "土豆不“土” 土豆无“土” 松花江网"]
    assert generic_title(tree, hints, ("松花江网",)) == "土豆不“土” 土豆无“土”"


def test_a_title_and_its_subtitle_in_one_h1() -> None:
    tree = LexborHTMLParser(
        "<title>拿起跨界“指挥棒”成长--大河网</title><h1>拿起跨界“指挥棒”成长<br>年过五十的她带领乐团</h1>"
    )
    assert generic_title(tree, ["", "拿起跨界“指挥棒”成长--大河网"]) == "拿起跨界“指挥棒”成长"


def test_without_title_or_h1_the_headline_above_the_body() -> None:
    text = (
        "首页 > 汽车\n推荐 我要说说\n广汽回应现代合资内幕 全面合作项目即将展开\n2005-07-18 13:03:17\n" + PROSE
    )
    assert title_above(text, PROSE[:16]) == "广汽回应现代合资内幕 全面合作项目即将展开"


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("本文来源于\n北京商报\n　\n2024-05-20 09:47:48", "2024-05-20"),
        ("正文。\n发布日期：2019-03-06 责任编辑：龙慧", "2019-03-06"),
        ("时间：2022年02月13日", "2022-02-13"),
    ],
)
def test_labelled_dates_anywhere(text: str, day: str) -> None:
    found = labelled_date(text)
    assert found is not None and found.date().isoformat() == day


def _page(body: str, *, sidebar: str = "", title: str = "市重大项目建设进展顺利") -> bytes:
    return (
        f"<html><head><title>{title}_某某新闻网</title></head><body><div class='nav'>"
        + "".join(f"<a href='/c{i}/'>频道{i}</a>" for i in range(12))
        + f"</div><h1>{title}</h1><div class='info'>2024-05-20 09:30 来源：某某日报</div>"
        f"<div class='main'>{body}</div><div class='side'>{sidebar}</div></body></html>"
    ).encode()


SIDEBAR = (
    "<ul>"
    + "".join(
        f"<li><a href='/a/2024052{i % 10}/{900 + i}.html'>第{i}条热点新闻的标题文字在这里</a><span>05-2{i % 10}</span></li>"
        for i in range(40)
    )
    + "</ul>"
)


def test_a_one_paragraph_flash_item_beside_a_large_sidebar_is_an_article() -> None:
    article = extract_article(_page(f"<p>{PROSE}</p>", sidebar=SIDEBAR), URL, profile=PROFILE)
    assert article.body_text == PROSE and article.title == "市重大项目建设进展顺利"


def test_an_article_with_a_list_in_it_is_an_article() -> None:
    winners = "".join(f"<p>第{i}名 镇江市第{i}中学代表队</p>" for i in range(12))
    article = extract_article(_page(f"<p>{PROSE}</p>{winners}<p>{PROSE[::-1]}</p>"), URL, profile=PROFILE)
    assert "第11名" in article.body_text


def test_a_one_paragraph_article_is_not_outvoted_by_the_footer() -> None:
    footer = (
        "<div class='footer'><p>有意与本刊合作者，有关合作事宜请与本网联系。未经本网书面授权，请勿转载或建立镜像，否则即为侵权。</p>"
        "<p>违法和不良信息举报电话（涉网络暴力有害信息举报、未成年人举报）：010-85651074 举报邮箱：jubao@example.cn</p>"
        "<p>Copyright © 2024 某某新闻网 版权所有 京ICP证090130号 京公网安备11010502012345号</p></div>"
    )
    article = extract_article(_page(f"<p>{PROSE}</p>", sidebar=footer), URL, profile=PROFILE)
    assert article.body_text == PROSE


def test_a_table_of_contents_is_a_list_page() -> None:
    items = "".join(
        f"<p>第{i}篇 政治经济学视角下的中国式现代化道路研究</p><p>张素峰;陈家刚</p>" for i in range(12)
    )
    with pytest.raises(NotAnArticle) as info:
        extract_article(
            _page(f"<p>2022年第4期</p><p>目录</p>{items}", title="期刊要览"), URL, profile=PROFILE
        )
    assert info.value.reason == "list_page"


def test_a_ranking_of_links_is_a_list_page() -> None:
    with pytest.raises(NotAnArticle) as info:
        extract_article(_page(SIDEBAR + SIDEBAR, title="新闻排行榜"), URL, profile=PROFILE)
    assert info.value.reason == "list_page"


@pytest.mark.parametrize(
    "line",
    [
        "分享让更多人看到",
        "展开全文",
        "图集",
        "Play Video 0:00 /2:54",
        "关键字： LPR",
        "《光明日报》（ 2022年02月13日 02版）",
        "（原标题：“黑五”战役打响 亚马逊海外购登陆拼多多）",
        "原标题：春季学期开学，织密返校疫情防控网",
        "(本文来自澎湃新闻，更多原创资讯请下载“澎湃新闻”APP)",
        "受访者供图",
    ],
)
def test_widget_and_note_lines_leave_the_body(line: str) -> None:
    article = extract_article(_page(f"<p>{PROSE}</p><p>{line}</p><p>{PROSE[::-1]}</p>"), URL, profile=PROFILE)
    assert line not in article.body_text and PROSE in article.body_text


def test_a_mirror_photo_credit_without_its_image_goes_to_photographers() -> None:
    caption = "鎮江市項目攻堅暨產業強市大會現場。 馬(mǎ)鎮(zhèn)丹 謝(xiè)道韞(yùn) 攝(shè)"
    body = f"<p>金山網(wǎng)訊 {PROSE}</p><p>{caption}</p><p>責(zé)任編(biān)輯:龔(gōng)逍遙</p>"
    article = extract_article(_page(body), URL, profile=PROFILE)
    assert article.credits.photographers == ("马镇丹", "谢道韫")
    assert "摄" not in article.body_text
