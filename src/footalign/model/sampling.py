"""Network grids in physical space and sampling CT values onto them.

A network grid is a box of ``shape`` voxels of ``spacing`` mm centred on ``center`` (LPS mm),
axis-aligned in the *network frame*: the LPS frame, mirrored about x = 0 for left feet
(``image.mirror_x`` / ``mirror_points_x``) so every foot looks like a right foot. Voxel indices exist only here and in the networks' code.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from footalign.image import Image, block_factors, mirror_points_x, mirror_x


def grid_origin(center: np.ndarray, *, spacing: float, shape: tuple[int, int, int]) -> np.ndarray:
    """Physical position (mm) of voxel (0, 0, 0) of a grid centred on ``center``."""
    return np.asarray(center, dtype=float) - (np.asarray(shape) - 1) / 2.0 * spacing


def grid_points(center: np.ndarray, *, spacing: float, shape: tuple[int, int, int]) -> np.ndarray:
    """Physical positions ``(I*J*K, 3)`` of all voxels of a grid, C order."""
    origin = grid_origin(center, spacing=spacing, shape=shape)
    axes = [origin[d] + spacing * np.arange(shape[d]) for d in range(3)]
    mesh = np.meshgrid(*axes, indexing="ij")
    return np.stack([m.reshape(-1) for m in mesh], axis=-1)


def to_network_frame(points: np.ndarray, side: str) -> np.ndarray:
    """LPS points of a foot → network frame (left feet mirrored about x = 0)."""
    return mirror_points_x(points) if side == "left" else np.array(points, dtype=float)


def from_network_frame(points: np.ndarray, side: str) -> np.ndarray:
    """Network-frame points → LPS (mirroring is its own inverse)."""
    return to_network_frame(points, side)


def downsample_for(image: Image, spacing_mm: float) -> Image:
    """Block-average ``image`` by integer factors so its voxels are at most ``spacing_mm`` / 2 apart.

    Anti-aliasing before linear sampling onto a coarse grid, cheap enough for 512^3 volumes.
    """
    factors = block_factors(image.spacing, spacing_mm / 2.0)
    if all(f == 1 for f in factors):
        return image
    vol = torch.from_numpy(np.asarray(image.array, dtype=np.float32))[None, None]
    pooled = torch.nn.functional.avg_pool3d(vol, kernel_size=factors, stride=factors, ceil_mode=True)
    array = pooled[0, 0].numpy()
    # Block b covers voxels b*f .. b*f+f-1: its centre is at index b*f + (f-1)/2 of the input.
    new_origin = image.index_to_physical((np.asarray(factors) - 1) / 2.0)
    spacing = tuple(float(s * f) for s, f in zip(image.spacing, factors, strict=True))
    return Image(array, spacing, tuple(new_origin), image.direction, dict(image.meta))


def sample_points(image: Image, points: np.ndarray, *, background_hu: float) -> np.ndarray:
    """Trilinear CT values at LPS ``points`` ``(N, 3)``; ``background_hu`` outside the volume."""
    index = image.physical_to_index(points)
    return ndimage.map_coordinates(image.array, index.T, order=1, mode="constant",
                                   cval=background_hu, prefilter=False, output=np.float32)


def sample_grid(
    image: Image,
    center: np.ndarray,
    *,
    spacing: float,
    shape: tuple[int, int, int],
    background_hu: float,
) -> np.ndarray:
    """CT values (HU) of an (already network-frame) image on an axis-aligned grid around ``center``."""
    values = sample_points(image, grid_points(center, spacing=spacing, shape=shape), background_hu=background_hu)
    return values.reshape(shape)


def to_network_image(image: Image, side: str) -> Image:
    """The image as the networks see it: left feet mirrored to right (``image.mirror_x``)."""
    return mirror_x(image) if side == "left" else image


def normalize_hu(hu: np.ndarray | torch.Tensor, *, hu_min: float, hu_max: float) -> np.ndarray | torch.Tensor:
    """HU → network input: air 0, water 1, dense bone ~2-3 (clipped to [hu_min, hu_max])."""
    if isinstance(hu, torch.Tensor):
        return (hu.clamp(hu_min, hu_max) - hu_min) / 1000.0
    return (np.clip(hu, hu_min, hu_max) - hu_min) / 1000.0
