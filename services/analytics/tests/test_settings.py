from __future__ import annotations

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
