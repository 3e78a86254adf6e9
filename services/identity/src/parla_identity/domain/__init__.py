"""Identity's pure rules: no database, no HTTP, tested without I/O.

- ``accounts``: what a valid email, password, name, time zone, daily goal and avatar URL are.
- ``passwords``: the password policy and bcrypt hashing (in a worker thread).
- ``service_clients``: whether a service client's secret is its own (constant time).
"""
