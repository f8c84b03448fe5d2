"""``jinshan probe`` on the replica over HTTP, with a site profile whose selectors are wrong: the report
names the broken fields, proposes selectors, and the proposal put in the profile fills them."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, run_in_process, write_config
from tests.e2e.replica import Replica, ReplicaServer

pytestmark = pytest.mark.e2e

#: the cmstop template's selectors, made wrong the way a redesign makes them wrong
BROKEN = {"title": [".headline-x"], "date": [".pubtime"], "source": [".origin"], "body": ["#story-body"]}


def profile_file(tmp: Path, change: dict[str, list[str]]) -> Path:
    """config/sites/jsw.toml with the cmstop template's selectors in ``change`` replaced."""
    data = tomllib.loads((ROOT / "config" / "sites" / "jsw.toml").read_text(encoding="utf-8"))
    cmstop = next(t for t in data["templates"] if t["name"] == "cmstop")
    cmstop.update(change)
    path = tmp / "profile.toml"
    path.write_text(_toml(data), encoding="utf-8")
    return path


def _toml(data: dict[str, Any]) -> str:
    """A profile as TOML: top-level keys, then its tables, then its arrays of tables."""
    out: list[str] = []
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    arrays = {k: v for k, v in data.items() if isinstance(v, list) and v and isinstance(v[0], dict)}
    out += [
        f"{k} = {json.dumps(v, ensure_ascii=False)}"
        for k, v in data.items()
        if k not in tables and k not in arrays
    ]
    for name, table in tables.items():
        out.append(f"[{name}]")
        out += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in table.items()]
    for name, items in arrays.items():
        for item in items:
            out.append(f"[[{name}]]")
            out += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in item.items()]
    return "\n".join(out) + "\n"


def probe(tmp: Path, server: ReplicaServer, profile: Path, *args: str) -> tuple[int, str]:
    config = write_config(
        tmp, server.base_url, f"sqlite:///{tmp / 'never.db'}", site={"profile": str(profile)}
    )
    done = run_in_process(["probe", "--sample", "2", *args, "--config", str(config)], cwd=tmp)
    assert done.returncode == 0, done.stderr
    return done.returncode, done.stdout


def cmstop(report: dict[str, Any]) -> dict[str, Any]:
    found = [t for t in report["templates"] if t["template"] == "cmstop" and t["accepted"]]
    assert found, [t["template"] for t in report["templates"]]
    return max(found, key=lambda t: t["accepted"])


@pytest.fixture()
def replica() -> Replica:
    return Replica(seed=11, n_articles=120, days=30, epaper_days=3, epaper_pages=3, old_articles=3)


def test_probe_names_the_broken_fields_and_its_proposal_fixes_them(
    tmp_path: Path, server: ReplicaServer, replica: Replica
) -> None:
    broken = profile_file(tmp_path, BROKEN)
    _, out = probe(tmp_path, server, broken, "--json")
    report = json.loads(out)
    template = cmstop(report)
    assert {"title", "published_at", "source", "body_text"} <= set(template["broken"])
    assert "channel" not in template["broken"]  # its selectors were left right: the profile fills it
    for name in ("title", "published_at", "body_text"):
        assert set(template["fields"][name]["layers"]) == {"generic"}, name
        assert template["fields"][name]["fill_rate"] == 1.0
    assert set(template["proposed_selectors"]) == set(template["broken"]) | set(template["missing"])
    # every kind of page was sampled, and the lists were refused by a named rule
    assert {"list", "article", "epaper_page", "epaper_article"} <= set(report["kinds"])
    assert all(r["refused"].count("/") == 1 for r in report["refused"])
    # nothing archived: no database, no WARC
    assert not (tmp_path / "never.db").exists() and not (tmp_path / "warc").exists()

    # the proposal, put in the profile as the report prints it, makes the profile fill the fields
    proposed = tomllib.loads(template["proposed_toml"])["templates"][0]
    fixed = profile_file(tmp_path, {k: v for k, v in proposed.items() if k in BROKEN})
    _, out = probe(tmp_path, server, fixed, "--json")
    again = cmstop(json.loads(out))
    assert again["broken"] == [] and again["proposed_toml"] == ""
    for name in ("title", "published_at", "source", "body_text"):
        assert set(again["fields"][name]["layers"]) == {"profile:cmstop"}, name

    # and what the profile now extracts is the truth of the replica
    from urllib.request import urlopen

    from service.extract import extract_article
    from service.settings import load_profile

    url = again["examples"][0]
    with urlopen(url, timeout=10) as response:  # the replica, on 127.0.0.1
        raw, content_type = response.read(), response.headers.get("Content-Type")
    article = extract_article(raw, url, profile=load_profile(fixed), content_type=content_type)
    truth = replica.expected(url)
    assert article.fields_from["title"] == "profile:cmstop"
    assert article.title == truth["title"] and article.body_text == truth["body_text"]


def test_probe_prints_a_table_on_a_terminal(tmp_path: Path, server: ReplicaServer) -> None:
    _, out = probe(tmp_path, server, profile_file(tmp_path, BROKEN))
    assert (
        "profile cmstop" in out
        and "selectors that find nothing: title, published_at, source, body_text" in out
    )
    assert "[[templates]]" in out and "filled by" in out
