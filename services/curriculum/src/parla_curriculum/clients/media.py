"""Media storage (a local directory served by the gateway at ``/media/*``, or an S3-compatible bucket) and
audio metadata read from the files.

Stored audio is content-addressed (``audio/<course-key>/<sha256>.<ext>``): a public URL never spells the
exercise's key (which often names the answer) and a changed recording gets a new URL, so caches never
serve a stale one.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import mutagen
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError
from mutagen.mp3 import MP3, HeaderNotFoundError
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

if TYPE_CHECKING:
    from parla_curriculum.settings import CurriculumSettings

AUDIO_FORMATS = ("mp3", "ogg", "wav")


class AudioFormatError(ValueError):
    """The file is not a readable audio file of its declared format."""


@dataclass(frozen=True)
class AudioMetadata:
    file_size_bytes: int
    duration_seconds: int
    sample_rate: int | None
    bit_rate: int | None
    digest: str


def sniff_format(head: bytes) -> str | None:
    """The container a file's first bytes announce: mp3 (ID3 tag or MPEG frame sync), ogg, wav."""
    if head.startswith(b"ID3") or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    return None


def read_audio_metadata(path: Path, declared_format: str) -> AudioMetadata:
    """Size, duration (whole seconds, rounded up), sample rate and bit rate, read with mutagen.

    Raises AudioFormatError when the bytes are not the declared format.
    """
    data = path.read_bytes()
    sniffed = sniff_format(data[:16])
    if sniffed != declared_format:
        raise AudioFormatError(f"is not {declared_format} audio (its bytes look like {sniffed or 'no audio format'})")
    parsers: dict[str, type[mutagen.FileType]] = {"mp3": MP3, "ogg": OggVorbis, "wav": WAVE}
    try:
        parsed = parsers[declared_format](str(path))
    except (mutagen.MutagenError, HeaderNotFoundError) as exc:
        raise AudioFormatError(f"is not readable {declared_format} audio: {exc}") from exc
    info = parsed.info
    length = float(getattr(info, "length", 0.0) or 0.0)
    sample_rate = getattr(info, "sample_rate", None)
    bit_rate = getattr(info, "bitrate", None)
    return AudioMetadata(
        file_size_bytes=len(data),
        duration_seconds=max(1, math.ceil(length)) if length > 0 else 0,
        sample_rate=int(sample_rate) if sample_rate else None,
        bit_rate=int(bit_rate) if bit_rate else None,
        digest=hashlib.sha256(data).hexdigest(),
    )


def audio_path(course_key: str, metadata: AudioMetadata, file_format: str) -> str:
    """Where a recording is stored: named by its content, so its URL never spells the answer."""
    return f"audio/{course_key}/{metadata.digest[:32]}.{file_format}"


class MediaStorage(ABC):
    """Where media files live. ``file_path`` values (``audio/<course>/<sha256>.<ext>``) are the same in
    every backend; only the URL and the transport differ."""

    @abstractmethod
    def public_url(self, file_path: str) -> str:
        """The URL a client downloads the file from."""

    def local_file(self, file_path: str) -> Path | None:
        """The file on this machine, when the backend is a local directory (None otherwise)."""
        del file_path
        return None

    @abstractmethod
    async def put(self, source: Path, file_path: str) -> None:
        """Store ``source`` as ``file_path`` unless it is already there (same name means same content)."""

    @abstractmethod
    async def exists(self, file_path: str) -> bool: ...

    @abstractmethod
    async def fetch(self, file_path: str, target: Path) -> None:
        """Copy the stored file to the local ``target``."""


class LocalMediaStorage(MediaStorage):
    """A directory the gateway serves at ``/media/*`` (``$PARLA_DATA_DIR/media`` by default)."""

    def __init__(self, root: Path, public_base_url: str) -> None:
        self.root = root
        self._base_url = f"{public_base_url.rstrip('/')}/media"

    def public_url(self, file_path: str) -> str:
        return f"{self._base_url}/{file_path}"

    def local_path(self, file_path: str) -> Path:
        path = (self.root / file_path).resolve()
        if not path.is_relative_to(self.root.resolve()):
            raise ValueError(f"media path escapes the media directory: {file_path}")
        return path

    def local_file(self, file_path: str) -> Path | None:
        try:
            return self.local_path(file_path)
        except ValueError:
            return None

    async def put(self, source: Path, file_path: str) -> None:
        await asyncio.to_thread(self._put, source, self.local_path(file_path))

    @staticmethod
    def _put(source: Path, target: Path) -> None:
        if target.is_file() and target.stat().st_size == source.stat().st_size:
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        shutil.copyfile(source, partial)
        partial.replace(target)

    async def exists(self, file_path: str) -> bool:
        return await asyncio.to_thread(self.local_path(file_path).is_file)

    async def fetch(self, file_path: str, target: Path) -> None:
        await asyncio.to_thread(shutil.copyfile, self.local_path(file_path), target)


class S3MediaStorage(MediaStorage):
    """An S3-compatible bucket (AWS S3, MinIO, …); boto3 is blocking, so every call runs in a worker thread.

    Objects are public-read through ``public_base_url`` (a CDN or the bucket's own URL): lesson payloads are
    cached, so they cannot carry expiring presigned URLs.
    """

    def __init__(self, client: Any, bucket: str, public_base_url: str) -> None:
        self._client = client
        self._bucket = bucket
        self._base_url = public_base_url.rstrip("/")

    def public_url(self, file_path: str) -> str:
        return f"{self._base_url}/{file_path}"

    async def put(self, source: Path, file_path: str) -> None:
        if await self.exists(file_path):
            return
        content_type = {"mp3": "audio/mpeg", "ogg": "audio/ogg", "wav": "audio/wav"}.get(
            source.suffix.lstrip(".").lower(), "application/octet-stream"
        )
        await asyncio.to_thread(
            self._client.upload_file,
            str(source),
            self._bucket,
            file_path,
            ExtraArgs={"ContentType": content_type, "CacheControl": "public, max-age=31536000, immutable"},
        )

    async def exists(self, file_path: str) -> bool:
        try:
            await asyncio.to_thread(self._client.head_object, Bucket=self._bucket, Key=file_path)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    async def fetch(self, file_path: str, target: Path) -> None:
        await asyncio.to_thread(self._client.download_file, self._bucket, file_path, str(target))


def media_storage(settings: CurriculumSettings) -> MediaStorage:
    """The backend ``PARLA_MEDIA_BACKEND`` names (``local`` or ``s3``)."""
    if settings.media_backend == "local":
        return LocalMediaStorage(settings.media_path, settings.public_url)
    client = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url or None,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id or None,
        aws_secret_access_key=settings.s3_secret_access_key or None,
        config=BotoConfig(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
    )
    base_url = settings.s3_public_url or (
        f"{settings.s3_endpoint_url.rstrip('/')}/{settings.s3_bucket}"
        if settings.s3_endpoint_url
        else f"https://{settings.s3_bucket}.s3.{settings.s3_region}.amazonaws.com"
    )
    return S3MediaStorage(client, settings.s3_bucket, base_url)
