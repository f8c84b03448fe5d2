"""Files that appear whole or not at all.

Every file a command writes for the user (an export, a WACZ) is written under a temporary name in
the same folder and renamed over the target only once complete: a full disk, a kill or a failure of
the writer leaves no partial file behind, and a previous file of that name stays as it was until the
new one is whole. The rename is atomic on POSIX because both names are in one folder.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target`` to write to; renamed to ``target`` when the block ends
    without an exception, removed when it raises (the exception goes on)."""
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        yield partial
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        raise
