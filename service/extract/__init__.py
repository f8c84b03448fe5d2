"""Pure extraction: bytes in, ``Article`` (or ``NotAnArticle``) out. No I/O."""

from service.extract.article import extract_article, join_parts, next_page_urls

__all__ = ["extract_article", "join_parts", "next_page_urls"]
