"""One simulated WBCT case: sample anatomy, posture and scanner, pose, place, render, label.

Everything random comes from the one ``numpy.random.Generator`` passed in, so a case is a pure
function of its seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from footalign.image import Image
from footalign.landmarks import FloorPlane, FootLandmarks
from footalign.simulate.mesh_landmarks import articular_patches, landmarks_from_meshes
from footalign.simulate.pose import PoseParams, pose_skeleton
from footalign.simulate.render import RenderParams, render_scene
from footalign.simulate.shape import ShapeParams, bone_length, deform, talus_shape_files
from footalign.simulate.templates import Skeleton, base_skeleton
from footalign.simulate.voxelize import Grid

PATHOLOGIES: tuple[str, ...] = ("normal", "cavus", "planovalgus", "hallux_valgus", "hindfoot_varus",
                                "hindfoot_valgus")
DEFAULT_MIX: dict[str, float] = {"normal": 0.4, "cavus": 0.15, "planovalgus": 0.2, "hallux_valgus": 0.15,
                                 "hindfoot_varus": 0.05, "hindfoot_valgus": 0.05}

# Joint angles that bring the (supinated, plantarflexed, forefoot-adducted) cadaver template to a
# normal standing alignment: calcaneal pitch ~23 deg and first metatarsal declination ~20 deg (a
# calcaneal-first-metatarsal angle of ~136 deg), talus-M1 AP, Kite, TNCA, HVA and IMA in their
# normal ranges, the arch as low as that allows (docs/simulation.md, "Calibration";
# scripts/neutral_pose_report.py).
NEUTRAL_POSE = PoseParams(hallux_valgus=-17.0, first_ray_varus=-7.5, midfoot_plantarflexion=-8.0,
                          chopart_plantarflexion=24.0, metatarsus_abduction=18.0,
                          forefoot_abduction=5.0, subtalar_eversion=-6.5, forefoot_pronation=40.0,
                          hindfoot_target=5.0, tibia_lean=4.0)
# Foot length (heel to hallux tip, skin) = bone length + this soft-tissue allowance.
SKIN_LENGTH_MM = 15.0


@dataclass
class SimulatedFoot:
    side: str
    pathology: str
    pose: PoseParams
    shape: ShapeParams
    meshes: dict[str, trimesh.Trimesh]
    landmarks: FootLandmarks
    landmarks_full: FootLandmarks
    foot_length_mm: float


@dataclass
class SimulatedCase:
    ct: Image
    labels: Image
    feet: list[SimulatedFoot]
    floor: FloorPlane
    params: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=1)
def _template() -> tuple[Skeleton, dict[tuple[str, str], np.ndarray], float]:
    skeleton = base_skeleton()
    return skeleton, articular_patches(skeleton.meshes), bone_length(skeleton)


def template_patches() -> dict[tuple[str, str], np.ndarray]:
    """Articular surface patches of the template bones (vertex indices, valid for every
    deformed and posed copy, since deformation and posing keep the vertex order)."""
    return _template()[1]


def sample_pose(pathology: str, rng: np.random.Generator) -> PoseParams:
    """Joint angles for a foot of the given pathology (neutral calibration + variation)."""
    n = NEUTRAL_POSE
    u = rng.uniform
    p = replace(n, hallux_valgus=n.hallux_valgus + u(-3, 3), first_ray_varus=n.first_ray_varus + u(-1.5, 1.5),
                midfoot_plantarflexion=n.midfoot_plantarflexion + u(-3, 3),
                chopart_plantarflexion=n.chopart_plantarflexion + u(-2, 2),
                metatarsus_abduction=n.metatarsus_abduction + u(-2, 2),
                forefoot_abduction=n.forefoot_abduction + u(-1.5, 1.5),
                subtalar_eversion=n.subtalar_eversion + u(-1.5, 1.5), hindfoot_target=u(2.0, 8.0),
                tibia_lean=u(0.0, 8.0))
    if pathology == "cavus":
        p = replace(p, midfoot_plantarflexion=p.midfoot_plantarflexion + u(8, 18),
                    forefoot_pronation=p.forefoot_pronation + u(0, 6), hindfoot_target=u(-8, 3))
    elif pathology == "planovalgus":
        p = replace(p, midfoot_plantarflexion=p.midfoot_plantarflexion - u(6, 14),
                    forefoot_abduction=p.forefoot_abduction + u(3, 10),
                    subtalar_eversion=p.subtalar_eversion + u(2, 6), hindfoot_target=u(9, 20))
    elif pathology == "hallux_valgus":
        p = replace(p, hallux_valgus=p.hallux_valgus + u(8, 36), first_ray_varus=p.first_ray_varus + u(3, 13))
    elif pathology == "hindfoot_varus":
        p = replace(p, hindfoot_target=u(-15, -3))
    elif pathology == "hindfoot_valgus":
        p = replace(p, hindfoot_target=u(12, 22))
    elif pathology != "normal":
        raise ValueError(f"unknown pathology {pathology!r}; expected one of {', '.join(PATHOLOGIES)}")
    return p


def sample_shape(rng: np.random.Generator) -> ShapeParams:
    """Foot size 220-290 mm and warp amplitudes."""
    _, _, length = _template()
    target = rng.uniform(220.0, 290.0)
    n_tali = len(talus_shape_files())
    talus = int(rng.integers(n_tali)) if n_tali and rng.random() < 0.85 else -1
    return ShapeParams(scale=(target - SKIN_LENGTH_MM) / length, width_scale=rng.uniform(0.93, 1.07),
                       talus_shape=talus, talus_blend=float(rng.uniform(0.4, 0.9)) if talus >= 0 else 0.0,
                       height_scale=rng.uniform(0.95, 1.05), global_amplitude_mm=rng.uniform(0.5, 1.5),
                       bone_amplitude_mm=rng.uniform(0.2, 0.4), global_width_mm=60.0)


def make_foot(pose: PoseParams, shape: ShapeParams, rng: np.random.Generator) -> tuple[Skeleton, FloorPlane]:
    """A standing right foot: deformed template, posed, heel at the origin, floor z = 0."""
    skeleton, patches, _ = _template()
    return pose_skeleton(deform(skeleton, shape, rng), pose, patches)


def sample_render(rng: np.random.Generator) -> RenderParams:
    u = rng.uniform
    return RenderParams(
        cortical_hu=u(750, 1350), cortical_mm=u(0.8, 1.6), cancellous_hu=u(180, 380),
        trabecular_hu=u(90, 200), marrow_hu=u(-70, 40), muscle_hu=u(30, 60), fat_hu=u(-120, -85),
        envelope_mm=u(6, 11), toe_envelope_mm=u(3, 5.5), fat_layer_mm=u(4, 9), fat_bias=u(0.0, 0.35), leg_flare=u(0.12, 0.3),
        platform_mm=u(4, 14), platform_hu=u(80, 320), platform_visible=bool(rng.random() < 0.8),
        blur_mm=u(0.45, 0.95), noise_hu=u(12, 40), cupping_hu=u(0, 70), hu_offset=u(-25, 25),
        hu_gain=u(0.95, 1.05), outside_fov_hu=float(rng.choice([-1000.0, -1019.0, -1024.0])))


def _rigid(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = rotation
    m[:3, 3] = translation
    return m


def _apply(meshes: dict[str, trimesh.Trimesh], matrix: np.ndarray) -> dict[str, trimesh.Trimesh]:
    out = {}
    for k, m in meshes.items():
        c = m.copy()
        c.apply_transform(matrix)
        out[k] = c
    return out


def simulate_case(rng: np.random.Generator, *, spacing: float = 0.8, bilateral: bool = False,
                  pathology: str = "normal", second_pathology: str | None = None,
                  side: str | None = None, truncate_probability: float = 0.3,
                  pose: PoseParams | None = None, shape: ShapeParams | None = None,
                  render: RenderParams | None = None) -> SimulatedCase:
    """Simulate one scan (one foot, or both standing side by side).

    ``pose``/``shape``/``render`` override the sampled values (for tests and experiments).
    """
    _, patches, _ = _template()
    sides = ["right", "left"] if bilateral else [side or str(rng.choice(["left", "right"]))]
    pathologies = [pathology, second_pathology or pathology] if bilateral else [pathology]
    shape = shape or sample_shape(rng)
    shape_seed = int(rng.integers(2**31))
    heel_pad = rng.uniform(10.0, 20.0)
    stance = rng.uniform(70.0, 110.0)  # heel-to-heel distance of a bilateral stance
    feet_meshes, feet_info = [], []
    for i, (foot_side, foot_path) in enumerate(zip(sides, pathologies, strict=True)):
        foot_pose = pose or sample_pose(foot_path, rng)
        # Both feet of one person share the shape warps (same shape_seed), not the posture.
        skeleton, _ = make_foot(foot_pose, shape, np.random.default_rng(shape_seed))
        toe_out = np.radians(rng.uniform(0.0, 15.0))
        # Right foot in LPS: medial is +x, so toe-out (toes lateral) turns -y toward -x.
        yaw = Rotation.from_rotvec([0.0, 0.0, -toe_out]).as_matrix()
        matrix = _rigid(yaw, np.array([0.0, 0.0, heel_pad]))
        if foot_side == "left":
            matrix = np.diag([-1.0, 1.0, 1.0, 1.0]) @ matrix
        if bilateral:
            matrix = _rigid(np.eye(3), np.array([(stance / 2) * (1 if foot_side == "left" else -1), 0.0, 0.0])) @ matrix
        feet_meshes.append(_apply(skeleton.meshes, matrix))
        feet_info.append((foot_side, foot_path, foot_pose))
        del i

    # Small orientation offset of the whole scene against the scanner axes.
    centre = np.mean([np.vstack([m.vertices for m in f.values()]).mean(axis=0) for f in feet_meshes], axis=0)
    # The platform is fixed to the scanner: only a small tilt against the image axes, but the
    # feet can stand at any angle on it (yaw).
    tilt = Rotation.from_euler("xyz", [rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5), rng.uniform(-10, 10)],
                               degrees=True).as_matrix()
    scene = _rigid(tilt, centre - tilt @ centre)
    feet_meshes = [_apply(f, scene) for f in feet_meshes]
    floor = FloorPlane(point=scene[:3, :3] @ np.zeros(3) + scene[:3, 3], normal=tilt @ np.array([0.0, 0.0, 1.0]),
                       source="platform")

    params = render or sample_render(rng)
    grid, params, top_height = _grid_and_fov(feet_meshes, floor, spacing, params, rng, truncate_probability)
    ct, labels = render_scene(feet_meshes, grid, floor=floor, params=params, rng=rng)
    feet = []
    for meshes, (foot_side, foot_path, foot_pose) in zip(feet_meshes, feet_info, strict=True):
        full = landmarks_from_meshes(meshes, foot_side, floor, patches=patches)
        fov_lm = landmarks_from_meshes(meshes, foot_side, floor, patches=patches, tibia_top_height_mm=top_height)
        visible = _in_fov(fov_lm.points, grid, params)
        points = np.where(visible[:, None], fov_lm.points, np.nan)
        status = ["ok" if v else "outside_fov" for v in visible]
        lms = FootLandmarks(side=foot_side, points=points, floor=floor, status=status,
                            confidence=np.where(visible, 1.0, np.nan))
        length = _foot_length(meshes, floor)
        feet.append(SimulatedFoot(foot_side, foot_path, foot_pose, shape, meshes, lms, full, length))
    info = {"spacing": spacing, "bilateral": bilateral, "heel_pad_mm": heel_pad, "render": params.as_dict(),
            "scene_rotation": tilt.tolist(), "shape": shape.as_dict(), "tibia_top_height_mm": top_height}
    return SimulatedCase(ct, labels, feet, floor, info)


def _foot_length(meshes: dict[str, trimesh.Trimesh], floor: FloorPlane) -> float:
    pts = np.vstack([m.vertices for n, m in meshes.items() if n not in ("tibia", "fibula")])
    flat = pts - np.outer(pts @ floor.normal, floor.normal)
    axis = np.linalg.svd(flat - flat.mean(axis=0), full_matrices=False)[2][0]
    t = flat @ axis
    return float(t.max() - t.min() + SKIN_LENGTH_MM)


def _grid_and_fov(feet: list[dict[str, trimesh.Trimesh]], floor: FloorPlane, spacing: float,
                  params: RenderParams, rng: np.random.Generator,
                  truncate_probability: float) -> tuple[Grid, RenderParams, float]:
    """The scan box and cylindrical field of view, and the height of its top above the floor."""
    pts = np.vstack([m.vertices for f in feet for m in f.values()])
    foot_pts = np.vstack([m.vertices for f in feet for n, m in f.items() if n not in ("tibia", "fibula")])
    leg_top = min(float(f[n].vertices[:, 2].max()) for f in feet for n in ("tibia", "fibula"))
    floor_z = float(floor.point[2])
    # Top of the scan: somewhere up the leg, always below the cut ends of the leg templates.
    top = min(floor_z + rng.uniform(120.0, 200.0), leg_top - 8.0)
    lower = np.r_[pts[:, :2].min(axis=0) - 22.0, floor_z - params.platform_mm - 6.0]
    upper = np.r_[pts[:, :2].max(axis=0) + 22.0, top]
    lower[:2] = np.minimum(lower[:2], foot_pts[:, :2].min(axis=0) - 22.0)
    truncated = rng.random() < truncate_probability
    if truncated:
        # A small cone-beam field of view (like 16 cm units) centred near the hindfoot/midfoot.
        radius = rng.uniform(75.0, 105.0)
        heel = np.mean([f["talus"].vertices.mean(axis=0) for f in feet], axis=0)[:2]
        offset = rng.uniform(-15, 15, size=2)
        centre = heel + offset
        lower[:2] = np.maximum(lower[:2], centre - radius)
        upper[:2] = np.minimum(upper[:2], centre + radius)
        height = rng.uniform(110.0, 150.0)
        upper[2] = min(upper[2], lower[2] + height)
    else:
        centre = 0.5 * (lower[:2] + upper[:2])
        radius = float(np.linalg.norm(upper[:2] - lower[:2]) / 2.0) + 2.0
    grid = Grid.around(lower, upper, spacing)
    params = replace(params, fov_radius_mm=float(radius), fov_centre_xy=(float(centre[0]), float(centre[1])),
                     fov_z=(float(lower[2]), float(upper[2])))
    return grid, params, float(upper[2] - floor_z)


def _in_fov(points: np.ndarray, grid: Grid, params: RenderParams) -> np.ndarray:
    ok = np.all(np.isfinite(points), axis=1)
    lo = np.asarray(grid.origin)
    hi = lo + (np.asarray(grid.shape) - 1) * np.asarray(grid.spacing)
    safe = np.where(np.isfinite(points), points, 0.0)
    inside_box = np.all((safe >= lo) & (safe <= hi), axis=1)
    r2 = ((safe[:, :2] - np.asarray(params.fov_centre_xy)) ** 2).sum(axis=1)
    return ok & inside_box & (r2 <= params.fov_radius_mm**2)
