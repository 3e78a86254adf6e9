"""The events curriculum publishes: their types and payloads are the contracts in
``parla_shared.contracts.curriculum`` (defined once there, where consumers import them; docs/events.md)."""

from parla_shared.contracts.curriculum import (
    CONTENT_ENTITIES,
    COURSE_IMPORTED,
    ContentChanged,
    CourseImported,
    content_change_type,
)

__all__ = ["CONTENT_ENTITIES", "COURSE_IMPORTED", "ContentChanged", "CourseImported", "content_change_type"]
