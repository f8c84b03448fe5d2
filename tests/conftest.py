"""Suite-wide guard: tests never touch the internet. Any TCP connection from the test process to an
address outside the loopback range fails loudly (the replica, the fault server and PostgreSQL all
listen on 127.0.0.1; respx intercepts before any socket)."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest

#: test files whose tests share a session fixture that is costly to build: under ``make test``
#: (``-n 2 --dist loadgroup``) each group runs on one xdist worker, which builds the fixture once
XDIST_GROUPS = {
    "tests/e2e/test_web.py": "web_archive",  # a filled archive and `jinshan serve` on it
    "tests/e2e/test_web_browser.py": "web_archive",
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
