"""Find the feet in a scan: one or two, each with its bone voxels and its side.

Works on the coarse LPS analysis grid (:mod:`footalign.pipeline.analysis`). Two feet stand side
by side along LPS x, so a bilateral scan is split at the emptiest gap of the bone's x profile.
The right foot lies at smaller x (patient right). A single foot's side comes from anatomy (the
fibula is lateral: patient-left of the tibia on a left leg), else from the DICOM laterality.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from footalign.errors import InputError
from footalign.image import Image, resample
from footalign.pipeline.analysis import ScanAnalysis

MIN_FOOT_BONE_ML = 15.0  # a truncated hindfoot still holds far more bone than this
MIN_FOOT_EXTENT_MM = 50.0
MAX_FOOT_EXTENT_MM = 600.0
MAX_ENCLOSED_FRACTION = 0.6  # a skull encloses a large soft cavity; foot bones are solid


@dataclass
class FootRegion:
    """One foot found in the scan.

    Attributes
    ----------
    bone : boolean mask of this foot's bone on the analysis grid.
    side : ``"left"`` or ``"right"``.
    side_source : how the side was decided (``"position"``, ``"fibula"``, ``"laterality"``,
        ``"user"`` or ``"default"``).
    notes : human-readable remarks for the QC section.
    """

    bone: np.ndarray
    side: str
    side_source: str
    notes: list[str] = field(default_factory=list)


def _largest_components(mask: np.ndarray, *, min_voxels: int) -> np.ndarray:
    labels, n = ndimage.label(mask)
    if n == 0:
        return mask
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
    keep = np.flatnonzero(sizes >= min_voxels) + 1
    return np.isin(labels, keep)


def split_feet_along_x(bone: np.ndarray, *, spacing: float, min_gap_mm: float = 8.0,
                       min_share: float = 0.2) -> list[np.ndarray]:
    """Split a bone mask into one or two feet at the widest bone-free gap along x (axis 0).

    A split needs a run of at least ``min_gap_mm`` without bone with at least ``min_share`` of
    the bone on each side (the widest such run wins: a wider one between a foot and a speck at
    the volume's edge does not count); otherwise the mask is one foot. Returned left-to-right in
    array order (increasing LPS x: the right foot first).
    """
    profile = bone.sum(axis=(1, 2)).astype(float)
    total = profile.sum()
    occupied = np.flatnonzero(profile > 0.002 * total)
    if occupied.size == 0:
        return []
    lo, hi = int(occupied[0]), int(occupied[-1])
    empty = profile[lo:hi + 1] <= 0.002 * total
    runs: list[tuple[int, int]] = []  # (length, middle column)
    run_start = None
    for i, e in enumerate(np.append(empty, False)):
        if e and run_start is None:
            run_start = i
        elif not e and run_start is not None:
            runs.append((i - run_start, lo + (run_start + i) // 2))
            run_start = None
    for length, mid in sorted(runs, key=lambda run: -run[0]):  # stable: of equal runs, the first
        if length * spacing < min_gap_mm:
            break
        if min_share <= profile[:mid].sum() / total <= 1.0 - min_share:
            first, second = bone.copy(), bone.copy()
            first[mid:] = False
            second[:mid] = False
            return [first, second]
    return [bone]


def check_foot_like(bone: np.ndarray, *, spacing: float, source: str) -> None:
    """Raise ``InputError`` if this bone mask cannot be a foot (too small, too big, a shell)."""
    voxel_ml = spacing**3 / 1000.0
    volume_ml = float(bone.sum()) * voxel_ml
    if volume_ml < MIN_FOOT_BONE_ML:
        raise InputError(f"{source}: no foot found (only {volume_ml:.1f} ml of bone-like tissue)")
    idx = np.argwhere(bone)
    extent = (idx.max(axis=0) - idx.min(axis=0) + 1) * spacing
    if extent.max() < MIN_FOOT_EXTENT_MM or extent.max() > MAX_FOOT_EXTENT_MM:
        raise InputError(f"{source}: no foot found (bone extent {extent.max():.0f} mm is not foot-sized)")
    filled = ndimage.binary_fill_holes(bone)
    enclosed = 1.0 - bone.sum() / max(int(filled.sum()), 1)
    if enclosed > MAX_ENCLOSED_FRACTION:
        raise InputError(f"{source}: no foot found (the bone is a closed shell around soft tissue, "
                         "like a skull)")


def _anterior_direction(bone: np.ndarray, spacing: float) -> np.ndarray:
    """Unit 2D (x, y) direction of the foot's long axis, pointing anterior (towards -y).

    Falls back to -y (LPS anterior) when the footprint is not clearly elongated, e.g. when a
    small field of view cut the foot to a disc.
    """
    idx = np.argwhere(bone)
    low = idx[idx[:, 2] <= idx[:, 2].min() + int(45.0 / spacing)]  # the foot, not the leg
    centred = (low[:, :2] - low[:, :2].mean(axis=0)).astype(float)
    evals, vecs = np.linalg.eigh(np.cov(centred.T))
    if evals[1] < (1.6**2) * max(evals[0], 1e-9):
        return np.array([0.0, -1.0])
    axis = vecs[:, 1]
    return -axis if axis[1] > 0 else axis


def fibula_side(image: Image, analysis: ScanAnalysis, bone: np.ndarray, *,
                spacing: float = 1.0) -> tuple[str | None, int]:
    """Side of one leg from the fibula: the smaller leg bone lateral (and posterior) to the tibia.

    The upper part of the foot's bone (the leg) is resampled from ``image`` at ``spacing`` mm
    (the coarse grid merges tibia and fibula). In each axial section, holes filled (cancellous
    bone is often below the bone threshold), the two largest sections must look like a tibia
    and a fibula beside or behind it. Offsets are taken in the foot's own horizontal frame, so a
    toed-out foot is judged right. Returns (side or None, number of agreeing sections).
    """
    pts = analysis.points(bone)
    z_lo, z_hi = float(pts[:, 2].min()), float(pts[:, 2].max())
    z_start = max(z_lo + 0.4 * (z_hi - z_lo), z_hi - 70.0)
    leg = pts[pts[:, 2] >= z_start]
    lower = np.r_[leg[:, :2].min(axis=0) - 10.0, z_start]
    upper = np.r_[leg[:, :2].max(axis=0) + 10.0, z_hi]
    shape = tuple(int(n) for n in np.ceil((upper - lower) / spacing) + 1)
    fine = resample(image, spacing=(spacing,) * 3, shape=shape, origin=lower, default_value=-1000.0)
    mask = fine.array > analysis.bone_threshold_hu
    anterior = _anterior_direction(bone, analysis.spacing)
    patient_left = np.array([-anterior[1], anterior[0]])  # +x when the foot points along -y
    votes = {"left": 0, "right": 0}
    mm2 = spacing**2
    for z in range(mask.shape[2]):
        section = ndimage.binary_fill_holes(mask[:, :, z])
        labels, n = ndimage.label(section)
        if n < 2:
            continue
        areas = ndimage.sum_labels(section, labels, index=np.arange(1, n + 1)) * mm2
        order = np.argsort(areas)[::-1]
        big, small = areas[order[0]], areas[order[1]]
        third = areas[order[2]] if n > 2 else 0.0
        if not (250.0 <= big <= 2500.0 and 60.0 <= small <= 0.5 * big and third < max(0.3 * small, 15.0)):
            continue
        centres = ndimage.center_of_mass(section, labels, [order[0] + 1, order[1] + 1])
        offset = (np.asarray(centres[1]) - np.asarray(centres[0])) * spacing
        lateral, posterior = float(offset @ patient_left), float(offset @ -anterior)
        if not 8.0 <= abs(lateral) <= 50.0 or posterior < -8.0:
            continue  # not beside/behind the tibia: a malleolus or a foot bone, not the fibula
        votes["left" if lateral > 0 else "right"] += 1
    if max(votes.values()) < 4:
        return None, 0
    side = max(votes, key=votes.get)  # type: ignore[arg-type]
    if votes[side] < 2 * votes[{"left": "right", "right": "left"}[side]]:
        return None, 0  # split vote: not trustworthy
    return side, votes[side]


def header_laterality(meta: dict) -> str | None:
    """``"left"``/``"right"`` from DICOM laterality tags kept in the image meta, if any."""
    for key in ("laterality", "Laterality", "ImageLaterality", "image_laterality"):
        value = str(meta.get(key, "") or "").strip().upper()
        if value in ("L", "LEFT"):
            return "left"
        if value in ("R", "RIGHT"):
            return "right"
    return None


def detect_feet(image: Image, analysis: ScanAnalysis, *, source: str, meta: dict | None = None,
                side: str | None = None) -> list[FootRegion]:
    """Find one or two feet in ``analysis`` and decide each one's side.

    Parameters
    ----------
    image : the scan (the fibula is looked for at finer resolution than the analysis grid).
    analysis : the coarse LPS view of the scan.
    source : the input's name for error messages.
    meta : image metadata (DICOM laterality is used for a single foot).
    side : force the side of a single foot (``"left"``/``"right"``).

    Raises
    ------
    InputError
        When no foot-like bone is found (air, a head, a tiny object).
    """
    spacing = analysis.spacing
    min_voxels = max(1, round(0.3 / (spacing**3 / 1000.0)))  # drop specks < 0.3 ml
    bone = _largest_components(analysis.bone, min_voxels=min_voxels)
    if not bone.any():
        raise InputError(f"{source}: no foot found (no bone-like tissue in the volume)")
    parts = split_feet_along_x(bone, spacing=spacing)
    if len(parts) == 2:
        for part in parts:
            check_foot_like(part, spacing=spacing, source=source)
        regions = [FootRegion(parts[0], "right", "position", ["two feet: the one at patient right is right"]),
                   FootRegion(parts[1], "left", "position", ["two feet: the one at patient left is left"])]
        for region in regions:
            anatomy, _ = fibula_side(image, analysis, region.bone)
            if anatomy is not None and anatomy != region.side:
                region.notes.append(f"the fibula of this foot looks {anatomy}: check the scan orientation")
        return regions
    check_foot_like(bone, spacing=spacing, source=source)
    anatomy, n_votes = fibula_side(image, analysis, bone)
    header = header_laterality(meta or {})
    notes: list[str] = []
    if side is not None:
        chosen, how = side, "user"
        if anatomy and anatomy != side:
            notes.append(f"side forced to {side}, but the fibula looks {anatomy}")
    elif anatomy is not None:
        chosen, how = anatomy, "fibula"
        notes.append(f"side from the fibula position ({n_votes} axial sections agree)")
        if header and header != anatomy:
            notes.append(f"DICOM laterality says {header}, anatomy says {anatomy}: anatomy used")
    elif header is not None:
        chosen, how = header, "laterality"
        notes.append("side from the DICOM laterality tag (fibula not separable)")
    else:
        chosen, how = "right", "default"
        notes.append("side could not be determined (no fibula, no laterality tag): assumed right; "
                     "use --side to set it")
    return [FootRegion(bone, chosen, how, notes)]
