"""docker-compose.yml, the Dockerfile, .env.example, the alert rules and the dashboard.

There is no Docker engine here, so the compose file is checked against the Compose
specification's own JSON schema (check-jsonschema's vendored compose-spec), then for what the
README promises: the services, their healthchecks, the profiles, the one-shot migrate the
others wait for, a named volume for PostgreSQL, and that every `autobook` subcommand a service
runs exists in the CLI. `serve` comes with the intake (issue 10): until it is merged its check
is a strict xfail, which turns into a failure, to be removed, the day `serve` exists.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from autobook.cli import build_parser
from autobook.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
# Subcommands a service may run before the CLI has them (none now): a strict xfail each.
PENDING_SUBCOMMANDS: dict[str, str] = {}


def _compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text("utf-8"))
    return document


def _subcommands() -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices)
    raise AssertionError("the CLI has no subcommands")


def _autobook_commands() -> list[tuple[str, str]]:
    """(service, subcommand) for every service whose command is `autobook SUBCOMMAND ...`."""
    found = []
    for name, service in _compose()["services"].items():
        command = service.get("command") or []
        if command and command[0] == "autobook":
            found.append((name, command[1]))
    return found


def test_compose_file_is_valid_under_the_compose_spec_schema() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_can_fail(tmp_path: Path) -> None:
    broken = tmp_path / "docker-compose.yml"
    broken.write_text("services:\n  worker:\n    healthcheck: {interval: []}\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(broken),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0


def test_compose_has_the_services_profiles_healthchecks_and_volume() -> None:
    compose = _compose()
    services = compose["services"]
    assert set(services) == {
        "redis",
        "postgres",
        "migrate",
        "worker",
        "intake",
        "sandbox",
        "flower",
    }
    assert services["sandbox"]["profiles"] == ["sandbox"]
    assert services["flower"]["profiles"] == ["monitoring"]
    for name in ("redis", "postgres", "migrate", "worker", "intake"):
        assert "profiles" not in services[name], name
    for name in ("redis", "postgres", "worker", "intake", "sandbox", "flower"):
        assert services[name]["healthcheck"]["test"], name
    assert "postgres-data" in compose["volumes"]
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    # One-shot migrate: it runs once, after PostgreSQL is healthy, and the others wait for it.
    assert services["migrate"]["command"] == ["autobook", "migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("worker", "intake"):
        waits = services[name]["depends_on"]["migrate"]["condition"]
        assert waits == "service_completed_successfully", name
    # `--scale worker=N` needs no fixed name and no published port.
    assert "container_name" not in services["worker"]
    assert "ports" not in services["worker"]
    for name in ("migrate", "worker", "intake", "sandbox"):
        assert services[name]["env_file"] == [{"path": ".env", "required": False}], name


@pytest.mark.parametrize(("service", "subcommand"), _autobook_commands())
def test_every_autobook_subcommand_a_service_runs_exists(
    service: str, subcommand: str, request: pytest.FixtureRequest
) -> None:
    if subcommand in PENDING_SUBCOMMANDS:
        request.applymarker(pytest.mark.xfail(reason=PENDING_SUBCOMMANDS[subcommand], strict=True))
    assert subcommand in _subcommands(), f"{service} runs autobook {subcommand}"


def test_the_compose_services_cover_migrate_worker_and_serve() -> None:
    assert {sub for _, sub in _autobook_commands()} >= {"migrate", "worker", "serve", "sandbox"}


def test_env_example_lists_every_setting() -> None:
    text = (ROOT / ".env.example").read_text("utf-8")
    listed = set(re.findall(r"^#? ?AUTOBOOK_([A-Z_]+)=", text, flags=re.MULTILINE))
    expected = {name.upper() for name in Settings.model_fields}
    assert expected <= listed, expected - listed


def test_dockerfile_is_multi_stage_slim_non_root_with_a_healthcheck() -> None:
    text = (ROOT / "Dockerfile").read_text("utf-8")
    stages = re.findall(r"^FROM (\S+)", text, flags=re.MULTILINE)
    assert len(stages) >= 2
    assert all(stage.endswith("-slim") for stage in stages)
    users = re.findall(r"^USER (\S+)", text, flags=re.MULTILINE)
    assert users
    assert users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK ", text, flags=re.MULTILINE)


def _metric_names(text: str) -> set[str]:
    return set(re.findall(r"\bautobook_[a-z0-9_]+", text))


def _exported_metric_names() -> set[str]:
    families = {
        "autobook_requests_total",
        "autobook_calendly_calls_total",
        "autobook_calendly_429_total",
        "autobook_requests_in_state",
        "autobook_oldest_waiting_seconds",
        "autobook_sending_paused",
        "autobook_budget_remaining",
        "autobook_callback_attempts_total",
        "autobook_calendly_webhooks_total",
        "autobook_callbacks_due",
        "autobook_callback_oldest_due_seconds",
        "autobook_webhook_subscription_active",
    }
    histograms = ("autobook_time_to_book_seconds", "autobook_callback_latency_seconds")
    return families | {
        name for h in histograms for name in (h, *(f"{h}_{s}" for s in ("bucket", "count", "sum")))
    }


def test_alert_rules_cover_429s_unknown_and_the_pause_on_real_metrics() -> None:
    text = (ROOT / "deploy/prometheus/alerts.yml").read_text("utf-8")
    rules = [rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]
    alerts = {rule["alert"]: rule["expr"] for rule in rules}
    assert "autobook_calendly_429_total" in alerts["AutobookCalendly429s"]
    assert 'status="unknown"' in alerts["AutobookUnknownGrowing"]
    assert "autobook_sending_paused" in alerts["AutobookSendingPaused"]
    assert "autobook_callback_oldest_due_seconds" in alerts["AutobookCallbackBacklog"]
    assert "autobook_webhook_subscription_active" in alerts["AutobookWebhookSubscriptionDisabled"]
    used = set().union(*(_metric_names(expr) for expr in alerts.values()))
    assert used <= _exported_metric_names(), used - _exported_metric_names()


def test_the_dashboard_queries_only_metrics_autobook_exports() -> None:
    dashboard = json.loads((ROOT / "deploy/grafana/autobook-dashboard.json").read_text("utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    used = set().union(*(_metric_names(expr) for expr in exprs))
    assert used <= _exported_metric_names(), used - _exported_metric_names()
    assert {"autobook_time_to_book_seconds_bucket", "autobook_budget_remaining"} <= used
