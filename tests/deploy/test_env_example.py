"""deploy/jinshan.env.example documents every variable the deployment uses, each a real setting.

The example is the one place an operator reads to configure production, so it must not drift from
compose.yaml, the systemd units or config/default.toml.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from service.settings import DEFAULT_FILE, env_overrides, load_settings
from tests.deploy.deployfiles import COMPOSE, ENV_EXAMPLE, SYSTEMD, read_env_example, read_unit, unit_values

EXAMPLE = read_env_example(ENV_EXAMPLE)
NAMES = {v.name for v in EXAMPLE}
#: variables the postgres image needs on its first start (the image refuses to start without a password)
POSTGRES_IMAGE_VARS = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}


def _active() -> dict[str, str]:
    return {v.name: v.value for v in EXAMPLE if v.active}


def test_every_variable_is_explained() -> None:
    undocumented = [v.name for v in EXAMPLE if not v.documented]
    assert undocumented == []
    assert len(NAMES) == len(EXAMPLE), "a variable appears twice"


def _compose_variables() -> set[str]:
    """Variables compose.yaml interpolates (${X}, $${X} in the containers) or sets per service."""
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install pyyaml)")
    text = COMPOSE.read_text(encoding="utf-8")
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", text))
    for service in yaml.safe_load(text)["services"].values():
        names.update(service.get("environment", {}))
    return names


def test_every_variable_compose_uses_is_in_the_example() -> None:
    used = _compose_variables() | POSTGRES_IMAGE_VARS
    assert used - NAMES == set()


def test_every_jinshan_variable_is_a_setting() -> None:
    """Names of all, values of the active ones: loading them validates both (a typo stops start-up).

    Commented-out values may name paths that exist only on a server (an edited site profile).
    """
    every = {v.name: v.value for v in EXAMPLE if v.name.startswith("JINSHAN_")}
    defaults = tomllib.loads(DEFAULT_FILE.read_text(encoding="utf-8"))
    for section, keys in env_overrides(every).items():
        assert set(keys) <= set(defaults[section]), section
    example = {k: v for k, v in _active().items() if k.startswith("JINSHAN_")}
    settings = load_settings(environ=example)
    assert settings.database.url == example["JINSHAN_DATABASE__URL"]
    assert settings.log.format == example["JINSHAN_LOG__FORMAT"]


@pytest.mark.parametrize("path", sorted(SYSTEMD.glob("*.service")), ids=lambda p: p.name)
def test_unit_defaults_are_settings(path: Path) -> None:
    pairs = (v.split("=", 1) for v in unit_values(read_unit(path), "Service", "Environment"))
    env = {k: v for k, v in pairs if k.startswith("JINSHAN_")}
    assert env, "the unit sets its state paths"
    load_settings(environ=env)


def test_database_url_matches_the_postgres_container() -> None:
    env = _active()
    url = urlsplit(env["JINSHAN_DATABASE__URL"])
    assert url.scheme == "postgresql+psycopg"
    assert (url.username, url.password, url.path.lstrip("/")) == (
        env["POSTGRES_USER"],
        env["POSTGRES_PASSWORD"],
        env["POSTGRES_DB"],
    )
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install pyyaml)")
    assert url.hostname in yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]


def test_no_real_secret_is_shipped() -> None:
    assert _active()["POSTGRES_PASSWORD"] == "change-me"
    contact = _active()["JINSHAN_FETCH__CONTACT_URL"]
    assert urlsplit(contact).hostname in {"example.org", "example.com"}, "a placeholder the operator replaces"
