"""Shape variation: global size, smooth whole-foot warps and small per-bone deformations.

Joints stay congruent because the large variations are *shared* by neighbouring bones: a global
scaling (foot length) with mild anisotropy, and a low-frequency displacement field over the
whole foot (Gaussian radial basis bumps tens of mm wide). Each bone then gets its own smaller
smooth bumps (amplitude well below the joint spaces) so no two feet have identical bones.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

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
    # Inward offset of every bone surface: opens the cartilage space of each joint by twice this.
    shrink_mm: float = 0.4
    # Talus shape from the real CC0 talus set: index into talus_shape_files() (-1 = template
    # talus) and how far (0..1) the template talus is morphed toward it.
    talus_shape: int = -1
    talus_blend: float = 0.0

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
    if params.talus_shape >= 0 and params.talus_blend > 0 and "talus" in meshes:
        field = talus_shape_field(params.talus_shape)
        meshes["talus"].vertices = np.asarray(meshes["talus"].vertices) + params.talus_blend * field
    for mesh in meshes.values():
        v = np.asarray(mesh.vertices, dtype=float)
        v = v + rbf_field(v, g_centres, g_vectors, params.global_width_mm)
        if params.bone_bumps and params.bone_amplitude_mm > 0:
            idx = rng.integers(0, len(v), size=params.bone_bumps)
            b_vectors = rng.normal(0.0, params.bone_amplitude_mm, size=(params.bone_bumps, 3))
            v = v + rbf_field(v, v[idx], b_vectors, params.bone_width_mm)
        v = (v - centre) @ linear.T + centre
        if params.shrink_mm > 0:
            v = v - params.shrink_mm * trimesh.Trimesh(v, mesh.faces, process=False).vertex_normals
        mesh.vertices = v
    return Skeleton({k: trimesh.Trimesh(m.vertices, m.faces, process=False) for k, m in meshes.items()})


def talus_shape_files() -> list[Path]:
    """The real tali of the CC0 talocrural set shipped with footalign (25 limbs, sorted)."""
    from footalign.simulate.templates import template_dir

    return sorted((template_dir() / "talocrural_cc0").glob("*_talus.ply"))


@lru_cache(maxsize=32)
def talus_shape_field(index: int, *, smoothing: int = 8) -> np.ndarray:
    """Displacements that morph the template talus (its vertex order kept) onto real talus
    ``index``: the real talus (left ones mirrored to right) is registered onto the template by a
    similarity transform (so size and pose stay the template's), then every template vertex
    moves to the nearest point of the real surface; the field is smoothed over the mesh so the
    surface does not fold."""
    from scipy.spatial import cKDTree

    from footalign.simulate.mesh_landmarks import register_bone
    from footalign.simulate.templates import _base_skeleton_cached, load_ply

    path = talus_shape_files()[index]
    mirror = np.diag([-1.0, 1.0, 1.0]) if "_l_" in path.name else np.eye(3)
    real = load_ply(path, mirror)
    template = _base_skeleton_cached().meshes["talus"]
    tv = np.asarray(template.vertices)
    transform = register_bone(np.asarray(real.vertices), tv)
    real.apply_transform(transform)
    dense = np.vstack([real.vertices, trimesh.sample.sample_surface_even(real, 30000, seed=0)[0]])
    _, idx = cKDTree(dense).query(tv)
    field = dense[idx] - tv
    # Smooth over mesh neighbours (umbrella averaging) to keep the morph fold-free.
    neighbours = template.vertex_neighbors
    for _ in range(smoothing):
        field = np.stack([field[nb].mean(axis=0) if len(nb) else field[i] for i, nb in enumerate(neighbours)])
    return field
