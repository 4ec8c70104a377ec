"""The foot frame of ANATOMY.md and signed planar angles.

z = floor normal (up); x = CALC_LOW→M2_HEAD projected onto the floor (anterior);
y = z × x, negated for left feet so that +y is medial on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from footalign.anatomy import FRAME_LONG_AXIS, FRAME_TRIPOD
from footalign.landmarks import FloorPlane, FootLandmarks

# If M2_HEAD is outside the field of view, the long axis falls back to these targets, in order.
# The notes record the fallback, since the angle of CALC_LOW→M2_BASE differs by a few degrees.
_LONG_AXIS_FALLBACKS: tuple[str, ...] = ("M2_HEAD", "M2_BASE", "CUN1_LOW", "NAV_LOW")


@dataclass(frozen=True)
class FootFrame:
    """Orthonormal foot frame in LPS mm: ``origin`` on the floor below CALC_LOW, axes x, y, z.

    ``floor_source`` says which floor defined z; ``notes`` list any fallbacks used.
    """

    origin: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    side: str
    floor: FloorPlane
    floor_source: str
    long_axis_target: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_local(self, points: np.ndarray) -> np.ndarray:
        """LPS points ``(..., 3)`` → foot-frame coordinates (x anterior, y medial, z up)."""
        rel = np.asarray(points, dtype=float) - self.origin
        return np.stack([rel @ self.x, rel @ self.y, rel @ self.z], axis=-1)


def tripod_floor(foot: FootLandmarks) -> FloorPlane | None:
    """Plane through CALC_LOW, M1_HEAD, M5_HEAD with its normal towards TAL_DOME (up).

    Returns None when any of the three points is missing or they are collinear.
    """
    if not all(foot.has(n) for n in FRAME_TRIPOD):
        return None
    a, b, c = (foot[n] for n in FRAME_TRIPOD)
    normal = np.cross(b - a, c - a)
    if np.linalg.norm(normal) < 1e-6:
        return None
    up_ref = foot["TAL_DOME"] if foot.has("TAL_DOME") else np.array([0.0, 0.0, 1e6])
    if np.dot(normal, up_ref - a) < 0:
        normal = -normal
    return FloorPlane(point=a, normal=normal, source="tripod")


def choose_floor(foot: FootLandmarks, floor: FloorPlane | None = None) -> tuple[FloorPlane, tuple[str, ...]]:
    """The floor to use: the given one, else the foot's own, else the tripod, else the image axial plane."""
    if floor is not None:
        return floor, ()
    if foot.floor is not None:
        return foot.floor, ()
    tripod = tripod_floor(foot)
    if tripod is not None:
        return tripod, ()
    anchor = next((foot[n] for n in ("CALC_LOW", "NAV_LOW", "TAL_DOME") if foot.has(n)), None)
    if anchor is None:
        raise ValueError("cannot place a floor: no platform, tripod or hindfoot landmark available")
    note = "no platform and tripod incomplete: floor = image axial plane (LPS z up) through CALC_LOW"
    return FloorPlane(point=anchor, normal=np.array([0.0, 0.0, 1.0]), source="image_axis"), (note,)


def foot_frame(foot: FootLandmarks, floor: FloorPlane | None = None) -> FootFrame:
    """Build the foot frame of ANATOMY.md from a foot's landmarks and a floor.

    Parameters
    ----------
    foot : the 22 landmarks (LPS mm) and side.
    floor : the floor plane; default ``foot.floor``, else the tripod plane.

    Raises
    ------
    ValueError
        If CALC_LOW is missing, or no long-axis target is available.
    """
    plane, notes = choose_floor(foot, floor)
    start_name = FRAME_LONG_AXIS[0]
    if not foot.has(start_name):
        raise ValueError(f"cannot build the foot frame: {start_name} is missing")
    target_name = next((n for n in _LONG_AXIS_FALLBACKS if foot.has(n)), None)
    if target_name is None:
        raise ValueError("cannot build the foot frame: no long-axis target (M2_HEAD, M2_BASE, ...) available")
    if target_name != FRAME_LONG_AXIS[1]:
        notes = (*notes, f"long axis uses CALC_LOW→{target_name} because {FRAME_LONG_AXIS[1]} is missing")
    z = plane.normal
    x = project_onto_plane(foot[target_name] - foot[start_name], z)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    if foot.side == "left":
        y = -y  # mirror: +y medial on both sides
    origin = foot[start_name] - plane.height(foot[start_name]) * z
    return FootFrame(origin, x, y, z, foot.side, plane, plane.source, target_name, notes)


def project_onto_plane(v: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """Component of vector ``v`` perpendicular to unit ``normal``."""
    v = np.asarray(v, dtype=float)
    return v - np.dot(v, normal) * normal


def signed_planar_angle(a: np.ndarray, b: np.ndarray, normal: np.ndarray) -> float:
    """Signed angle (degrees) rotating ``a`` onto ``b``, both projected onto the plane ``normal``.

    Positive when the rotation from ``a`` to ``b`` is counter-clockwise looking down ``normal``
    (right-hand rule about ``normal``); the result is in (-180, 180].

    Notes
    -----
    ``atan2((a' × b') · n, a' · b')`` with ``a'``, ``b'`` the projections (ANATOMY.md: "a planar
    angle between two 3D axes is the signed angle between their projections onto the plane").
    """
    n = np.asarray(normal, dtype=float)
    n = n / np.linalg.norm(n)
    pa, pb = project_onto_plane(a, n), project_onto_plane(b, n)
    return float(np.degrees(np.arctan2(np.dot(np.cross(pa, pb), n), np.dot(pa, pb))))


def unsigned_planar_angle(a: np.ndarray, b: np.ndarray, normal: np.ndarray) -> float:
    """Unsigned angle (degrees, [0, 180]) between ``a`` and ``b`` projected onto the plane ``normal``."""
    return abs(signed_planar_angle(a, b, normal))
