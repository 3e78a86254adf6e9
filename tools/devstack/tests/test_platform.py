"""How ``make run`` starts each service."""

from __future__ import annotations

from pathlib import Path

import pytest

from parla_devstack.platform import TEST_PORTS, Platform


def test_a_service_runs_as_one_process_unless_told_otherwise(tmp_path: Path) -> None:
    platform = Platform(tmp_path, tmp_path, TEST_PORTS, {"PARLA_PROGRESS_WORKERS": "2"})
    progress = platform.service_command("progress")
    assert progress[progress.index("--workers") + 1] == "2"
    assert progress[progress.index("--port") + 1] == str(TEST_PORTS.services["progress"])
    assert "--workers" not in platform.service_command("identity")


@pytest.mark.parametrize("value", ["0", "-1", "two", ""])
def test_a_bad_worker_count_stops_the_start(tmp_path: Path, value: str) -> None:
    platform = Platform(tmp_path, tmp_path, TEST_PORTS, {"PARLA_CURRICULUM_WORKERS": value})
    with pytest.raises(ValueError, match="PARLA_CURRICULUM_WORKERS"):
        platform.service_command("curriculum")
