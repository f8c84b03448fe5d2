"""The URL shapes of the site are data of its profile (``[urls]`` of config/sites/jsw.toml), not code:
the shipped profile has them, a profile without them loads and knows none, another profile's shapes
change what the URL functions say, and no CmsTop shape is left in the code."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path

import pytest

from service.errors import ConfigError
from service.extract import next_page_urls
from service.settings import CONFIG_DIR, SiteProfile, UrlPatterns, load_profile, load_settings
from service.site.urls import (
    NO_SHAPES,
    canonical_url,
    date_from_path,
    list_page_number,
    page_number,
    shapes_of,
)

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = shapes_of(load_settings(environ={}).profile)

#: a site whose split articles are /news/<id>-p2.html and whose lists are /list/p/3/
OTHER = shapes_of(
    SiteProfile(
        urls=UrlPatterns(
            article_page_pattern=r"^/news/(?P<id>\d+)(?:-p(?P<page>\d+))?\.html$",
            date_path_patterns=(r"/(?P<d>\d{2})\.(?P<m>\d{2})\.(?P<y>\d{4})/",),
            list_page_pattern=r"/p/(?P<page>\d+)/$",
        )
    )
)


def test_the_shipped_profile_has_every_url_shape() -> None:
    urls = load_profile(CONFIG_DIR / "sites" / "jsw.toml").urls
    assert urls.article_page_pattern and urls.list_page_pattern and len(urls.date_path_patterns) == 3
    assert SHIPPED.article_page is not None and SHIPPED.list_page is not None and len(SHIPPED.dates) == 3
    assert shapes_of(load_settings(environ={}).profile) is SHIPPED  # compiled once


def test_the_shipped_shapes_are_the_cmstop_and_founder_urls() -> None:
    page2 = "https://www.jsw.com.cn/2026/0301/1900001_2.shtml"
    assert canonical_url(page2, shapes=SHIPPED) == "https://www.jsw.com.cn/2026/0301/1900001.shtml"
    assert canonical_url("https://www.jsw.com.cn/special/12_2.shtml", shapes=SHIPPED).endswith("/12_2.shtml")
    assert page_number(page2, SHIPPED) == 2 and page_number(page2.replace("_2", ""), SHIPPED) == 1
    assert date_from_path(page2, SHIPPED) == date(2026, 3, 1)
    assert date_from_path("http://news.jsw.com.cn/zjxw/2012-05/14/content_1.htm", SHIPPED) == date(
        2012, 5, 14
    )
    assert date_from_path("http://szb.jsw.com.cn/ZJRB/PC/layout/202603/01/node_01.html", SHIPPED) == date(
        2026, 3, 1
    )
    assert list_page_number("https://www.jsw.com.cn/news/index_3.shtml", SHIPPED) == 3
    assert list_page_number("https://www.jsw.com.cn/news/index.shtml", SHIPPED) is None


def test_a_profile_without_url_shapes_loads_and_knows_none(tmp_path: Path) -> None:
    path = tmp_path / "bare.toml"
    path.write_text('title_suffixes = ["_站"]\n', encoding="utf-8")
    shapes = shapes_of(load_profile(path))
    assert shapes == NO_SHAPES
    page2 = "https://www.jsw.com.cn/2026/0301/1900001_2.shtml"
    assert canonical_url(page2, shapes=shapes) == page2
    assert page_number(page2, shapes) == 1 and date_from_path(page2, shapes) is None
    assert next_page_urls('<a href="1900001_3.shtml">3</a>', page2, shapes) == ()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("article_page_pattern", r"'/(?P<id>\d+)_\d+\.shtml$'"),  # no "page" group
        ("list_page_pattern", r"'/index_(\d+)\.shtml$'"),
        ("date_path_patterns", r"['/(?P<y>\d{4})/(?P<m>\d{2})/']"),
        ("article_page_pattern", "'(unclosed'"),
    ],
)
def test_a_shape_without_its_groups_is_a_config_error(tmp_path: Path, key: str, value: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[urls]\n{key} = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=key):
        load_profile(path)


def test_another_profiles_shapes_change_what_the_url_functions_say() -> None:
    page2 = "https://example.com/news/4711-p2.html"
    assert canonical_url(page2, shapes=OTHER) == "https://example.com/news/4711.html"
    assert page_number(page2, OTHER) == 2 and page_number("https://example.com/news/4711.html", OTHER) == 1
    html = '<a href="4711-p3.html">3</a> <a href=/news/4711-p2.html>2</a> <a href="4712-p2.html">x</a>'
    assert next_page_urls(html, "https://example.com/news/4711.html", OTHER) == (
        "https://example.com/news/4711-p2.html",
        "https://example.com/news/4711-p3.html",
    )
    assert next_page_urls(html, page2, OTHER) == ("https://example.com/news/4711-p3.html",)
    assert date_from_path("https://example.com/archive/07.03.2026/x.html", OTHER) == date(2026, 3, 7)
    assert list_page_number("https://example.com/news/p/4/", OTHER) == 4
    # and the CmsTop shapes mean nothing to that site
    cmstop = "https://example.com/2026/0301/1900001_2.shtml"
    assert canonical_url(cmstop, shapes=OTHER) == cmstop and page_number(cmstop, OTHER) == 1
    assert list_page_number("https://example.com/news/index_2.shtml", OTHER) is None


def _string_literals(path: Path) -> list[tuple[int, str]]:
    """The string constants of a module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value if isinstance(node.value, str) else node.value.decode("latin-1"))
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str | bytes)
        and id(node) not in docstrings
    ]


def test_no_cmstop_url_shape_is_left_in_the_code() -> None:
    """CmsTop's ``.shtml`` and list ``index_N``, Founder's ``content_N`` and ``node_N``: in the profile only."""
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for package in ("site", "extract", "crawl")
        for path in sorted((ROOT / "service" / package).rglob("*.py"))
        for line, text in _string_literals(path)
        if any(shape in text for shape in ("shtml", "index_", "content_", "node_"))
    ]
    assert found == []
