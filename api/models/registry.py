"""Communes, sites and devices as the API reads and writes them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from api.models.common import (
    COMMUNE_PATTERN,
    ID_PATTERN,
    Input,
    JsonObject,
    NfcStr,
    ShownJson,
    Timestamp,
)

Name = Field(min_length=1, max_length=200)
Lat = Field(None, ge=-90, le=90)
Lon = Field(None, ge=-180, le=180)


class CommuneCreate(Input):
    """A commune by its official 5-digit code."""

    code: str = Field(pattern=COMMUNE_PATTERN)
    name: NfcStr = Name
    province: NfcStr = Field("", max_length=200)


class CommuneUpdate(Input):
    """Fields of a commune that may change."""

    name: NfcStr | None = Field(None, min_length=1, max_length=200)
    province: NfcStr | None = Field(None, max_length=200)


class CommunePublic(BaseModel):
    """A commune with its device counts."""

    code: str
    name: str
    province: str
    sites: int
    devices: int
    created_at: Timestamp
    updated_at: Timestamp


class CommunesPublic(BaseModel):
    """A page of communes."""

    data: list[CommunePublic]
    count: int
    limit: int
    offset: int


class SiteCreate(Input):
    """A site (building, hamlet cabinet) of a commune."""

    id: str = Field(pattern=ID_PATTERN)
    commune_code: str = Field(pattern=COMMUNE_PATTERN)
    name: NfcStr = Name
    lat: float | None = Lat
    lon: float | None = Lon


class SiteUpdate(Input):
    """Fields of a site that may change."""

    name: NfcStr | None = Field(None, min_length=1, max_length=200)
    lat: float | None = Lat
    lon: float | None = Lon


class SitePublic(BaseModel):
    """A site."""

    id: str
    commune_code: str
    name: str
    lat: float | None
    lon: float | None
    devices: int
    created_at: Timestamp
    updated_at: Timestamp


class SitesPublic(BaseModel):
    """A page of sites."""

    data: list[SitePublic]
    count: int
    limit: int
    offset: int


DeviceHealth = Literal["healthy", "degraded", "failed", "unknown"]
DeviceState = Literal[
    "online", "stale", "offline", "unreachable", "unobserved", "unknown", "decommissioned"
]


class DeviceCreate(Input):
    """A new device; ``parents`` are its topology uplinks (first one primary)."""

    id: str = Field(pattern=ID_PATTERN)
    type: str = Field(min_length=1, max_length=40)
    commune_code: str = Field(pattern=COMMUNE_PATTERN)
    site_id: str | None = Field(None, pattern=ID_PATTERN)
    parents: list[str] = Field([], max_length=8)
    name: NfcStr = Name
    lat: float | None = Lat
    lon: float | None = Lon
    interval_s: int | None = Field(None, ge=1, le=86400)
    metadata: JsonObject = Field(
        {}, max_length=50, description="Free-form JSON: at most 10 levels deep and 16 KiB."
    )


class DeviceUpdate(Input):
    """Fields of a device that may change (omitted fields stay as they are)."""

    site_id: str | None = Field(None, pattern=ID_PATTERN)
    parents: list[str] | None = Field(None, max_length=8)
    name: NfcStr | None = Field(None, min_length=1, max_length=200)
    lat: float | None = Lat
    lon: float | None = Lon
    interval_s: int | None = Field(None, ge=1, le=86400)
    metadata: JsonObject | None = Field(
        None, max_length=50, description="Free-form JSON: at most 10 levels deep and 16 KiB."
    )


class DevicePublic(BaseModel):
    """A device with its current reachability state."""

    id: str
    type: str
    commune_code: str
    site_id: str | None
    parent_id: str | None
    parents: list[str]
    name: str
    lat: float | None
    lon: float | None
    interval_s: int
    metadata: ShownJson
    state: DeviceState
    state_since: Timestamp | None
    decommissioned_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp
    health: DeviceHealth = Field(
        description="Does the reachable device do its job (a camera delivers video, a "
        "loudspeaker can play)? unknown while it is not reachable."
    )
    symptom: str | None = Field(
        None, description="Why it is degraded or failed: a key of the glossary's symptoms."
    )


class DevicesPublic(BaseModel):
    """A page of devices."""

    data: list[DevicePublic]
    count: int
    limit: int
    offset: int


class RegistryImport(Input):
    """A registry document in the format of `ioc devices import` (YAML or devices CSV)."""

    format: Literal["yaml", "csv"] = "yaml"
    content: str = Field(min_length=1, description="The file's text (UTF-8).")
    dry_run: bool = Field(False, description="Validate only; change nothing.")


class ImportCounts(BaseModel):
    """Objects per kind."""

    communes: int
    sites: int
    devices: int


class ImportReport(BaseModel):
    """What an import changed (or would change, on a dry run)."""

    dry_run: bool
    created: ImportCounts
    updated: ImportCounts
    unchanged: ImportCounts
