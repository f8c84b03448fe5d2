"""HTML of current article pages: the "cmstop" template of config/sites/jsw.toml and a "generic" one.

The cmstop markup uses exactly the class names the site profile expects (div.article > h1,
.article-info .time/.source, .crumb, #article-content, .article-editor, .share, .related) so that the
profile layer is exercised; the generic template (.news_detail, .detail_con, .weizhi) uses names no
profile knows, so the crawler must fall back to its generic extractor. Both carry the ugly parts of
a real page: navigation, sidebar, related list, share bar, footer, inline script.
"""

from __future__ import annotations

from html import escape

from tests.e2e.replica.catalog import CHANNELS, SiteEntry
from tests.e2e.replica.stories import Story

FOREIGN = (("金山论坛", "http://bbs.jsw.com.cn/forum.php"), ("中国镇江", "http://www.zhenjiang.gov.cn/"))
Link = tuple[str, str, str]  # href, text, date


def nav(epaper_href: str) -> str:
    """Top navigation shared by the site's pages (links the channels, the forum and the e-paper)."""
    items = [("/", "首页"), ("/news/", "新闻中心")] + [(c.path, c.name) for c in CHANNELS]
    items += [(epaper_href, "数字报"), ("/archive/index.htm", "往期回顾"), ("/search/?q=镇江", "搜索")]
    items += [(href, text) for text, href in FOREIGN]
    lis = "".join(f'<li><a href="{escape(h)}">{escape(t)}</a></li>' for h, t in items)
    return f'<div class="header"><a href="/" class="logo"><img src="/images/logo.png" alt="金山网"></a>' \
        f'<img src="/images/spacer.gif" width="1" height="1" alt=""><ul class="nav">{lis}</ul></div>\n'


FOOTER = (
    '<div class="footer"><p><a href="/about/">关于我们</a> | <a href="/contact/">联系我们</a></p>'
    "<p>镇江日报社 版权所有 金山网 www.jsw.com.cn 未经授权禁止复制或建立镜像</p>"
    "<p>苏ICP备05003316号 苏公网安备32110202000123号</p>"
    # the same 1×1 GIF as the header's spacer, under another name (a revisit record, not a copy)
    '<img src="/images/blank.gif" alt=""></div>\n'
)


def head(title: str, description: str, generator: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}_金山网</title>\n"
        '<meta name="keywords" content="镇江,金山网,镇江新闻">\n'
        f'<meta name="description" content="{escape(description[:80])}">\n'
        f'<meta name="generator" content="{generator}">\n'
        '<link rel="stylesheet" href="/css/style.css">\n'
        "<script>var _hmt = _hmt || []; /* 百度统计 */</script>\n</head>\n<body>\n"
    )


def crumbs(entry: SiteEntry) -> list[tuple[str, str]]:
    ch = CHANNELS[entry.channel]
    return [*ch.parents, (ch.name, ch.path)]


def body_blocks(story: Story, first: int, stop: int, *, last_page: bool) -> str:
    """Paragraphs ``first``..``stop``-1 with their pictures; the lead tag and byline where they belong."""
    pad = "　　" if story.indent else ""
    out = []
    for i in range(first, stop):
        text = story.paragraphs[i]
        if i == 0 and story.lead:
            text = f"{story.lead} {text}"
        if last_page and i == stop - 1 and story.byline_inline:
            text += story.byline()
        out.append(f"<p>{pad}{escape(text)}</p>")
        for n, pic in enumerate(story.pictures):
            if pic.after == i:
                # the second picture loads lazily (data-src, a placeholder in src), as CMS themes do
                src = f'src="/images/blank.gif" data-src="{pic.path}"' if n == 1 else f'src="{pic.path}"'
                out.append(f'<p style="text-align:center"><img {src} alt="" border="0"></p>')
                out.append(f'<p style="text-align:center">{escape(pic.caption)}</p>')
    if last_page and not story.byline_inline and story.byline():
        out.append(f"<p>{escape(story.byline())}</p>")
    if last_page and story.photo_line:
        out.append(f"<p>{escape(' '.join(story.photo_line))} 摄影报道</p>")
    return "\n".join(out)


def page_bounds(story: Story, pages: int, page: int) -> tuple[int, int]:
    """The paragraphs printed on ``page`` of an article split over ``pages`` pages."""
    n = len(story.paragraphs)
    # every page gets a paragraph while there are enough (an edit may shorten the body)
    cut = [max(round(n * k / pages), min(k, n)) for k in range(pages + 1)]
    return cut[page - 1], cut[page]


def pager(entry: SiteEntry, page: int) -> str:
    """CmsTop's in-article pager "1 2 下一页" (relative links)."""
    if entry.pages == 1:
        return ""
    name = entry.path.rsplit("/", 1)[1]
    href = [name if k == 1 else name.replace(".shtml", f"_{k}.shtml") for k in range(1, entry.pages + 1)]
    parts = [f'<a href="{href[page - 2]}">上一页</a>'] if page > 1 else []
    parts += [
        f'<span class="current">{k}</span>' if k == page else f'<a href="{href[k - 1]}">{k}</a>'
        for k in range(1, entry.pages + 1)
    ]
    if page < entry.pages:
        parts.append(f'<a href="{href[page]}">下一页</a>')
    return f'<div class="page-nav">{" ".join(parts)}</div>\n'


def link_list(cls: str, heading: str, links: list[Link]) -> str:
    lis = "".join(f'<li><a href="{escape(h)}">{escape(t)}</a><span class="date">{d}</span></li>' for h, t, d in links)
    return f'<div class="{cls}"><h3>{heading}</h3><ul>{lis}</ul></div>\n'


def editor_line(story: Story, cls: str) -> str:
    parts = [f"<span>责任编辑：{escape(' '.join(story.editors))}</span>"] if story.editors else []
    parts += [f"<span>审核：{escape(' '.join(story.reviewers))}</span>"] if story.reviewers else []
    return f'<div class="{cls}">{"　".join(parts)}</div>\n' if parts else ""


def cmstop(
    entry: SiteEntry, story: Story, page: int, *, related: list[Link], hot: list[Link], epaper_href: str
) -> str:
    """A current article page (page ``page`` of ``entry.pages``) in the CmsTop template."""
    first, stop = page_bounds(story, entry.pages, page)
    last = page == entry.pages
    crumb = " &gt; ".join(f'<a href="{h}">{escape(t)}</a>' for t, h in crumbs(entry))
    info = f'<span class="time">{entry.published:%Y-%m-%d %H:%M}</span>'
    if story.source:
        info += f' <span class="source">来源：{escape(story.source)}</span>'
    sub = f'<div class="article-subtitle">{escape(story.subtitle)}</div>\n' if story.subtitle else ""
    return "".join((
        head(story.title, story.paragraphs[0], "CmsTop"),
        f"<!-- cmstop contentid={entry.site_id} -->\n",
        nav(epaper_href),
        f'<div class="crumb">{crumb}</div>\n<div class="main">\n<div class="article">\n',
        f"<h1>{escape(story.title)}</h1>\n{sub}<div class=\"article-info\">{info}</div>\n",
        f'<div id="article-content" class="article-content">\n{body_blocks(story, first, stop, last_page=last)}\n</div>\n',
        pager(entry, page),
        editor_line(story, "article-editor"),
        '<div class="share bdsharebuttonbox">分享到：<a class="bds_weixin">微信</a> <a class="bds_tsina">微博</a> '
        '<a class="bds_qzone">QQ空间</a></div>\n',
        link_list("related", "相关新闻", related),
        "</div>\n",
        link_list("sidebar hot", "热点排行", hot),
        "</div>\n",
        FOOTER,
        '<script>document.write("<span>访问量统计</span>");</script>\n</body>\n</html>\n',
    ))


def generic(
    entry: SiteEntry, story: Story, *, related: list[Link], hot: list[Link], epaper_href: str
) -> str:
    """A current article in a redesigned template whose class names no profile knows."""
    crumb = " &gt; ".join(f'<a href="{h}">{escape(t)}</a>' for t, h in crumbs(entry))
    info = f"发布时间：{entry.published:%Y-%m-%d %H:%M}"
    if story.source:
        info += f"　来源：{escape(story.source)}"
    sub = f'<h3 class="dt_sub">{escape(story.subtitle)}</h3>\n' if story.subtitle else ""
    return "".join((
        head(story.title, story.paragraphs[0], "JSW 2019"),
        nav(epaper_href).replace('class="header"', 'class="topbar"'),
        f'<div class="weizhi">当前位置：{crumb}</div>\n<div class="wrap">\n<div class="news_detail">\n',
        f'<h1 class="dt_title">{escape(story.title)}</h1>\n{sub}<div class="dt_info">{info}</div>\n',
        f'<div class="detail_con">\n{body_blocks(story, 0, len(story.paragraphs), last_page=True)}\n</div>\n',
        editor_line(story, "dt_editor"),
        '<div class="fx">分享到：<a>微信</a> <a>微博</a></div>\n</div>\n',
        link_list("xg_list", "相关阅读", related),
        link_list("right_box", "图片新闻", hot),
        "</div>\n",
        FOOTER.replace('class="footer"', 'class="bottom"'),
        "</body>\n</html>\n",
    ))
