"""The NATS connection of a service: connects in the background, reconnects forever, owns the streams it needs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import replace

import nats
import structlog
from nats.aio.client import Client as NatsClient
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import NotFoundError

_log = structlog.get_logger("parla.events.bus")

# Publishing the same event id twice within this window is dropped by JetStream.
DUPLICATE_WINDOW_SECONDS = 600.0
STREAM_MAX_AGE_SECONDS = 30 * 24 * 3600.0


def stream_name(context: str) -> str:
    return f"PARLA_{context.upper()}"


def stream_config(context: str, replicas: int = 1) -> StreamConfig:
    """One stream per bounded context with file storage: ``parla.<context>.>``, on ``replicas`` servers
    (``PARLA_NATS_STREAM_REPLICAS``: 1 on the single local server, 3 on the production cluster)."""
    return StreamConfig(
        name=stream_name(context),
        subjects=[f"parla.{context}.>"],
        storage=StorageType.FILE,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        max_age=STREAM_MAX_AGE_SECONDS,
        num_replicas=replicas,
    )


async def ensure_streams(js: JetStreamContext, contexts: Iterable[str], replicas: int = 1) -> None:
    """Create missing streams; raise the replicas of one created with fewer (before the cluster grew)."""
    for context in contexts:
        try:
            info = await js.stream_info(stream_name(context))
        except NotFoundError:
            await js.add_stream(stream_config(context, replicas))
            continue
        if (info.config.num_replicas or 1) < replicas:
            await js.update_stream(replace(info.config, num_replicas=replicas))
            _log.info("stream replicas raised", stream=info.config.name, replicas=replicas)


class EventBus:
    """A NATS client that never fails its service's start: it keeps trying until the server is there.

    ``generation`` grows on every (re)connection so pull consumers know to subscribe again
    (pull subscriptions can go silent across a server restart: nats.py #504, #933).
    """

    def __init__(
        self,
        url: str,
        *,
        name: str,
        stream_contexts: Iterable[str],
        stream_replicas: int = 1,
        user: str | None = None,
        password: str | None = None,
        inbox_prefix: str = "_INBOX",
    ) -> None:
        """``stream_contexts``: the streams this client creates if missing (a service: its own only).
        ``user``/``password``: its NATS identity; ``inbox_prefix``: where its replies arrive (its permissions
        allow receiving there only)."""
        self._url = url
        self._stream_replicas = stream_replicas
        self._name = name
        self._stream_contexts = tuple(stream_contexts)
        self._credentials = {"user": user, "password": password} if user else {}
        self._inbox_prefix = inbox_prefix
        self._client: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._ready = asyncio.Event()
        self._connect_task: asyncio.Task[None] | None = None
        self.generation = 0

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.is_connected and self._ready.is_set()

    @property
    def jetstream(self) -> JetStreamContext:
        if self._js is None:
            raise RuntimeError("not connected to NATS")
        return self._js

    async def start(self) -> None:
        self._connect_task = asyncio.create_task(self._connect_until_up(), name=f"{self._name}-nats-connect")

    async def wait_connected(self) -> None:
        await self._ready.wait()

    async def _connect_until_up(self) -> None:
        while self._client is None:
            try:
                self._client = await nats.connect(
                    self._url,
                    name=self._name,
                    connect_timeout=2,
                    reconnect_time_wait=1,
                    max_reconnect_attempts=-1,
                    disconnected_cb=self._on_disconnected,
                    reconnected_cb=self._on_reconnected,
                    error_cb=self._on_error,
                    inbox_prefix=self._inbox_prefix,
                    **self._credentials,
                )
            except Exception as exc:  # noqa: BLE001 - any failure means "not yet": try again
                _log.warning("nats not reachable, retrying", url=self._url, error=str(exc) or type(exc).__name__)
                await asyncio.sleep(1)
        self._js = self._client.jetstream()
        await self._on_reconnected()

    async def _on_error(self, error: Exception) -> None:
        # Permission violations arrive here (the server refused a subject this identity may not use).
        _log.warning("nats error", error=str(error) or type(error).__name__)

    async def _on_disconnected(self) -> None:
        self._ready.clear()
        _log.warning("nats disconnected")

    async def _on_reconnected(self) -> None:
        try:
            await ensure_streams(self.jetstream, self._stream_contexts, self._stream_replicas)
        except Exception as exc:  # noqa: BLE001 - JetStream may lag the connection; the next reconnect retries
            _log.warning("stream setup failed", error=str(exc))
            asyncio.get_running_loop().call_later(1, lambda: asyncio.ensure_future(self._on_reconnected()))
            return
        self.generation += 1
        self._ready.set()
        _log.info("nats connected", url=self._url, generation=self.generation)

    async def close(self) -> None:
        if self._connect_task is not None:
            self._connect_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connect_task
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close()
        self._ready.clear()
