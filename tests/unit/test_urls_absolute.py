"""``absolute`` resolves links as ``urljoin`` does; paths from the root take a shortcut that must
give the very same answer."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
from hypothesis import given
from hypothesis import strategies as st

from service.site.urls import absolute

BASES = [
    "https://www.jsw.com.cn/2026/0301/1871234.shtml",
    "http://127.0.0.1:8765/news/index_2.shtml?x=1",
    "http://szb.jsw.com.cn/ZJRB/PC/layout/202603/01/node_01.html",
]


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize(
    "href",
    ["/2026/0301/1.shtml", " /a/b.shtml#top ", "/a?b=1&c=2", "/", "//other.host/x", "/a/./b/../c.shtml",
     "rel/1.shtml", "../up.shtml", "?q=1", "#frag", "https://www.jsw.com.cn/x.shtml", "/a\\b.shtml"],
)  # fmt: skip
def test_absolute_is_urljoin_without_the_fragment(base: str, href: str) -> None:
    assert absolute(base, href) == urljoin(base, href.strip()).split("#", 1)[0]


@given(
    st.sampled_from(BASES), st.text(alphabet="/.?#=&;:@[]ab1_-%+ 中\\", max_size=20).map(lambda s: "/" + s)
)
def test_every_root_path_resolves_as_urljoin_does(base: str, href: str) -> None:
    try:
        want = urljoin(base, href.strip()).split("#", 1)[0]
    except ValueError:  # urljoin refuses some (an unbalanced "[" in a host): nothing to compare
        return
    assert absolute(base, href) == want
