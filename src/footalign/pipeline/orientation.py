"""Orientation normalisation: present each foot upright and pointing anterior to the model.

A :class:`Pose` is a rigid map between the scan's LPS frame and a *canonical* LPS frame in which
the foot stands on a horizontal floor (+z superior) with its long axis along -y (anterior).
The model predicts in the canonical frame; the points are mapped back to the scan frame.
Everything is computed in physical space, so the result does not depend on how the scanner
stored the volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from footalign.image import Image, resample
from footalign.landmarks import FloorPlane
from footalign.pipeline.analysis import ScanAnalysis

FOOT_HEIGHT_MM = 45.0  # bone below this height above the lowest bone: the foot, not the leg
# Only a foot turned further than this is turned back (and only when asked: see predict_scan).
MIN_YAW_DEG = 30.0
MIN_ELONGATION = 1.4  # long axis trusted only when the footprint is clearly elongated


@dataclass(frozen=True)
class Pose:
    """Rigid map between scan LPS and the foot's canonical LPS frame.

    ``rotation`` columns are the canonical x, y, z axes expressed in scan LPS; the rotation is
    about ``centre`` (scan LPS mm), so canonical q = c + Rᵀ (p − c) and p = c + R (q − c).
    ``yaw_deg`` is the estimated turn of the foot's long axis from -y, ``turned_deg`` the part
    of it that the rotation undoes, ``tilt_deg`` the angle between up and scanner +z.
    """

    rotation: np.ndarray
    centre: np.ndarray
    up_source: str = "scanner_z"
    yaw_deg: float = 0.0
    turned_deg: float = 0.0
    tilt_deg: float = 0.0

    def to_canonical(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=float)
        return self.centre + (p - self.centre) @ self.rotation

    def to_scan(self, points: np.ndarray) -> np.ndarray:
        q = np.asarray(points, dtype=float)
        return self.centre + (q - self.centre) @ self.rotation.T

    def as_dict(self) -> dict:
        return {"rotation": self.rotation.round(6).tolist(), "centre": self.centre.round(3).tolist(),
                "up_source": self.up_source, "yaw_deg": round(self.yaw_deg, 2),
                "turned_deg": round(self.turned_deg, 2),
                "tilt_deg": round(self.tilt_deg, 2)}


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation matrix taking unit vector ``a`` onto unit vector ``b`` (Rodrigues)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(a @ b)
    if np.linalg.norm(v) < 1e-12:
        if c > 0:
            return np.eye(3)
        axis = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        axis = np.cross(a, axis)
        axis /= np.linalg.norm(axis)
        return 2.0 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx * (1.0 / (1.0 + c))


def long_axis_2d(points_xy: np.ndarray) -> tuple[np.ndarray, float]:
    """Principal direction of 2D points (unit, pointing to -y = anterior) and its elongation."""
    centred = points_xy - points_xy.mean(axis=0)
    evals, evecs = np.linalg.eigh(np.cov(centred.T))
    axis = evecs[:, 1]
    if axis[1] > 0:
        axis = -axis
    elongation = float(np.sqrt(evals[1] / max(evals[0], 1e-9)))
    return axis, elongation


def estimate_pose(analysis: ScanAnalysis, bone: np.ndarray, *,
                  floor: FloorPlane | None = None, upside_down: bool = False,
                  align_long_axis: bool = True) -> Pose:
    """Canonical pose of one foot: up from the platform (else scanner +z), long axis from bone.

    Parameters
    ----------
    analysis : coarse LPS view of the scan.
    bone : this foot's bone mask on the analysis grid.
    floor : the detected platform, if any (its normal is the up direction).
    upside_down : the scan was found stored upside down (up is scanner -z).
    align_long_axis : also turn the foot about the vertical so its long axis points along -y,
        when it is turned more than :data:`MIN_YAW_DEG` (``yaw_deg`` records the estimate, the
        rotation applied is in ``rotation``).
    """
    pts = analysis.points(bone)
    if floor is not None:
        up, up_source = floor.normal, "platform"
    else:
        up = np.array([0.0, 0.0, -1.0 if upside_down else 1.0])
        up_source = "scanner_z_flipped" if upside_down else "scanner_z"
    # Tilt: bring `up` onto +z. A flipped scan is turned about x (the left-right axis stays).
    if upside_down and floor is None:
        tilt = np.diag([1.0, -1.0, -1.0])
    else:
        tilt = rotation_between(up, np.array([0.0, 0.0, 1.0]))
    tilted = pts @ tilt.T
    height = tilted[:, 2] - tilted[:, 2].min()
    foot = tilted[height <= FOOT_HEIGHT_MM]
    yaw = 0.0
    if len(foot) >= 10:
        axis, elongation = long_axis_2d(foot[:, :2])
        if elongation >= MIN_ELONGATION:
            # angle of the foot axis from -y (anterior), positive towards +x
            yaw = float(np.degrees(np.arctan2(axis[0], -axis[1])))
    turn = yaw if align_long_axis and abs(yaw) >= MIN_YAW_DEG else 0.0
    t = -np.radians(turn)  # turn the foot axis (at angle `yaw` from -y) back onto -y
    spin = np.array([[np.cos(t), -np.sin(t), 0.0], [np.sin(t), np.cos(t), 0.0], [0.0, 0.0, 1.0]])
    to_canonical = spin @ tilt  # q - c = to_canonical @ (p - c)
    tilt_deg = float(np.degrees(np.arccos(np.clip(to_canonical[2] @ np.array([0, 0, 1.0]), -1, 1))))
    return Pose(rotation=to_canonical.T, centre=pts.mean(axis=0), up_source=up_source,
                yaw_deg=yaw, turned_deg=turn, tilt_deg=tilt_deg)


def looks_upside_down(bone: np.ndarray, *, ratio: float = 4.0) -> bool:
    """True when the bone is ``ratio`` times wider at the top than at the bottom (z axis).

    A standing foot is wide near the floor (tarsals, metatarsals) and narrow above (the leg).
    """
    areas = bone.sum(axis=(0, 1)).astype(float)
    zs = np.flatnonzero(areas)
    if zs.size < 8:
        return False
    lo, hi = zs[0], zs[-1]
    quarter = max(1, (hi - lo + 1) // 4)
    bottom = areas[lo:lo + quarter].mean()
    top = areas[hi + 1 - quarter:hi + 1].mean()
    return bool(top > ratio * bottom)


def crop_canonical(image: Image, pose: Pose, bone_points: np.ndarray, *, spacing: float,
                   margin_mm: float = 20.0, max_height_mm: float = 220.0) -> Image:
    """Resample the foot's region of ``image`` onto an axis-aligned grid of the canonical frame.

    Parameters
    ----------
    image : the scan (HU).
    pose : scan ↔ canonical map of this foot.
    bone_points : this foot's bone voxel positions (scan LPS mm) defining the region.
    spacing : isotropic voxel size (mm) of the crop.
    margin_mm : margin around the bone's bounding box.
    max_height_mm : the crop keeps at most this much above the lowest bone (the leg is long).

    Returns
    -------
    Image in the canonical frame (identity direction); ``meta["pose"]`` holds the map back.
    """
    q = pose.to_canonical(bone_points)
    lower = q.min(axis=0) - margin_mm
    upper = q.max(axis=0) + margin_mm
    upper[2] = min(upper[2], q[:, 2].min() + max_height_mm)
    shape = tuple(int(np.ceil((u - lo) / spacing)) + 1 for lo, u in zip(lower, upper, strict=True))
    origin_scan = pose.to_scan(lower)
    crop = resample(image, spacing=(spacing,) * 3, shape=shape, origin=origin_scan,
                    direction=pose.rotation, default_value=-1000.0)
    meta = {k: v for k, v in image.meta.items() if k in ("modality", "laterality", "source")}
    meta["pose"] = pose.as_dict()
    return Image(crop.array, (spacing,) * 3, tuple(lower), np.eye(3), meta)
