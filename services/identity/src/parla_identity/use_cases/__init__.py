"""Identity's use cases: what a request or command does, over the database and the outbox (the only place that
writes events). Controllers (``api/``) call these and shape the answer.

- ``context``: ``Identity``, what the use cases share (settings, secret box, signing keys, mailer).
- ``accounts``: finding, creating and changing accounts; marking an email verified; resealing secrets.
- ``auth``: register, verify email, log in, refresh, log out, password reset.
- ``one_time_tokens``: mailed codes (email verification, password reset).
- ``limits``: login throttling and abuse limits.
- ``tokens``: access, service and refresh tokens.
"""
