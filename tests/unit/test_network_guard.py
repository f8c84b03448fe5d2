"""The suite's own guard (tests/conftest.py) refuses any connection outside the loopback range.

The targets are reserved and never routed (192.0.2.0/24 is TEST-NET-1, RFC 5737; ``.invalid`` never
resolves, RFC 2606): were the guard broken, these tests still could not reach a real host.
"""

from __future__ import annotations

import socket

import pytest


def test_a_public_address_is_refused_before_any_packet() -> None:
    with socket.socket() as s, pytest.raises(RuntimeError, match=r"127\.0\.0\.1 only"):
        s.connect(("192.0.2.1", 80))


def test_a_host_name_other_than_localhost_is_refused() -> None:
    with socket.socket() as s, pytest.raises(RuntimeError, match=r"archive-guard\.invalid"):
        s.connect(("archive-guard.invalid", 443))
