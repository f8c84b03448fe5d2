"""An HTML subtree as a flat list of blocks: paragraphs of text and images, in reading order.

Both the profile layer and the generic layer find a body *node*; this module turns that node into
blocks the same way for both, so what counts as a paragraph is decided in one place. A block knows
how much of its text was link text (related-article lists are mostly links) and whether it was
centred (captions are), which the article assembler uses to drop boilerplate and pair captions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborNode

from service.site.urls import absolute
from service.text.normalize import clean_spaces

#: elements that end the paragraph before them and start a new one
BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "tbody",
        "thead",
        "tfoot",
        "tr",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "section",
        "article",
        "blockquote",
        "center",
        "pre",
        "figure",
        "figcaption",
        "header",
        "footer",
        "aside",
        "nav",
        "form",
        "hr",
        "main",
        "address",
        "founder-content",
        "founder-title",
        "founder-subtitle",
    ]
)
#: table cells: a space between them, not a new paragraph (layout tables hold <p>s, which still break)
CELL_TAGS = frozenset({"td", "th"})
#: elements whose content is never article text
SKIP_TAGS = frozenset(
    [
        "script",
        "style",
        "noscript",
        "iframe",
        "object",
        "embed",
        "select",
        "option",
        "button",
        "textarea",
        "input",
        "svg",
        "canvas",
        "template",
        "head",
    ]
)
_CENTER_STYLE = re.compile(r"text-align\s*:\s*center", re.IGNORECASE)
_CAPTION_CLASS = re.compile(
    r"caption|pic_?txt|pictext|img_?desc|imgtxt|photo_?desc|tuzhu|note", re.IGNORECASE
)
#: image sources that are decoration, not article images
_DECORATION = re.compile(
    r"logo|icon|spacer|blank\.gif|qrcode|erweima|ewm|share|/ad/|banner|loading", re.IGNORECASE
)
MIN_IMAGE_SIDE = 60


@dataclass(frozen=True, slots=True)
class Block:
    """A paragraph (``text``) or an image (``image_url``)."""

    text: str = ""
    image_url: str = ""
    link_chars: int = 0
    centered: bool = False
    captionish: bool = False

    @property
    def link_ratio(self) -> float:
        return self.link_chars / len(self.text) if self.text else 0.0


class _Walker:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.blocks: list[Block] = []
        self.parts: list[str] = []
        self.link_chars = 0
        self.centered = False
        self.captionish = False

    def flush(self) -> None:
        text = clean_spaces("".join(self.parts))
        if text:
            self.blocks.append(
                Block(
                    text,
                    link_chars=min(self.link_chars, len(text)),
                    centered=self.centered,
                    captionish=self.captionish,
                )
            )
        self.parts, self.link_chars = [], 0

    def walk(self, node: LexborNode, in_link: bool = False) -> None:
        for child in node.iter(include_text=True):
            tag = child.tag
            if tag == "-text":
                text = child.text_content or ""
                self.parts.append(text)
                if in_link:
                    self.link_chars += len(text.strip())
            elif tag is None or tag in SKIP_TAGS or tag.startswith("-"):
                continue
            elif tag == "img":
                self.image(child)
            elif tag in BLOCK_TAGS:
                self.block(child, in_link)
            elif tag in CELL_TAGS:  # a table row reads as one line, its cells separated by a space
                self.parts.append(" ")
                self.walk(child, in_link)
                self.parts.append(" ")
            else:
                self.walk(child, in_link or tag == "a")

    def block(self, node: LexborNode, in_link: bool) -> None:
        self.flush()
        saved = (self.centered, self.captionish)
        attrs = node.attributes
        if (
            node.tag == "center"
            or (attrs.get("align") or "").lower() == "center"
            or _CENTER_STYLE.search(attrs.get("style") or "")
        ):
            self.centered = True
        if node.tag == "figcaption" or _CAPTION_CLASS.search(attrs.get("class") or ""):
            self.captionish = True
        self.walk(node, in_link)
        self.flush()
        self.centered, self.captionish = saved

    def image(self, node: LexborNode) -> None:
        attrs = node.attributes
        src = attrs.get("data-original") or attrs.get("data-src") or attrs.get("src") or ""
        if not src or src.startswith("data:") or _DECORATION.search(src) or _too_small(attrs):
            return
        self.flush()
        self.blocks.append(Block(image_url=absolute(self.base_url, src), centered=self.centered))


def _too_small(attrs: dict[str, str | None]) -> bool:
    for side in ("width", "height"):
        value = (attrs.get(side) or "").strip().rstrip("px")
        if value.isdigit() and int(value) < MIN_IMAGE_SIDE:
            return True
    return False


def blocks_of(node: LexborNode, base_url: str) -> list[Block]:
    """The paragraphs and images under ``node`` in document order; empty paragraphs dropped."""
    walker = _Walker(base_url)
    walker.walk(node)
    walker.flush()
    return walker.blocks
