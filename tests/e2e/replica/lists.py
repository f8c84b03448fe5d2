"""HTML of the pages that are not articles: home, channel lists, robots.txt, and the traps.

Channel lists follow CmsTop's habit: ``index.shtml``, ``index_2.shtml``, … newest first, 20 links
per page with dates, numbered links and "下一页". The home page links the channels, the newest
articles (some through alias URLs), the archive, the e-paper, the forum and a foreign site (the last
two must never be fetched), a search page robots.txt forbids, and two traps at article-pattern URLs:
a "页面不存在" page served with 200 and a list-like topic page.
"""

from __future__ import annotations

from html import escape

from tests.e2e.replica.catalog import CHANNELS, SiteEntry
from tests.e2e.replica.pages import FOOTER, head, link_list, nav

PER_PAGE = 20
Link = tuple[str, str, str]


def list_href(slug: str, page: int) -> str:
    return f"/news/{slug}/index.shtml" if page == 1 else f"/news/{slug}/index_{page}.shtml"


def pagination(slug: str, page: int, pages: int) -> str:
    """Numbered links around the current page, first/last, and 上一页/下一页."""
    window = sorted({1, pages, *range(max(1, page - 4), min(pages, page + 4) + 1)})
    parts = [f'<a href="{list_href(slug, page - 1)}">上一页</a>'] if page > 1 else []
    for k in window:
        parts.append(f'<span class="current">{k}</span>' if k == page else f'<a href="{list_href(slug, k)}">{k}</a>')
    if page < pages:
        parts += [f'<a href="{list_href(slug, page + 1)}">下一页</a>', f'<a href="{list_href(slug, pages)}">尾页</a>']
    return f'<div class="pages">{" ".join(parts)}</div>\n'


def channel_page(channel: int, page: int, pages: int, links: list[Link], epaper_href: str) -> str:
    """Page ``page`` of a channel list."""
    ch = CHANNELS[channel]
    crumb = " &gt; ".join(f'<a href="{h}">{escape(t)}</a>' for t, h in ch.parents)
    return "".join((
        head(ch.name if page == 1 else f"{ch.name}_第{page}页", f"金山网{ch.name}频道", "CmsTop"),
        nav(epaper_href),
        f'<div class="crumb">{crumb} &gt; {escape(ch.name)}</div>\n<div class="main">\n',
        link_list("list news-list", escape(ch.name), links),
        pagination(ch.slug, page, pages),
        "</div>\n",
        FOOTER,
        "</body>\n</html>\n",
    ))


def home(
    *, newest: list[Link], aliased: list[Link], specials: list[Link], epaper_href: str, base_url: str
) -> str:
    """The home page."""
    channels = [(c.path, c.name, "") for c in CHANNELS]
    foreign = [("http://bbs.jsw.com.cn/thread-1-1.html", "网友热议：金山湖夜景", ""),
               ("http://www.zhenjiang.gov.cn/zjszf/zwdt/", "中国镇江政府门户", "")]
    return "".join((
        head("金山网-镇江第一门户", "金山网是镇江日报社主办的新闻门户网站", "CmsTop"),
        nav(epaper_href),
        '<div class="main">\n',
        link_list("channels", "频道", channels),
        link_list("list focus", "今日要闻", newest),
        link_list("recommend", "推荐阅读", aliased),
        link_list("topics", "专题", specials),
        link_list("friends", "友情链接", foreign),
        f'<div class="epaper"><a href="{escape(base_url.rstrip("/") + epaper_href)}">镇江日报数字报</a></div>\n',
        "</div>\n",
        FOOTER,
        "</body>\n</html>\n",
    ))


def news_index(epaper_href: str) -> str:
    """/news/: the 新闻中心 hub, linking every channel list."""
    links = [(c.path, c.name, "") for c in CHANNELS]
    return "".join((
        head("新闻中心", "金山网新闻中心", "CmsTop"),
        nav(epaper_href),
        '<div class="crumb"><a href="/">首页</a> &gt; 新闻中心</div>\n',
        link_list("channels", "新闻中心", links),
        FOOTER,
        "</body>\n</html>\n",
    ))


def not_found_200(epaper_href: str) -> str:
    """The CMS's "page does not exist" page, served with status 200 at an article URL."""
    return "".join((
        head("页面不存在", "页面不存在", "CmsTop"),
        nav(epaper_href),
        '<div class="main"><div class="error"><h1>页面不存在</h1>'
        '<p>您访问的页面不存在或已被删除，<a href="/">返回首页</a></p></div></div>\n',
        FOOTER,
        "</body>\n</html>\n",
    ))


def topic_page(links: list[Link], epaper_href: str) -> str:
    """A special-topic page at an article-pattern URL: a title and a list of links, no body."""
    return "".join((
        head("聚焦镇江项目建设", "专题", "CmsTop"),
        nav(epaper_href),
        '<div class="crumb"><a href="/">首页</a> &gt; <a href="/news/">新闻中心</a> &gt; 专题</div>\n',
        '<div class="main"><div class="topic"><h1>聚焦镇江项目建设</h1>\n',
        link_list("list", "最新报道", links),
        "</div></div>\n",
        FOOTER,
        "</body>\n</html>\n",
    ))


def search_page(epaper_href: str) -> str:
    return "".join((head("搜索", "搜索", "CmsTop"), nav(epaper_href), "<p>请输入关键词</p>\n", FOOTER, "</body></html>\n"))


def error_404() -> str:
    return "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>\n"


def robots(crawl_delay: float | None) -> str:
    """robots.txt: the search pages, the forum mirror and the replica's control endpoint are off limits."""
    lines = ["User-agent: *", "Disallow: /search/", "Disallow: /bbs/", "Disallow: /__control/"]
    if crawl_delay is not None:
        lines.append(f"Crawl-delay: {crawl_delay:g}")
    return "\n".join(lines) + "\n"


def entry_link(e: SiteEntry, title: str, href: str | None = None) -> Link:
    return (href or e.path, title, f"{e.published:%Y-%m-%d}")
