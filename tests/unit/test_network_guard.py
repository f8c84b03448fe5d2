"""The suite's own guard (tests/conftest.py) refuses any connection outside the loopback range."""

from __future__ import annotations

import socket

import pytest


def test_a_public_address_is_refused_before_any_packet() -> None:
    with socket.socket() as s, pytest.raises(RuntimeError, match=r"127\.0\.0\.1 only"):
        s.connect(("93.184.216.34", 80))


def test_a_host_name_other_than_localhost_is_refused() -> None:
    with socket.socket() as s, pytest.raises(RuntimeError, match=r"www\.jsw\.com\.cn"):
        s.connect(("www.jsw.com.cn", 443))
