"""docs/asyncapi.json and docs/events.md say what the event contracts say (``parla-dev events`` writes them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parla_devstack.event_docs import ASYNCAPI_PATH, asyncapi_document, stale_event_docs
from parla_shared.contracts import catalogue
from parla_shared.provisioning.cli import main

ROOT = Path(__file__).resolve().parents[3]


def test_the_event_documents_are_generated_from_the_contracts() -> None:
    assert stale_event_docs(ROOT) == [], "run `parla-dev events` and commit docs/asyncapi.json and docs/events.md"


def test_the_check_fails_on_a_stale_document(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / ASYNCAPI_PATH).write_text("{}\n")
    assert [path.name for path in stale_event_docs(tmp_path)] == ["asyncapi.json", "events.md"]


def test_every_contract_is_a_channel_with_its_message_and_schema() -> None:
    document = asyncapi_document()
    assert document["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == {contract.event_type for contract in catalogue()}
    messages, schemas = document["components"]["messages"], document["components"]["schemas"]
    for channel_id, channel in document["channels"].items():
        (reference,) = channel["messages"].values()
        message = messages[reference["$ref"].rsplit("/", 1)[-1]]
        data = message["payload"]["allOf"][1]["properties"]["data"]["$ref"].rsplit("/", 1)[-1]
        assert data in schemas, channel_id
        operations = [
            op for op in document["operations"].values() if op["channel"]["$ref"] == f"#/channels/{channel_id}"
        ]
        assert [op["action"] for op in operations] == ["send"]
    assert json.loads((ROOT / ASYNCAPI_PATH).read_text()) == json.loads(json.dumps(document))


def test_event_types_are_unique_and_in_their_producers_namespace() -> None:
    types = [contract.event_type for contract in catalogue()]
    assert len(types) == len(set(types))
    for contract in catalogue():
        assert contract.event_type.startswith(f"parla.{contract.context}."), contract.event_type
        assert contract.context in ("identity", "curriculum", "progress")


def test_parla_dev_events_check_answers_zero_when_up_to_date(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert main(["events", "--check"]) == 0
