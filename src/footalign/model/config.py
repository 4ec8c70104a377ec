"""Model configuration: grids, networks, heatmap widths and training options (``config.json``)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from footalign.anatomy import LANDMARK_NAMES

CONFIG_SCHEMA = "footalign.model"
CONFIG_VERSION = 1
# Network arithmetic at inference (Predictor); here, without torch, so the CLI can check it first.
PRECISIONS: tuple[str, ...] = ("auto", "float32", "bfloat16")

# Stage 1 sees the whole foot at 6 mm (240 x 336 x 240 mm, long axis along LPS y); stage 2 sees a
# 24 mm cube at 1 mm. Sizes chosen by timing on 2 CPU cores (docs/model.md).
DEFAULT_CONFIG: dict[str, Any] = {
    "schema": CONFIG_SCHEMA,
    "version": CONFIG_VERSION,
    "landmarks": list(LANDMARK_NAMES),
    "intensity": {"hu_min": -1000.0, "hu_max": 2000.0, "background_hu": -1000.0},
    "stage1": {
        "spacing_mm": 6.0,
        "shape": [40, 56, 40],
        "channels": [8, 16, 32, 64],
        "num_res_units": 1,
        "sigma_mm": 6.0,
        "decode": "softargmax",
        "window_mm": 15.0,
        "passes": 2,
    },
    "stage2": {
        "spacing_mm": 1.0,
        "shape": [24, 24, 24],
        "channels": [16, 32, 64],
        "num_res_units": 1,
        "sigma_mm": 1.5,
        "decode": "softargmax",
        "window_mm": 4.0,
        "passes": 2,
    },
    "confidence_threshold": 0.5,
    "train": {
        "seed": 0,
        "epochs": 40,
        "lr": 2e-3,
        "weight_decay": 1e-5,
        "batch1": 2,
        "batch2": 12,
        "steps2_per_step1": 1,
        "heatmap_weight": 0.5,
        "val_every": 1,
        "threads": 2,
        # Networks trained by the run; the other keeps its warm-start weights (--init), e.g. a
        # new stage-2 view on top of a finished stage 1 at half the cost of an epoch.
        "stages": ["stage1", "stage2"],
        # Stage-2 patches: "uniform" over (foot, landmark) pairs, or "error": each landmark drawn
        # in proportion to its last validation error (never below this share of the mean), so
        # the hard landmarks get the training steps the easy ones no longer need.
        "stage2_sampling": "uniform",
        "stage2_sampling_floor": 0.3,
        "aug": {
            "rotation_deg": 15.0,
            "scale": 0.10,
            "shift1_mm": 25.0,
            "jitter2_mm": 3.0,
            "jitter2_max_mm": 9.0,
            "hu_shift": 100.0,
            "contrast": 0.10,
            "noise_hu": 40.0,
            "blur_prob": 0.3,
            "crop_margin_mm": [10.0, 50.0],
            "truncate_prob": 0.2,
        },
    },
}


def merge_config(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``override`` into a copy of ``base`` (dicts merge, other values replace)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_config(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def default_config(**overrides: Any) -> dict[str, Any]:
    """The default configuration with optional top-level overrides merged in."""
    return merge_config(DEFAULT_CONFIG, overrides)


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a (partial) JSON configuration and merge it over the defaults."""
    from footalign.errors import InputError

    path = Path(path)
    try:
        override = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: config file not found") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON config ({exc})") from None
    if not isinstance(override, dict):
        raise InputError(f"{path}: config must be a JSON object")
    return merge_config(DEFAULT_CONFIG, override)
