"""Training samples: random affine resampling of cached volumes, with landmarks moved alike.

Each sample is a network grid placed in the cached volume by ``center + A @ offset`` where ``A``
is a random rotation (±``rotation_deg`` about each axis) times a random isotropic scale; the
landmarks go through the inverse map, so image and points always agree. Intensity augmentation
(HU shift, contrast, noise, blur) and crop/FOV truncation act on the image only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.spatial.transform import Rotation


def random_affine(rng: np.random.Generator, *, rotation_deg: float, scale: float) -> np.ndarray:
    """A random 3x3 matrix: rotation with Euler angles in ±``rotation_deg`` times scale 1 ± ``scale``."""
    angles = rng.uniform(-rotation_deg, rotation_deg, size=3)
    rot = Rotation.from_euler("xyz", angles, degrees=True).as_matrix()
    return rot * rng.uniform(1.0 - scale, 1.0 + scale)


def grid_offsets(shape: tuple[int, int, int], spacing: float) -> np.ndarray:
    """Offsets (mm) of all voxels of a grid from its centre, ``(I*J*K, 3)`` C order."""
    axes = [(np.arange(n) - (n - 1) / 2.0) * spacing for n in shape]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=-1)


def sampling_grid(
    center: np.ndarray,
    matrix: np.ndarray,
    offsets: np.ndarray,
    out_shape: tuple[int, int, int],
    *,
    src_origin: np.ndarray,
    src_spacing: float,
    src_shape: tuple[int, int, int],
) -> torch.Tensor:
    """``grid_sample`` grid ``(I, J, K, 3)`` reading a source volume at ``center + matrix @ offset``."""
    phys = center + offsets @ matrix.T
    index = (phys - src_origin) / src_spacing
    norm = 2.0 * index / (np.asarray(src_shape) - 1.0) - 1.0
    # grid_sample wants (x, y, z) = (last, middle, first) array axis.
    return torch.from_numpy(norm[:, ::-1].astype(np.float32).reshape(*out_shape, 3).copy())


def points_in_grid(points: np.ndarray, center: np.ndarray, matrix: np.ndarray, *, spacing: float,
                   shape: tuple[int, int, int]) -> np.ndarray:
    """Network-frame points → voxel positions of the grid ``center + matrix @ offset``."""
    local = (points - center) @ np.linalg.inv(matrix).T
    return local / spacing + (np.asarray(shape) - 1) / 2.0


def resample_batch(volumes: list[np.ndarray], grids: list[torch.Tensor], *, padding: str) -> torch.Tensor:
    """Trilinear resampling of each volume (HU) on its grid → ``(B, 1, I, J, K)`` float32."""
    src = torch.from_numpy(np.stack(volumes).astype(np.float32))[:, None]
    return F.grid_sample(src, torch.stack(grids), mode="bilinear", padding_mode=padding, align_corners=True)


def augment_intensity(hu: torch.Tensor, rng: np.random.Generator, aug: dict[str, Any]) -> torch.Tensor:
    """Random HU shift, contrast, blur and noise on a batch ``(B, 1, ...)`` of HU volumes."""
    out = []
    for b in range(hu.shape[0]):
        x = hu[b : b + 1]
        x = x * (1.0 + rng.uniform(-aug["contrast"], aug["contrast"])) + rng.uniform(-aug["hu_shift"], aug["hu_shift"])
        if rng.random() < aug["blur_prob"]:
            x = F.avg_pool3d(F.pad(x, (1,) * 6, mode="replicate"), kernel_size=3, stride=1)
        sigma = rng.uniform(0.0, aug["noise_hu"])
        gen = torch.Generator().manual_seed(int(rng.integers(2**31)))
        x = x + sigma * torch.randn(x.shape, generator=gen)
        out.append(x)
    return torch.cat(out)


def crop_to_foot_box(coarse: np.ndarray, origin: np.ndarray, spacing: float, points: np.ndarray,
                     rng: np.random.Generator, aug: dict[str, Any], *, background_hu: float) -> np.ndarray:
    """Blank the cached volume outside a jittered landmark box (mimics the per-foot crop).

    With probability ``truncate_prob`` the top or the front is also cut (short field of view).
    """
    finite = points[np.all(np.isfinite(points), axis=1)]
    lo_m, hi_m = aug["crop_margin_mm"]
    lo = finite.min(axis=0) - rng.uniform(lo_m, hi_m, size=3)
    hi = finite.max(axis=0) + rng.uniform(lo_m, hi_m, size=3)
    if rng.random() < aug["truncate_prob"]:
        # A short field of view: cut the top (tibia) or the front (toes), possibly through
        # landmarks, which stay supervised so the network learns to place them beyond the edge.
        if rng.random() < 0.5:
            hi[2] = finite[:, 2].max() + rng.uniform(-40.0, 15.0)
        else:
            lo[1] = finite[:, 1].min() + rng.uniform(-15.0, 40.0)
    lo_i = np.clip(np.ceil((lo - origin) / spacing).astype(int), 0, None)
    hi_i = np.floor((hi - origin) / spacing).astype(int) + 1
    out = np.full(coarse.shape, background_hu, dtype=np.float32)
    sl = tuple(slice(a, b) for a, b in zip(lo_i, hi_i, strict=True))
    out[sl] = coarse[sl]
    return out
