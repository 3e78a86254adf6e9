"""PostgreSQL as deployed: PgBouncer (compose and Kubernetes) and the CloudNativePG cluster (NFR-10, NFR-11, NFR-12, AC-14,
PRD "SSL Mode", pg_stat_statements).
"""

from __future__ import annotations

import configparser
import re

import pytest
from conftest import KUBERNETES, PGBOUNCER, SERVICES, _compose, _load_yaml_documents, _objects


def _pgbouncer_ini(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(comment_prefixes=(";", "#"), inline_comment_prefixes=None, interpolation=None)
    parser.read_string(text)
    return parser


def _pgbouncer_configs() -> dict[str, str]:
    configs = {"deploy/pgbouncer/pgbouncer.ini": (PGBOUNCER / "pgbouncer.ini").read_text()}
    configmap = _objects("ConfigMap").get("pgbouncer-config")
    if configmap is not None:
        configs["deploy/kubernetes/pgbouncer.yaml"] = configmap["data"]["pgbouncer.ini"]
    return configs


@pytest.mark.parametrize("where", list(_pgbouncer_configs()))
def test_pgbouncer_pools_transactions_into_a_bounded_server_pool(where: str) -> None:
    ini = _pgbouncer_ini(_pgbouncer_configs()[where])
    settings = ini["pgbouncer"]
    assert settings["pool_mode"] == "transaction"
    assert int(settings["max_client_conn"]) >= 1000  # AC-14
    roles = len(SERVICES)
    per_role = int(settings["default_pool_size"]) + int(settings.get("reserve_pool_size", "0"))
    assert 0 < int(settings["max_db_connections"]) <= per_role * roles
    assert int(settings["max_db_connections"]) < int(settings["max_client_conn"])
    assert int(settings["max_prepared_statements"]) > 0, "asyncpg's prepared statements (PgBouncer >= 1.21)"
    assert "search_path" in [item.strip() for item in settings["track_extra_parameters"].split(",")]
    assert settings["listen_port"] == "6432"
    assert "dbname=parla" in ini["databases"]["parla"]


def test_pgbouncer_userlist_example_and_compose_service() -> None:
    entries = [
        line
        for line in (PGBOUNCER / "userlist.txt.example").read_text().splitlines()
        if line.strip() and not line.startswith(";")
    ]
    for line in entries:
        assert re.fullmatch(r'"[^"]+" "[^"]+"', line), line
    users = {line.split('"')[1] for line in entries}
    assert {f"parla_{name}" for name in SERVICES} <= users
    pgbouncer = _compose()["services"]["pgbouncer"]
    assert pgbouncer.get("profiles"), "optional: only with --profile"
    assert any(str(volume).startswith("./deploy/pgbouncer/pgbouncer.ini:") for volume in pgbouncer["volumes"])
    readme = (PGBOUNCER / "README.md").read_text()
    assert "max_prepared_statements" in readme
    assert "statement_cache_size" in readme


def test_database_cluster_is_replicated_synchronously_with_tls_and_query_statistics() -> None:
    cluster = _objects("Cluster")["parla-db"]["spec"]
    assert cluster["instances"] == 3
    assert cluster["postgresql"]["synchronous"]["number"] == 1
    assert cluster["postgresql"]["synchronous"]["method"] == "any"
    assert any(key.startswith("pg_stat_statements.") for key in cluster["postgresql"]["parameters"])
    hba = cluster["postgresql"]["pg_hba"]
    assert hba[:2] == ["hostnossl all all 0.0.0.0/0 reject", "hostnossl all all ::/0 reject"], "TLS required"
    assert cluster["affinity"]["topologyKey"] == "topology.kubernetes.io/zone"


def test_database_is_backed_up_every_six_hours_and_kept_thirty_days() -> None:
    cluster = _objects("Cluster")["parla-db"]["spec"]
    assert cluster["backup"]["retentionPolicy"] == "30d"
    assert cluster["backup"]["barmanObjectStore"]["destinationPath"].startswith("s3://")
    (scheduled,) = _objects("ScheduledBackup").values()
    assert scheduled["spec"]["cluster"]["name"] == "parla-db"
    seconds, minutes, hours, *_ = scheduled["spec"]["schedule"].split()
    assert (seconds, minutes, hours) == ("0", "0", "*/6")


def test_recovery_cluster_restores_parla_db_backups_to_a_point_in_time() -> None:
    (recovery,) = _load_yaml_documents(KUBERNETES / "recovery" / "parla-db-recovery.yaml")
    spec = recovery["spec"]
    bootstrap = spec["bootstrap"]["recovery"]
    assert bootstrap["recoveryTarget"]["targetTime"]
    (source,) = [cluster for cluster in spec["externalClusters"] if cluster["name"] == bootstrap["source"]]
    production = _objects("Cluster")["parla-db"]["spec"]["backup"]["barmanObjectStore"]
    assert source["barmanObjectStore"]["destinationPath"] == production["destinationPath"]
    assert source["barmanObjectStore"]["serverName"] == "parla-db"
    # It archives under its own name, never over the backups it restores from.
    assert spec["backup"]["barmanObjectStore"]["serverName"] != "parla-db"


def test_services_reach_the_database_through_the_pooler_with_tls() -> None:
    pooler = _objects("Pooler")["parla-db-pooler-rw"]["spec"]
    assert pooler["cluster"]["name"] == "parla-db"
    assert pooler["type"] == "rw"
    bouncer = pooler["pgbouncer"]
    assert bouncer["poolMode"] == "transaction"
    assert int(bouncer["parameters"]["max_client_conn"]) >= 1000  # AC-14
    assert int(bouncer["parameters"]["max_prepared_statements"]) > 0
    assert bouncer["parameters"]["track_extra_parameters"] == "search_path"
    secrets = _objects("Secret")["parla-secrets"]["stringData"]
    for name in SERVICES:
        url = secrets[f"{name}-database-url"]
        assert "@parla-db-pooler-rw." in url, name
        assert url.endswith("?sslmode=require"), name
    assert "@parla-db-rw." in secrets["admin-database-url"], "migrations go straight to the primary"
    assert secrets["admin-database-url"].endswith("?sslmode=require")
