"""The curriculum service's settings (``PARLA_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from parla_shared.secret_policy import placeholder_reason
from parla_shared.settings import ServiceSettings, env_name

# services/curriculum/src/parla_curriculum/settings.py → the checkout's root.
_CHECKOUT_CONTENT_DIR = Path(__file__).resolve().parents[4] / "content"


class CurriculumSettings(ServiceSettings, kw_only=True, frozen=True):
    service_name: str = "curriculum"
    port: int = 8002
    db_schema: str = "curriculum"
    # Course documents (``courses/<key>/course.yaml``); the seed imports ``courses/es-from-en``.
    content_dir: str = str(_CHECKOUT_CONTENT_DIR)
    # Where media lives; the gateway serves it at /media/*. Default: ``$PARLA_DATA_DIR/media``.
    media_dir: str = ""
    # ``local``: files under media_dir, served by the gateway at /media. ``s3``: an S3-compatible bucket.
    media_backend: Literal["local", "s3"] = "local"
    s3_bucket: str = ""
    s3_endpoint_url: str = ""  # empty: AWS itself
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""  # empty: boto3's usual credential chain
    s3_secret_access_key: str = ""
    # Public base URL of the bucket's objects (a CDN); default: the endpoint's path-style bucket URL.
    s3_public_url: str = ""
    # How often public reads check the content revision (a write elsewhere shows within this time).
    content_revision_check_seconds: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.media_backend == "s3" and not self.s3_bucket:
            raise ValueError("PARLA_S3_BUCKET is required when PARLA_MEDIA_BACKEND is s3")

    def weak_secrets(self) -> dict[str, str]:
        problems = super().weak_secrets()
        if self.s3_secret_access_key and (reason := placeholder_reason(self.s3_secret_access_key)) is not None:
            problems[env_name("s3_secret_access_key")] = reason
        return problems

    @property
    def content_path(self) -> Path:
        return Path(self.content_dir)

    @property
    def media_path(self) -> Path:
        return Path(self.media_dir) if self.media_dir else self.data_path / "media"
