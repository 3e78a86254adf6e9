"""Parla curriculum service: languages, courses and their content hierarchy, exercises, audio and grading.

Where each kind of code lives (the same in every service, docs/decisions.md "One shape for every service"):

- ``app.py``: wiring only; ``settings.py``: its settings.
- ``api/``: the controllers (public reads, the internal answer check, the admin course documents and the generic
  admin CRUD) and their structs (``api/schemas.py``, ``api/admin_schemas.py``).
- ``domain/``: pure rules: grading answers (``grading``), and the course document — its shape and reader
  (``document``), reading YAML (``document_reading``), cross-references and cycles (``document_checks``), writing
  YAML (``document_writing``).
- ``use_cases/``: the public reads, the answer check, course import (``course_import``, ``course_upserts``,
  ``course_audio``) and export (``course_export``, ``course_io``), the queries those share (``course_queries``),
  admin CRUD and listing (``admin_content``, ``content_checks``), and the content-change events
  (``content_changes``, the only outbox writer).
- ``models.py``: the tables; ``events.py``: the events curriculum publishes, typed.
- ``clients/``: outbound calls (``media``: the audio files, on disk or S3).
- Also here: ``cache.py`` (encoded public payloads per content revision), ``cli.py``/``seed.py`` (operator
  commands and the seed).
"""
