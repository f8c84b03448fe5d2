"""What a page needs to be shown as it looked: links of images, stylesheets and fonts, from HTML as
the site writes it (GBK, lazy images, srcset, <picture>, table backgrounds, inline styles)."""

from __future__ import annotations

import pytest

from service.extract.resources import ResourceLink, css_resources, kind_of, page_resources, srcset_urls

BASE = "https://www.jsw.com.cn/2026/0301/1871234.shtml"
PAGE = """<!DOCTYPE html><html><head><meta charset="gbk"><title>镇江新闻_金山网</title>
<link rel="stylesheet" href="/css/style.css?v=3"><link rel="shortcut icon" href="/favicon.ico">
<link rel="preload" href="/fonts/a.woff2" as="font"><link rel="alternate" href="/rss.xml">
<style>.top{background:url('../../images/top.png')} /* url(/images/commented.png) */</style>
<script src="/js/jquery.js"></script><script>var a = "url(/images/in-script.png)";</script></head>
<body><div class="header"><img src="/images/logo.png"></div>
<table><tr><td background="/images/cell.gif">栏目</td></tr></table>
<div id="article-content"><p>金山网讯 正文</p>
<p><img src="/images/blank.gif" data-src="/uploads/2026/03/photo1.jpg" alt=""></p><p>图为现场 张三 摄</p>
<picture><source srcset="/uploads/2026/03/photo2.webp 1x, /uploads/2026/03/photo2@2x.webp 2x" type="image/webp">
<img src="/uploads/2026/03/photo2.jpg" srcset="/uploads/2026/03/photo2-800.jpg 800w,/uploads/2026/03/photo2-1600.jpg 1600w"></picture>
<p style="background-image: url(&quot;/images/quote.png&quot;)">引语</p>
<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><img src="javascript:void(0)"></div>
<div class="ad"><img src="http://ads.example.com/banner.gif"></div></body></html>"""


def links(scope: str = "page", **kw: object) -> dict[str, str]:
    raw = PAGE.encode("gbk")
    return {link.url: link.kind for link in page_resources(raw, BASE, scope=scope, **kw)}  # type: ignore[arg-type]


def test_a_page_needs_its_stylesheets_images_fonts_and_lazy_and_responsive_photos() -> None:
    found = links()
    site = "https://www.jsw.com.cn"
    assert found[site + "/css/style.css?v=3"] == "stylesheet"
    assert found[site + "/favicon.ico"] == "image" and found[site + "/fonts/a.woff2"] == "font"
    assert found[site + "/images/top.png"] == "image"  # url() of a <style> block, resolved
    assert found[site + "/images/cell.gif"] == "image"  # an old table's background attribute
    assert found[site + "/images/quote.png"] == "image"  # a style attribute
    for path in ("photo1.jpg", "photo2.jpg", "photo2.webp", "photo2@2x.webp", "photo2-800.jpg", "photo2-1600.jpg"):
        assert found[f"{site}/uploads/2026/03/{path}"] == "image", path
    assert found["http://ads.example.com/banner.gif"] == "image"  # the fetcher's host check refuses it
    # nothing of a comment, a script's text, data: or javascript:; no scripts unless asked
    assert not [u for u in found if "commented" in u or "in-script" in u or u.startswith(("data:", "javascript:"))]
    assert site + "/js/jquery.js" not in found and site + "/rss.xml" not in found
    assert links(scripts=True)[site + "/js/jquery.js"] == "script"


def test_images_scope_is_the_article_photos_with_their_variants_only() -> None:
    site = "https://www.jsw.com.cn/uploads/2026/03/"
    found = links("images", photos=[site + "photo1.jpg", site + "photo2.jpg"])
    assert set(found) == {site + p for p in ("photo1.jpg", "photo2.jpg", "photo2.webp", "photo2@2x.webp",
                                              "photo2-800.jpg", "photo2-1600.jpg")} | {
        "https://www.jsw.com.cn/images/blank.gif"  # the lazy photo's placeholder shares its <img>
    }  # fmt: skip
    assert links("off") == {}
    with pytest.raises(ValueError, match="scope"):
        links("all")


def test_each_url_once_in_page_order_and_base_href_honoured() -> None:
    raw = b'<html><head><base href="https://cdn.jsw.com.cn/v2/"></head><body><img src="a.png"><img src="a.png">' \
          b'<img src="/b.png"></body></html>'  # fmt: skip
    assert page_resources(raw, BASE) == (
        ResourceLink("https://cdn.jsw.com.cn/v2/a.png", "image"),
        ResourceLink("https://cdn.jsw.com.cn/b.png", "image"),
    )


def test_a_stylesheet_imports_stylesheets_and_uses_fonts_and_images() -> None:
    css = b"""@charset "utf-8"; @import url("print.css") print; @import 'theme/dark.css';
    /* .old { background: url(/images/old.png) } */
    @font-face { src: url(../fonts/jsw.woff2) format("woff2"), url('../fonts/jsw.eot?#iefix'); }
    body { background: url( "../images/bg.png" ) } .x { background: url(data:image/png;base64,AAAA) }"""
    got = css_resources(css, "https://www.jsw.com.cn/css/style.css")
    assert [(link.url.rsplit("/", 2)[-2] + "/" + link.url.rsplit("/", 1)[-1], link.kind) for link in got] == [
        ("css/print.css", "stylesheet"), ("theme/dark.css", "stylesheet"), ("fonts/jsw.woff2", "font"),
        ("fonts/jsw.eot", "font"), ("images/bg.png", "image"),
    ]  # fmt: skip


def test_srcset_and_kinds() -> None:
    assert srcset_urls("a.jpg 1x, b.jpg 2x") == ["a.jpg", "b.jpg"]
    assert srcset_urls("a.jpg 480w,b.jpg 800w") == ["a.jpg", "b.jpg"]
    assert srcset_urls("  ") == []
    assert kind_of("text/css; charset=utf-8", "x") == "stylesheet"
    assert kind_of("font/woff2", "x") == "font" and kind_of("application/pdf", "x") == "pdf"
    assert kind_of(None, "https://a/b/c.woff") == "font" and kind_of("image/jpeg", "a.css") == "image"


def test_an_epaper_page_has_its_scan_and_only_when_asked_its_pdf() -> None:
    from service.extract.resources import epaper_scans

    raw = """<html><body><div class="paper-main"><img src="../../../images/202610/01/page_01.jpg" usemap="#PagePicMap">
    <a href="../../../images/202610/01/page_01.pdf">PDF 下载</a><img src="/images/logo.gif"></div></body></html>""".encode()
    url = "http://szb.jsw.com.cn/ZJRB/PC/layout/202610/01/node_01.html"
    scan = "http://szb.jsw.com.cn/ZJRB/PC/images/202610/01/page_01"
    assert epaper_scans(raw, url) == (ResourceLink(scan + ".jpg", "scan"),)
    assert epaper_scans(raw, url, pdfs=True) == (ResourceLink(scan + ".jpg", "scan"), ResourceLink(scan + ".pdf", "pdf"))
