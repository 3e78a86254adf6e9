"""The load-test tooling against the platform: seeded learners are real, and the journey runs cleanly."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
ID, PRO = "/api/identity", "/api/progress"


def seed(out: Path, learners: int, admins: int) -> dict[str, list[dict[str, str]]]:
    # As the platform's services run (development unless told otherwise), and as `make loadtest` seeds.
    env = {
        **os.environ,
        "PARLA_DATABASE_URL": os.environ["PARLA_TEST_IDENTITY_DSN"],
        "PARLA_ENVIRONMENT": os.environ.get("PARLA_ENVIRONMENT", "development"),
    }
    command = [sys.executable, "-m", "parla_identity.cli", "seed-learners", str(learners)]
    subprocess.run([*command, "--admins", str(admins), "--out", str(out)], env=env, check=True, timeout=120)
    seeded: dict[str, list[dict[str, str]]] = json.loads(out.read_text())
    return seeded


def test_seeded_learners_refresh_and_progress_knows_them(gateway: httpx.Client, tmp_path: Path) -> None:
    seeded = seed(tmp_path / "accounts.json", 3, 0)
    refreshed = gateway.post(f"{ID}/auth/refresh", json={"refresh_token": seeded["learners"][2]["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    learner = {"Authorization": f"Bearer {refreshed.json()['access_token']}"}
    profile = gateway.get(f"{ID}/users/me", headers=learner).json()
    assert (profile["email"], profile["is_email_verified"]) == ("learner-000003@load.parla.test", True)
    # learner 3 was seeded with Asia/Tokyo and a goal of 50 (not the defaults): progress learns them from the event.
    deadline = time.monotonic() + 30
    while True:
        me = gateway.get(f"{PRO}/me", headers=learner)
        assert me.status_code == 200, me.text
        if (me.json()["timezone"], me.json()["daily_xp_goal"]) == ("Asia/Tokyo", 50):
            break
        assert time.monotonic() < deadline, f"progress never received the registration: {me.json()}"
        time.sleep(0.2)


def test_the_journey_runs_without_failures(gateway: httpx.Client, tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    seed(accounts, 2, 1)
    env = {
        **os.environ,
        "PARLA_LOADTEST_ACCOUNTS": str(accounts),
        "PARLA_JOURNEY_ADMINS": "1",
        "PARLA_JOURNEY_PAUSE": "0.05,0.1",
    }
    command = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtests/journey.py"), "--headless"]
    command += ["-u", "3", "-r", "3", "-t", "25s", "--host", str(gateway.base_url), "--csv", str(tmp_path / "j")]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr[-3000:]
    with (tmp_path / "j_stats.csv").open(newline="") as file:
        rows = {row["Name"]: row for row in csv.DictReader(file)}
    for name in (f"POST {PRO}/sessions/{{id}}/answers", f"POST {ID}/auth/refresh", f"POST {ID}/auth/refresh (admin)"):
        assert int(rows[name]["Request Count"]) > 0, name
    assert rows["Aggregated"]["Failure Count"] == "0"
