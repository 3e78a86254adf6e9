"""msgspec types shared by every service's request Structs."""

from __future__ import annotations

from typing import Annotated

import msgspec

# PostgreSQL text cannot hold a NUL character: a request string that gets stored is refused when the body is read,
# with a 400 naming the field (the database's own refusal is answered as a 400 too, but without the field).
# The pattern serves query parameters too (``QueryParameter(pattern=STORABLE_TEXT_PATTERN)``).
STORABLE_TEXT_PATTERN = r"^[^\x00]*$"
StorableText = Annotated[str, msgspec.Meta(pattern=STORABLE_TEXT_PATTERN)]
