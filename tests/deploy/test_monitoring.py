"""The Prometheus alert rules (deploy/prometheus/) watch the metrics deploy/README.md promises.

``promtool`` (Debian package ``prometheus``) checks the rules and runs the unit tests in
alerts_test.yml; without it those two tests skip and the structural ones still run.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.deployfiles import ALERT_RULES as RULES
from tests.deploy.deployfiles import ALERTED_METRICS

RULE_TESTS = Path(__file__).resolve().parent / "alerts_test.yml"

yaml = pytest.importorskip("yaml", reason="PyYAML is not installed (pip install pyyaml)")


def _rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule for group in data["groups"] for rule in group["rules"]]


def _promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus)")
    return tool


def test_every_alerted_metric_has_a_rule() -> None:
    exprs = " ".join(rule["expr"] for rule in _rules())
    for metric, label in ALERTED_METRICS.items():
        assert metric in exprs
        if label:
            assert f"{metric}{{{label}" in exprs or f"by ({label})" in exprs, metric


def test_every_rule_says_how_bad_and_what_to_do() -> None:
    for rule in _rules():
        assert rule["labels"]["severity"] in {"page", "ticket"}, rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_rules_pass_promtool_check() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _filled_rule_tests(tmp_path: Path) -> Path:
    """alerts_test.yml with absolute rule paths and each expected alert's description filled in."""
    descriptions = {rule["alert"]: rule["annotations"]["description"] for rule in _rules()}
    data = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    data["rule_files"] = [str(RULES)]
    for case in data["tests"]:
        for check in case["alert_rule_test"]:
            for alert in check["exp_alerts"]:
                alert["exp_annotations"]["description"] = descriptions[check["alertname"]]
    out = tmp_path / "alerts_test.yml"
    out.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return out


def test_alerts_fire_on_failures_and_not_on_health(tmp_path: Path) -> None:
    tests = _filled_rule_tests(tmp_path)
    tested = {
        check["alertname"]
        for case in yaml.safe_load(tests.read_text())["tests"]
        for check in case["alert_rule_test"]
    }
    assert tested == {rule["alert"] for rule in _rules()}, "every alert has a unit test"
    result = subprocess.run(
        [_promtool(), "test", "rules", str(tests)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
