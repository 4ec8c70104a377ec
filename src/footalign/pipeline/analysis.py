"""A coarse, axis-aligned LPS view of a scan for the geometric analysis steps.

Foot detection, side, orientation and floor detection all work on this one resampled copy, so
none of them depends on how the scanner stored the volume (axis order, flips, obliquity): the
grid is axis-aligned in LPS, whatever the input's direction matrix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from footalign.image import Image, grid_corners, resample, shrink

AIR_HU = -1000.0
# A coarse voxel is in the field of view when more than this share of the voxels around it is
# not the fill value (i.e. any); gaps in that mask narrower than about twice FILL_CLOSING_MM are
# closed.
FILLED_SHARE = 1e-3
FILL_CLOSING_MM = 6.0
# Fine scans are block-averaged to blocks of at most this share of the analysis spacing before
# the anti-alias Gaussian (for the 2 mm grid: 0.4 mm scans to 0.8 mm blocks; 0.6-1 mm scans as
# they are). 0.6 (0.6 mm scans to 1.2 mm blocks, 4x faster) moved up to 15 % of a scan's bone
# voxels and a bone threshold by a histogram bin: not without a benchmark run.
BLOCK_SHARE = 0.5


@dataclass(frozen=True)
class ScanAnalysis:
    """The scan on a coarse LPS grid with its tissue masks.

    Attributes
    ----------
    image : the scan resampled to ``spacing`` mm, identity direction (array axes = L, P, S).
    valid : voxels inside the reconstructed field of view of the original scan.
    body : non-air voxels (skin envelope, platform, positioning aids).
    bone : bone-like voxels (a smoothed, adaptive threshold).
    soft_tissue_hu : the soft-tissue peak of the histogram (cone-beam CT is often offset).
    bone_threshold_hu : the threshold used for ``bone``.
    fill_value : the value the scanner wrote outside its field of view, if any.
    """

    image: Image
    valid: np.ndarray
    body: np.ndarray
    bone: np.ndarray
    soft_tissue_hu: float
    bone_threshold_hu: float
    fill_value: float | None

    @property
    def spacing(self) -> float:
        return float(self.image.spacing[0])

    def points(self, mask: np.ndarray) -> np.ndarray:
        """LPS mm positions of the voxels of ``mask`` (N, 3)."""
        return self.image.index_to_physical(np.argwhere(mask))


def detect_fill_value(array: np.ndarray, *, min_fraction: float = 0.02) -> float | None:
    """The constant the scanner wrote outside its reconstructed field of view, or ``None``.

    Cone-beam scanners fill the corners outside the cylindrical field of view with one value
    (e.g. -1019 or -1024 HU). It is recognised as the most frequent exact value below -900 HU,
    covering at least ``min_fraction`` of the voxels.
    """
    # A strided sample of at most ~4 M voxels: the fill covers a few percent of the volume or
    # more, so a sparse sample finds it (all of a 0.4 mm bilateral scan cost 1.5 s).
    stride = max(2, int(np.ceil((array.size / 4e6) ** (1 / 3))))
    sample = array[::stride, ::stride, ::stride]
    low = sample[sample < -900]
    if low.size < min_fraction * sample.size:
        return None
    values, counts = np.unique(low, return_counts=True)
    best = int(np.argmax(counts))
    return float(values[best]) if counts[best] >= min_fraction * sample.size else None


def physical_bounds(image: Image) -> tuple[np.ndarray, np.ndarray]:
    """LPS bounding box (lower, upper corner, mm) of the voxel centres of ``image``."""
    pts = grid_corners(image.spacing, image.shape, image.origin, image.direction)
    return pts.min(axis=0), pts.max(axis=0)


SOFT_TISSUE_RANGE_HU = (-450.0, 100.0)


def soft_tissue_peak(values: np.ndarray) -> float:
    """Mode of the HU histogram within :data:`SOFT_TISSUE_RANGE_HU` (soft tissue; fat and muscle blend).

    The range reaches down far enough for cone-beam offsets (-200 HU seen on a real scanner)
    and stops below cancellous bone and the platform (~150-400 HU, blurred down to ~120), which in a small foot can
    outnumber the soft-tissue voxels.
    """
    lo, hi = SOFT_TISSUE_RANGE_HU
    inside = values[(values > lo) & (values < hi)]
    if inside.size < 100:
        return 0.0
    hist, edges = np.histogram(inside, bins=55, range=(lo, hi))
    hist = ndimage.uniform_filter1d(hist.astype(float), 5)
    i = int(np.argmax(hist))
    return float(0.5 * (edges[i] + edges[i + 1]))


def remove_slabs(mask: np.ndarray, *, spacing: float, max_height_mm: float = 40.0,
                 min_width_mm: float = 100.0) -> np.ndarray:
    """Drop flat, wide components (a dense weight-bearing platform) from a bone mask.

    A component less than ``max_height_mm`` tall (z) but at least ``min_width_mm`` wide in both
    x and y is a slab, not bone: the bones of a foot span more height, single foot bones less
    width.
    """
    labels, n = ndimage.label(mask)
    if n == 0:
        return mask
    out = mask.copy()
    for i, box in enumerate(ndimage.find_objects(labels), start=1):
        extent = np.array([sl.stop - sl.start for sl in box]) * spacing
        if extent[2] < max_height_mm and extent[0] >= min_width_mm and extent[1] >= min_width_mm:
            out[box][labels[box] == i] = False
    return out


def analyse_scan(image: Image, *, spacing: float = 2.0) -> ScanAnalysis:
    """Resample ``image`` onto an axis-aligned LPS grid of ``spacing`` mm and find its tissues.

    Parameters
    ----------
    image : the scan (HU), any storage orientation.
    spacing : isotropic spacing (mm) of the analysis grid.

    Returns
    -------
    ScanAnalysis
    """
    lower, upper = physical_bounds(image)
    # Samples from the first voxel centre inwards, rounded to 1 µm and kept 0.01 mm off the
    # volume's edge: headers that differ only by float noise (NIfTI vs DICOM of one volume)
    # must give the very same samples, not an edge sample that is inside in one and outside in
    # the other.
    lower, upper = np.round(lower, 3) + 0.01, np.round(upper, 3) - 0.01
    shape = tuple(int(np.floor((u - lo) / spacing)) + 1 for lo, u in zip(lower, upper, strict=True))
    fill = detect_fill_value(image.array)
    # Averages, not aliased samples, on the coarse grid: block means of up to BLOCK_SHARE of
    # its spacing, then a Gaussian for the rest (on all voxels of a 0.4 mm scan the Gaussian
    # cost seconds).
    block = BLOCK_SHARE * spacing
    fine = shrink(image, block)
    fine = fine.with_array(fine.array.astype(np.float32, copy=False))
    valid_share = None
    if fill is not None:
        # Each block's share of field-of-view voxels, as 0-255 (BinShrink rounds the block mean;
        # a uint8 mask is a quarter of a float one on a 0.4 mm scan). The fill reads as air: the
        # block mean is linear, so adding (air - fill) x the filled share is the same as writing
        # air into the full-resolution copy first, without that copy (4 s on a bilateral scan).
        # The fill was read from the array, so its dtype holds it exactly (against a Python
        # number, int16 != took 1.5 s instead of 0.1 s on a bilateral 0.4 mm scan).
        in_view = (image.array != image.array.dtype.type(fill)).view(np.uint8) * np.uint8(255)
        valid_share = shrink(image.with_array(in_view), block)
        valid_share = valid_share.with_array(valid_share.array.astype(np.float32) / 255.0)
        fine = fine.with_array(fine.array + (AIR_HU - fill) * (1.0 - valid_share.array))
    sigma_vox = [max(0.0, 0.5 * spacing / s - 0.3) for s in fine.spacing]

    def smoothed(img: Image) -> Image:
        return img.with_array(ndimage.gaussian_filter(img.array, sigma_vox)) if max(sigma_vox) > 0 else img

    coarse = resample(smoothed(fine), spacing=(spacing,) * 3, shape=shape, origin=lower,
                      default_value=AIR_HU, extrapolate=True)
    if valid_share is None:  # no fill value: the whole volume is field of view
        valid = np.ones(shape, bool)
    else:
        # Outside the field of view = solidly filled at the coarse scale. Air clipped to the fill
        # value (-1024 HU under a negative HU offset) is mostly filled too, but speckled: noise
        # lifts some of its voxels above the clip. So any unfilled voxel in reach puts a coarse
        # voxel in the field of view, a closing bridges the speckle of clipped air, and a
        # one-voxel erosion takes back that reach at the real border (with a 0.1 share and no
        # closing, up to 82 % of a simulated scan with clipped air read "outside").
        valid = resample(smoothed(valid_share), spacing=(spacing,) * 3, shape=shape, origin=lower,
                         default_value=0.0, extrapolate=True).array > FILLED_SHARE
    if not valid.all():  # all of it in the field of view: nothing to close (~0.3 s saved)
        radius = max(1, round(FILL_CLOSING_MM / spacing))
        ball = np.linalg.norm(np.mgrid[(slice(-radius, radius + 1),) * 3], axis=0) <= radius
        valid = ndimage.binary_closing(np.pad(valid, radius, mode="edge"), structure=ball)[
            radius:-radius, radius:-radius, radius:-radius]
        # Any unfilled voxel in reach counts, so the mask reaches ~one coarse voxel past the
        # border (not past the volume's own edge: border_value=1).
        valid = ndimage.binary_erosion(valid, structure=ndimage.generate_binary_structure(3, 1), border_value=1)
    values = coarse.array
    body = (values > -500.0) & valid
    soft = soft_tissue_peak(values[body]) if body.any() else 0.0
    threshold = float(np.clip(soft + 250.0, 100.0, 300.0))
    bone = remove_slabs((values > threshold) & valid, spacing=spacing)
    return ScanAnalysis(image=coarse, valid=valid, body=body, bone=bone, soft_tissue_hu=soft,
                        bone_threshold_hu=threshold, fill_value=fill)
