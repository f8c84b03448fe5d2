"""Layer 2: the site profile — CSS selectors per known template, from ``config/sites/*.toml``.

A template is chosen by URL path pattern, else by a marker string in the page. Each field's selector
list is tried in order and the first selector whose text is plausible wins; an implausible or empty
result leaves the field to the generic layer, so a changed template degrades instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from service.settings import SiteProfile, TemplateProfile
from service.text.normalize import clean_spaces


def choose_template(
    url: str, html: str, profile: SiteProfile
) -> tuple[TemplateProfile | None, dict[str, str]]:
    """The template for this page and the named groups its URL pattern captured (for site_id)."""
    path = urlsplit(url).path or "/"
    for template in profile.templates:
        if template.url_pattern and (m := re.search(template.url_pattern, path)):
            return template, {k: v for k, v in m.groupdict().items() if v is not None}
    for template in profile.templates:
        if any(marker in html for marker in template.markers):
            return template, {}
    return None, {}


def site_id(template: TemplateProfile | None, groups: dict[str, str]) -> str | None:
    """``template.site_id`` filled from the URL's groups; None when the URL gave none."""
    if template is None or not template.site_id or not groups:
        return None
    try:
        return template.site_id.format(**groups)
    except (KeyError, IndexError):
        return None


def first_text(
    tree: LexborHTMLParser | LexborNode,
    selectors: tuple[str, ...],
    plausible: Callable[[str], bool] = bool,
) -> str | None:
    """The cleaned text of the first selector match that is plausible."""
    for selector in selectors:
        for node in tree.css(selector):
            text = clean_spaces(node.text(deep=True, separator=" "))
            if text and plausible(text):
                return text
    return None


def default_source(
    template: TemplateProfile | None, groups: dict[str, str], profile: SiteProfile
) -> str | None:
    """The template's ``source_default`` filled in: the e-paper's paper name from its URL."""
    if template is None or not template.source_default:
        return None
    paper = groups.get("paper", "").upper()
    try:
        return (
            template.source_default.format(paper_name=profile.paper_names[paper])
            if "{" in template.source_default
            else template.source_default
        )
    except KeyError:
        return None
