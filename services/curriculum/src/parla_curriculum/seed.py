"""``python -m parla_curriculum.seed``: import the shipped Spanish course (idempotent; ``make run`` runs it).

The course folder is ``$PARLA_CONTENT_DIR/courses/es-from-en`` (default: the checkout's ``content/``).
"""

from __future__ import annotations

import asyncio

from parla_curriculum.cli import import_course_file
from parla_curriculum.settings import CurriculumSettings

SHIPPED_COURSES = ("es-from-en",)


def main() -> int:
    settings = CurriculumSettings.from_env()
    for key in SHIPPED_COURSES:
        path = settings.content_path / "courses" / key / "course.yaml"
        result = asyncio.run(import_course_file(settings, path))
        print(
            f"curriculum seed: {key}: {result.created} created, {result.updated} updated, {result.deleted} deleted",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
