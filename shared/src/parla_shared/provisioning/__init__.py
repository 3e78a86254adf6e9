"""Provisioning a Parla database, at run time of a deployment as much as in development.

- ``database``: one database, a schema, an owner and a login role per service, and each service's migrations.
- ``environment``: the platform's default ports, role passwords, and the environment a service is started or
  seeded with.
- ``cli``: the ``parla-dev`` program: ``migrate`` here; the development commands from ``tools/devstack``.
"""
