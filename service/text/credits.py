"""Credits (bylines) in every form the site prints them, parsed into roles.

Pure functions over one line of text. A line counts as a credit line only when *all* of it parses as
labels and names, so an ordinary sentence that mentions 记者 is never mistaken for a byline.

Forms (SITE.md): ``（记者 曾海蓉）``, ``（镇江报业全媒体记者陈洁 盛林娟）`` (group label glued to the
first name), ``（记者 X 通讯员 Y）``, ``责任编辑：龚逍遥``, ``编辑:缪小兵 审核:杨佩佩``, ``马镇丹 谢道韫 摄``,
``李斌 朱叶 摄影报道``, ``图/X``, ``来源：镇江日报`` — in Simplified or Traditional, full- or half-width
punctuation, names separated by any space or ``、``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.model import CREDIT_ROLES, Credits

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

# Role words, longest first so that 摄影记者 wins over 记者 and 责任编辑 over 编辑.
# Traditional spellings are listed beside the Simplified ones.
PREFIX_LABELS: dict[str, str] = {
    "摄影记者": "photographers",
    "攝影記者": "photographers",
    "实习记者": "reporters",
    "實習記者": "reporters",
    "全媒体记者": "reporters",
    "全媒體記者": "reporters",
    "融媒体记者": "reporters",
    "融媒體記者": "reporters",
    "记者": "reporters",
    "記者": "reporters",
    "特约通讯员": "correspondents",
    "特約通訊員": "correspondents",
    "通讯员": "correspondents",
    "通訊員": "correspondents",
    "实习生": "interns",
    "實習生": "interns",
    "责任编辑": "editors",
    "責任編輯": "editors",
    "值班编辑": "editors",
    "值班編輯": "editors",
    "编辑": "editors",
    "編輯": "editors",
    "责编": "editors",
    "責編": "editors",
    "审核": "reviewers",
    "審核": "reviewers",
    "审校": "reviewers",
    "審校": "reviewers",
    "终审": "reviewers",
    "終審": "reviewers",
    "校对": "reviewers",
    "校對": "reviewers",
    "摄影": "photographers",
    "攝影": "photographers",
    "来源": "source",
    "來源": "source",
}
#: Whole-token labels that are too short to be recognised glued to a name (``文/X``, ``图：X``).
SHORT_LABELS: dict[str, str] = {"文": "reporters", "图": "photographers", "圖": "photographers"}
#: Words that follow the names of photographers: ``马镇丹 谢道韫 摄``.
PHOTO_SUFFIXES = ("摄影报道", "攝影報道", "摄影", "攝影", "摄", "攝", "图", "圖")
#: Labels that may be glued to the first name (全媒体记者陈洁, 实习生解静, 责任编辑龚逍遥); short
#: ones like 编辑 may not, or the heading 编辑推荐 would read as 编辑 + a name.
GLUED_NAME_OK = frozenset(
    label
    for label, role in PREFIX_LABELS.items()
    if role in ("reporters", "correspondents", "interns", "photographers")
) | {"责任编辑", "責任編輯", "值班编辑", "值班編輯"}
#: Words that are a label before names and a suffix after them.
AMBIGUOUS_PHOTO = frozenset({"摄影", "攝影"})
#: Only the group labels of 记者 and 通讯员 may carry a prefix (镇江报业全媒体记者, 本报记者, 市委宣传部通讯员).
_GROUP_PREFIXABLE = (
    "全媒体记者",
    "全媒體記者",
    "融媒体记者",
    "融媒體記者",
    "记者",
    "記者",
    "通讯员",
    "通訊員",
)

_LABEL_RE = re.compile(
    rf"^(?P<group>[{_CJK}]{{0,8}}?)(?P<label>{'|'.join(sorted(PREFIX_LABELS, key=len, reverse=True))})(?P<rest>.*)$"
)
#: a Chinese name: 2–4 characters, or a transcribed name with a middle dot (阿依古丽·买买提)
_NAME_RE = re.compile(rf"^(?:[{_CJK}]{{2,4}}|[{_CJK}]{{1,6}}[·•][{_CJK}]{{1,8}})$")
_SEPARATORS = re.compile(r"[\s\u00a0\u3000、，,；;：:/／|｜]+")
_PARENS = re.compile(r"^[（(【\[]\s*(?P<inner>.*?)\s*[）)】\]]$")
#: a parenthesised group at the very end of a paragraph: "…签约。（记者 陈志奎）"
_TRAILING_GROUP = re.compile(r"[（(](?P<inner>[^（）()]{2,80})[）)]\s*$")
#: a parenthesised group at the very start: "（记者 陈志奎）1月28日，…"
_LEADING_GROUP = re.compile(r"^\s*[（(](?P<inner>[^（）()]{2,80})[）)]")
#: words that look like names but are not (left over from labels or layout)
NOT_NAMES = frozenset(
    {
        "报道",
        "報道",
        "本报",
        "本報",
        "综合",
        "綜合",
        "整理",
        "供图",
        "供圖",
        "资料",
        "資料",
        "图片",
        "圖片",
        "摄影报道",
    }
)
MAX_NAMES_PER_ROLE = 12


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "label" | "name" | "suffix" | "other"
    value: str
    role: str = ""


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    for piece in _SEPARATORS.split(text.strip()):
        if piece:
            out.extend(_split_piece(piece))
    return out


def _split_piece(piece: str) -> list[_Token]:
    if piece in SHORT_LABELS:
        return [_Token("short", piece, SHORT_LABELS[piece])]
    if piece in AMBIGUOUS_PHOTO:  # 摄影：X (label) or X 摄影 (suffix): the parser decides by position
        return [_Token("short", piece, "photographers")]
    if piece in PHOTO_SUFFIXES:
        return [_Token("suffix", piece)]
    if m := _LABEL_RE.match(piece):
        group, label, rest = m["group"], m["label"], m["rest"]
        if group and label not in _GROUP_PREFIXABLE:
            return [_Token("other", piece)]
        if rest and label not in GLUED_NAME_OK:
            return [_Token("other", piece)]  # 编辑推荐 is a heading, not 编辑 + a name
        tokens = [_Token("label", label, PREFIX_LABELS[label])]
        return tokens + (_split_piece(rest) if rest else [])
    for suffix in PHOTO_SUFFIXES:
        if piece.endswith(suffix) and _is_name(piece[: -len(suffix)]):
            return [_Token("name", piece[: -len(suffix)]), _Token("suffix", suffix)]
    return [_Token("name" if _is_name(piece) else "other", piece)]


def _is_name(text: str) -> bool:
    return bool(_NAME_RE.match(text)) and text not in NOT_NAMES and text not in PREFIX_LABELS


class _Parse:
    """State of one line being parsed; ``ok`` turns False at the first token that does not fit."""

    def __init__(self) -> None:
        self.roles: dict[str, list[str]] = {r: [] for r in CREDIT_ROLES}
        self.source: str | None = None
        self.role: str | None = None
        self.since_label: list[str] = []
        self.pending: list[str] = []
        self.ok = True
        self.saw_label = False

    def feed(self, tok: _Token) -> None:
        if self.role == "source" and tok.kind in ("name", "other"):
            self.source = f"{self.source} {tok.value}" if self.source else tok.value
            return
        if tok.kind == "name":
            self._name(tok.value)
        elif tok.kind == "suffix" or (
            tok.kind == "short" and tok.role == "photographers" and self._has_names()
        ):
            self._photo_suffix()
        elif tok.kind in ("label", "short"):
            self._label(tok.role)
        else:
            self.ok = False

    def _has_names(self) -> bool:
        return bool(self.pending or self.since_label)

    def _name(self, name: str) -> None:
        if self.role is None:
            self.pending.append(name)
        else:
            self.roles[self.role].append(name)
            self.since_label.append(name)

    def _label(self, role: str) -> None:
        if self.pending:  # names with no role before a label: not a credit line
            self.ok = False
        self.role, self.since_label, self.saw_label = role, [], True

    def _photo_suffix(self) -> None:
        names = self.pending or self.since_label
        if not names:
            self.ok = False
            return
        if not self.pending and self.role not in (None, "photographers", "source"):
            # "记者 张三 摄": the names are credited for the photograph, not the text
            taken = self.roles[self.role]
            self.roles[self.role] = taken[: len(taken) - len(names)]
        self.roles["photographers"].extend(names)
        self.pending, self.since_label, self.role, self.saw_label = [], [], None, True

    def result(self) -> Credits | None:
        if not self.ok or self.pending or not self.saw_label:
            return None
        if any(len(v) > MAX_NAMES_PER_ROLE for v in self.roles.values()):
            return None
        if self.role is not None and self.role != "source" and not self.since_label:
            return None  # a label with nothing after it ("记者")
        named = {r: tuple(dict.fromkeys(v)) for r, v in self.roles.items()}
        if not any(named.values()) and not self.source:
            return None
        return Credits(**named, source=self.source)


def parse_credit_line(text: str) -> Credits | None:
    """The credits of ``text`` when the whole of it is a credit line, else None.

    Surrounding parentheses are accepted: ``（记者 陈志奎 通讯员 王五）``.
    """
    text = text.strip()
    if not text or len(text) > 120:
        return None
    if m := _PARENS.match(text):
        text = m["inner"]
    state = _Parse()
    for tok in _tokens(text):
        state.feed(tok)
        if not state.ok:
            return None
    return state.result()


def split_trailing_credits(paragraph: str) -> tuple[str, Credits | None]:
    """``"…签约。（记者 陈志奎）"`` → ``("…签约。", Credits(reporters=("陈志奎",)))``; unchanged when the
    trailing parenthesis is not a credit group."""
    m = _TRAILING_GROUP.search(paragraph)
    if not m:
        return paragraph, None
    credits = parse_credit_line(m["inner"])
    if credits is None:
        return paragraph, None
    return paragraph[: m.start()].rstrip(), credits


def split_leading_credits(paragraph: str) -> tuple[str, Credits | None]:
    """``"（记者 陈志奎）1月28日，…"`` → ``("1月28日，…", Credits(...))``."""
    m = _LEADING_GROUP.match(paragraph)
    if not m:
        return paragraph, None
    credits = parse_credit_line(m["inner"])
    if credits is None:
        return paragraph, None
    return paragraph[m.end() :].lstrip(), credits


def caption_credits(caption: str) -> Credits | None:
    """The photographers (or other credits) at the end of an image caption:
    ``"镇江市项目攻坚暨产业强市大会现场。 马镇丹 谢道韫 摄"`` → photographers 马镇丹, 谢道韫."""
    text = caption.strip()
    if whole := parse_credit_line(text):
        return whole
    _, trailing = split_trailing_credits(text)
    if trailing:
        return trailing
    # the credit is the run of tokens after the last sentence punctuation or space-separated tail
    cut = max(text.rfind(p) for p in "。！？!?；;，,")
    tail = text[cut + 1 :] if cut >= 0 else text
    words = tail.split()
    for start in range(len(words)):
        if found := parse_credit_line(" ".join(words[start:])):
            return found
    return None


def merge_all(items: list[Credits]) -> Credits:
    """All credits of a page, in order, each name once per role."""
    out = Credits()
    for item in items:
        out = out.merged(item)
    return out
