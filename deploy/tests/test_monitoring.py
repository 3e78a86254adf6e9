"""Monitoring and operations: alerts, pod monitors and dashboards on metrics that exist, and the operations guide."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import KUBERNETES, OPERATIONS, SERVICES, _container_port, _kustomization, _objects, _pod_labels, _selects


def test_operations_guide_covers_the_runbooks() -> None:
    text = OPERATIONS.read_text()
    headings = {line.lstrip("#").strip().lower() for line in text.splitlines() if line.startswith("## ")}
    for needed in ("docker compose", "kubernetes", "pgbouncer", "monitoring", "key rotation", "logs"):
        assert any(needed in heading for heading in headings), needed
    assert any("backups" in heading and "recovery" in heading for heading in headings)
    assert any("replication" in heading for heading in headings)
    assert any("dead-letter" in heading for heading in headings)
    for command in ("archive_command", "repo1-retention-full=30", "--type=time", "pg_basebackup", "dead_letters"):
        assert command in text, command


def _exported_metric_names() -> set[str]:
    """What a service's /metrics has: Litestar's request metrics (prefix parla) and the operational gauges."""
    from prometheus_client import Gauge

    import parla_shared.operational_metrics as operational

    gauges = {value._name for value in vars(operational).values() if isinstance(value, Gauge)}
    request_metrics = {
        "parla_requests_total",
        "parla_request_duration_seconds_bucket",
        "parla_requests_in_progress",
        "parla_requests_error_total",
    }
    return gauges | request_metrics


def _alert_expressions() -> dict[str, str]:
    rules = _objects("PrometheusRule")["parla-alerts"]["spec"]["groups"]
    return {rule["alert"]: rule["expr"] for group in rules for rule in group["rules"]}


def _metric_names(expression: str) -> set[str]:
    unquoted = re.sub(r'"[^"]*"', '""', expression)  # label values such as app_name="parla_progress"
    return set(re.findall(r"\b((?:parla|cnpg)_[a-z_]+)\b", unquoted))


def test_alerts_cover_the_operations_requirements_with_metrics_that_exist() -> None:
    alerts = _alert_expressions()
    used = {alert: _metric_names(expression) for alert, expression in alerts.items()}
    needed = {
        "5xx rate": "parla_requests_total",
        "p95 latency": "parla_request_duration_seconds_bucket",
        "outbox backlog": "parla_outbox_oldest_unpublished_seconds",
        "consumer lag": "parla_consumer_pending_messages",
        "dead letters": "parla_dead_letters",
        "backup age": "cnpg_collector_last_available_backup_timestamp",
        "replication lag": "cnpg_pg_replication_lag",
        "pool usage": "parla_db_pool_checked_out",
    }
    everything = set().union(*used.values())
    for what, metric in needed.items():
        assert metric in everything, f"no alert on {what} ({metric})"
    exported = _exported_metric_names()
    for alert, metrics in used.items():
        for metric in metrics:
            if metric.startswith("parla_"):
                assert metric in exported, f"{alert} uses {metric}, which no service exports"


def test_pod_monitors_select_the_service_pods_and_their_metrics_port() -> None:
    monitor = _objects("PodMonitor")["parla-services"]["spec"]
    pods = _pod_labels()
    for name in SERVICES:
        assert _selects(monitor["selector"], pods[name]), name
        (container,) = _objects("Deployment")[name]["spec"]["template"]["spec"]["containers"]
        for endpoint in monitor["podMetricsEndpoints"]:
            _container_port(container, endpoint["port"])
            assert endpoint["path"] == "/metrics"
    assert _selects(_objects("PodMonitor")["parla-db"]["spec"]["selector"], pods["parla-db"])
    assert _selects(_objects("PodMonitor")["parla-db-pooler"]["spec"]["selector"], pods["parla-db-pooler-rw"])


def test_one_grafana_dashboard_per_service_and_one_for_the_database() -> None:
    generator = {item["name"]: item for item in _kustomization()["configMapGenerator"]}["parla-dashboards"]
    files = generator["files"]
    assert sorted(files) == sorted(f"dashboards/parla-{name}.json" for name in [*SERVICES, "database"])
    assert generator["options"]["labels"] == {"grafana_dashboard": "1"}
    exported = _exported_metric_names()
    for file in files:
        dashboard = json.loads((KUBERNETES / file).read_text())
        assert dashboard["uid"] == Path(file).stem
        assert dashboard["panels"]
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                for metric in _metric_names(target["expr"]):
                    assert not metric.startswith("parla_") or metric in exported, f"{file}: {metric}"
