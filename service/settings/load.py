"""Loading the settings: ``default.toml``, then a ``--config`` file, then ``JINSHAN_…`` environment.

Loaded and validated once at start-up into a frozen ``Settings`` object that is passed down
explicitly; nothing else reads files or the environment for configuration. A bad value raises
``ConfigError`` naming the dotted key, so start-up stops with one clear line.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from service.errors import ConfigError
from service.settings.schema import Settings, SiteProfile


def _config_dir() -> Path:
    """``config/`` beside the package in a source tree (a checkout, an editable install); else the copy
    of it that ships inside the installed package (``service/_config``, see pyproject.toml)."""
    package = Path(__file__).resolve().parent.parent
    source_tree = package.parent / "config"
    return source_tree if (source_tree / "default.toml").is_file() else package / "_config"


CONFIG_DIR = _config_dir()
DEFAULT_FILE = CONFIG_DIR / "default.toml"
ENV_PREFIX = "JINSHAN_"


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``base`` with ``over`` merged in, table by table; ``over`` wins on leaves."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(what, f"file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(what, f"{path} is not valid TOML: {exc}") from exc


def env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``JINSHAN_SECTION__KEY=value`` pairs as a nested dict; values parsed as TOML when they can be."""
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        path = [p.lower() for p in name[len(ENV_PREFIX) :].split("__")]
        try:
            value: Any = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _known_sections(env: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The environment's settings split into those of known sections and the names of the variables
    for unknown ones. Another program's ``JINSHAN_SOMETHING__X`` (or one of a newer release) must
    not stop every command, so a section this release does not have is ignored and named; a
    misspelled key of a known section still stops with its name, like one in a file."""
    known = set(Settings.model_fields) - {"profile", "source_files", "ignored_environment"}
    ignored = tuple(sorted(f"{ENV_PREFIX}{section.upper()}__…" for section in env if section not in known))
    return {k: v for k, v in env.items() if k in known}, ignored


def _first_error(exc: ValidationError, prefix: str = "") -> ConfigError:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"])
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown setting (check the spelling against config/default.toml)"
    elif err["type"] == "missing":
        msg = "required setting is missing"
    return ConfigError(prefix + key, msg)


def load_profile(path: Path) -> SiteProfile:
    data = _read_toml(path, "site.profile")
    try:
        return SiteProfile.model_validate(data)
    except ValidationError as exc:
        raise _first_error(exc, prefix=f"{path.name}: ") from None


def load_settings(
    config_file: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Defaults < ``config_file`` < environment < ``overrides``; validated and frozen.

    Raises ``ConfigError`` naming the first bad key.
    """
    data = _read_toml(DEFAULT_FILE, "defaults")
    files = [str(DEFAULT_FILE)]
    if config_file is not None:
        data = deep_merge(data, _read_toml(Path(config_file), "--config"))
        files.append(str(config_file))
    from_env, ignored = _known_sections(env_overrides(os.environ if environ is None else environ))
    data = deep_merge(data, from_env)
    if overrides:
        data = deep_merge(data, overrides)
    for key in ("profile", "source_files"):
        if key in data:
            raise ConfigError(key, "is not a configuration section")
    try:
        settings = Settings.model_validate(
            {**data, "source_files": tuple(files), "ignored_environment": ignored}
        )
    except ValidationError as exc:
        raise _first_error(exc) from None
    profile_path = Path(settings.site.profile)
    if not profile_path.is_absolute():
        profile_path = CONFIG_DIR / profile_path
    return settings.model_copy(update={"profile": load_profile(profile_path)})
