"""Streams get ``PARLA_NATS_STREAM_REPLICAS`` replicas: tested on a real 3-node JetStream cluster on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest
from nats.js.api import StreamConfig

from parla_devstack.nats import nats_server_executable
from parla_devstack.processes import ChildProcess
from parla_shared.events.bus import EventBus, stream_name
from parla_testing import free_port


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[list[str]]:
    client_ports = [free_port() for _ in range(3)]
    route_ports = [free_port() for _ in range(3)]
    routes = ",".join(f"nats://127.0.0.1:{port}" for port in route_ports)
    servers = [
        ChildProcess(
            f"nats-{index}",
            [
                nats_server_executable(),
                "-a",
                "127.0.0.1",
                "-p",
                str(client_ports[index]),
                "-js",
                "-sd",
                str(tmp_path / f"n{index}"),
                "--server_name",
                f"n{index}",
                "--cluster_name",
                "parla-test",
                "--cluster",
                f"nats://127.0.0.1:{route_ports[index]}",
                "--routes",
                routes,
            ],
            log_path=tmp_path / f"n{index}.log",
        )
        for index in range(3)
    ]
    try:
        yield [f"nats://127.0.0.1:{port}" for port in client_ports]
    finally:
        for server in servers:
            server.stop()


async def _started(bus: EventBus) -> EventBus:
    await bus.start()
    await asyncio.wait_for(bus.wait_connected(), timeout=90)  # until the cluster has elected its leaders
    return bus


async def test_streams_are_created_with_the_configured_replicas(nats_cluster: list[str]) -> None:
    bus = await _started(EventBus(nats_cluster[0], name="replicas-probe", stream_contexts=["probe"], stream_replicas=3))
    try:
        info = await bus.jetstream.stream_info(stream_name("probe"))
        assert info.config.num_replicas == 3
        assert info.cluster is not None
        assert len(info.cluster.replicas or []) == 2
    finally:
        await bus.close()


async def test_a_stream_created_with_fewer_replicas_is_raised(nats_cluster: list[str]) -> None:
    client = await nats.connect(nats_cluster[1])
    try:
        js = client.jetstream()
        for _ in range(90):  # the cluster's meta leader first
            try:
                await js.add_stream(StreamConfig(name=stream_name("grown"), subjects=["parla.grown.>"], num_replicas=1))
                break
            except Exception:  # noqa: BLE001 - JetStream not ready yet
                await asyncio.sleep(1)
        assert (await js.stream_info(stream_name("grown"))).config.num_replicas == 1
        bus = await _started(
            EventBus(nats_cluster[0], name="replicas-probe", stream_contexts=["grown"], stream_replicas=3)
        )
        try:
            assert (await js.stream_info(stream_name("grown"))).config.num_replicas == 3
        finally:
            await bus.close()
    finally:
        await client.close()


async def test_a_single_server_keeps_one_replica(nats_cluster: list[str]) -> None:
    """The local default (1) on the same cluster: one replica, as on the embedded single server."""
    bus = await _started(EventBus(nats_cluster[2], name="replicas-probe", stream_contexts=["single"]))
    try:
        assert (await bus.jetstream.stream_info(stream_name("single"))).config.num_replicas == 1
    finally:
        await bus.close()
