"""Synthetic foot phantoms and a marker-reading test double for the pipeline tests.

No tests here: helpers shared by ``test_pipeline*.py`` and ``test_report*.py``. The phantom is
a crude foot (ellipsoid and capsule bones in soft tissue, standing on a platform) with 22
marker balls at known LPS positions, one per landmark, each with its own HU plateau.
``MarkerPredictor`` is a clearly-labelled TEST DOUBLE for the model: it finds the balls in the
image it is given, so it exercises every geometric step of the pipeline honestly.
"""

from __future__ import annotations

import inspect
from typing import ClassVar

import numpy as np

from footalign.anatomy import LANDMARK_NAMES, N_LANDMARKS
from footalign.image import Image
from footalign.landmarks import FloorPlane, FootLandmarks

MARKER_HU0 = 2600.0
MARKER_STEP = 60.0
MARKER_RADIUS = 4.5
BONE_HU, SOFT_HU, PLATFORM_HU, AIR_HU = 700.0, 40.0, 250.0, -1000.0

# Right foot, local frame: LPS axes, floor (platform top) at z = 0, toes towards -y,
# medial towards +x. Spread so that marker balls stay >= 13 mm apart. The CALC_LOW ball
# pokes 3.5 mm out of the bottom of the calcaneus ellipsoid: it is the heel's lowest point, as defined.
MARKERS_RIGHT: dict[str, tuple[float, float, float]] = {
    "TIB_PROX": (0, 10, 138), "TIB_DIST": (0, 8, 98), "TAL_DOME": (0, 5, 68), "TAL_HEAD": (0, -14, 52),
    "TAL_HEAD_MED": (14, -12, 56), "TAL_HEAD_LAT": (-13, -12, 56), "CALC_LOW": (0, 52, 11),
    "CALC_TUB": (0, 66, 40), "CALC_PFA": (0, 25, 46), "CALC_ANT": (-10, 2, 36), "CALC_CC": (-12, -8, 18),
    "NAV_LOW": (2, -30, 33), "NAV_MED": (16, -28, 47), "NAV_LAT": (-10, -30, 48), "CUN1_LOW": (16, -46, 26),
    "M1_BASE": (18, -62, 30), "M1_HEAD": (22, -120, 16), "M2_BASE": (2, -66, 32), "M2_HEAD": (4, -128, 15),
    "M5_HEAD": (-22, -110, 14), "P1_BASE": (24, -136, 14), "P1_HEAD": (25, -158, 12),
}
ELLIPSOIDS = [((0, 35, 28), (16, 38, 18)), ((0, 5, 55), (15, 22, 13)), ((3, -28, 42), (15, 9, 12)),
              ((-15, -20, 25), (10, 12, 10)), ((8, -46, 32), (16, 9, 12))]
CAPSULES = [((18, -58, 30), (22, -120, 16), 5.5), ((3, -62, 31), (4, -128, 15), 5.0),
            ((-5, -60, 28), (-8, -124, 14), 4.5), ((-12, -56, 26), (-16, -118, 14), 4.5),
            ((-18, -50, 22), (-22, -110, 14), 5.0), ((24, -128, 14), (25, -160, 12), 5.5),
            ((-24, 12, 45), (-22, 15, 200), 5.0)]
# The tibia: a flat-ended cylinder whose sections 20 and 60 mm above its end (the plafond,
# ~10 mm above the dome marker's centre) are centred on TIB_DIST and TIB_PROX, as defined.
_TIB_AXIS = np.subtract(MARKERS_RIGHT["TIB_PROX"], MARKERS_RIGHT["TIB_DIST"])
_TIB_AXIS = _TIB_AXIS / np.linalg.norm(_TIB_AXIS)
TIBIA_CYLINDER = (np.asarray(MARKERS_RIGHT["TIB_DIST"], float) - 20.0 * _TIB_AXIS, _TIB_AXIS, 150.0, 13.0)


def marker_truth(side: str = "right") -> np.ndarray:
    """Local (unrotated, centred) marker positions (22, 3) of a foot of ``side``."""
    pts = np.array([MARKERS_RIGHT[n] for n in LANDMARK_NAMES], float)
    if side == "left":
        pts[:, 0] *= -1.0
    return pts


def _capsule_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip(((p - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def _in_box(q: np.ndarray, centre: np.ndarray, half: np.ndarray) -> np.ndarray:
    return np.all(np.abs(q - centre) <= half, axis=1)


def foot_density(local: np.ndarray, side: str) -> np.ndarray:
    """HU of a foot at local points (N, 3) (floor z = 0; x mirrored for a left foot)."""
    q = local.copy()
    if side == "left":
        q[:, 0] *= -1.0
    hu = np.full(len(q), AIR_HU, np.float32)
    envelope = (((q[:, 0] / 48) ** 2 + ((q[:, 1] + 40) / 128) ** 2 + ((q[:, 2] - 25) / 42) ** 2) <= 1.0)
    leg = (np.hypot(q[:, 0], q[:, 1] - 10) <= 38) & (q[:, 2] > 30)
    hu[(envelope | leg) & (q[:, 2] >= 0)] = SOFT_HU
    bone = np.zeros(len(q), bool)
    for centre, radii in ELLIPSOIDS:
        near = _in_box(q, np.asarray(centre, float), np.asarray(radii, float))
        bone[near] |= np.sum(((q[near] - centre) / radii) ** 2, axis=1) <= 1.0
    for a, b, r in CAPSULES:
        a, b = np.asarray(a, float), np.asarray(b, float)
        near = _in_box(q, (a + b) / 2, np.abs(b - a) / 2 + r)
        bone[near] |= _capsule_distance(q[near], a, b) <= r
    start, axis, length, radius = TIBIA_CYLINDER
    along = (q - start) @ axis
    bone |= (along >= 0) & (along <= length) & (np.linalg.norm(q - start - along[:, None] * axis, axis=1) <= radius)
    hu[bone] = BONE_HU
    for i, m in enumerate(marker_truth("right")):
        near = np.flatnonzero(_in_box(q, m, np.full(3, MARKER_RADIUS)))
        inside = near[np.linalg.norm(q[near] - m, axis=1) <= MARKER_RADIUS]
        hu[inside] = MARKER_HU0 + MARKER_STEP * i
    return hu


def rotation(yaw_deg: float = 0.0, tilt_deg: float = 0.0) -> np.ndarray:
    """Rotation: tilt about x (the platform tilts), then yaw about z."""
    a, b = np.radians(yaw_deg), np.radians(tilt_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def make_scan(**kwargs) -> tuple[Image, list[FootLandmarks], FloorPlane]:
    """Cached :func:`build_scan` (phantoms are reused across tests; copy before changing them)."""
    bound = inspect.signature(build_scan).bind(**kwargs)
    bound.apply_defaults()
    key = tuple(sorted(bound.arguments.items()))
    if key not in _CACHE:
        _CACHE[key] = build_scan(**kwargs)
    image, truth, floor = _CACHE[key]
    fresh = Image(image.array, image.spacing, image.origin, image.direction, dict(image.meta))
    return fresh, truth, floor


_CACHE: dict[tuple, tuple[Image, list[FootLandmarks], FloorPlane]] = {}


def build_scan(*, sides: tuple[str, ...] = ("right",), spacing: float = 2.0, yaw_deg: float = 0.0,
              tilt_deg: float = 0.0, platform: bool = True, noise: float = 10.0,
              seed: int = 0) -> tuple[Image, list[FootLandmarks], FloorPlane]:
    """A phantom scan with one or two feet (``("right", "left")`` = bilateral) and its truth.

    Returns the image (identity direction, LPS), the true landmarks per foot (in ``sides``
    order) and the true floor (the platform's top surface).
    """
    rot = rotation(yaw_deg, tilt_deg)
    offsets = {"right": np.zeros(3)} if len(sides) == 1 else {"right": np.array([-75.0, 0, 0]),
                                                              "left": np.array([75.0, 0, 0])}
    half_x = (80.0 if len(sides) == 1 else 160.0) + 0.8 * abs(yaw_deg)
    # Voxel centres at ±spacing/2 around z = 0: the platform's voxel surface is exactly z = 0.
    lower = np.array([-half_x, -175.0, -(int(14.0 / spacing) + 0.5) * spacing])
    upper = np.array([half_x, 90.0, 150.0])
    shape = tuple(int(n) for n in np.ceil((upper - lower) / spacing))
    grid = np.stack(np.meshgrid(*[lower[d] + spacing * np.arange(shape[d]) for d in range(3)],
                                indexing="ij"), axis=-1).reshape(-1, 3)
    local_all = grid @ rot  # world p = R u  ->  u = R^T p
    hu = np.full(len(grid), AIR_HU, np.float32)
    if platform:
        hu[(local_all[:, 2] <= 0) & (local_all[:, 2] > -6)] = PLATFORM_HU
    truth = []
    for side in sides:
        offset = offsets.get(side, np.zeros(3))
        local = local_all - offset
        near = np.all(np.abs(local - np.array([0, -40, 70])) <= np.array([70, 140, 90]), axis=1)
        dens = foot_density(local[near], side)
        cur = hu[near]
        hu[near] = np.where(dens > AIR_HU, dens, cur)
        points = (marker_truth(side) + offset) @ rot.T
        truth.append(FootLandmarks(side, points, np.ones(N_LANDMARKS)))
    rng = np.random.default_rng(seed)
    hu = hu + rng.normal(0.0, noise, hu.shape).astype(np.float32) * (hu < MARKER_HU0 - 100)
    image = Image(hu.reshape(shape), (spacing,) * 3, tuple(lower), np.eye(3), {"modality": "CT"})
    floor = FloorPlane(point=np.zeros(3), normal=rot @ np.array([0.0, 0.0, 1.0]), source="platform")
    return image, truth, floor


def restore_storage(image: Image, perm: tuple[int, int, int], flips: tuple[bool, bool, bool]) -> Image:
    """The same physical image stored with permuted and flipped array axes (header adjusted)."""
    array = image.array
    direction = image.direction.copy()
    spacing = np.asarray(image.spacing)
    corner = np.zeros(3)
    for d, flip in enumerate(flips):
        if flip:
            array = np.flip(array, axis=d)
            corner[d] = image.shape[d] - 1
    origin = image.index_to_physical(corner)
    signs = np.where(flips, -1.0, 1.0)
    direction = direction * signs[None, :]
    array = np.ascontiguousarray(np.transpose(array, perm))
    return Image(array, tuple(spacing[list(perm)]), tuple(origin), direction[:, list(perm)], dict(image.meta))


class MarkerPredictor:
    """TEST DOUBLE standing in for the model: locates the phantom's coded marker balls.

    Each connected blob brighter than the markers' floor is one marker; its identity is its
    HU plateau, its position the intensity-weighted centroid. Not a model; tests only.
    """

    config: ClassVar[dict[str, str]] = {"model_version": "test-double"}
    source = "tests/MarkerPredictor"

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, int, int], str]] = []

    def predict_foot(self, image: Image, side: str, *, progress: bool = False) -> FootLandmarks:
        from scipy import ndimage

        self.calls.append((image.shape, side))
        arr = image.array.astype(np.float32)
        mask = arr > MARKER_HU0 - 0.5 * MARKER_STEP - 1000.0
        labels, n = ndimage.label(mask)
        points = np.full((N_LANDMARKS, 3), np.nan)
        if n:
            peaks = ndimage.maximum(arr, labels, index=np.arange(1, n + 1))
            weights = np.clip(arr - (MARKER_HU0 - 1500.0), 0.0, None)
            centres = ndimage.center_of_mass(weights, labels, index=np.arange(1, n + 1))
            for peak, centre in zip(peaks, centres, strict=True):
                i = round((peak - MARKER_HU0) / MARKER_STEP)
                if 0 <= i < N_LANDMARKS and abs(peak - (MARKER_HU0 + MARKER_STEP * i)) < 20.0:
                    points[i] = image.index_to_physical(np.asarray(centre))
        status = ["ok" if np.all(np.isfinite(p)) else "outside_fov" for p in points]
        confidence = np.where(np.isfinite(points[:, 0]), 0.9, 0.0)
        return FootLandmarks(side, points, confidence, status=status, meta={"timing": {"double": 0.0}})


def subvolume(image: Image, index: tuple[slice, slice, slice]) -> Image:
    """A cropped copy of ``image`` keeping its physical space (origin moved to the first voxel)."""
    start = np.array([s.start or 0 for s in index], float)
    return Image(image.array[index].copy(), image.spacing, tuple(image.index_to_physical(start)),
                 image.direction, dict(image.meta))
