"""Decoding: header, BOM, meta, detection; GB family as GB18030; wrong headers survived."""

from __future__ import annotations

import codecs

from service.extract.decode import decode_html

GBK_PAGE = '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>朱镕基 王堃 张喆</body></html>'


def test_gb2312_declared_page_with_gbk_only_characters() -> None:
    d = decode_html(GBK_PAGE.encode("gbk"), "text/html")
    assert "朱镕基 王堃 张喆" in d.text
    assert d.encoding == "gb18030" and d.method == "meta" and d.replaced == 0


def test_wrong_utf8_header_over_gbk_bytes_falls_back_to_meta() -> None:
    d = decode_html(GBK_PAGE.encode("gbk"), "text/html; charset=utf-8")
    assert "朱镕基" in d.text and d.method == "meta"


def test_header_wins_when_it_decodes() -> None:
    d = decode_html("<p>镇江</p>".encode(), "text/html; charset=UTF-8")
    assert d.text == "<p>镇江</p>" and d.method == "header"


def test_latin1_header_is_not_trusted_over_utf8_bytes() -> None:
    d = decode_html("<p>镇江</p>".encode(), "text/html; charset=iso-8859-1")
    assert d.text == "<p>镇江</p>"


def test_bom() -> None:
    d = decode_html(codecs.BOM_UTF8 + "<p>镇江</p>".encode(), None)
    assert d.text == "<p>镇江</p>" and d.method == "bom"


def test_undeclared_gbk_is_detected() -> None:
    d = decode_html("<p>镇江市召开大会，朱镕基</p>".encode("gbk"), None)
    assert "镇江市召开大会，朱镕基" in d.text


def test_undecodable_bytes_are_counted_never_question_marks() -> None:
    d = decode_html(b"<p>\xff\xfe\xfd\x80\x81</p>" + "镇江".encode("utf-16-le"), "text/html; charset=utf-8")
    assert "?" not in d.text.replace("<p>", "")
