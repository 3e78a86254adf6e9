from datetime import timedelta

import pytest

from parla_progress.settings import ProgressSettings
from parla_shared.settings import SettingsError

DB = {"PARLA_DATABASE_URL": "postgresql://progress@127.0.0.1:5432/parla"}


def test_defaults_follow_the_prd() -> None:
    settings = ProgressSettings.from_env(DB)
    assert settings.heart_interval == timedelta(hours=4)
    assert settings.curriculum_url == "http://127.0.0.1:8002"
    assert settings.port == 8003


def test_values_come_from_the_environment() -> None:
    settings = ProgressSettings.from_env(
        {**DB, "PARLA_HEART_REGENERATION_SECONDS": "60", "PARLA_CURRICULUM_URL": "http://curriculum:8002"}
    )
    assert settings.heart_interval == timedelta(minutes=1)
    assert settings.curriculum_url == "http://curriculum:8002"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PARLA_HEART_REGENERATION_SECONDS", "0"),
        ("PARLA_HEART_REGENERATION_SECONDS", "soon"),
        ("PARLA_CURRICULUM_URL", "curriculum:8002"),
        ("PARLA_PRACTICE_SIZE", "0"),
    ],
)
def test_a_bad_value_stops_start_up(variable: str, value: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        ProgressSettings.from_env({**DB, variable: value})
