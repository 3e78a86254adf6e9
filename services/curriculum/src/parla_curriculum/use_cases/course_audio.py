"""Where an imported document's audio files come from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from parla_curriculum.clients.media import (
    AudioMetadata,
)

# Resolves a document's audio ``file`` (relative to the document) to a local file, or None.
AudioResolver = Callable[[str], Path | None]


def directory_resolver(base: Path) -> AudioResolver:
    def resolve(file_name: str) -> Path | None:
        path = (base / file_name).resolve()
        return path if path.is_relative_to(base.resolve()) and path.is_file() else None

    return resolve


@dataclass
class AudioSource:
    metadata: AudioMetadata
    source: Path | None
    file_path: str
