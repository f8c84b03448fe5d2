"""A failed cycle in plain words (``service.app.failures``) and the home page's notice of it."""

from __future__ import annotations

from service.app.failures import NO_ANSWER, in_plain_words
from service.app.web.pages import last_failure


def test_a_known_reason_comes_first_in_words_with_the_detail_after() -> None:
    error = "robots_unavailable: https://www.jsw.com.cn/; connect_error: http://szb.jsw.com.cn/x"
    said = in_plain_words(error)
    assert said.startswith("the site did not answer")
    assert said.endswith(f"({error})")


def test_an_http_status_and_an_unknown_reason() -> None:
    assert in_plain_words("http_404: https://www.jsw.com.cn/ (HTTP 404)").startswith("the site answered HTTP 404")
    assert in_plain_words("something new: x") == "something new: x"
    assert in_plain_words(None) == NO_ANSWER and in_plain_words("") == NO_ANSWER


def test_the_notice_only_for_a_failed_last_cycle() -> None:
    assert last_failure(None) is None
    assert last_failure({"status": "ok", "error": None, "params": {}}) is None
    assert last_failure({"status": "running", "error": None, "params": {}}) is None
    notice = last_failure({
        "status": "failed", "error": "timeout: https://www.jsw.com.cn/", "started_at": "2026-12-05T09:00:00+00:00",
        "finished_at": "2026-12-05T09:01:30.25+00:00", "params": {"next_try_at": "2026-12-05T09:11:30+00:00"},
    })  # fmt: skip
    assert notice == {"at": "2026-12-05 09:01", "reason": "the site did not answer in time (timeout: https://www.jsw.com.cn/)",
                      "next_try": "2026-12-05 09:11"}  # fmt: skip
    older = last_failure({"status": "failed", "error": None, "started_at": "2026-12-05T09:00:00+00:00",
                          "finished_at": None, "params": {}})  # fmt: skip
    assert older == {"at": "2026-12-05 09:00", "reason": NO_ANSWER, "next_try": ""}
