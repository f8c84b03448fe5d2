"""HTML of the Founder (方正) products: old GBK article pages, their archive list, and the e-paper.

Old pages are returned as ``str`` and encoded to GBK by the caller: they declare ``gb2312`` and
contain GBK-only characters (镕 堃 喆 玥), which is what makes a decoder that trusts the declaration
fail. E-paper links are relative (``../../../content/…``), as the product writes them, so the
crawler's URL resolution is exercised.
"""

from __future__ import annotations

from html import escape

from tests.e2e.replica.catalog import EPAPER_PAGE_NAMES, OldEntry, PaperEntry, layout_path
from tests.e2e.replica.pages import body_blocks
from tests.e2e.replica.stories import Story


def old_article(entry: OldEntry, story: Story) -> str:
    """An old article page in the Founder table layout (to be encoded as GBK)."""
    if entry.dated_only:
        meta = f"发布时间：{entry.published:%Y-%m-%d} 来源：{escape(story.source or '')}"
    else:
        meta = f"发布时间：{entry.published:%Y-%m-%d %H:%M} 金山网 www.jsw.com.cn 【字体：<a>放大</a> <a>缩小</a> <a>默认</a>】"
    editor = f"责任编辑：{escape(story.editors[0])}" if story.editors else ""
    return (
        '<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html; charset=gb2312">\n'
        f"<title>{escape(story.title)}_金山网</title>\n</head>\n<body>\n"
        '<table width="980" align="center"><tr><td class="logo"><a href="/">金山网</a> '
        '<a href="/archive/index.htm">往期回顾</a></td></tr>\n'
        f'<tr><td class="position">您现在的位置: <a href="/">镇江新闻</a> &gt; <a href="/archive/index.htm">'
        f"{escape(entry.channel)}</a></td></tr></table>\n"
        '<table width="980" align="center">\n'
        f'<tr><td class="title" align="center">{escape(story.title)}</td></tr>\n'
        f'<tr><td class="time" align="center">{meta}</td></tr>\n'
        f'<tr><td><div id="content">\n{body_blocks(story, 0, len(story.paragraphs), last_page=True)}\n</div></td></tr>\n'
        f'<tr><td align="right" class="editor">{editor}</td></tr>\n'
        "</table>\n"
        '<table width="980" align="center"><tr><td class="copyright">镇江日报社 版权所有 苏ICP备05003316号</td></tr>'
        "</table>\n</body>\n</html>\n"
    )


def archive_list(entries: list[OldEntry], titles: list[str]) -> str:
    """The old site's archive list linking every old article (to be encoded as GBK)."""
    rows = "".join(
        f'<tr><td><a href="{e.path}" target="_blank">{escape(t)}</a></td><td>{e.published:%Y-%m-%d}</td></tr>\n'
        for e, t in zip(entries, titles, strict=True)
    )
    return (
        '<html>\n<head>\n<meta http-equiv="Content-Type" content="text/html; charset=gb2312">\n'
        "<title>往期回顾_金山网</title>\n</head>\n<body>\n"
        '<table width="980" align="center"><tr><td class="position">您现在的位置: <a href="/">首页</a> &gt; 往期回顾'
        "</td></tr></table>\n"
        f'<table width="980" align="center" class="list">\n{rows}</table>\n</body>\n</html>\n'
    )


def _page_label(page: int) -> str:
    return f"第{page:02d}版:{EPAPER_PAGE_NAMES[(page - 1) % len(EPAPER_PAGE_NAMES)]}"


def _page_list(issue_path_prefix: str, pages: int) -> str:
    lis = "".join(
        f'<li><a href="{issue_path_prefix}node_{p:02d}.html">{_page_label(p)}</a></li>'
        for p in range(1, pages + 1)
    )
    return f'<div id="pageList"><ul>{lis}</ul></div>\n'


def _title_list(entries: list[PaperEntry], titles: list[str], prefix: str) -> str:
    lis = "".join(
        f'<li><a href="{prefix}{e.path.rsplit("/", 1)[1]}">{escape(t)}</a></li>'
        for e, t in zip(entries, titles, strict=True)
    )
    return f'<div id="titleList"><ul>{lis}</ul></div>\n'


def layout(
    issue_date: str, page: int, pages: int, entries: list[PaperEntry], titles: list[str], prev_issue: str | None
) -> str:
    """A page ("版面") of an issue: the issue's page list and the titles of this page's articles."""
    yyyymm, dd = issue_date[:6], issue_date[6:]
    prev = f'<a href="../../../layout/{prev_issue[:6]}/{prev_issue[6:]}/node_01.html">前一期</a>' if prev_issue else ""
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>镇江日报-{_page_label(page)}</title>\n</head>\n<body>\n"
        f'<div class="paper-head"><span class="paper-date">{yyyymm[:4]}年{yyyymm[4:]}月{dd}日</span> '
        f'<span class="paper-page">{_page_label(page)}</span> {prev}</div>\n'
        f'<div class="paper-main"><img src="../../../images/{yyyymm}/{dd}/page_{page:02d}.jpg" usemap="#PagePicMap">\n'
        f'<a href="../../../images/{yyyymm}/{dd}/page_{page:02d}.pdf" class="pdf">PDF 下载</a>\n'
        f"{_page_list('', pages)}"
        f"{_title_list(entries, titles, f'../../../content/{yyyymm}/{dd}/')}"
        "</div>\n</body>\n</html>\n"
    )


def epaper_article(entry: PaperEntry, story: Story, pages: int, siblings: list[PaperEntry], titles: list[str]) -> str:
    """An e-paper article with the Founder ``enpproperty`` comment, ``#ozoom`` body and side lists."""
    sub = escape(story.subtitle or "")
    issue = entry.issue
    enp = (
        f"<!--enpproperty <articleid>{entry.n}</articleid><date>{issue:%Y-%m-%d} 00:00:00:0</date>"
        f"<author></author><title>{escape(story.title)}</title><keyword></keyword><subtitle>{sub}</subtitle>"
        f"<introtitle></introtitle><siteid>1</siteid><nodeid>{1000 + entry.page}</nodeid>"
        f"<nodename>{entry.page_label}</nodename><nodesearchname></nodesearchname><picurl></picurl>"
        f"<url>content_{entry.n}.html</url><sourcename>镇江日报</sourcename>/enpproperty-->"
    )
    subtitle = f"<h2><founder-subtitle>{sub}</founder-subtitle></h2>\n" if story.subtitle else ""
    layout_dir = f"../../../layout/{issue:%Y%m/%d}/"
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(story.title)}-镇江日报</title>\n</head>\n<body>\n{enp}\n"
        f'<div class="paper-head"><span class="paper-date">{issue:%Y年%m月%d日}</span> '
        f'<span class="paper-page">{entry.page_label}</span> '
        f'<a href="{layout_dir}node_{entry.page:02d}.html">返回版面</a></div>\n'
        f'<div class="side">\n{_page_list(layout_dir, pages)}{_title_list(siblings, titles, "")}</div>\n'
        f'<div class="article">\n<h1><founder-title>{escape(story.title)}</founder-title></h1>\n{subtitle}'
        f'<div id="ozoom"><founder-content>\n{body_blocks(story, 0, len(story.paragraphs), last_page=True)}\n'
        "</founder-content></div>\n</div>\n</body>\n</html>\n"
    )


__all__ = ["archive_list", "epaper_article", "layout", "layout_path", "old_article"]
