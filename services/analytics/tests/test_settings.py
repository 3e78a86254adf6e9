from __future__ import annotations

from pathlib import Path

import pytest

from parla_analytics.settings import AnalyticsSettings
from parla_shared.settings import SettingsError

BASE = {"PARLA_DATABASE_URL": "postgresql://u:p@127.0.0.1:5432/parla", "PARLA_ENVIRONMENT": "development"}


def test_partition_settings_come_from_the_environment() -> None:
    settings = AnalyticsSettings.from_env(
        {**BASE, "PARLA_PARTITION_MONTHS_AHEAD": "6", "PARLA_PARTITION_CHECK_SECONDS": "60"}
    )
    assert settings.partition_months_ahead == 6
    assert settings.partition_check_seconds == 60.0


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PARLA_PARTITION_MONTHS_AHEAD", "99"),
        ("PARLA_PARTITION_MONTHS_AHEAD", "-1"),
        ("PARLA_PARTITION_CHECK_SECONDS", "0"),
    ],
)
def test_bad_partition_settings_stop_start_up(variable: str, value: str) -> None:
    with pytest.raises(SettingsError):
        AnalyticsSettings.from_env({**BASE, variable: value})


STRONG_URL = "postgresql://u:Zx8vQ2mLp9Rt4Kw7Yb3Nc6Hj1Fd5Gs0Ae2Ui4Oq8TzWe3Ry5@127.0.0.1:5432/parla"


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (None, "development default"),
        ("CHANGE-ME-openssl-rand-base64-48", "placeholder"),
        ("short-key", "too weak"),
    ],
)
def test_production_refuses_a_weak_or_development_audit_key(key: str | None, reason: str) -> None:
    environ = {"PARLA_DATABASE_URL": STRONG_URL, "PARLA_ENVIRONMENT": "production"}
    if key is not None:
        environ["PARLA_AUDIT_HMAC_KEY"] = key
    with pytest.raises(SettingsError, match=rf"PARLA_AUDIT_HMAC_KEY [^;]*{reason}"):
        AnalyticsSettings.from_env(environ)


def test_production_takes_a_generated_audit_key(tmp_path: Path) -> None:
    key = "k7Qw2Zr9Lx4Vb8Nm3Tc6Yh1Pd5Fs0Gj2Ka7Ue9Io4RzMn8Bv2"
    settings = AnalyticsSettings.from_env(
        {"PARLA_DATABASE_URL": STRONG_URL, "PARLA_ENVIRONMENT": "production", "PARLA_AUDIT_HMAC_KEY": key},
        data_dir=str(tmp_path),
    )
    assert settings.audit_key == key.encode()
    assert settings.audit_checkpoint_file == tmp_path / "audit" / "checkpoints.jsonl"
