"""TIB_DIST and TIB_PROX measured in the image, from the network's points as a start.

Both are centroids of tibial cross-sections, 20 and 60 mm above the plafond (ANATOMY.md). No
image feature marks those heights, so the heatmap network places them several mm off along
the shaft and a millimetre or two off sideways, and the sideways part tilts the tibial axis,
which the hindfoot angle is measured against. The definition itself can be measured: find the
plafond above TAL_DOME along the tibial axis, cut the bone perpendicular to the axis at each
height, take the section's centroid, re-estimate the axis from the two centroids, repeat.

Everything is in physical LPS millimetres; the image is sampled through its own geometry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from footalign.anatomy import (
    TIBIA_COMPLETE_SECTION_RADIUS_MM,
    TIBIA_SECTION_HEIGHTS_MM,
    TIBIA_SECTION_LOWEST_MM,
)
from footalign.geometry.planes import plane_basis
from footalign.image import Image
from footalign.model.sampling import sample_points

SECTION_HEIGHTS_MM = TIBIA_SECTION_HEIGHTS_MM  # ANATOMY.md
SECTION_RADIUS_MM = 32.0  # half-width of the sampled square: a distal tibia is <= ~50 mm wide
SECTION_STEP_MM = 0.5
# Plausible solid areas of a tibial section (mm^2): the shaft ~300-600, the distal metaphysis
# up to ~1500; smaller pieces are the fibula or noise, larger ones bone merged with neighbours.
SECTION_AREA_MM2 = (150.0, 2000.0)
# The fibula touches the tibia at the syndesmosis; an opening of this radius separates them.
OPENING_MM = 1.5
# The most proximal section is moved down in these steps until it is complete (within the scan
# and the bone), but not below anatomy.TIBIA_SECTION_LOWEST_MM above the plafond. Fine steps:
# with 2 mm ones, the NIfTI and the DICOM of the real scan (0.1 mm apart in the network's
# points) put TIB_PROX 2.5 mm apart in height, 4.7 mm in all.
STEP_DOWN_MM = 0.5
# Why a section is not marked when the scan ends below its lowest allowed height.
OUT_OF_VIEW = "the field of view ends below its lowest allowed height"
# Start points closer than this give no usable direction: the first axis is then "up".
MIN_START_SEPARATION_MM = 20.0
# A section counts as complete when this disk around the axis lies in the field of view (the
# simulator's ground truth uses the same rule).
COMPLETE_DISK_MM = TIBIA_COMPLETE_SECTION_RADIUS_MM
# The plafond is looked for along the axis from this far below to this far above TAL_DOME, on
# the axis line and on lines this far around it (the lowest consistent one counts, as in
# ANATOMY.md's "plafond above the dome").
PLAFOND_SEARCH_MM = (-6.0, 20.0)
PLAFOND_TUBE_MM = 4.0
PLAFOND_CONSISTENT_MM = 1.5
# Sampling reads a contiguous float32 block around the ankle and leg: ndimage copies a whole
# non-contiguous volume at every call: the 0.4 mm speed scan took 32 s instead of 26 s.
LOCAL_MARGIN_MM = 50.0
ITERATIONS = 3  # plafond -> sections -> axis rounds; the axis settles in two (twice that in half steps)


@dataclass
class TibiaSections:
    """Result of :func:`measure_tibia_sections`: the points (LPS mm, NaN where not measured)."""

    points: dict[str, np.ndarray]
    start: dict[str, np.ndarray]  # the starting (network's) points
    plafond_mm: float | None  # plafond height above TAL_DOME along the axis, when found
    heights_mm: dict[str, float] = field(default_factory=dict)  # section height above the plafond
    notes: list[str] = field(default_factory=list)
    # Points whose section lies above the field of view even at its lowest allowed height:
    # they are not in the scan (ANATOMY.md), so the caller must not mark them.
    out_of_view: list[str] = field(default_factory=list)


def section_centroid(
    image: Image,
    centre: np.ndarray,
    axis: np.ndarray,
    *,
    threshold_hu: float,
    inside: Callable[[np.ndarray], np.ndarray] | None = None,
    radius_mm: float = SECTION_RADIUS_MM,
    step_mm: float = SECTION_STEP_MM,
) -> tuple[np.ndarray | None, float, str]:
    """Centroid (LPS mm) of the bone section through ``centre`` perpendicular to ``axis``.

    The section is the solid (holes filled) above-threshold component nearest to ``centre``,
    separated from touching bone by an opening of :data:`OPENING_MM`. ``inside(points)`` tells
    which points lie in the reconstructed field of view (default: inside the volume).

    Returns ``(centroid, area_mm2, reason)``; centroid ``None`` with the reason when the
    section is not usable (no bone near ``centre``, cut by the field of view or the sampled
    square, implausible area).
    """
    u, v = plane_basis(axis)
    offsets = np.arange(-radius_mm, radius_mm + 1e-9, step_mm)
    a, b = np.meshgrid(offsets, offsets, indexing="ij")
    points = np.asarray(centre, dtype=float) + a[..., None] * u + b[..., None] * v
    flat = points.reshape(-1, 3)
    values = sample_points(image, flat, background_hu=-1000.0).reshape(a.shape)
    valid = (inside(flat) if inside is not None else image.contains(flat)).reshape(a.shape)
    solid = ndimage.binary_fill_holes(values > threshold_hu)
    radius_px = max(1, round(OPENING_MM / step_mm))
    disk = np.hypot(*np.mgrid[-radius_px:radius_px + 1, -radius_px:radius_px + 1]) <= radius_px
    core = ndimage.binary_erosion(solid, structure=disk)
    labels, n = ndimage.label(core)
    if n == 0:
        return None, 0.0, "no bone"
    # The component nearest to the start point (the network's point lies in or near the tibia).
    distance, nearest = ndimage.distance_transform_edt(labels == 0, return_indices=True)
    mid = len(offsets) // 2
    if distance[mid, mid] * step_mm > 10.0:
        return None, 0.0, "no bone within 10 mm"
    chosen = labels[nearest[0][mid, mid], nearest[1][mid, mid]]
    section = ndimage.binary_dilation(labels == chosen, structure=disk) & solid
    area = float(section.sum() * step_mm**2)
    ring = ndimage.binary_dilation(section, iterations=2)
    if ring[0].any() or ring[-1].any() or ring[:, 0].any() or ring[:, -1].any():
        return None, area, "section reaches the edge of the sampled plane"
    if not valid[ring].all():
        return None, area, "section cut by the field of view"
    if not SECTION_AREA_MM2[0] <= area <= SECTION_AREA_MM2[1]:
        return None, area, f"implausible section area {area:.0f} mm^2"
    return points[section].mean(axis=0), area, ""


def plafond_height(image: Image, dome: np.ndarray, axis: np.ndarray, *, step_mm: float = 0.25) -> float | None:
    """Height (mm, along ``axis`` from ``dome``) where the tibial plafond begins above the dome.

    Along the axis line the profile runs talar subchondral bone -> joint space (a dip) ->
    tibial subchondral bone. The plafond is where the profile, rising out of the dip nearest to
    the dome, gets half-way to the next peak. ``None`` when no clear dip (>= 150 HU deep on both
    sides) is found.
    """
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    s = np.arange(PLAFOND_SEARCH_MM[0], PLAFOND_SEARCH_MM[1] + 1e-9, step_mm)
    profile = sample_points(image, np.asarray(dome) + s[:, None] * axis, background_hu=-1000.0)
    profile = ndimage.gaussian_filter1d(profile.astype(float), 0.5 / step_mm)
    best = None
    for i in range(1, len(s) - 1):
        if not (profile[i] <= profile[i - 1] and profile[i] <= profile[i + 1]):
            continue
        below, above = profile[:i].max(), profile[i + 1:].max()
        if below - profile[i] < 150.0 or above - profile[i] < 150.0:
            continue
        if best is None or abs(s[i]) < abs(s[best]):
            best = i
    if best is None:
        return None
    peak = best + 1 + int(np.argmax(profile[best + 1:]))
    half = 0.5 * (profile[best] + profile[peak])
    rise = best + int(np.argmax(profile[best:peak + 1] >= half))
    # Linear interpolation between the two samples around the half-way crossing.
    lo, hi = profile[rise - 1], profile[rise]
    frac = (half - lo) / (hi - lo) if hi > lo else 0.0
    return float(s[rise - 1] + frac * step_mm)


def plafond_in_tube(image: Image, dome: np.ndarray, axis: np.ndarray, *, radius_mm: float = PLAFOND_TUBE_MM,
                    n_lines: int = 6) -> float | None:
    """The lowest plafond height (as :func:`plafond_height`) over the axis line through ``dome``
    and ``n_lines`` parallel lines ``radius_mm`` around it: the plafond's lowest point near
    the axis, as ANATOMY.md's heights are counted from (the plafond arches up over the dome).
    Lines more than :data:`PLAFOND_CONSISTENT_MM` below the median are ignored."""
    u, v = plane_basis(axis)
    t = np.linspace(0.0, 2.0 * np.pi, n_lines, endpoint=False)
    starts = [np.asarray(dome, dtype=float)] + [dome + radius_mm * (np.cos(a) * u + np.sin(a) * v) for a in t]
    found = np.array([h for h in (plafond_height(image, p, axis) for p in starts) if h is not None])
    if len(found) == 0:
        return None
    # A line that caught another dip (cancellous bone under the talar plate) reads several mm
    # low: only lines within PLAFOND_CONSISTENT_MM of the median count.
    return float(found[found >= np.median(found) - PLAFOND_CONSISTENT_MM].min())


def measure_tibia_sections(
    image: Image,
    dome: np.ndarray,
    start: dict[str, np.ndarray],
    *,
    threshold_hu: float,
    inside: Callable[[np.ndarray], np.ndarray] | None = None,
    up: np.ndarray | None = None,
    iterations: int = ITERATIONS,
) -> TibiaSections:
    """TIB_DIST and TIB_PROX by their definition, starting from the network's points.

    Parameters
    ----------
    dome : TAL_DOME (LPS mm), from which the plafond is searched up the axis.
    start : the network's ``TIB_DIST`` and ``TIB_PROX`` (LPS mm); they give the first axis.
    threshold_hu : bone threshold of the scan (``ScanAnalysis.bone_threshold_hu``).
    inside : which points lie in the reconstructed field of view (default: in the volume).
    up : the floor normal, the first axis when the starting points are too close to give one.

    A point whose section cannot be measured is returned NaN (the caller keeps the network's),
    except when the field of view ends below the section: it is then listed in ``out_of_view``.
    When the plafond is not found the sections are cut at the network's own heights.
    """
    dist, prox = (np.asarray(start[name], dtype=float) for name in ("TIB_DIST", "TIB_PROX"))
    dome = np.asarray(dome, dtype=float)
    out = TibiaSections({name: np.full(3, np.nan) for name in SECTION_HEIGHTS_MM},
                        {"TIB_DIST": dist, "TIB_PROX": prox}, None)
    if not (np.all(np.isfinite(dist)) and np.all(np.isfinite(prox)) and np.all(np.isfinite(dome))):
        out.notes.append("tibial sections not measured: a starting point is missing")
        return out
    axis = prox - dist
    if np.linalg.norm(axis) < MIN_START_SEPARATION_MM:
        # Too close to give a direction (a short field of view): start from the vertical.
        if up is None:
            out.notes.append("tibial sections not measured: the starting points are too close")
            return out
        axis = np.asarray(up, dtype=float)
    axis /= np.linalg.norm(axis)
    if inside is None:  # the field of view is the whole volume, not the block read below
        inside = image.contains
    image = local_block(image, np.stack([dome, dist, prox, dome + 90.0 * axis]), margin_mm=LOCAL_MARGIN_MM)
    current = {"TIB_DIST": dist, "TIB_PROX": prox}
    complete: tuple[dict[str, np.ndarray], float | None, dict[str, float]] | None = None
    measured: dict[str, np.ndarray] = {}
    reasons: dict[str, str] = {}
    rounds, short_view = 0, False
    while rounds < (2 * iterations if short_view else iterations):
        rounds += 1
        plafond = plafond_in_tube(image, dome, axis)
        measured, reasons, heights = {}, {}, {}
        for name, height in SECTION_HEIGHTS_MM.items():
            # Without a plafond the sections are cut at the current points' own heights.
            h = plafond + height if plafond is not None else float((current[name] - dome) @ axis)
            lowest = (plafond or 0.0) + TIBIA_SECTION_LOWEST_MM[name]
            centroid, reason = _section_at(image, dome, current[name], axis, h, name, lowest,
                                           threshold_hu=threshold_hu, inside=inside)
            if centroid is None:
                reasons[name] = reason
                continue
            measured[name] = centroid
            heights[name] = float((centroid - dome) @ axis) - (plafond or 0.0)
        if len(measured) < 2:
            break
        complete = (measured, plafond, heights)
        current = measured
        line = current["TIB_PROX"] - current["TIB_DIST"]
        short_view = short_view or bool(np.linalg.norm(line) < MIN_START_SEPARATION_MM)
        line /= np.linalg.norm(line)
        if short_view:
            # Sections this close (a short field of view) are ill-conditioned: a 1 mm centroid
            # shift tilts an 11 mm line by 5 degrees, the next round cuts obliquely and moves the
            # centroid further (the real scan's NIfTI and DICOM put TIB_PROX 5 mm apart sideways).
            # Half steps keep the same fixed point (the definition's axis) but do not overshoot.
            line = axis + 0.5 * (line - axis)
            line /= np.linalg.norm(line)
        axis = line
    if complete is not None:  # the last round that measured both sections
        out.points, out.plafond_mm, out.heights_mm = complete
        return out
    # Not even one complete round: what the first round measured, and why the rest failed.
    out.points = {name: measured.get(name, np.full(3, np.nan)) for name in SECTION_HEIGHTS_MM}
    out.plafond_mm, out.heights_mm = plafond, heights
    out.out_of_view = [name for name, why in reasons.items() if why == OUT_OF_VIEW]
    out.notes += [f"{name} section not measured ({why})" for name, why in reasons.items() if why != OUT_OF_VIEW]
    return out


def _section_at(image: Image, dome: np.ndarray, guess: np.ndarray, axis: np.ndarray, height: float, name: str,
                lowest: float, *, threshold_hu: float, inside: Callable[[np.ndarray], np.ndarray]
                ) -> tuple[np.ndarray | None, str]:
    """The section centroid at ``height`` above the dome along ``axis``, centred under ``guess``;
    it moves down, not below ``lowest`` (above the dome), until it is complete (the scan or the
    bone may end above it)."""
    reason = ""
    # "The most proximal complete section in the field of view": the plane's disk of
    # COMPLETE_DISK_MM around the axis must lie in the scan, with 1 mm to spare (the simulator's
    # ground truth uses the same rule and the same lowest heights).
    while not _disk_in_scan(dome + height * axis, axis, inside):
        height -= STEP_DOWN_MM
        if height < lowest - 1e-6:
            return None, OUT_OF_VIEW
    while True:
        # The plane's centre: the guess's own sideways position, at the requested height.
        centre = guess + (height - (guess - dome) @ axis) * axis
        if inside(centre[None])[0]:
            centroid, _, reason = section_centroid(image, centre, axis, threshold_hu=threshold_hu, inside=inside)
        else:
            centroid, reason = None, "section centre outside the field of view"
        if centroid is not None or name != "TIB_PROX" or reason == "no bone within 10 mm":
            return centroid, reason
        height -= STEP_DOWN_MM
        if height < lowest - 1e-6:
            return None, reason


def _disk_in_scan(centre: np.ndarray, axis: np.ndarray, in_scan: Callable[[np.ndarray], np.ndarray]) -> bool:
    u, v = plane_basis(axis)
    t = np.linspace(0.0, 2.0 * np.pi, 36, endpoint=False)
    rim = centre + COMPLETE_DISK_MM * (np.cos(t)[:, None] * u + np.sin(t)[:, None] * v)
    return bool(np.all(in_scan(np.vstack([rim, rim + axis, centre + axis]))))


def local_block(image: Image, points: np.ndarray, *, margin_mm: float) -> Image:
    """The part of ``image`` within ``margin_mm`` of the bounding box of ``points`` (LPS mm), as a
    contiguous float32 image in the same physical space."""
    lo_mm, hi_mm = points.min(axis=0) - margin_mm, points.max(axis=0) + margin_mm
    corners = np.array([[x, y, z] for x in (lo_mm[0], hi_mm[0]) for y in (lo_mm[1], hi_mm[1])
                        for z in (lo_mm[2], hi_mm[2])])
    index = image.physical_to_index(corners)
    lo = np.clip(np.floor(index.min(axis=0)).astype(int), 0, np.asarray(image.shape) - 1)
    hi = np.clip(np.ceil(index.max(axis=0)).astype(int) + 1, lo + 1, np.asarray(image.shape))
    block = np.ascontiguousarray(image.array[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]], dtype=np.float32)
    return Image(block, image.spacing, tuple(image.index_to_physical(lo)), image.direction, image.meta)
