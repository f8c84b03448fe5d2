"""Pure extraction: bytes in, ``Article`` (or ``NotAnArticle``) out. No I/O."""

from service.extract.article import block_marker, extract_article, join_parts, next_page_urls

__all__ = ["block_marker", "extract_article", "join_parts", "next_page_urls"]
