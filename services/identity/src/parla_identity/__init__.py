"""Parla identity service: accounts, login (email/password, Google, TikTok), access tokens and profiles.

Where each kind of code lives (the same in every service, docs/decisions.md "One shape for every service"):

- ``app.py``: wiring only (the Litestar app from settings); ``settings.py``: its settings.
- ``api/``: the controllers (thin: parse, call a use case, shape the answer) and ``api/schemas.py``, their
  request and response structs.
- ``domain/``: pure rules (what a valid account field is, the password policy, service-client secrets): no
  database, no HTTP problems, tested without I/O.
- ``use_cases/``: what each request or command does over the database; the only code that writes the outbox.
- ``models.py``: the tables; ``events.py``: the events identity publishes, typed.
- ``clients/``: outbound calls (the mailer, the OAuth providers).
- Also here: ``crypto.py`` and ``keys.py`` (sealed secrets, the signing keys and their JWKS), ``standing.py``
  (account standing the other services ask about), ``cli.py``/``seed.py``/``seeding.py`` (operator commands and
  the seeded accounts).
"""
