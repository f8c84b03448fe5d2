"""A real full disk for tests: a tiny tmpfs mounted for the test and unmounted after.

Writes that fail with ENOSPC are tested on a filesystem that really is full, not on a monkeypatched
``write``: the error comes from the kernel at whatever point the file grows past the space, as it
would on a server. Mounting needs root (CI runs as root); elsewhere the test is skipped, saying so.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def full_disk(where: Path, *, size_kb: int) -> Iterator[Path]:
    """A folder at ``where`` on a fresh tmpfs of ``size_kb`` KiB."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a full-disk test mounts a small tmpfs, which needs root (CI runs as root)")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here for a full-disk test: {done.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)
