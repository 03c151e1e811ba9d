"""Behaviour models per device type; ``build_model`` picks one by the catalogue type name."""

from __future__ import annotations

import random
from typing import Any

from simulators.models.base import Model
from simulators.models.camera import CameraModel
from simulators.models.link import LinkModel
from simulators.models.nvr import NvrModel
from simulators.models.speaker import SpeakerModel

MODELS: dict[str, type[Model]] = {
    "camera": CameraModel,
    "nvr": NvrModel,
    "speaker": SpeakerModel,
    "link": LinkModel,
}


def build_model(
    device_type: str, rng: random.Random, metadata: dict[str, Any], start: float
) -> Model:
    """The behaviour model of a device type (KeyError for types without one)."""
    return MODELS[device_type](rng, metadata, start)


__all__ = ["MODELS", "Model", "build_model"]
