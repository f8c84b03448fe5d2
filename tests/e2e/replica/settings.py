"""The configuration that points the archiver at a running replica instead of www.jsw.com.cn.

Only the site and e-paper keys: the caller adds its own database, archive, politeness and
schedule keys. ``toml`` renders the same mapping as a file for ``jinshan --config``.
"""

from __future__ import annotations

import json
from typing import Any


def site_overrides(base_url: str) -> dict[str, Any]:
    """``[site]`` and ``[epaper]`` for a replica served at ``base_url`` (http://127.0.0.1:PORT/)."""
    return {
        "site": {"base_url": base_url, "allowed_hosts": ["127.0.0.1"], "host_aliases": {}, "start_urls": ["/"]},
        "epaper": {"enabled": True, "base_url": base_url, "papers": ["ZJRB"]},
    }


def toml(base_url: str, extra: dict[str, dict[str, Any]] | None = None) -> str:
    """``site_overrides`` (merged with ``extra`` sections) as TOML text."""
    sections = site_overrides(base_url)
    for name, values in (extra or {}).items():
        sections.setdefault(name, {}).update(values)
    lines: list[str] = []
    for name, values in sections.items():
        lines.append(f"[{name}]")
        lines += [f"{key} = {_value(v)}" for key, v in values.items()]
        lines.append("")
    return "\n".join(lines)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_value(x)}" for k, x in v.items()) + " }"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)
