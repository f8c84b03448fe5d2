"""Suite-wide rules.

- Tests never touch the internet: any TCP connection from the test process to an address outside
  the loopback range fails loudly (the replica, the fault server and PostgreSQL all listen on
  127.0.0.1; respx intercepts before any socket).
- The run ends with one line naming the optional parts whose tests were skipped, and how to enable
  them (``OPTIONAL_PARTS``). With ``JINSHAN_TEST_REQUIRE_ALL=1`` (``.ci/run`` sets it) a test
  skipped for want of one of them fails instead: CI skips nothing.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

#: test files whose tests share a session fixture that is costly to build: under ``make test``
#: (``-n 2 --dist loadgroup``) each group runs on one xdist worker, which builds the fixture once
XDIST_GROUPS = {
    "tests/e2e/test_web.py": "web_archive",  # a filled archive and `jinshan serve` on it
    "tests/e2e/test_web_browser.py": "web_archive",
    "tests/e2e/test_changes_page.py": "changes_archive",  # an archive with edits and deletions found
    "tests/e2e/test_captures_web.py": "web_archive",
    "tests/e2e/test_web_research_browser.py": "web_archive",
    # a frontier of 20,000 URLs per database kind, copied for each test
    "tests/integration/store/test_store_frontier_plans.py": "frontier_plans",
}

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback_only(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = str(address[0])
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            if host != "localhost":
                raise RuntimeError(f"test tried to reach {host!r}: tests use 127.0.0.1 only") from None
            return
        if not ip.is_loopback:
            raise RuntimeError(f"test tried to reach {host}: tests use 127.0.0.1 only")


@pytest.fixture(autouse=True)
def _no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    def connect(self: socket.socket, address: Any) -> Any:
        _loopback_only(address)
        return _real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> Any:
        _loopback_only(address)
        return _real_connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    yield


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` by ``XDIST_GROUPS`` (xdist's own ``xdist_group`` marks are lost under
    pytest 9, whose node ids xdist 3.8 can no longer suffix); every other test is its own unit."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class FileGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return XDIST_GROUPS.get(nodeid.split("::", 1)[0], nodeid)

    return FileGroups(config, log)


@dataclass(frozen=True)
class OptionalPart:
    name: str
    #: searched in a skip's reason
    reason: re.Pattern[str]
    enable: str
    #: CI installs it, so ``JINSHAN_TEST_REQUIRE_ALL=1`` fails a test skipped for want of it
    required_in_ci: bool = True


#: what the full suite needs beyond the virtualenv, each recognised by its tests' skip reasons
OPTIONAL_PARTS = (
    OptionalPart(
        "Chromium + fonts-noto-cjk", re.compile(r"chromium", re.I), "apt-get install chromium fonts-noto-cjk"
    ),
    OptionalPart("pywb", re.compile(r"pywb", re.I), "make .venv-pywb"),
    OptionalPart("promtool", re.compile(r"promtool"), "apt-get install prometheus"),
    OptionalPart(
        "PostgreSQL", re.compile(r"PostgreSQL tests skipped|no initdb"), "apt-get install postgresql"
    ),
    OptionalPart("systemd-analyze", re.compile(r"systemd-analyze"), "apt-get install systemd"),
    OptionalPart(
        "the real-page set",
        re.compile(r"real-page development set"),
        "JINSHAN_REALPAGES=DIR",
        required_in_ci=False,
    ),
)
ENV_REQUIRE_ALL = "JINSHAN_TEST_REQUIRE_ALL"


def skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


def optional_part(reason: str) -> OptionalPart | None:
    return next((p for p in OPTIONAL_PARTS if p.reason.search(reason)), None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Under ``JINSHAN_TEST_REQUIRE_ALL=1`` a skip for a missing optional part is a failure."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.skipped and os.environ.get(ENV_REQUIRE_ALL) == "1":
        reason = skip_reason(report)
        if (part := optional_part(reason)) is not None and part.required_in_ci:
            report.outcome = "failed"
            report.longrepr = f"{part.name} is required ({ENV_REQUIRE_ALL}=1): {reason}"


def skipped_parts(reasons: list[str]) -> str:
    """The summary line: each optional part with its number of skipped tests and how to enable it,
    then the count of tests skipped for other reasons."""
    counts: dict[OptionalPart | None, int] = {}
    for reason in reasons:
        part = optional_part(reason)
        counts[part] = counts.get(part, 0) + 1
    parts = [
        f"{p.name} ({n} test{'s' if n > 1 else ''}: {p.enable})"
        for p in OPTIONAL_PARTS
        if (n := counts.get(p, 0))
    ]
    others = counts.get(None, 0)
    if not parts:
        return "optional parts: all present, none skipped" + (
            f" ({others} tests skipped for other reasons)" if others else ""
        )
    tail = f"; {others} other skipped test{'s' if others > 1 else ''}" if others else ""
    return "skipped for want of optional parts: " + ", ".join(parts) + tail


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> Iterator[None]:
    """After the short summary of ``-ra``, right above the final counts: what was skipped."""
    yield
    reasons = [skip_reason(r) for r in terminalreporter.stats.get("skipped", [])]
    terminalreporter.write_sep("-", "optional parts")
    terminalreporter.write_line(skipped_parts(reasons))
