"""Parla progress service: enrolments, lesson sessions, answers, hearts, XP, daily goals, streaks and achievements.

Where each kind of code lives (the same in every service, docs/decisions.md):

- ``app.py``: wiring only (the Litestar app from settings); ``settings.py``: its settings.
- ``api/``: the controller (thin: parse, call a use case, shape the answer), ``api/schemas.py`` (its request and
  response structs) and ``api/dependencies.py`` (what a request's use cases are given).
- ``domain/``: pure rules (hearts, streaks, daily XP, scoring, unlocking, achievements, spaced repetition's memory,
  the learner's settings):
  no database, no HTTP problems, tested without I/O.
- ``use_cases/``: what each request does over the database, the only code that writes the outbox — the busy ones
  in SQL on the asyncpg driver (``answers``, ``completion``, ``sessions``, ``reviews``, ``views``), the rest on the
  ORM session (``progress``); ``learners`` holds the learner lock every state-changing use case takes first.
- ``models.py``: the tables; ``events.py``: the events progress publishes, typed; ``consumers.py``: identity's
  events it consumes.
- ``clients/``: outbound calls (curriculum); ``limits.py`` (abuse limits) and ``clock.py`` (the injectable clock).
"""
