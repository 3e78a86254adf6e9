"""CPU milliseconds per answer, per process of a running platform, and the answers/s it sustains.

    .venv/bin/python loadtests/cpu_per_answer.py --users 16 --duration 60            # closed loop: the ceiling
    .venv/bin/python loadtests/cpu_per_answer.py --users 64 --duration 60 --rate 200  # open loop: 200 requests/s

Against a platform as ``make run`` starts it, found by the same ``PARLA_*_PORT`` variables (run both with the
same environment). Learners (``--users``, one account each, registered and logged in before the clock starts:
bcrypt once each) go through the answer path of the shipped course: start a lesson session, answer every exercise
correctly, complete, next lesson. Closed loop (the default) means no think time: each learner sends its next
request as soon as the last one is answered, so the platform runs at its ceiling. ``--rate`` makes it open loop:
that many requests per second offered in total whatever the answers (the overload benchmark).

CPU is read from the kernel (``utime + stime``, children included) for every process of the platform, found by
the port it listens on, with its process tree: each service's uvicorn, PostgreSQL (the postmaster and every
backend, those that exited during the run included through the postmaster's children times), NATS and Caddy.
The first sample is taken after a warm-up; the last one after the load stopped and the platform went idle
again, so the event backlog a run leaves (outbox relay, analytics consumers) is paid for inside the
measurement. Nothing here is asserted: it prints a Markdown table for docs/performance.md.
"""

# Locust first: it patches the standard library for gevent before anything else opens a socket.
from locust import FastHttpUser, constant, constant_throughput, task  # isort: skip
from locust.env import Environment  # isort: skip

import argparse
import itertools
import os
import random
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from _course import correct_answer, lesson_answers, register_learners

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "Bench-cpu-answer1"
PRO = "/api/progress"
ANSWER = f"{PRO}/sessions/{{id}}/answers"
START = f"{PRO}/lessons/{{id}}/sessions"
COMPLETE = f"{PRO}/sessions/{{id}}/complete"
IDLE_CPU_SHARE = 0.10  # of one core, summed over the platform: "idle" once the backlog is drained
DRAIN_LIMIT_SECONDS = 60.0


ANSWERS = lesson_answers()


class Outcomes:
    """Response times (ms) of the answer-path requests by status code, since the last reset."""

    by_status: dict[int, list[float]] = {}

    @classmethod
    def record(cls, status: int, started: float) -> None:
        cls.by_status.setdefault(status, []).append(1000 * (time.perf_counter() - started))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


class Accounts:
    emails: list[str] = []
    taken = itertools.count()
    tokens: dict[str, str] = {}
    logged_in = 0


class AnsweringLearner(FastHttpUser):
    """One request per task, so an open-loop rate paces requests, not whole lessons."""

    wait_time = constant(0)

    def on_start(self) -> None:
        email = Accounts.emails[next(Accounts.taken) % len(Accounts.emails)]
        if email not in Accounts.tokens:  # users sharing an account share its token: one bcrypt per account
            login = self._until_served("post", "/api/identity/auth/login", json={"email": email, "password": PASSWORD})
            Accounts.tokens[email] = login["access_token"]
        self.auth = {"Authorization": f"Bearer {Accounts.tokens[email]}"}
        course = self._until_served("get", "/api/curriculum/courses?from=en&to=es")[0]
        self._until_served("post", f"{PRO}/enrollments", json={"course_id": course["id"]}, headers=self.auth)
        statuses = self._until_served("get", f"{PRO}/courses/{course['id']}", headers=self.auth)
        self.playable = [lesson["lesson_id"] for lesson in statuses["lessons"] if lesson["status"] != "locked"]
        self.lessons: dict[str, dict[str, Any]] = {}
        self.session_id: str | None = None
        self.pending: list[dict[str, Any]] = []
        Accounts.logged_in += 1

    def _until_served(self, method: str, path: str, **kwargs: Any) -> Any:
        """Set-up requests are retried while the platform sheds them (503), as a client honouring Retry-After."""
        while True:
            response = self.client.request(method, path, name="set-up", **kwargs)
            if response.status_code < 300:
                return response.json()
            if response.status_code != 503:
                raise RuntimeError(f"{method.upper()} {path}: HTTP {response.status_code}")
            time.sleep(1.0)  # the platform's Retry-After

    def _content(self, lesson_id: str) -> dict[str, Any]:
        if lesson_id not in self.lessons:
            self.lessons[lesson_id] = self._until_served("get", f"/api/curriculum/lessons/{lesson_id}")
        return self.lessons[lesson_id]

    def _post(self, path: str, name: str, expected: int, **options: Any) -> Any | None:
        """One answer-path request, timed by status; its JSON body when it got ``expected``, else None (a failure)."""
        started_at = time.perf_counter()
        with self.client.post(
            path, headers=self.auth | options.pop("headers", {}), name=name, catch_response=True, **options
        ) as response:
            Outcomes.record(response.status_code, started_at)
            if response.status_code != expected:
                response.failure(f"HTTP {response.status_code}")
                return None
            return response.json()

    @task
    def next_step(self) -> None:
        if self.session_id is None:
            lesson_id = random.choice(self.playable[-2:])
            content = self._content(lesson_id)
            started = self._post(f"{PRO}/lessons/{lesson_id}/sessions", START, 201)
            if started is None:
                return
            self.session_id = started["session_id"]
            self.pending = [
                {"exercise_id": exercise["id"], "answer": correct_answer(exercise, source), "time_spent_seconds": 4}
                for exercise, source in zip(content["exercises"], ANSWERS[content["key"]], strict=True)
            ]
        elif self.pending:
            answered = self._post(
                f"{PRO}/sessions/{self.session_id}/answers",
                ANSWER,
                200,
                json=self.pending[0],
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            if answered is not None:
                self.pending.pop(0)
        else:
            completed = self._post(f"{PRO}/sessions/{self.session_id}/complete", COMPLETE, 200)
            if completed is None:
                return
            for unlocked in completed["unlocked_lesson_ids"]:
                if unlocked not in self.playable:
                    self.playable.append(unlocked)
            self.session_id = None


@dataclass(frozen=True)
class Watched:
    name: str
    port: int


def platform_processes() -> list[Watched]:
    env = os.environ
    return [
        Watched("progress", int(env.get("PARLA_PROGRESS_PORT", "8003"))),
        Watched("curriculum", int(env.get("PARLA_CURRICULUM_PORT", "8002"))),
        Watched("analytics", int(env.get("PARLA_ANALYTICS_PORT", "8004"))),
        Watched("identity", int(env.get("PARLA_IDENTITY_PORT", "8001"))),
        Watched("PostgreSQL (all backends)", int(env.get("PARLA_EMBEDDED_POSTGRES_PORT", "54329"))),
        Watched("NATS", int(env.get("PARLA_EMBEDDED_NATS_PORT", "4223"))),
        Watched("Caddy gateway", int(env.get("PARLA_GATEWAY_PORT", "8080"))),
    ]


def listening_roots(port: int) -> list[psutil.Process]:
    """The processes serving a port, as roots of their trees. uvicorn's workers share their master's socket and
    the kernel's table names only one holder of it, so a listener whose parent is a uvicorn master stands for
    the master (whose tree holds every worker)."""
    pids = {
        c.pid
        for c in psutil.net_connections(kind="tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid
    }
    if not pids:
        raise SystemExit(f"nothing listens on port {port}: is the platform running with the same PARLA_* ports?")
    roots: dict[int, psutil.Process] = {}
    for pid in pids:
        process = psutil.Process(pid)
        while (parent := process.parent()) is not None and "uvicorn" in parent.cmdline():
            process = parent
        roots[process.pid] = process
    return [root for pid, root in sorted(roots.items()) if root.ppid() not in roots]


def tree_cpu_seconds(roots: list[psutil.Process]) -> float:
    """User + system CPU of the trees, exited children included (their times are added to the parent's)."""
    total = 0.0
    for root in roots:
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue  # exited between listing and reading: its time is now in its parent's children times
            total += times.user + times.system + times.children_user + times.children_system
    return total


def sample(trees: dict[str, list[psutil.Process]]) -> dict[str, float]:
    return {name: tree_cpu_seconds(roots) for name, roots in trees.items()}


def wait_until_idle(trees: dict[str, list[psutil.Process]]) -> float:
    """Seconds until the platform's summed CPU falls under IDLE_CPU_SHARE of a core (the event backlog drained)."""
    started = time.monotonic()
    before = sum(sample(trees).values())
    while time.monotonic() - started < DRAIN_LIMIT_SECONDS:
        time.sleep(1.0)
        now = sum(sample(trees).values())
        if now - before < IDLE_CPU_SHARE:
            break
        before = now
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=f"http://127.0.0.1:{os.environ.get('PARLA_GATEWAY_PORT', '8080')}")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="measured seconds")
    parser.add_argument(
        "--warmup",
        type=float,
        default=10.0,
        help="seconds of load after every learner logged in, before the first sample",
    )
    parser.add_argument("--rate", type=float, default=None, help="open loop: requests/s offered in total")
    parser.add_argument(
        "--accounts", type=int, default=None, help="learner accounts the users share (default: one per user)"
    )
    args = parser.parse_args()

    trees = {watched.name: listening_roots(watched.port) for watched in platform_processes()}
    accounts = args.accounts or args.users
    Accounts.emails.extend(register_learners(args.host, "cpu", accounts, PASSWORD))
    if args.rate is not None:
        AnsweringLearner.wait_time = constant_throughput(args.rate / args.users)
    environment = Environment(user_classes=[AnsweringLearner], host=args.host)
    runner = environment.create_local_runner()
    runner.start(args.users, spawn_rate=args.users)
    while Accounts.logged_in < args.users:  # logins are bcrypt: not part of what is measured
        time.sleep(0.5)
    time.sleep(args.warmup)

    load_before = os.getloadavg()[0]
    environment.stats.reset_all()
    Outcomes.by_status = {}
    myself = psutil.Process()
    locust_before = sum(myself.cpu_times()[:2])
    cpu_before = sample(trees)
    clock_before = time.monotonic()
    time.sleep(args.duration)
    elapsed = time.monotonic() - clock_before
    stats = environment.stats
    answers = stats.get(ANSWER, "POST")
    completes = stats.get(COMPLETE, "POST")
    starts = stats.get(START, "POST")
    served = answers.num_requests - answers.num_failures
    outcomes = {status: list(times) for status, times in Outcomes.by_status.items()}
    locust_cpu = sum(myself.cpu_times()[:2]) - locust_before
    load_after = os.getloadavg()[0]
    runner.quit()
    drained = wait_until_idle(trees)
    cpu_after = sample(trees)

    used = {name: cpu_after[name] - cpu_before[name] for name in trees}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, for the report only
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
    ).stdout.strip()
    mode = f"open loop, {args.rate:g} requests/s offered" if args.rate else "closed loop (no think time)"
    done = {
        name: entry.num_requests - entry.num_failures for name, entry in [("complete", completes), ("start", starts)]
    }
    lines = [
        f"commit {commit}, {args.users} learners, {mode}, {elapsed:.0f} s measured",
        f"load average {load_before:.1f} -> {load_after:.1f}; backlog drained {drained:.0f} s after the load stopped",
        f"answers served: {served} = {served / elapsed:.1f}/s"
        f" (p50 {answers.get_response_time_percentile(0.5):.0f} ms,"
        f" p95 {answers.get_response_time_percentile(0.95):.0f} ms)",
        f"completions {done['complete']} (p95 {completes.get_response_time_percentile(0.95):.0f} ms),"
        f" session starts {done['start']} (p95 {starts.get_response_time_percentile(0.95):.0f} ms)",
        f"all requests: {stats.total.num_requests} ({stats.total.num_requests / elapsed:.1f}/s),"
        " by status: "
        + ", ".join(
            f"{status}: {len(times)} (p50 {percentile(times, 0.5):.0f} ms, p95 {percentile(times, 0.95):.0f} ms)"
            for status, times in sorted(outcomes.items())
        ),
        "requests by kind (served / failed): "
        + ", ".join(
            f"{entry.method} {entry.name} {entry.num_requests - entry.num_failures}/{entry.num_failures}"
            for entry in stats.entries.values()
            if entry.num_requests
        ),
        "",
        "| process | CPU s | CPU ms per answer | share of one core |",
        "|---|---|---|---|",
    ]
    platform = sum(used.values())
    rows = [*used.items(), ("**platform**", platform), ("(locust, not the platform)", locust_cpu)]
    for name, seconds in rows:
        lines.append(
            f"| {name} | {seconds:.1f} | {1000 * seconds / max(served, 1):.1f} | {100 * seconds / elapsed:.0f} % |"
        )
    postgres = used["PostgreSQL (all backends)"]
    lines.append(f"\nplatform CPU / PostgreSQL CPU: {platform / max(postgres, 1e-9):.1f} times")
    print("\n" + "\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
