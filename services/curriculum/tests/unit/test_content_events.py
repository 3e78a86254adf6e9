"""The content-change events name exactly the entities curriculum stores, as their contract lists them."""

from __future__ import annotations

from parla_curriculum.events import CONTENT_ENTITIES, content_change_type
from parla_curriculum.models import ENTITIES


def test_every_stored_entity_is_a_content_event_entity_and_back() -> None:
    assert tuple(ENTITIES) == CONTENT_ENTITIES


def test_a_content_change_type_names_the_entity_and_action() -> None:
    assert content_change_type("lesson_prerequisite", "deleted") == "parla.curriculum.lesson_prerequisite.deleted"
