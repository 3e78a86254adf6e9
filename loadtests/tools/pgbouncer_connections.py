"""AC-14: 1000+ concurrent client connections through PgBouncer (transaction pooling) to the embedded database,
each running progress's answer transaction (docs/performance.md, "PgBouncer: 1000+ connections").

Needs the ``pgbouncer`` program (Debian: ``apt-get install pgbouncer``) and a running embedded PostgreSQL
(``make run``, or the server ``parla-dev`` starts for it). It creates a throw-away database on that server
with every service's migrations, one learner, session and lesson progress per client, starts PgBouncer on
a free port in front of it (transaction mode, ``default_pool_size`` server connections for the progress
role), opens ``--clients`` connections through it at once, and has each run the answer transaction in a
loop for ``--seconds``. Then it drops the database and stops PgBouncer.

    apt-get install -y pgbouncer
    .venv/bin/python loadtests/tools/pgbouncer_connections.py \\
        --server postgresql://postgres@127.0.0.1:54329/postgres --clients 1000 --seconds 30

The transaction is the one ``ProgressService.answer`` runs (services/progress/src/parla_progress/services.py),
statement for statement, as the progress role with ``app.user_id`` set (row-level security): read the
session with its stored idempotent answer, lock the learner, re-check session/answer/attempts in one round
trip, insert the interaction, update the lesson progress, store the answer and write the outbox event.
Grading (an HTTP call to curriculum, outside the transaction) is not part of it. Debian's PgBouncer 1.18
predates ``max_prepared_statements`` (1.21), so asyncpg's statement cache is off here; production's pooler
(CloudNativePG, PgBouncer 1.2x) keeps prepared statements.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from parla_shared.provisioning.database import SERVICES, drop_database, role_dsn, with_database
from parla_shared.provisioning.environment import prepare_database
from parla_testing import free_port

ROOT = Path(__file__).resolve().parents[2]

PASSWORDS = {service: f"pgbouncer-bench-{service}" for service in SERVICES}  # a throw-away database's roles
EXERCISES_PER_LESSON = 10


@dataclass(frozen=True)
class Learner:
    user_id: uuid.UUID
    course_id: uuid.UUID
    lesson_id: uuid.UUID
    session_id: uuid.UUID
    exercises: tuple[uuid.UUID, ...]


async def _seed(dsn: str, clients: int) -> list[Learner]:
    learners = []
    connection = await asyncpg.connect(dsn)
    try:
        course = uuid.uuid4()
        for _ in range(clients):
            learner = Learner(
                uuid.uuid4(),
                course,
                uuid.uuid4(),
                uuid.uuid4(),
                tuple(uuid.uuid4() for _ in range(EXERCISES_PER_LESSON)),
            )
            exercises = json.dumps(
                [{"exercise_id": str(e), "lesson_id": str(learner.lesson_id)} for e in learner.exercises]
            )
            async with connection.transaction():
                await connection.execute("SELECT set_config('app.user_id', $1, true)", str(learner.user_id))
                await connection.execute("INSERT INTO progress.learners (user_id) VALUES ($1)", learner.user_id)
                await connection.execute(
                    "INSERT INTO progress.user_lesson_progress (id, user_id, course_id, lesson_id, status) "
                    "VALUES ($1, $2, $3, $4, 'available')",
                    uuid.uuid4(),
                    learner.user_id,
                    course,
                    learner.lesson_id,
                )
                await connection.execute(
                    "INSERT INTO progress.lesson_sessions (id, user_id, course_id, lesson_id, exercises, xp_reward, "
                    "started_at) VALUES ($1, $2, $3, $4, $5::jsonb, 10, now())",
                    learner.session_id,
                    learner.user_id,
                    course,
                    learner.lesson_id,
                    exercises,
                )
            learners.append(learner)
    finally:
        await connection.close()
    return learners


async def _answer(connection: asyncpg.Connection, learner: Learner, attempt: int) -> None:
    exercise = learner.exercises[attempt % len(learner.exercises)]
    key = f"bench-{uuid.uuid4()}"
    async with connection.transaction():
        await connection.execute("SELECT set_config('app.user_id', $1, true)", str(learner.user_id))
        await connection.fetchrow(
            "SELECT s.*, (SELECT a.response FROM progress.lesson_session_answers a "
            "WHERE a.session_id = s.id AND a.idempotency_key = $3) FROM progress.lesson_sessions s "
            "WHERE s.id = $1 AND s.user_id = $2",
            learner.session_id,
            learner.user_id,
            key,
        )
        await connection.fetchrow("SELECT * FROM progress.learners WHERE user_id = $1 FOR UPDATE", learner.user_id)
        previous = await connection.fetchrow(
            "SELECT (SELECT status FROM progress.lesson_sessions WHERE id = $1), "
            "(SELECT response FROM progress.lesson_session_answers WHERE session_id = $1 AND idempotency_key = $2), "
            "(SELECT count(*) FROM progress.user_exercise_interactions WHERE session_id = $1 AND exercise_id = $3)",
            learner.session_id,
            key,
            exercise,
        )
        assert previous is not None
        interaction = uuid.uuid4()
        await connection.execute(
            "INSERT INTO progress.user_exercise_interactions (id, user_id, exercise_id, lesson_id, session_id, "
            "user_answer, is_correct, attempt_number, time_spent_seconds, hints_used, hearts_lost, xp_earned, "
            "interaction_at) VALUES ($1, $2, $3, $4, $5, 'una respuesta', true, $6, 7, 0, 0, 0, now())",
            interaction,
            learner.user_id,
            exercise,
            learner.lesson_id,
            learner.session_id,
            previous[2] + 1,
        )
        await connection.execute(
            "UPDATE progress.user_lesson_progress SET total_time_seconds = total_time_seconds + 7, "
            "hearts_lost = hearts_lost + 0 WHERE user_id = $1 AND lesson_id = $2",
            learner.user_id,
            learner.lesson_id,
        )
        response = json.dumps({"exercise_id": str(exercise), "correct": True, "hearts": 5, "xp_earned": 0})
        await connection.execute(
            "INSERT INTO progress.lesson_session_answers (id, session_id, user_id, interaction_id, idempotency_key, "
            "response) VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            uuid.uuid4(),
            learner.session_id,
            learner.user_id,
            interaction,
            key,
            response,
        )
        await connection.execute(
            "INSERT INTO progress.outbox (id, subject, payload) "
            "VALUES ($1, 'parla.progress.exercise.answered', $2::jsonb)",
            uuid.uuid4(),
            json.dumps({"user_id": str(learner.user_id), "exercise_id": str(exercise)}),
        )


async def _client(
    dsn: str,
    learner: Learner,
    *,
    start: asyncio.Event,
    stop_at: list[float],
    latencies: list[float],
    connected: list[int],
) -> int:
    connection = await asyncpg.connect(dsn, statement_cache_size=0, timeout=120)
    connected[0] += 1
    try:
        await start.wait()
        done = 0
        while time.monotonic() < stop_at[0]:
            began = time.perf_counter()
            await _answer(connection, learner, done)
            latencies.append(time.perf_counter() - began)
            done += 1
        return done
    finally:
        await connection.close()


def _pgbouncer_config(directory: Path, *, server_port: int, port: int, database: str, clients: int, pool: int) -> Path:
    (directory / "userlist.txt").write_text('"parla_progress" ""\n"postgres" ""\n')
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        f"""[databases]
{database} = host=127.0.0.1 port={server_port} dbname={database}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "userlist.txt"}
pool_mode = transaction
max_client_conn = {clients + 100}
default_pool_size = {pool}
max_db_connections = {pool * 2}
ignore_startup_parameters = extra_float_digits
logfile = {directory / "pgbouncer.log"}
"""
    )
    return ini


def _start_pgbouncer(program: str, ini: Path) -> subprocess.Popen[bytes]:
    # PgBouncer refuses to run as root; -u drops to an unprivileged user, who must write its log there.
    user = ["-u", "nobody"] if os.geteuid() == 0 else []
    ini.parent.chmod(0o777)
    return subprocess.Popen([program, *user, str(ini)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603


async def run(server: str, clients: int, seconds: float, pool: int) -> dict[str, object]:
    program = shutil.which("pgbouncer")
    if program is None:
        raise SystemExit("pgbouncer is not installed: apt-get install -y pgbouncer")
    database = f"parla_pgbouncer_{secrets.token_hex(4)}"
    admin = with_database(server, "postgres")
    server_port = int(server.rsplit(":", 1)[1].split("/", 1)[0])
    await asyncio.to_thread(prepare_database, ROOT, admin, database, PASSWORDS)  # it runs its own event loop
    scratch = Path(tempfile.mkdtemp(prefix="parla-pgbouncer-"))
    port = free_port()
    bouncer = None
    try:
        direct = role_dsn(admin, database, "progress", PASSWORDS["progress"])
        learners = await _seed(direct, clients)
        ini = _pgbouncer_config(
            scratch, server_port=server_port, port=port, database=database, clients=clients, pool=pool
        )
        bouncer = _start_pgbouncer(program, ini)
        await asyncio.sleep(1.0)
        through = f"postgresql://parla_progress@127.0.0.1:{port}/{database}"
        start, stop_at, connected = asyncio.Event(), [0.0], [0]
        latencies: list[float] = []
        tasks = [
            asyncio.create_task(
                _client(through, learner, start=start, stop_at=stop_at, latencies=latencies, connected=connected)
            )
            for learner in learners
        ]
        # Every client connected before the clock starts: all connections are open at once.
        while connected[0] < clients:
            failed = [task for task in tasks if task.done()]
            if failed:
                failed[0].result()
            await asyncio.sleep(0.2)
        stop_at[0] = time.monotonic() + seconds
        began = time.monotonic()
        start.set()
        await asyncio.sleep(seconds / 2)
        probe = await asyncpg.connect(with_database(admin, database))
        try:
            server_connections = await probe.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = 'parla_progress'", database
            )
            client_connections = connected[0]
        finally:
            await probe.close()
        answered = sum(await asyncio.gather(*tasks))
        elapsed = time.monotonic() - began
        ordered = sorted(latencies)
        return {
            "clients": clients,
            "client_connections_open": client_connections,
            "server_connections_mid_run": server_connections,
            "pool_size": pool,
            "seconds": round(elapsed, 1),
            "answer_transactions": answered,
            "transactions_per_second": round(answered / elapsed, 1),
            "latency_ms": {
                "p50": round(statistics.median(ordered) * 1000, 1),
                "p95": round(ordered[int(len(ordered) * 0.95)] * 1000, 1),
                "p99": round(ordered[int(len(ordered) * 0.99)] * 1000, 1),
                "max": round(ordered[-1] * 1000, 1),
            },
            "errors": 0,
        }
    finally:
        if bouncer is not None:
            bouncer.terminate()
            bouncer.wait(10)
        shutil.rmtree(scratch, ignore_errors=True)
        await drop_database(admin, database)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="admin URL of the embedded PostgreSQL")
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--pool", type=int, default=20, help="PgBouncer's server connections for the progress role")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.server, args.clients, args.seconds, args.pool)), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
