"""Shape variation: global size, smooth whole-foot warps and small per-bone deformations.

Joints stay congruent because the large variations are *shared* by neighbouring bones: a global
scaling (foot length) with mild anisotropy, and a low-frequency displacement field over the
whole foot (Gaussian radial basis bumps tens of mm wide). Each bone then gets its own smaller
smooth bumps (amplitude well below the joint spaces) so no two feet have identical bones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import trimesh

from footalign.simulate.templates import Skeleton


@dataclass(frozen=True)
class ShapeParams:
    """Size and warp settings of one foot (mm unless stated)."""

    scale: float = 1.0
    width_scale: float = 1.0
    height_scale: float = 1.0
    global_bumps: int = 6
    global_amplitude_mm: float = 2.5
    global_width_mm: float = 45.0
    bone_bumps: int = 3
    bone_amplitude_mm: float = 0.5
    bone_width_mm: float = 12.0

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def rbf_field(points: np.ndarray, centres: np.ndarray, vectors: np.ndarray, width: float) -> np.ndarray:
    """Displacements at ``points``: sum of Gaussian bumps ``vectors * exp(-|p-c|^2 / 2 width^2)``."""
    d2 = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return np.exp(-d2 / (2.0 * width**2)) @ vectors


def bone_length(skeleton: Skeleton) -> float:
    """Heel-to-toe extent (mm) of the foot bones along their principal axis."""
    foot = np.vstack([m.vertices for n, m in skeleton.meshes.items() if n not in ("tibia", "fibula")])
    axis = np.linalg.svd(foot - foot.mean(axis=0), full_matrices=False)[2][0]
    t = foot @ axis
    return float(t.max() - t.min())


def deform(skeleton: Skeleton, params: ShapeParams, rng: np.random.Generator,
           frame: np.ndarray | None = None) -> Skeleton:
    """Return a deformed copy of ``skeleton``.

    ``frame`` (rows x anterior, y medial, z up) orients the anisotropic scaling; by default the
    principal axes of the foot bones are used.
    """
    meshes = {k: m.copy() for k, m in skeleton.meshes.items()}
    foot_pts = np.vstack([m.vertices for n, m in meshes.items() if n not in ("tibia", "fibula")])
    centre = foot_pts.mean(axis=0)
    if frame is None:
        frame = np.linalg.svd(foot_pts - centre, full_matrices=False)[2]
    scales = params.scale * np.array([1.0, params.width_scale, params.height_scale])
    linear = frame.T @ np.diag(scales) @ frame
    lo, hi = foot_pts.min(axis=0), foot_pts.max(axis=0)
    g_centres = rng.uniform(lo, hi, size=(params.global_bumps, 3))
    g_vectors = rng.normal(0.0, params.global_amplitude_mm, size=(params.global_bumps, 3))
    for mesh in meshes.values():
        v = np.asarray(mesh.vertices, dtype=float)
        v = v + rbf_field(v, g_centres, g_vectors, params.global_width_mm)
        if params.bone_bumps and params.bone_amplitude_mm > 0:
            idx = rng.integers(0, len(v), size=params.bone_bumps)
            b_vectors = rng.normal(0.0, params.bone_amplitude_mm, size=(params.bone_bumps, 3))
            v = v + rbf_field(v, v[idx], b_vectors, params.bone_width_mm)
        v = (v - centre) @ linear.T + centre
        mesh.vertices = v
    return Skeleton({k: trimesh.Trimesh(m.vertices, m.faces, process=False) for k, m in meshes.items()})
