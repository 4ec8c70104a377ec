"""The two small 3D U-Nets (MONAI) built from the model configuration."""

from __future__ import annotations

from typing import Any

import torch
from monai.networks.nets import UNet


def build_network(stage: dict[str, Any], *, n_landmarks: int) -> torch.nn.Module:
    """A MONAI UNet with one input channel (CT) and one logit map per landmark.

    ``stage`` holds ``channels`` (one per level, each level halves the grid) and ``num_res_units``.
    """
    channels = tuple(int(c) for c in stage["channels"])
    return UNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=n_landmarks,
        channels=channels,
        strides=(2,) * (len(channels) - 1),
        num_res_units=int(stage.get("num_res_units", 1)),
        norm="instance",
    )
