"""Preprocessing cache (nnU-Net-like): per-foot coarse volumes and fine landmark patches as .npz.

Training epochs then never touch full scans. For each foot (left feet mirrored to right):

- ``coarse``: HU on a network-frame grid at stage-1 spacing, ``pad`` voxels larger on each side
  than the network input (room for shift/rotation augmentation), centred on the landmark box;
- ``fine``: one cube per landmark at stage-2 spacing centred on the landmark, large enough for a
  jittered, rotated stage-2 patch;
- ``points``: the 22 ground-truth landmarks in the network frame (NaN = missing).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress

from footalign.errors import InputError
from footalign.image import Image
from footalign.io.atomic import atomic_path, write_text_atomic
from footalign.io.images import read_image
from footalign.io.landmarks import read_landmarks
from footalign.landmarks import FootLandmarks
from footalign.model.dataset import Case, Dataset
from footalign.model.predictor import landmark_box_center
from footalign.model.sampling import (
    downsample_for,
    grid_origin,
    sample_grid,
    to_network_frame,
    to_network_image,
)

COARSE_PAD = 8  # voxels added on each side of the stage-1 grid
# Voxels added on each side of the stage-2 patch in its cached cube: room for the jitter (sd 3 mm)
# and rotation of training patches; the rare patch reaching past it is border-padded.
FINE_PAD = 8


@dataclass
class FootCache:
    """Cached arrays of one foot (network frame)."""

    key: str
    case_id: str
    side: str
    points: np.ndarray  # (22, 3) mm
    coarse: np.ndarray  # (I, J, K) HU float16
    coarse_origin: np.ndarray  # (3,) mm
    fine: np.ndarray  # (22, S, S, S) HU float16, zeros where the landmark is missing


def cache_signature(config: dict[str, Any]) -> str:
    """A short hash of the config parts the cache depends on (grids, intensity)."""
    parts = {"s1": [config["stage1"]["spacing_mm"], config["stage1"]["shape"]],
             "s2": config["stage2"]["spacing_mm"], "bg": config["intensity"]["background_hu"],
             "pad": COARSE_PAD, "fine": fine_cache_size(config), "v": 1}
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:10]


def coarse_cache_shape(config: dict[str, Any]) -> tuple[int, int, int]:
    return tuple(int(n) + 2 * COARSE_PAD for n in config["stage1"]["shape"])  # type: ignore[return-value]


def fine_cache_size(config: dict[str, Any]) -> int:
    """Voxels per side of a cached stage-2 cube: the largest patch side plus the pad on each side."""
    return max(int(n) for n in config["stage2"]["shape"]) + 2 * FINE_PAD


def preprocess_foot(image: Image, foot: FootLandmarks, config: dict[str, Any], *, key: str,
                    case_id: str) -> FootCache:
    """Cache arrays of one foot of ``image`` (see module docstring)."""
    background = float(config["intensity"]["background_hu"])
    side = foot.side
    points = to_network_frame(foot.points, side)
    image = to_network_image(image, side)
    if not np.any(np.all(np.isfinite(points), axis=1)):
        raise InputError(f"case {case_id}: {side} foot has no landmarks")
    s1 = float(config["stage1"]["spacing_mm"])
    shape1 = coarse_cache_shape(config)
    center = landmark_box_center(points)
    coarse = sample_grid(downsample_for(image, s1), center, spacing=s1, shape=shape1, background_hu=background)
    s2 = float(config["stage2"]["spacing_mm"])
    size = fine_cache_size(config)
    fine = np.zeros((points.shape[0], size, size, size), dtype=np.float16)
    for k, p in enumerate(points):
        if np.all(np.isfinite(p)):
            fine[k] = sample_grid(image, p, spacing=s2, shape=(size,) * 3, background_hu=background)
    return FootCache(key=key, case_id=case_id, side=side, points=points,
                     coarse=coarse.astype(np.float16),
                     coarse_origin=grid_origin(center, spacing=s1, shape=shape1), fine=fine)


def save_foot_cache(cache: FootCache, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, points=cache.points, coarse=cache.coarse, coarse_origin=cache.coarse_origin,
                 fine=cache.fine, side=np.array(cache.side), case_id=np.array(cache.case_id))


def load_foot_cache(path: Path) -> FootCache:
    with np.load(path) as z:
        return FootCache(key=path.stem, case_id=str(z["case_id"]), side=str(z["side"]),
                         points=z["points"], coarse=z["coarse"], coarse_origin=z["coarse_origin"],
                         fine=z["fine"])


def case_feet(case: Case) -> list[FootLandmarks]:
    """Ground-truth feet of a case (one per side listed in ``dataset.json``, or all in the file)."""
    feet = read_landmarks(case.landmarks)
    if case.sides:
        by_side = {f.side: f for f in feet}
        missing = [s for s in case.sides if s not in by_side]
        if missing:
            raise InputError(f"{case.landmarks}: no {missing[0]} foot although dataset.json lists one")
        feet = [by_side[s] for s in case.sides]
    return feet


def preprocess_dataset(dataset: Dataset, config: dict[str, Any], cache_dir: str | Path, *,
                       case_ids: list[str] | None = None, quiet: bool = False) -> list[Path]:
    """Build (or reuse) the per-foot cache of the given cases; returns the cache files.

    The cache lives in ``cache_dir/<signature>/`` so a change of grid settings never reuses
    stale arrays.
    """
    folder = Path(cache_dir) / cache_signature(config)
    folder.mkdir(parents=True, exist_ok=True)
    ids = case_ids if case_ids is not None else [c.id for c in dataset.cases]
    files: list[Path] = []
    with Progress(disable=quiet, transient=True) as progress:
        task = progress.add_task("preprocess", total=len(ids))
        for case_id in ids:
            case = dataset.case(case_id)
            done_marker = folder / f"{case_id}.done.json"
            if done_marker.exists():
                files += [folder / name for name in json.loads(done_marker.read_text())["files"]]
                progress.advance(task)
                continue
            image = read_image(case.image)
            names = []
            for foot in case_feet(case):
                key = f"{case_id}__{foot.side}"
                cache = preprocess_foot(image, foot, config, key=key, case_id=case_id)
                save_foot_cache(cache, folder / f"{key}.npz")
                names.append(f"{key}.npz")
            write_text_atomic(done_marker, json.dumps({"files": names}))
            files += [folder / n for n in names]
            progress.advance(task)
    return files
