"""Credits (bylines) in every form news pages print them, parsed into roles.

Pure functions over one line of text. A line counts as a credit line only when *all* of it parses as
labels, names and a few kinds of neutral words (dates, "报道", "整合", a place before "报道", an
organisation's "供图"), so an ordinary sentence that mentions 记者 is never mistaken for a byline.

Forms of this site (docs/site.md): ``（记者 曾海蓉）``, ``（镇江报业全媒体记者陈洁 盛林娟）`` (group label glued to
the first name), ``（记者 X 通讯员 Y）``, ``责任编辑：龚逍遥``, ``编辑:缪小兵 审核:杨佩佩``, ``马镇丹 谢道韫 摄``,
``李斌 朱叶 摄影报道``, ``图/X``, ``来源：镇江日报``. Forms of other Chinese news pages, which a changed
template may bring: ``本报记者 王乐文 方 敏`` (a two-character name spaced to three), ``□ 本报记者 X``,
``中青报·中青网记者 X 来源：中国青年报``, ``作者︱X``, ``文/图 X Y``, ``文丨政能亮特约评论员 X``,
``发布日期：2019-03-06 责任编辑：X``, ``[作者: X 责任编辑: Y ]``, ``编辑 X 校对 Y``, ``责任编辑：X_NT6056``
(a staff code), ``新京报记者 X 山东冠县报道``, datelines ``新华社深圳5月12日电（记者X、Y）``, and bare names
in a trailing parenthesis ``（刘艺、杨吉）``. In Simplified or Traditional, full- or half-width punctuation,
names separated by any space or ``、``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from service.model import CREDIT_ROLES, Credits

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"

#: Roles whose names are credited but not kept (监制, 策划 …): their lines are credit lines all the same.
STAFF = "staff"

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
    "特约评论员": "reporters",
    "特約評論員": "reporters",
    "评论员": "reporters",
    "評論員": "reporters",
    "作者": "reporters",
    "撰文": "reporters",
    "撰稿": "reporters",
    "执笔": "reporters",
    "執筆": "reporters",
    "采写": "reporters",
    "採寫": "reporters",
    "文字": "reporters",
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
    "网络编辑": "editors",
    "網絡編輯": "editors",
    "编辑": "editors",
    "編輯": "editors",
    "责编": "editors",
    "責編": "editors",
    "选稿": "editors",
    "選稿": "editors",
    "审核": "reviewers",
    "審核": "reviewers",
    "审校": "reviewers",
    "審校": "reviewers",
    "审读": "reviewers",
    "審讀": "reviewers",
    "终审": "reviewers",
    "終審": "reviewers",
    "校对": "proofreaders",
    "校對": "proofreaders",
    "摄影": "photographers",
    "攝影": "photographers",
    "摄像": "photographers",
    "攝像": "photographers",
    "总监制": STAFF,
    "總監制": STAFF,
    "监制": STAFF,
    "監製": STAFF,
    "监製": STAFF,
    "出品人": STAFF,
    "制片人": STAFF,
    "策划": STAFF,
    "策劃": STAFF,
    "统筹": STAFF,
    "統籌": STAFF,
    "美编": STAFF,
    "美編": STAFF,
    "设计": STAFF,
    "設計": STAFF,
    "制图": STAFF,
    "製圖": STAFF,
    "主编": STAFF,
    "主編": STAFF,
    "本文来源于": "source",
    "本文来源": "source",
    "稿件来源": "source",
    "素材来源": "source",
    "文章来源": "source",
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
    if role in ("reporters", "correspondents", "interns", "photographers") and label not in ("作者", "文字")
) | {"责任编辑", "責任編輯", "值班编辑", "值班編輯"}
#: Words that are a label before names and a suffix after them.
AMBIGUOUS_PHOTO = frozenset({"摄影", "攝影"})
#: Labels that may carry the name of a paper or a unit before them (镇江报业全媒体记者, 本报记者,
#: 中青报·中青网记者, 政能亮特约评论员, 松花江网编辑, 职工通讯员).
_GROUP_PREFIXABLE = frozenset(
    {
        "全媒体记者",
        "全媒體記者",
        "融媒体记者",
        "融媒體記者",
        "摄影记者",
        "攝影記者",
        "记者",
        "記者",
        "通讯员",
        "通訊員",
        "特约评论员",
        "特約評論員",
        "评论员",
        "評論員",
        "编辑",
        "編輯",
        "责任编辑",
        "責任編輯",
    }
)

_LABEL_RE = re.compile(
    rf"^(?P<group>[{_CJK}·•]{{0,12}}?)(?P<label>{'|'.join(sorted(PREFIX_LABELS, key=len, reverse=True))})(?P<rest>.*)$"
)
#: a Chinese name: 2–4 characters, or a transcribed name with a middle dot (阿依古丽·买买提)
_NAME_RE = re.compile(rf"^(?:[{_CJK}]{{2,4}}|[{_CJK}]{{1,6}}[·•][{_CJK}]{{1,8}})$")
_SINGLE_CJK = re.compile(rf"^[{_CJK}]$")
_SEPARATORS = re.compile(r"[\s\u00a0\u3000、，,；;：:/／|｜丨︱]+")
_PARENS = re.compile(r"^[（(【\[]\s*(?P<inner>.*?)\s*[）)】\]]$")
#: bullets and rules that open a byline line: "□ 本报记者 葛灵丹"
_BULLETS = re.compile(r"^[□■●◎▲△★☆◆◇○▌▍▎│|—\-·\s]+")
#: a staff code after a name: 姚立伟_NT6056
_STAFF_CODE = re.compile(rf"(?<=[{_CJK}])[_＿][A-Za-z]{{0,4}}\d+")
#: the name of an outlet or unit that may open a byline before its first label
_ORGANISATION = re.compile(r"(?:网|網|频道|頻道|报|報|社|台|中心|站|客户端|新闻|新聞|杂志|雜誌)$")
#: sentence punctuation: a line that has it is prose, never a credit line
_PROSE = re.compile(r"[。！？!?]")
#: a staff code standing apart: "责编：黄忆南 PN269"
_STAFF_CODE_TOKEN = re.compile(r"^[A-Z]{1,4}\d{2,8}$")
#: "/文" glued to what follows ("马俊峰/文受访者供图"): a space after the label word
_GLUED_SLASH_LABEL = re.compile(r"([/／]\s*[文图摄])(?=[^\s/／）)】\]])")
#: an organisation's contribution: "受访者供图", "医技药剂党支部、药剂科供稿" (no person to credit)
_CONTRIBUTED = re.compile(r"[^\s/／:：|｜丨︱]*(?:供图|供圖|供稿|提供)(?=$|\s)")
#: a parenthesised group at the very end of a paragraph: "…签约。（记者 陈志奎）"
_TRAILING_GROUP = re.compile(r"[（(](?P<inner>[^（）()]{2,80})[）)]\s*$")
#: a parenthesised group at the very start: "（记者 陈志奎）1月28日，…"
_LEADING_GROUP = re.compile(r"^\s*[（(](?P<inner>[^（）()]{2,80})[）)]")
#: a dateline with its credit group: "新华社深圳5月12日电（记者戴小河、印朋）", "北京商报讯（记者 X Y）"
_DATELINE_GROUP = re.compile(
    r"^\s*(?:据)?[^，。！？；（()）\s]{1,30}?(?:电|讯|訊|電|消息)\s*[（(](?P<inner>[^（）()]{2,80})[）)]"
)
#: date and time tokens: neutral inside a credit line ("发布日期：2019-03-06 责任编辑：龙慧")
_DATE_TOKEN = re.compile(
    r"^(?:(?:19|20)\d{2}(?:[-/.年]\d{1,2}(?:[-/.月]\d{1,2}日?)?)?|\d{1,2}[:：]\d{2}(?:[:：]\d{2})?|\d{1,2}月\d{1,2}日)$"
)
#: labels of other fields that share a line with credits; they and their values are neutral
META_LABELS = frozenset(
    {
        "发布日期",
        "发布时间",
        "發佈時間",
        "發布時間",
        "发表时间",
        "更新时间",
        "时间",
        "時間",
        "日期",
        "点击",
        "点击数",
        "浏览",
        "浏览次数",
        "阅读",
        "阅读数",
        "字号",
        "字体",
    }
)
#: words that may stand in a credit line without being names (整合 marks a compiled story)
NEUTRAL_WORDS = frozenset(
    {
        "报道",
        "報道",
        "本报",
        "本報",
        "综合",
        "綜合",
        "整合",
        "整理",
        "编译",
        "編譯",
        "联合报道",
        "发自",
        "供图",
        "供圖",
        "等",
    }
)
#: words that look like names but are not (left over from labels or layout)
NOT_NAMES = (
    frozenset(
        [
            "资料",
            "資料",
            "图片",
            "圖片",
            "摄影报道",
            "受访者",
            "本报讯",
            "评论员",
            "博客",
            "之家",
            "手记",
            "观察",
            "调查",
            "来信",
            "热线",
            "联系",
            "专栏",
            "信箱",
            "站",
            "节",
            "证",
            "部",
            "团",
            "问答",
            "风采",
            "采访",
            "视角",
            "在线",
            "连线",
            "走基层",
            "探营",
            "直击",
        ]
    )
    | NEUTRAL_WORDS
)
#: phrases glued after a name that are not part of it: "王金茹对此文亦有贡献"
NAME_TRAILERS = ("对此文亦有贡献", "对本文亦有贡献", "对此文有贡献", "对本文有贡献", "亦有贡献", "报道")
#: a place before 报道 ("山东冠县报道") ends with one of these, or is one of the large cities below
_PLACE_ENDINGS = "省市县区镇乡村州岛港湾旗盟"
BIG_PLACES = frozenset(
    [
        "北京",
        "上海",
        "天津",
        "重庆",
        "香港",
        "澳门",
        "台北",
        "南京",
        "杭州",
        "广州",
        "深圳",
        "武汉",
        "成都",
        "西安",
        "沈阳",
        "长春",
        "哈尔滨",
        "济南",
        "郑州",
        "长沙",
        "南昌",
        "合肥",
        "福州",
        "昆明",
        "贵阳",
        "南宁",
        "海口",
        "兰州",
        "西宁",
        "银川",
        "拉萨",
        "太原",
        "石家庄",
        "呼和浩特",
        "乌鲁木齐",
        "镇江",
        "苏州",
        "无锡",
        "常州",
        "扬州",
        "江苏",
        "浙江",
        "广东",
        "山东",
        "河南",
        "河北",
        "湖南",
        "湖北",
        "四川",
        "云南",
        "贵州",
        "陕西",
        "山西",
        "福建",
        "安徽",
        "江西",
        "辽宁",
        "吉林",
        "黑龙江",
        "甘肃",
        "青海",
        "海南",
        "台湾",
        "新疆",
        "西藏",
        "宁夏",
        "广西",
        "内蒙古",
        "纽约",
        "华盛顿",
        "伦敦",
        "巴黎",
        "东京",
        "首尔",
        "莫斯科",
    ]
)
#: words that show a name is glued to an affiliation: "方敏北京大学经济学院教授"
AFFILIATION_WORDS = (
    "大学",
    "学院",
    "研究院",
    "研究所",
    "研究中心",
    "党校",
    "教授",
    "研究员",
    "博士",
    "主任",
    "院长",
    "所长",
    "书记",
)
#: affiliations that start with one of these after a two-character name: 方敏|北京大学…
_AFFILIATION_STARTS = (*tuple(BIG_PLACES), "中国", "中央", "国家", "全国", "清华", "北大", "复旦", "人民")
MAX_NAMES_PER_ROLE = 12
#: bare names in a trailing parenthesis: at most this many
MAX_BARE_NAMES = 4
#: a role word of a credit line, or a name's photo or writer suffix ("蔡雪婧/摄"): where a line of page
#: text may be a credit line (the whole line is parsed strictly afterwards)
CREDIT_WORD = re.compile(
    "|".join(sorted((k for k, v in PREFIX_LABELS.items() if v != "source"), key=len, reverse=True))
    + r"|[/／]\s*[文图摄]"
)
#: the first characters of the role words: a scan for them, then a match at each, is 15× faster than
#: a search for the alternation (measured on the real pages: 0.13 against 2.1 ms a page)
_CREDIT_WORD_START = re.compile(
    "[" + "".join(sorted({k[0] for k, v in PREFIX_LABELS.items() if v != "source"})) + "/／]"
)
#: a credit line has its role word within this many characters of its start
CREDIT_WORD_WITHIN = 40
MAX_CREDIT_LINE_CHARS = 120


def credit_lines(text: str) -> list[tuple[int, str]]:
    """The lines of ``text`` (with their offsets) that hold a role word near their start."""
    out: list[tuple[int, str]] = []
    next_line = 0
    for candidate in _CREDIT_WORD_START.finditer(text):
        if candidate.start() < next_line or (m := CREDIT_WORD.match(text, candidate.start())) is None:
            continue
        start = text.rfind("\n", 0, m.start()) + 1
        end = text.find("\n", m.end())
        end = len(text) if end < 0 else end
        next_line = end
        if m.start() - start <= CREDIT_WORD_WITHIN and end - start <= MAX_CREDIT_LINE_CHARS:
            out.append((start, text[start:end]))
    return out


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "label" | "short" | "name" | "suffix" | "neutral" | "meta" | "other"
    value: str
    role: str = ""


def _prepare(text: str) -> str:
    """The line without bullets, staff codes and organisations' contributions."""
    text = _BULLETS.sub("", text.strip())
    if "_" in text or "＿" in text:
        text = _STAFF_CODE.sub("", text)
    if "/" in text or "／" in text:
        text = _GLUED_SLASH_LABEL.sub(r"\1 ", text)
    if "供" in text or "提供" in text:
        text = _CONTRIBUTED.sub(" ", text)
    return text.strip()


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    for piece in _join_spaced(_SEPARATORS.split(text.strip())):
        if piece:
            out.extend(_split_piece(piece))
    return out


def _join_spaced(pieces: list[str]) -> list[str]:
    """Single characters in a row are one word spaced out for alignment: ``方 敏`` (a name), ``监 制``
    (a label). A run of two or three is joined; the one-character labels (文, 图, 摄) never are."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if 2 <= len(run) <= 3:
            out.append("".join(run))
        else:
            out.extend(run)
        run.clear()

    for piece in pieces:
        if _SINGLE_CJK.match(piece) and piece not in SHORT_LABELS and piece not in PHOTO_SUFFIXES:
            run.append(piece)
            continue
        flush()
        out.append(piece)
    flush()
    return out


def _split_piece(piece: str) -> list[_Token]:
    if piece in SHORT_LABELS:
        return [_Token("short", piece, SHORT_LABELS[piece])]
    if piece in AMBIGUOUS_PHOTO:  # 摄影：X (label) or X 摄影 (suffix): the parser decides by position
        return [_Token("short", piece, "photographers")]
    if piece in PHOTO_SUFFIXES:
        return [_Token("suffix", piece)]
    if (
        piece in NEUTRAL_WORDS
        or _DATE_TOKEN.match(piece)
        or _STAFF_CODE_TOKEN.match(piece)
        or piece.isdigit()
    ):
        return [_Token("neutral", piece)]
    if piece in META_LABELS:
        return [_Token("meta", piece)]
    if m := _LABEL_RE.match(piece):
        group, label, rest = m["group"], m["label"], m["rest"]
        if group and label not in _GROUP_PREFIXABLE:
            return [_Token("other", piece)]
        if rest and PREFIX_LABELS[label] == "source" and not group:
            return [_Token("label", label, "source"), _Token("other", rest)]  # 本文来源于北京商报
        if rest and label not in GLUED_NAME_OK:
            return [_Token("other", piece)]  # 编辑推荐 is a heading, not 编辑 + a name
        tokens = [_Token("label", label, PREFIX_LABELS[label])]
        return tokens + (_split_piece(rest) if rest else [])
    for suffix in PHOTO_SUFFIXES:
        if piece.endswith(suffix) and _is_name(piece[: -len(suffix)]):
            return [_Token("name", piece[: -len(suffix)]), _Token("suffix", suffix)]
    return _name_or_other(piece)


def _name_or_other(piece: str) -> list[_Token]:
    if _is_name(piece):
        return [_Token("name", piece)]
    for trailer in NAME_TRAILERS:
        if piece.endswith(trailer) and len(piece) > len(trailer):
            head = piece[: -len(trailer)]
            if trailer == "报道" and _is_place(head):
                return [_Token("neutral", piece)]
            if _is_name(head):
                return [_Token("name", head), _Token("neutral", trailer)]
    if name := _name_before_affiliation(piece):
        return [_Token("name", name), _Token("neutral", piece[len(name) :])]
    return [_Token("other", piece)]


def _is_place(text: str) -> bool:
    return text in BIG_PLACES or (len(text) >= 2 and text[-1] in _PLACE_ENDINGS) or len(text) > 4


def _name_before_affiliation(piece: str) -> str | None:
    """``方敏北京大学经济学院教授`` → ``方敏``: a name glued to the writer's institution or title."""
    if len(piece) < 5 or not any(piece.find(w) >= 2 for w in AFFILIATION_WORDS):
        return None
    for size in (2, 3):
        if piece[size:].startswith(_AFFILIATION_STARTS) and _is_name(piece[:size]):
            return piece[:size]
    return piece[:3] if _is_name(piece[:3]) and any(piece.find(w) >= 3 for w in AFFILIATION_WORDS) else None


def _is_name(text: str) -> bool:
    return bool(_NAME_RE.match(text)) and text not in NOT_NAMES and text not in PREFIX_LABELS


class _Parse:
    """State of one line being parsed; ``ok`` turns False at the first token that does not fit."""

    def __init__(self) -> None:
        self.roles: dict[str, list[str]] = {r: [] for r in (*CREDIT_ROLES, STAFF)}
        self.source: str | None = None
        self.role: tuple[str, ...] = ()  # the roles of the current label(s): "文/图" is two
        self.since_label: list[str] = []
        self.pending: list[str] = []
        self.ok = True
        self.saw_label = False
        self.after_label = False  # the previous token was a label: "文/图 X" gives X both roles
        self.in_meta = False

    def feed(self, tok: _Token) -> None:
        if (
            tok.kind == "other"
            and not self.saw_label
            and not self.pending
            and _ORGANISATION.search(tok.value)
        ):
            return  # "新华网黑龙江频道 记者 伊琳": the outlet before the first label
        if tok.kind == "meta":
            self.in_meta, self.role, self.since_label, self.after_label = True, (), [], False
            return
        if tok.kind == "neutral":
            return
        if self.in_meta and tok.kind in ("name", "other"):
            self.ok = False  # a meta label's value is a date or a number
            return
        if self.role == ("source",) and tok.kind in ("name", "other"):
            self.source = f"{self.source} {tok.value}" if self.source else tok.value
            return
        if tok.kind == "name":
            self._name(tok.value)
        elif tok.kind == "suffix" or (tok.kind == "short" and self._has_names()):
            self._suffix(tok)
        elif tok.kind in ("label", "short"):
            self._label(tok.role, stack=tok.kind == "short" and self.after_label)
        else:
            self.ok = False

    def _has_names(self) -> bool:
        return bool(self.pending or self.since_label)

    def _name(self, name: str) -> None:
        self.after_label = False
        if not self.role:
            self.pending.append(name)
            return
        for role in self.role:
            self.roles[role].append(name)
        self.since_label.append(name)

    def _label(self, role: str, *, stack: bool) -> None:
        if self.pending:  # names with no role before a label: not a credit line
            self.ok = False
        self.in_meta = False
        if stack:  # "文/图 X": one list of names under two short labels
            self.role = (*self.role, role)
        else:
            self.role, self.since_label = (role,), []
        self.saw_label = self.after_label = True

    def _suffix(self, tok: _Token) -> None:
        """Names then a role word: ``马镇丹 摄`` (photographers), ``马俊峰/文`` (reporters)."""
        names = self.pending or self.since_label
        if not names:
            self.ok = False
            return
        role = tok.role if tok.kind == "short" else "photographers"
        if not self.pending and self.role and role not in self.role:
            # "记者 张三 摄": the names are credited for the photograph, not the text
            for current in self.role:
                if current != "source":
                    taken = self.roles[current]
                    self.roles[current] = taken[: len(taken) - len(names)]
        if self.pending or role not in self.role:
            self.roles[role].extend(names)
        self.pending, self.since_label, self.role, self.saw_label = [], [], (), True
        self.after_label = False

    def result(self) -> Credits | None:
        if not self.ok or self.pending or not self.saw_label:
            return None
        if any(len(v) > MAX_NAMES_PER_ROLE for v in self.roles.values()):
            return None
        if self.role and self.role != ("source",) and not self.since_label and not self.in_meta:
            return None  # a label with nothing after it ("记者")
        named = {r: tuple(dict.fromkeys(self.roles[r])) for r in CREDIT_ROLES}
        if not any(named.values()) and not self.source and not self.roles[STAFF]:
            return None
        return Credits(**named, source=self.source)


def parse_credit_line(text: str) -> Credits | None:
    """The credits of ``text`` when the whole of it is a credit line, else None.

    Surrounding parentheses or brackets are accepted: ``（记者 陈志奎 通讯员 王五）``, ``[作者: X ]``.
    A line of staff credits only (``监制：X``) gives empty ``Credits``: a credit line with nothing kept.
    """
    text = text.strip()
    if not text or len(text) > MAX_CREDIT_LINE_CHARS or _PROSE.search(text):
        return None
    text = _BULLETS.sub("", text)
    if m := _PARENS.match(text):
        text = m["inner"]
    text = _prepare(text)
    if not text:
        return None
    if text[-1] in ":：" and PREFIX_LABELS.get(text[:-1].strip(), "source") != "source":
        return Credits()  # "责任编辑：" with the name left empty: a credit line that credits nobody
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


def bare_names(text: str) -> tuple[str, ...]:
    """``"刘艺、杨吉"`` → ``("刘艺", "杨吉")``: the text is nothing but person names (at most
    MAX_BARE_NAMES), else ``()``. An organisation (``中国日报``, ``新华网``) is not a person, and a name
    with the photo mark glued on (``杨文斌摄``) is a photographer's credit, not a bare name."""
    pieces = [p for p in _join_spaced(_SEPARATORS.split(_STAFF_CODE.sub("", text.strip()))) if p]
    if not 1 <= len(pieces) <= MAX_BARE_NAMES:
        return ()
    for piece in pieces:
        if (
            not _is_name(piece)
            or _ORGANISATION.search(piece)
            or piece.endswith(("摄", "攝"))
            or _LABEL_RE.match(piece)  # "记者胡璐": a labelled credit, read as one elsewhere
        ):
            return ()
    return tuple(dict.fromkeys(pieces))


#: what ends a sentence: a single name in parentheses after it is a byline ("…开幕。（刘艺）")
_SENTENCE_CLOSE = "。！？!?…”」』"


def split_trailing_names(paragraph: str) -> tuple[str, tuple[str, ...]]:
    """``"…开幕。（刘艺、杨吉）"`` → ``("…开幕。", ("刘艺", "杨吉"))``: bare names in a trailing
    parenthesis, which are the writers when no labelled writer credit exists (the caller decides)."""
    m = _TRAILING_GROUP.search(paragraph)
    if not m or not (names := bare_names(m["inner"])):
        return paragraph, ()
    before = paragraph[: m.start()].rstrip()
    if len(names) == 1 and before and before[-1] not in _SENTENCE_CLOSE:
        return paragraph, ()  # "…说（张三）" in a sentence is a gloss; one name must follow a sentence
    return before, names


def split_leading_credits(paragraph: str) -> tuple[str, Credits | None]:
    """``"（记者 陈志奎）1月28日，…"`` → ``("1月28日，…", Credits(...))``."""
    m = _LEADING_GROUP.match(paragraph)
    if not m:
        return paragraph, None
    credits = parse_credit_line(m["inner"])
    if credits is None:
        return paragraph, None
    return paragraph[m.end() :].lstrip(), credits


def dateline_credits(paragraph: str) -> Credits | None:
    """The credit group of a dateline, which stays in the text as printed:
    ``新华社深圳5月12日电（记者戴小河、印朋）…`` → reporters 戴小河, 印朋."""
    m = _DATELINE_GROUP.match(paragraph)
    return parse_credit_line(m["inner"]) if m else None


def dateline_names(paragraph: str) -> tuple[str, ...]:
    """The bare names of a news agency's dateline, which prints no role word:
    ``新华社北京5月19日电（胡璐、王立彬）…`` → ``("胡璐", "王立彬")``; ``()`` when the group is not
    names only (``（国际锐评评论员）``, ``（中国日报）``). The writers when no labelled one exists."""
    m = _DATELINE_GROUP.match(paragraph)
    return bare_names(m["inner"]) if m else ()


def person_names(text: str) -> tuple[str, ...]:
    """The writers a byline field names (``<meta name="author">``, an author element): its credit
    line's writers, else its bare names; ``()`` for an organisation, a site or anything else."""
    text = clean_label(text)
    if not text or len(text) > MAX_CREDIT_LINE_CHARS:
        return ()
    if (credits := parse_credit_line(text)) is not None:
        return tuple(dict.fromkeys(credits.reporters + credits.correspondents + credits.interns))
    return bare_names(text)


def clean_label(text: str) -> str:
    """A byline field's text with surrounding brackets and a trailing colon left off."""
    text = text.strip().strip("[]【】")
    return text.rstrip(":：").strip()


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


def has_writer(credits: Credits) -> bool:
    return bool(credits.reporters or credits.correspondents or credits.interns)


def merge_all(items: list[Credits]) -> Credits:
    """All credits of a page, in order, each name once per role."""
    out = Credits()
    for item in items:
        out = out.merged(item)
    return out
