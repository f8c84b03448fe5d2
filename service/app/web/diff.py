"""Side-by-side diff of two versions of an article: pure, paragraphs first, then characters.

Paragraphs (the title is the first) are aligned with ``difflib.SequenceMatcher``; a paragraph that
was replaced by another is compared character by character (Chinese has no words to split on), so
the page can mark exactly what an edit changed. The template escapes every run.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

#: a run of text and whether it differs from the other side
Runs = tuple[tuple[str, bool], ...]


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One line of the side-by-side view: ``kind`` is "same", "changed", "removed" or "added";
    ``left``/``right`` are None where that side has no paragraph."""

    kind: str
    left: Runs | None
    right: Runs | None


def paragraphs(title: str, body: str) -> list[str]:
    return [title, *[p for p in body.split("\n") if p.strip()]]


def _chars(a: str, b: str) -> tuple[Runs, Runs]:
    left: list[tuple[str, bool]] = []
    right: list[tuple[str, bool]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if a[i1:i2]:
            left.append((a[i1:i2], op != "equal"))
        if b[j1:j2]:
            right.append((b[j1:j2], op != "equal"))
    return tuple(left), tuple(right)


def side_by_side(old: list[str], new: list[str]) -> list[DiffRow]:
    """The rows of the view, in reading order."""
    rows: list[DiffRow] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
        if op == "equal":
            rows += [DiffRow("same", ((p, False),), ((p, False),)) for p in old[i1:i2]]
            continue
        left, right = old[i1:i2], new[j1:j2]
        for k in range(max(len(left), len(right))):
            a = left[k] if k < len(left) else None
            b = right[k] if k < len(right) else None
            if a is not None and b is not None:
                ra, rb = _chars(a, b)
                rows.append(DiffRow("changed", ra, rb))
            elif a is not None:
                rows.append(DiffRow("removed", ((a, True),), None))
            elif b is not None:
                rows.append(DiffRow("added", None, ((b, True),)))
    return rows
