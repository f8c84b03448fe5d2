"""Pure parts of the archive view: replay rewriting, the diff, cursors, authentication."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from service.app.web.app import Auth
from service.app.web.diff import side_by_side
from service.app.web.replay import rewrite
from service.store.browse import Cursor, decode_cursor, encode_cursor

PAGE = """<html><head><base href="http://www.jsw.com.cn/a/"><meta charset="gbk">
<script src="http://evil.example/x.js"></script><style>body{background:url(bg.png)}</style>
<link rel="stylesheet" href="/s.css"></head><body onload="steal()">
<a href="../2024/0101/1.shtml">文章</a><a href="javascript:alert(1)">j</a><a href="#top">t</a>
<img src="pic.jpg" srcset="big.jpg 2x"><img src="data:image/png;base64,AA">
<img src="blank.gif" data-src="/uploads/lazy.jpg">
<p style="background:url('http://cdn.example/y.png')">p</p><form action="http://x"><input></form>
<meta http-equiv="refresh" content="0;url=http://evil.example/"></body></html>"""


def test_rewrite_keeps_everything_inside_the_archive() -> None:
    out = rewrite(PAGE, "http://www.jsw.com.cn/a/b.shtml", nav=lambda u: "/go?url=" + u,
                  resource=lambda u: "/r?url=" + u)  # fmt: skip
    assert "<script" not in out and "onload" not in out and "refresh" not in out
    # srcset candidates are archived too: pointed into the archive, never left live
    assert 'srcset="/r?url=http://www.jsw.com.cn/a/big.jpg 2x"' in out
    # a lazy image shows its picture: the replay runs no script to swap it in
    assert 'src="/r?url=http://www.jsw.com.cn/uploads/lazy.jpg"' in out
    assert 'href="/go?url=http://www.jsw.com.cn/2024/0101/1.shtml"' in out
    assert 'src="/r?url=http://www.jsw.com.cn/a/pic.jpg"' in out
    assert "url('/r?url=http://www.jsw.com.cn/a/bg.png')" in out
    assert "url('/r?url=http://cdn.example/y.png')" in out
    assert 'href="/r?url=http://www.jsw.com.cn/s.css"' in out
    assert "javascript:" not in out and 'action="' not in out and 'href="#top"' in out
    assert 'src="data:image/png;base64,AA"' in out and 'charset="utf-8"' in out
    # nothing points outside the app any more
    assert 'src="http' not in out and 'href="http' not in out and 'srcset="http' not in out


def test_side_by_side_marks_what_changed() -> None:
    rows = side_by_side(["标题", "第一段。", "第二段。"], ["标题", "第一段落。", "第三段。", "新的一段。"])
    assert [r.kind for r in rows] == ["same", "changed", "changed", "added"]
    assert ("落", True) in (rows[1].right or ())


@pytest.mark.parametrize("c", [Cursor(None, 7), Cursor(datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC), 42)])
def test_cursor_round_trip(c: Cursor) -> None:
    assert decode_cursor(encode_cursor(c)) == c


@pytest.mark.parametrize(
    "raw", ["", "x1", "u", "u-1", "u0", "d1", "d.5", "dabc.1", "d1.-2", "d99999999999999999999.1"]
)
def test_malformed_cursors_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        decode_cursor(raw)


def test_auth_bearer_and_basic() -> None:
    auth = Auth(token="s3cret", basic="ann:pw")
    assert auth.allows("Bearer s3cret") and not auth.allows("Bearer nope")
    assert auth.allows("Basic " + base64.b64encode(b"ann:pw").decode())
    assert not auth.allows("Basic " + base64.b64encode(b"ann:no").decode()) and not auth.allows("Basic !!")
    assert not auth.allows("") and not Auth().enabled
