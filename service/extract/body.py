"""From body blocks to the article's text: paragraphs, images with captions, credits, lead.

Shared by every layer that finds a body node. Decisions here are text-pattern decisions (layer 4 of
docs/architecture.md): what is a caption, what is a credit line, where the related-article list starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from service.extract.blocks import Block
from service.model import Credits, Image
from service.text.credits import (
    caption_credits,
    dateline_credits,
    dateline_names,
    merge_all,
    parse_credit_line,
    split_leading_credits,
    split_trailing_credits,
    split_trailing_names,
)
from service.text.normalize import to_display

#: a block with more of its text in links than this is navigation or a related list
MAX_LINK_RATIO = 0.5
#: a caption is at most this long
MAX_CAPTION_CHARS = 150
#: a paragraph right after an image this short is its caption even when nothing marks it so
MAX_PLAIN_CAPTION_CHARS = 40
#: a metadata line ("2024-01-28 09:30 来源：镇江日报") is at most this long
MAX_META_LINE_CHARS = 110
#: headings after which nothing belongs to the article
STOP_MARKERS = (
    "相关新闻",
    "相关阅读",
    "延伸阅读",
    "推荐阅读",
    "相关链接",
    "相关报道",
    "热点排行",
    "热门推荐",
    "猜你喜欢",
    "网友评论",
)
#: lines that are page furniture wherever they appear
FURNITURE = re.compile(
    r"^(?:分享到|分享至|【?字体|字号|打印|关闭窗口|【关闭】|【打印】|返回顶部|上一篇|下一篇|上一页|下一页|点击数|浏览次数|阅读数|"
    r"扫一扫|扫描二维码|微信扫一扫|版权所有|Copyright|©|"
    # widgets of today's pages: galleries, likes, video players, share prompts, "read more"
    r"图集$|\+1$|赞$|赞\s*赶快成为第一个|Play Video|\d{1,2}:\d{2}\s*/\s*\d{1,2}:\d{2}$|分享让更多人看到|展开全文|阅读全文|点击查看|"
    r"关键字\s*[:：]|关键词\s*[:：]|标签\s*[:：]|"
    # notes on where the text came from: they are the source, not the article
    r"[（(]?\s*原标题\s*[:：]|[（(]\s*本文来自|[（(]\s*资料来源|本文来自|声明\s*[:：]|免责声明)",
    re.IGNORECASE,
)
#: the print edition's line: "《光明日报》（ 2022年02月13日 02版）"
PRINT_EDITION = re.compile(
    r"^[（(]?\s*《[^》]{2,20}》\s*[（(]\s*(?:19|20)\d{2}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日\s*(?:第?\s*[0-9A-Z]{1,3}\s*版)?\s*[）)]\s*[）)]?$"
)
#: a caption that only says who gave the picture: "受访者供图", "资料图"
_GIVEN_PICTURE = re.compile(r"^[（(]?[^。，]{0,20}(?:供图|供圖|资料图|资料图片|图片来源[^。]{0,20})[）)]?$")
_META_LINE = re.compile(
    r"^(?:发布时间|發布時間|发表时间|发布日期|时间|時間|日期|更新时间)?\s*[:：]?\s*(?:19|20)\d{2}\s*[-年/.]\s*\d{1,2}\s*[-月/.]\s*\d{1,2}"
)
_SOURCE = re.compile(
    r"(?:来源|來源)(?:于|於)?\s*[:：]\s*(?P<src>[^\s　|｜【]{2,20})|(?:本文来源于|本文來源於|稿件来源)\s*(?P<src2>[^\s　|｜【]{2,20})"
)
_DATE_OR_TIME = re.compile(
    r"(?:19|20)\d{2}\s*[-年/.]\s*\d{1,2}\s*[-月/.]\s*\d{1,2}\s*日?|\d{1,2}:\d{2}(?::\d{2})?"
)


@dataclass
class BodyParts:
    paragraphs: list[str] = field(default_factory=list)
    images: list[Image] = field(default_factory=list)
    credits: Credits = field(default_factory=Credits)
    lead: str | None = None
    source: str | None = None
    #: link-dense blocks skipped: many of them and few paragraphs mean a list page
    link_blocks: int = 0
    #: bare names in the parenthesis that ends the body, or in an agency's dateline without a role
    #: word: the writers, when nobody is credited as one
    bare_writers: tuple[str, ...] = ()

    @property
    def chars(self) -> int:
        return sum(len(p) for p in self.paragraphs)


def source_in(text: str) -> str | None:
    """The value of a ``来源：X`` label in a line."""
    m = _SOURCE.search(text)
    return (m["src"] or m["src2"]) if m else None


def clean_source(text: str) -> str | None:
    """A source field's text without its label and the date beside it:
    ``本文来源于 北京商报 2024-05-20 09:47:48`` → ``北京商报``."""
    if found := source_in(text):
        return found
    words = _DATE_OR_TIME.sub(" ", text).split()
    return words[0] if words else None


def is_meta_line(text: str) -> bool:
    """A short line that starts with the date, maybe after a label ("发布时间：2012-10-15 08:23 …",
    "2024-01-28 09:30 来源：镇江日报"): metadata, not article text."""
    m = _META_LINE.match(text)
    if m is None or len(text) > MAX_META_LINE_CHARS:
        return False
    rest = text[m.end() :]
    return not any(p in rest for p in "，。；！？")  # "2020年12月11日，作为…" is a sentence


def _is_caption(block: Block, text: str) -> bool:
    if len(text) > MAX_CAPTION_CHARS:
        return False
    if block.centered or block.captionish or len(text) <= MAX_PLAIN_CAPTION_CHARS:
        return True
    found = caption_credits(text)
    return found is not None and bool(found.photographers)


#: the words that end a photo caption's credit: "…现场。 马镇丹 摄"
#: (the word set apart from the names: "我们去拍摄" is no credit; a credit in parentheses at the end of
#: a paragraph is cut from it elsewhere, and the sentence before it kept)
#: An agency's photo credit in parentheses ends a caption too: "…作业。新华社发（杨文斌摄）".
_PHOTO_CREDIT_END = re.compile(
    r"[\s/／]+(?:摄|攝|摄影|攝影|摄影报道|攝影報道)$|[（(][^（）()]{2,40}(?:摄|攝|摄影|攝影)\s*[）)]$"
)


def _lone_photo_credits(text: str) -> Credits | None:
    """The credits of a paragraph that is a photo caption on its own, else None."""
    if len(text) > MAX_CAPTION_CHARS or not _PHOTO_CREDIT_END.search(text):
        return None
    found = caption_credits(text)
    return found if found is not None and found.photographers else None


def assemble(
    blocks: list[Block],
    *,
    skip_texts: set[str],
    lead_tags: tuple[str, ...],
    traditional: bool,
) -> BodyParts:
    """Paragraphs, images, captions and credits from a body's blocks (see module docstring)."""
    out = BodyParts()
    credits: list[Credits] = []
    caption_open = False
    for block in blocks:
        if block.image_url:
            out.images.append(Image(block.image_url, ""))
            caption_open = True
            continue
        text = to_display(block.text, traditional=traditional)
        if not text or text in skip_texts:
            continue
        if text.startswith(STOP_MARKERS) and len(text) <= 12:
            if out.paragraphs:
                break
            continue
        if block.link_ratio > MAX_LINK_RATIO:
            out.link_blocks += 1
            continue
        if FURNITURE.match(text) or PRINT_EDITION.match(text) or _GIVEN_PICTURE.match(text):
            continue
        if caption_open and _is_caption(block, text):
            out.images[-1] = Image(out.images[-1].url, text)
            if found := caption_credits(text):
                credits.append(found)
            caption_open = False
            continue
        caption_open = False
        if lone := _lone_photo_credits(text):  # a caption whose image was lazy-loaded or dropped
            credits.append(lone)
            continue
        if found := parse_credit_line(text):
            credits.append(found)
            out.source = out.source or found.source
            continue
        if is_meta_line(text):
            out.source = out.source or source_in(text)
            continue
        out.paragraphs.append(text)
    _trailing(out, credits)
    _lead(out, credits, lead_tags)
    out.credits = merge_all(credits)
    return out


def _trailing(out: BodyParts, credits: list[Credits]) -> None:
    first = True
    while out.paragraphs:
        rest, found = split_trailing_credits(out.paragraphs[-1])
        if found is None:
            if first:  # bare names count only where the body ends, never above a byline
                # the names stay in the text as printed ("…新春佳节。（常书香 马丹阳 ）")
                _, out.bare_writers = split_trailing_names(out.paragraphs[-1])
            return
        first = False
        credits.append(found)
        if _keep_rest(out, rest):
            return


def _keep_rest(out: BodyParts, rest: str) -> bool:
    """The last paragraph without its trailing credit; True when some text is left of it."""
    if rest:
        out.paragraphs[-1] = rest
        return True
    out.paragraphs.pop()
    return False


#: the byline group of the lead may stand in one of the first paragraphs, below an ad's text or a
#: kicker line: this many are looked at
LEAD_PARAGRAPHS = 3


def _lead(out: BodyParts, credits: list[Credits], lead_tags: tuple[str, ...]) -> None:
    if not out.paragraphs:
        return
    first = out.paragraphs[0]
    for tag in lead_tags:
        if first.startswith(tag):
            out.lead = tag
            first = first[len(tag) :].lstrip(" ：:")
            break
    if first:
        out.paragraphs[0] = first
    else:
        out.paragraphs.pop(0)
    for index, paragraph in enumerate(out.paragraphs[:LEAD_PARAGRAPHS]):
        if _lead_credits(out, index, paragraph, credits):
            return


def _lead_credits(out: BodyParts, index: int, paragraph: str, credits: list[Credits]) -> bool:
    """The byline group opening ``paragraph`` (cut from it) or its dateline's (kept in the text, as
    printed); True when one was found."""
    rest, found = split_leading_credits(paragraph)
    if found:
        credits.insert(0, found)
        if rest:
            out.paragraphs[index] = rest
        else:
            out.paragraphs.pop(index)
        return True
    if dated := dateline_credits(paragraph):
        credits.insert(0, dated)
        return True
    if names := dateline_names(paragraph):  # "新华社北京5月19日电（胡璐、王立彬）": no role word
        out.bare_writers = out.bare_writers or names
        return True
    return False
