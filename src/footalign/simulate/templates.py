"""Real bone templates (Visible Human Male/Female) loaded into one right-foot skeleton, LPS mm.

The packaged templates (``footalign/data/bone_templates``) keep their source frames:

- VHM: +x left, +y anterior, +z inferior  -> LPS = (x, -y, -z)
- VHF: +x right, +y anterior, +z superior -> LPS = (-x, -y, z)

Both maps are proper rotations, so face winding (outward normals) is kept. The VHM right foot
has every foot bone but no tibia; the tibia (and, for a consistent syndesmosis, the fibula) is
borrowed from the VHF right leg, placed by a similarity registration of the VHF talus onto the
VHM talus and then shifted along the leg so the ankle joint space matches a real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import cKDTree

# Label value of each bone in the simulated label maps (0 = background). Fixed forever: the
# model code and saved data sets rely on these numbers.
BONE_LABELS: dict[str, int] = {
    "tibia": 1,
    "fibula": 2,
    "talus": 3,
    "calcaneus": 4,
    "navicular": 5,
    "cuboid": 6,
    "medial_cuneiform": 7,
    "intermediate_cuneiform": 8,
    "lateral_cuneiform": 9,
    "metatarsal_1": 10,
    "metatarsal_2": 11,
    "metatarsal_3": 12,
    "metatarsal_4": 13,
    "metatarsal_5": 14,
    "hallux_proximal_phalanx": 15,
    "hallux_distal_phalanx": 16,
    "toe2_proximal_phalanx": 17,
    "toe2_middle_phalanx": 18,
    "toe2_distal_phalanx": 19,
    "toe3_proximal_phalanx": 20,
    "toe3_middle_phalanx": 21,
    "toe3_distal_phalanx": 22,
    "toe4_proximal_phalanx": 23,
    "toe4_middle_distal_phalanx": 24,
    "toe5_proximal_phalanx": 25,
    "toe5_middle_distal_phalanx": 26,
}
BONE_NAMES: tuple[str, ...] = tuple(BONE_LABELS)

# Bone groups used by the pose chain (all names are BONE_LABELS keys).
LEG_BONES = ("tibia", "fibula")
LESSER_TOES = tuple(n for n in BONE_NAMES if n.startswith("toe"))
HALLUX = ("hallux_proximal_phalanx", "hallux_distal_phalanx")
METATARSALS = tuple(f"metatarsal_{i}" for i in range(1, 6))
CUNEIFORMS = ("medial_cuneiform", "intermediate_cuneiform", "lateral_cuneiform")

_VHM_TO_LPS = np.diag([1.0, -1.0, -1.0])
_VHF_TO_LPS = np.diag([-1.0, -1.0, 1.0])
# Ankle joint space (tibial plafond to talar dome) of the assembled template, mm.
ANKLE_GAP_MM = 2.5


@dataclass(frozen=True)
class Skeleton:
    """A set of bone meshes (LPS mm) of one foot that looks like a right foot."""

    meshes: dict[str, trimesh.Trimesh]

    def copy(self) -> Skeleton:
        return Skeleton({k: m.copy() for k, m in self.meshes.items()})


def template_dir() -> Path:
    """Folder of the packaged bone templates."""
    return Path(str(resources.files("footalign") / "data" / "bone_templates"))


def load_ply(path: Path, rotation: np.ndarray) -> trimesh.Trimesh:
    """Load a PLY surface and rotate it into LPS (``rotation`` maps source -> LPS)."""
    mesh = trimesh.load(path, process=False, force="mesh")
    vertices = np.asarray(mesh.vertices, dtype=float) @ rotation.T
    return trimesh.Trimesh(vertices, np.asarray(mesh.faces), process=False)


def similarity_icp(moving: np.ndarray, fixed: np.ndarray, *, iterations: int = 60) -> np.ndarray:
    """Rigid + uniform-scale ICP of point cloud ``moving`` onto ``fixed``; 4x4 transform.

    Starts from the centroid and principal-axis alignment (both clouds are the same bone in
    roughly the same orientation), then alternates nearest neighbours and Umeyama fits.
    """
    tree = cKDTree(fixed)
    transform = np.eye(4)
    transform[:3, 3] = fixed.mean(axis=0) - moving.mean(axis=0)
    current = moving + transform[:3, 3]
    for _ in range(iterations):
        _, idx = tree.query(current)
        step = umeyama(current, fixed[idx], scale=True)
        current = current @ step[:3, :3].T + step[:3, 3]
        transform = step @ transform
        if np.allclose(step, np.eye(4), atol=1e-6):
            break
    return transform


def umeyama(src: np.ndarray, dst: np.ndarray, *, scale: bool) -> np.ndarray:
    """Least-squares similarity (or rigid) transform mapping ``src`` onto ``dst`` (Umeyama 1991)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    u, s, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.eye(3)
    d[2, 2] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rot = u @ d @ vt
    c = float(np.trace(np.diag(s) @ d) / (a**2).sum(axis=1).mean()) if scale else 1.0
    out = np.eye(4)
    out[:3, :3] = c * rot
    out[:3, 3] = mu_d - c * rot @ mu_s
    return out


def principal_axis(points: np.ndarray) -> np.ndarray:
    """Unit direction of largest variance of ``points``."""
    centred = points - points.mean(axis=0)
    return np.linalg.svd(centred, full_matrices=False)[2][0]


@lru_cache(maxsize=1)
def _base_skeleton_cached() -> Skeleton:
    root = template_dir()
    meshes: dict[str, trimesh.Trimesh] = {}
    for name in BONE_NAMES:
        if name in LEG_BONES:
            continue
        meshes[name] = load_ply(root / "vhm_right" / f"{name}.ply", _VHM_TO_LPS)

    vhf_talus = load_ply(root / "vhf_right" / "talus.ply", _VHF_TO_LPS)
    transform = similarity_icp(np.asarray(vhf_talus.vertices), np.asarray(meshes["talus"].vertices))
    for name in LEG_BONES:
        bone = load_ply(root / "vhf_right" / f"{name}.ply", _VHF_TO_LPS)
        bone.apply_transform(transform)
        meshes[name] = bone

    # Seat the tibia on the VHM plafond: the upper (bone-side) surface of the VHM distal tibial
    # cartilage. Rigid ICP of the VHF plafond (downward-facing distal tibia vertices) onto it.
    cartilage = load_ply(root / "vhm_cartilage" / "right_tibia_distal_cartilage.ply", _VHM_TO_LPS)
    bone_side = np.asarray(cartilage.vertices)[cartilage.vertex_normals[:, 2] > 0.3]
    tibia = meshes["tibia"]
    plafond = np.asarray(tibia.vertices)[tibia.vertex_normals[:, 2] < -0.5]
    tree = cKDTree(bone_side)
    seat = np.eye(4)
    for _ in range(40):
        moved = plafond @ seat[:3, :3].T + seat[:3, 3]
        dist, idx = tree.query(moved)
        keep = dist < 4.0
        if keep.sum() < 20:
            break
        step = umeyama(moved[keep], bone_side[idx[keep]], scale=False)
        seat = step @ seat
        if np.allclose(step, np.eye(4), atol=1e-7):
            break
    for name in LEG_BONES:
        meshes[name].apply_transform(seat)
    return Skeleton(meshes)


def _min_gap(upper: trimesh.Trimesh, lower: trimesh.Trimesh, axis: np.ndarray, *,
             cell_mm: float = 1.5) -> float:
    """Smallest gap along ``axis`` between ``upper``'s underside and ``lower``'s top (negative =
    overlap), over the cells of a grid perpendicular to ``axis`` that both meshes cover."""
    basis = np.linalg.svd(np.eye(3) - np.outer(axis, axis))[0][:, :2]

    def height_maps(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cells = np.floor(points @ basis / cell_mm).astype(np.int64)
        keys = cells[:, 0] * 100003 + cells[:, 1]
        return keys, points @ axis

    ku, hu = height_maps(np.asarray(upper.vertices))
    kl, hl = height_maps(np.asarray(lower.vertices))
    low_of_upper: dict[int, float] = {}
    for k, h in zip(ku.tolist(), hu.tolist(), strict=True):
        low_of_upper[k] = min(h, low_of_upper.get(k, np.inf))
    gaps = [low_of_upper[k] - h for k, h in zip(kl.tolist(), hl.tolist(), strict=True) if k in low_of_upper]
    return float(min(gaps))


def base_skeleton() -> Skeleton:
    """The template right foot (VHM bones + VHF tibia/fibula) in LPS mm, as scanned (plantarflexed).

    Returns a fresh copy each call (meshes are mutable).
    """
    return _base_skeleton_cached().copy()
