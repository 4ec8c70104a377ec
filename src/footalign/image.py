"""An image that always carries its physical space (origin, spacing, direction) in the LPS frame.

Array axis ``d`` has spacing ``spacing[d]`` and direction column ``direction[:, d]``: the array is
indexed ``[i, j, k]`` (x-fastest in SimpleITK terms, i.e. the transpose of
``sitk.GetArrayFromImage``). Physical points are LPS millimetres. Voxel indices exist only inside
code that needs them (resampling, the networks); conversions are the methods below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import SimpleITK as sitk


@dataclass(frozen=True)
class Image:
    """A 3D scalar image with its physical space.

    Parameters
    ----------
    array : (I, J, K) array, indexed ``[i, j, k]``.
    spacing : voxel size in mm along i, j, k.
    origin : LPS position (mm) of the centre of voxel (0, 0, 0).
    direction : 3x3 matrix whose columns are the LPS directions of the i, j, k axes.
    meta : free-form metadata (modality, series UID, laterality, source path, ...).
    """

    array: np.ndarray
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise ValueError(f"Image needs a 3D array, got shape {self.array.shape}")
        object.__setattr__(self, "spacing", tuple(float(s) for s in self.spacing))
        object.__setattr__(self, "origin", tuple(float(o) for o in self.origin))
        object.__setattr__(self, "direction", np.asarray(self.direction, dtype=float).reshape(3, 3))

    # ----- geometry -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(n) for n in self.array.shape)  # type: ignore[return-value]

    @property
    def affine(self) -> np.ndarray:
        """4x4 matrix mapping homogeneous voxel indices (i, j, k, 1) to LPS mm."""
        a = np.eye(4)
        a[:3, :3] = self.direction @ np.diag(self.spacing)
        a[:3, 3] = self.origin
        return a

    @property
    def extent_mm(self) -> np.ndarray:
        """Physical size of the volume along i, j, k (mm)."""
        return np.asarray(self.shape) * np.asarray(self.spacing)

    def index_to_physical(self, index: np.ndarray) -> np.ndarray:
        """Continuous voxel indices ``(..., 3)`` → LPS mm ``(..., 3)``."""
        index = np.asarray(index, dtype=float)
        return index @ (self.direction @ np.diag(self.spacing)).T + np.asarray(self.origin)

    def physical_to_index(self, points: np.ndarray) -> np.ndarray:
        """LPS mm ``(..., 3)`` → continuous voxel indices ``(..., 3)``."""
        points = np.asarray(points, dtype=float)
        inv = np.linalg.inv(self.direction @ np.diag(self.spacing))
        return (points - np.asarray(self.origin)) @ inv.T

    def contains(self, points: np.ndarray, margin_mm: float = 0.0) -> np.ndarray:
        """Boolean mask: which LPS points fall inside the volume (shrunk by ``margin_mm``)."""
        idx = self.physical_to_index(points)
        margin = margin_mm / np.asarray(self.spacing)
        upper = np.asarray(self.shape) - 1 - margin
        return np.all((idx >= margin) & (idx <= upper), axis=-1)

    def center(self) -> np.ndarray:
        """LPS position of the volume's centre."""
        return self.index_to_physical((np.asarray(self.shape) - 1) / 2.0)

    def with_array(self, array: np.ndarray) -> Image:
        """Same physical space, new voxel values (shape must match)."""
        if array.shape != self.array.shape:
            raise ValueError(f"shape {array.shape} does not match image shape {self.array.shape}")
        return replace(self, array=array)

    # ----- SimpleITK bridge ------------------------------------------------------------------
    def to_sitk(self) -> sitk.Image:
        img = sitk.GetImageFromArray(np.ascontiguousarray(self.array.transpose(2, 1, 0)))
        img.SetSpacing(self.spacing)
        img.SetOrigin(self.origin)
        img.SetDirection(tuple(self.direction.ravel()))
        return img

    @classmethod
    def from_sitk(cls, img: sitk.Image, meta: dict[str, Any] | None = None) -> Image:
        if img.GetDimension() != 3:
            raise ValueError(f"expected a 3D image, got {img.GetDimension()}D")
        array = sitk.GetArrayFromImage(img).transpose(2, 1, 0)
        return cls(
            array=array,
            spacing=img.GetSpacing(),
            origin=img.GetOrigin(),
            direction=np.asarray(img.GetDirection()).reshape(3, 3),
            meta=dict(meta or {}),
        )


def covering(image: Image, points: np.ndarray, *, margin: int = 0) -> Image:
    """The part of ``image`` whose voxels cover the LPS ``points`` (N, 3), ``margin`` voxels
    more on every side, clipped to the volume (at least one voxel; a view, not a copy)."""
    index = image.physical_to_index(np.asarray(points, dtype=float).reshape(-1, 3))
    size = np.asarray(image.shape)
    start = np.clip(np.floor(index.min(axis=0)).astype(int) - margin, 0, size - 1)
    stop = np.clip(np.ceil(index.max(axis=0)).astype(int) + 1 + margin, start + 1, size)
    array = image.array[start[0] : stop[0], start[1] : stop[1], start[2] : stop[2]]
    return Image(array, image.spacing, tuple(image.index_to_physical(start)), image.direction, dict(image.meta))


def grid_corners(spacing: tuple[float, ...], shape: tuple[int, ...], origin: np.ndarray | tuple[float, ...],
                 direction: np.ndarray) -> np.ndarray:
    """LPS positions (8, 3) of the outermost voxel centres of a grid."""
    n = np.asarray(shape, dtype=float) - 1
    index = np.array([[i, j, k] for i in (0, n[0]) for j in (0, n[1]) for k in (0, n[2])])
    return index @ (np.asarray(direction) @ np.diag(spacing)).T + np.asarray(origin, dtype=float)


def resample(
    image: Image,
    *,
    spacing: tuple[float, float, float],
    shape: tuple[int, int, int],
    origin: np.ndarray | tuple[float, float, float],
    direction: np.ndarray | None = None,
    default_value: float = -1000.0,
    interpolator: int = sitk.sitkLinear,
    dtype: type = np.float32,
    extrapolate: bool = False,
) -> Image:
    """Resample ``image`` onto a new grid (SimpleITK), filling outside voxels with ``default_value``.

    The new grid is given fully in physical terms, so the result keeps its physical space.
    ``extrapolate``: points outside the image (more than half a voxel beyond its outermost
    centres) take the nearest voxel's value instead (for a shrunk copy, which lacks the
    original's partial block at the far edge).
    """
    direction = np.eye(3) if direction is None else np.asarray(direction, dtype=float)
    # The new grid with its axes reversed for SimpleITK, so its array comes back C-ordered in
    # our (i, j, k) order (see _sitk_of_any_layout).
    reference = _with_reversed_axes(sitk.Image([int(n) for n in shape][::-1], sitk.sitkFloat32),
                                    spacing, origin, direction)
    if not extrapolate:
        # Only the part of the source under the new grid goes to SimpleITK (2 voxels more for
        # the interpolation): a foot's crop of a bilateral 0.4 mm scan copied all 340 M voxels.
        # Extrapolation needs the real edge, so it gets the whole image.
        image = covering(image, grid_corners(spacing, shape, origin, direction), margin=2)
    # Interpolated in double and written as float32, the input's own type is passed as it is
    # (a float32 copy of a 0.4 mm scan took a second); nearest neighbour keeps its type.
    out_type = sitk.sitkUnknown if interpolator == sitk.sitkNearestNeighbor else sitk.sitkFloat32
    out = sitk.Resample(_sitk_of_any_layout(image), reference, sitk.Transform(), interpolator,
                        float(default_value), out_type, bool(extrapolate))
    array = sitk.GetArrayFromImage(out).astype(dtype, copy=False)
    return Image(array, tuple(float(s) for s in spacing), tuple(float(o) for o in origin), direction,
                 dict(image.meta))


def _sitk_of_any_layout(image: Image) -> sitk.Image:
    """``image`` as a SimpleITK image of the same physical space, without a transposing copy.

    SimpleITK's x axis varies fastest in memory. A Fortran-ordered array (as read from a file)
    maps array axis i to x as :meth:`Image.to_sitk` does; a C-ordered one (what numpy and scipy
    operations return) goes in as it is with the axes reversed: x = array axis k, spacing and
    direction columns reversed. The transposing copy took 2 s per 512³ float32 volume. Only for
    operations in physical space (resampling): the voxel axes may come in either order.
    """
    array = image.array
    if array.flags.f_contiguous:
        return image.to_sitk()  # its transpose is C-ordered: no copy
    return _with_reversed_axes(sitk.GetImageFromArray(np.ascontiguousarray(array)), image.spacing,
                               image.origin, image.direction)


def _with_reversed_axes(img: sitk.Image, spacing: Sequence[float], origin: Sequence[float],
                        direction: np.ndarray) -> sitk.Image:
    """Give ``img``, whose x axis is our array axis k, the physical space of a grid with
    ``spacing``, ``origin`` and ``direction`` in our (i, j, k) order."""
    img.SetSpacing(tuple(float(s) for s in spacing)[::-1])
    img.SetOrigin(tuple(float(o) for o in origin))
    img.SetDirection(tuple(np.asarray(direction, dtype=float)[:, ::-1].ravel()))
    return img


def block_factors(spacing: tuple[float, ...], max_spacing: float) -> list[int]:
    """Per axis, the largest integer block size whose blocks of ``spacing`` mm voxels are at
    most ``max_spacing`` mm apart (at least 1)."""
    return [max(1, int(np.floor(max_spacing / s + 1e-6))) for s in spacing]


def shrink(image: Image, max_spacing: float) -> Image:
    """Block-average ``image`` by :func:`block_factors` so its voxels are at most
    ``max_spacing`` mm apart (SimpleITK BinShrink; a partial block at the far edge is dropped).

    The cheap first step before smoothing a fine scan for a coarse grid: a 0.4 mm scan is
    smoothed on an eighth of its voxels.
    """
    factors = block_factors(image.spacing, max_spacing)
    if all(f == 1 for f in factors):
        return image
    return Image.from_sitk(sitk.BinShrink(image.to_sitk(), factors), meta=image.meta)


def mirror_x(image: Image) -> Image:
    """Mirror an image about the sagittal plane x = 0 (LPS), keeping it a valid image.

    Used to present left feet to the network as right feet. Physical point ``p`` of the input
    appears at ``(-p_x, p_y, p_z)`` in the output; :func:`mirror_points_x` maps landmarks alike.
    """
    flip = np.diag([-1.0, 1.0, 1.0])
    # Flip the array along the axis most aligned with LPS x, so the direction stays proper.
    axis = int(np.argmax(np.abs(image.direction[0, :])))
    array = np.flip(image.array, axis=axis)
    n = image.shape[axis]
    # New voxel 0 along `axis` is old voxel n-1: new origin = mirrored position of that voxel.
    corner = np.zeros(3)
    corner[axis] = n - 1
    new_origin = flip @ image.index_to_physical(corner)
    new_direction = flip @ image.direction
    new_direction[:, axis] *= -1.0
    return Image(np.ascontiguousarray(array), image.spacing, tuple(new_origin), new_direction,
                 dict(image.meta))


def mirror_points_x(points: np.ndarray) -> np.ndarray:
    """Mirror LPS points about x = 0 (the counterpart of :func:`mirror_x`)."""
    out = np.array(points, dtype=float, copy=True)
    out[..., 0] *= -1.0
    return out
