"""``http_snapshot``: GET a camera's snapshot URL; healthy when it answers a JPEG in time.

The answer must be ``image/jpeg``, start with the JPEG marker and weigh between ``min_bytes``
(a black or broken frame is tiny) and ``max_bytes``, all within ``timeout_s``; anything else is
this check's ``check_error`` with the reason (``check_recovered`` when it answers again).
Digest credentials are optional (``username`` + ``password_env``).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from collector.checks.base import (
    Check,
    CheckError,
    CheckParams,
    Sample,
    Secrets,
    Target,
    translates,
)
from collector.protocols.http import DigestClient

JPEG_MAGIC = b"\xff\xd8\xff"


class SnapshotParams(CheckParams):
    path: str = Field("/snapshot.jpg", pattern=r"^/[^\s]{0,500}$")
    port: int = Field(80, ge=1, le=65535)
    https: bool = False
    verify_tls: bool = False
    username: str = Field("", max_length=64)
    password_env: str | None = Field(None, min_length=1, max_length=128)
    timeout_s: float = Field(5.0, gt=0, le=60)
    min_bytes: int = Field(2_000, ge=0)
    max_bytes: int = Field(10_000_000, gt=0)

    @model_validator(mode="after")
    def _sizes(self) -> SnapshotParams:
        if self.min_bytes > self.max_bytes:
            raise ValueError("min_bytes is larger than max_bytes")
        return self


class SnapshotCheck(Check):
    name: ClassVar[str] = "http_snapshot"
    Params: ClassVar[type[CheckParams]] = SnapshotParams
    params: SnapshotParams

    def __init__(self, target: Target, params: CheckParams, secrets: Secrets) -> None:
        super().__init__(target, params, secrets)
        p = self.params
        env = p.password_env
        self.client = DigestClient(
            f"{'https' if p.https else 'http'}://{target.address}:{p.port}",
            p.username,
            (lambda: secrets(env)) if env else "",
            timeout_s=p.timeout_s,
            max_bytes=p.max_bytes,
            verify_tls=p.verify_tls,
        )

    @translates
    async def poll(self) -> Sample:
        p = self.params
        answer = await self.client.fetch(p.path)
        assert answer is not None
        content_type, body = answer
        media = content_type.split(";", 1)[0].strip().lower()
        if media != "image/jpeg":
            raise CheckError(
                f"{p.path}: answered {media or 'no type'}, not image/jpeg", kind="parse"
            )
        if not body.startswith(JPEG_MAGIC):
            raise CheckError(f"{p.path}: the body is not a JPEG", kind="parse")
        if len(body) < p.min_bytes:
            raise CheckError(
                f"{p.path}: a {len(body)}-byte snapshot (less than {p.min_bytes})", kind="parse"
            )
        return Sample(meta={"snapshot_bytes": len(body)})

    async def close(self) -> None:
        await self.client.aclose()
