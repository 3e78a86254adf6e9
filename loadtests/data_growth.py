"""Data growth (PRD AC-3, AC-16): do the key queries stay as fast with 10x the learners and their history?

Builds a data set in a database of its own on a PostgreSQL server (a private embedded one: no service uses it),
then times the statements the services issue on their hot paths, imported from the services themselves: the
lesson start, answer, completion, practice, review forecast, ``/me`` and course-map SQL of progress
(``parla_progress.use_cases``),
analytics' set-based consumer writes (``parla_analytics.use_cases.activity``) and reports
(``parla_analytics.use_cases.reports``),
plus the ORM-issued reads of ``/users/me``, refresh and token housekeeping (identity),
written out as the ORM sends them. Prints p50/p95 per statement and, with ``--explain``, each plan
(``EXPLAIN (ANALYZE, BUFFERS)``):

    python loadtests/data_growth.py --server postgresql://postgres@127.0.0.1:55929/postgres \
        --database parla_growth --learners 10000 --explain          # 1x
    python loadtests/data_growth.py --server … --database parla_growth_10x --learners 100000 --explain   # 10x
    python loadtests/data_growth.py --server … --database parla_growth_10x --measure-only --explain  # time again
    python loadtests/data_growth.py --server … --database parla_growth --measure-only \
        --compare-with parla_growth --compare-with parla_growth_10x   # in turn: the 10x/1x p95 ratio, and 1x/1x's

Learners are seeded with identity's own CLI (``seed-learners``: real accounts with a refresh token each). Their
history is written inside PostgreSQL (``INSERT … SELECT`` over ``generate_series``), one statement per day of
history, oldest day first, so rows arrive in time order as in production: ``--sessions`` completed lessons per
learner spread over ``--days`` (at most one a day), every exercise of the lesson answered (about one in five
wrong, with its hearts-log row), the answers' idempotency records, daily XP, lesson progress, achievements and
``--tokens`` rotated refresh tokens from the last 29 days. Ids the services make with uuid7 (sessions,
interactions, stored answers) are time-ordered here too; the rest take their column default, as in production.
Indexes and constraints are maintained row by row during the load, as in production, unless ``--bulk`` (the
default above 20,000 new learners): then the history tables' non-unique indexes and foreign keys are dropped for
the load and recreated from their catalogue definitions afterwards, as a restore does (primary keys and unique
constraints stay); the rebuilt indexes are densely packed where grown ones are not.
Analytics gets ``--events-per-learner`` activity rows from its generator (``loadtests/generate_activity.py``).
Statements that write are timed inside a transaction that is rolled back; progress' statements run as the
``parla_progress`` role acting for the learner (row-level security on), as ``acting_transaction`` runs them.

The build lives in ``_growth_build.py``, the timed statements in ``_growth_statements.py`` and their timing in
``_growth_measure.py``; this script is their command line.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import asyncpg
from _growth_build import BULK_THRESHOLD, LEARNER_ACCOUNTS, analytics_events, build_history, prepare
from _growth_measure import measure
from sqlalchemy.engine import make_url


def _dsn(server: str, database: str) -> str:
    return make_url(server).set(database=database).render_as_string(hide_password=False)


async def main_async(args: argparse.Namespace) -> None:
    dsn = _dsn(args.server, args.database)
    if not args.measure_only:
        await prepare(args, dsn)
        connection = await asyncpg.connect(dsn)
        try:
            await build_history(args, connection)
            learners_count = len(await connection.fetch(LEARNER_ACCOUNTS))
        finally:
            await connection.close()
        await analytics_events(args, dsn, learners_count)
    await measure(args, [dsn, *(_dsn(args.server, other) for other in args.compare_with)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server", required=True, help="admin URL of a PostgreSQL server no one else benchmarks on")
    parser.add_argument("--database", default="parla_growth")
    parser.add_argument("--learners", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=12, help="completed lessons per learner")
    parser.add_argument("--days", type=int, default=90, help="history spread over this many past days")
    parser.add_argument("--tokens", type=int, default=20, help="rotated refresh tokens per learner (last 29 days)")
    parser.add_argument("--events-per-learner", type=int, default=20, help="analytics activity rows")
    parser.add_argument("--samples", type=int, default=300, help="timed runs per statement")
    parser.add_argument("--pool", type=int, default=5000, help="random learners the timed runs pick from")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN (ANALYZE, BUFFERS) of each statement")
    parser.add_argument(
        "--bulk",
        action=argparse.BooleanOptionalAction,
        help=f"drop the history tables' non-unique indexes and foreign keys for the load and recreate them after "
        f"(default: when adding over {BULK_THRESHOLD:,} learners)",
    )
    parser.add_argument("--measure-only", action="store_true", help="time the statements on the data as it is")
    parser.add_argument(
        "--compare-with",
        metavar="DATABASE",
        action="append",
        default=[],
        help="another data set on the same server, timed run by run in turn with --database (with --measure-only); "
        "may be repeated, and may name --database itself",
    )
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs per statement and data set first")
    parser.add_argument(
        "--hot", action="store_true", help="time each run after an untimed one with the same values (pages in memory)"
    )
    parser.add_argument("--accounts", type=Path, default=Path("/tmp/parla-growth-accounts.json"))  # noqa: S108
    args = parser.parse_args()
    if args.compare_with and not args.measure_only:
        parser.error("--compare-with times data sets that exist: give --measure-only")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
