"""Standing posture: rotations of the template bones about their joints, then the foot on a floor.

The chain (all rotations about joint centres of the current geometry, in the neutral foot frame
of the template: x anterior, y medial, z up, right foot):

1.-2. (applied last, in the standing foot's transverse plane, see 7.)
3. midfoot sagittal bend (cavus +, flat -): cuneiforms and rays about a transverse axis at the
   naviculocuneiform joint, and the rays again at the tarsometatarsal joints, where each ray
   also turns about a vertical axis (metatarsus abduction +);
4. Chopart sagittal bend (plantarflexion +): navicular, cuboid and everything distal about a
   transverse axis through the talar head centre (the talonavicular ball stays congruent); then
   Chopart transverse rotation (forefoot abduction +): the same bones about a vertical axis
   between the talar head and the calcaneocuboid joint;
5. subtalar rotation (eversion/pronation +, valgus): every foot bone except the talus about the
   subtalar (Inman) axis through the talar head;
6. the foot set on the floor (support plane of calcaneus and metatarsal heads);
7. hallux at the first metatarsophalangeal joint (vertical axis through the M1 head centre):
   HVA, and first ray at the first tarsometatarsal joint (vertical axis through the M1 base): IMA;
8. the leg (tibia, fibula) rotated about the ankle axis to the requested lean, the hindfoot
   tilted to its requested angle, and overlapping bones pushed apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from footalign.landmarks import FloorPlane
from footalign.simulate.mesh_landmarks import fit_sphere, long_axis, support_plane
from footalign.simulate.templates import CUNEIFORMS, HALLUX, LEG_BONES, LESSER_TOES, METATARSALS, Skeleton
from footalign.simulate.voxelize import BoneMasks, overlap_depths

RAYS = METATARSALS + HALLUX + LESSER_TOES
FOREFOOT = CUNEIFORMS + RAYS
CHOPART_DISTAL = ("navicular", "cuboid", *FOREFOOT)
BELOW_TALUS = ("calcaneus", *CHOPART_DISTAL)
# Inman's subtalar axis: 42 deg up from the floor, 23 deg medial from the long axis (pointing
# anterior-medial-superior).
SUBTALAR_ELEVATION_DEG = 42.0
SUBTALAR_DEVIATION_DEG = 23.0


@dataclass(frozen=True)
class PoseParams:
    """Joint rotations (degrees) relative to the template's own alignment."""

    hallux_valgus: float = 0.0
    first_ray_varus: float = 0.0
    midfoot_plantarflexion: float = 0.0
    chopart_plantarflexion: float = 0.0
    metatarsus_abduction: float = 0.0
    forefoot_abduction: float = 0.0
    subtalar_eversion: float = 0.0
    forefoot_pronation: float = 0.0
    hindfoot_valgus: float = 0.0
    hindfoot_target: float = float("nan")
    tibia_lean: float = 4.0

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def rotate_bones(meshes: dict[str, trimesh.Trimesh], names: tuple[str, ...], axis: np.ndarray,
                 angle_deg: float, centre: np.ndarray) -> None:
    """Rotate the bones ``names`` (in place) by ``angle_deg`` about ``axis`` through ``centre``."""
    if abs(angle_deg) < 1e-9:
        return
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_rotvec(np.radians(angle_deg) * axis / np.linalg.norm(axis)).as_matrix()
    matrix[:3, 3] = centre - matrix[:3, :3] @ centre
    for name in names:
        if name in meshes:
            meshes[name].apply_transform(matrix)


def transform_all(meshes: dict[str, trimesh.Trimesh], matrix: np.ndarray) -> None:
    for mesh in meshes.values():
        mesh.apply_transform(matrix)


def neutral_frame(meshes: dict[str, trimesh.Trimesh]) -> np.ndarray:
    """Rows x (anterior), y (medial, right foot), z (up) of the foot as the leg sees it.

    x: heel (calcaneus centroid) -> second metatarsal centroid; z: the tibial shaft axis made
    perpendicular to x; y = z x x. Unlike a support plane this does not depend on which bones
    touch the ground, so the chain's joint axes are stable under small shape changes.
    """
    calc = np.asarray(meshes["calcaneus"].vertices).mean(axis=0)
    x = np.asarray(meshes["metatarsal_2"].vertices).mean(axis=0) - calc
    x /= np.linalg.norm(x)
    z = long_axis(meshes["tibia"], calc)[0]
    z = z - (z @ x) * x
    z /= np.linalg.norm(z)
    return np.stack([x, np.cross(z, x), z])


def _contact_centre(a: trimesh.Trimesh, b: trimesh.Trimesh, *, within: float = 3.0) -> np.ndarray:
    """Centre of the vertices of ``a`` and ``b`` that lie within ``within`` mm of the other bone."""
    from scipy.spatial import cKDTree

    va, vb = np.asarray(a.vertices), np.asarray(b.vertices)
    da, _ = cKDTree(vb).query(va)
    db, _ = cKDTree(va).query(vb)
    lim_a = da.min() + within
    lim_b = db.min() + within
    return np.vstack([va[da <= lim_a], vb[db <= lim_b]]).mean(axis=0)


def _distal_end(mesh: trimesh.Trimesh, heel: np.ndarray) -> np.ndarray:
    """Centroid of the distal 10 mm of a long bone (proximal = toward ``heel``)."""
    axis, _, end = long_axis(mesh, heel)
    v = np.asarray(mesh.vertices)
    return v[v @ axis >= end - 10.0].mean(axis=0)


def talar_head_centre(meshes: dict[str, trimesh.Trimesh]) -> np.ndarray:
    from scipy.spatial import cKDTree

    talus = np.asarray(meshes["talus"].vertices)
    d, _ = cKDTree(np.asarray(meshes["navicular"].vertices)).query(talus)
    return fit_sphere(talus[d <= d.min() + 3.0])[0]


def pose_skeleton(skeleton: Skeleton, params: PoseParams,
                  patches: dict[tuple[str, str], np.ndarray] | None = None) -> tuple[Skeleton, FloorPlane]:
    """Pose a right-foot skeleton by the joint chain and stand it on the floor z = 0.

    Returns the posed skeleton (LPS mm: floor normal +z, foot long axis toward -y i.e.
    anterior, heel near the origin) and the floor plane (source ``"platform"``).
    """
    m = skeleton.copy().meshes
    x, y, z = neutral_frame(m)
    heel = np.asarray(m["calcaneus"].vertices).mean(axis=0)

    # 3. midfoot bend (plantarflexion of the forefoot = rotation about +y for x anterior, z up:
    # right-hand rule about y turns x toward -z).
    # The bend axis runs parallel to the metatarsal-head line (pointing medial), so all heads
    # rise or sink alike and the foot does not roll on the floor.
    heads = {i: _distal_end(m[f"metatarsal_{i}"], heel) for i in (1, 5)}
    bend_axis = heads[1] - heads[5]
    bend_axis -= (bend_axis @ x) * x
    bend_axis /= np.linalg.norm(bend_axis)
    nc = _contact_centre(m["navicular"], m["intermediate_cuneiform"])
    rotate_bones(m, FOREFOOT, bend_axis, 0.6 * params.midfoot_plantarflexion, nc)
    # Each ray bends at its own tarsometatarsal joint, so every base stays on its tarsal bone.
    for ray, tarsal in (("metatarsal_1", "medial_cuneiform"), ("metatarsal_2", "intermediate_cuneiform"),
                        ("metatarsal_3", "lateral_cuneiform"), ("metatarsal_4", "cuboid"),
                        ("metatarsal_5", "cuboid")):
        digit = {"metatarsal_1": HALLUX}.get(ray, tuple(n for n in LESSER_TOES if n.startswith(f"toe{ray[-1]}")))
        tmt = _contact_centre(m[ray], m[tarsal])
        rotate_bones(m, (ray, *digit), bend_axis, 0.4 * params.midfoot_plantarflexion, tmt)
        # Metatarsus abduction (+, heads lateral; about -z for a right foot, y medial), also at
        # each ray's own joint, so the template's adducted forefoot can be brought to normal.
        rotate_bones(m, (ray, *digit), z, -params.metatarsus_abduction, tmt)

    # 4. Chopart: sagittal bend (+ plantarflexes midfoot and forefoot on the hindfoot, so the
    # standing arch peaks at Chopart's joint rather than in the midfoot), then abduction, which
    # moves the forefoot laterally (about +z for a right foot, y medial).
    head = talar_head_centre(m)
    rotate_bones(m, CHOPART_DISTAL, bend_axis, params.chopart_plantarflexion, head)
    # The abduction pivot lies toward the calcaneocuboid joint as it stands after the bend.
    cc = _contact_centre(m["calcaneus"], m["cuboid"])
    rotate_bones(m, CHOPART_DISTAL, z, -params.forefoot_abduction, head + 0.4 * (cc - head))

    # 4b. forefoot pronation about the long axis through the talar head (lowers the first ray).
    rotate_bones(m, CHOPART_DISTAL, x, -params.forefoot_pronation, head)

    # 5. subtalar eversion about Inman's axis (eversion lowers the medial side).
    el, dev = np.radians(SUBTALAR_ELEVATION_DEG), np.radians(SUBTALAR_DEVIATION_DEG)
    st_axis = np.cos(el) * (np.cos(dev) * x + np.sin(dev) * y) + np.sin(el) * z
    rotate_bones(m, BELOW_TALUS, st_axis, -params.subtalar_eversion, head)

    # 6. stand on the floor: support plane -> z = 0, long axis -> anterior (-y in LPS).
    floor = support_plane(m, up_hint=z)
    fz = floor.normal
    fx = x - (x @ fz) * fz
    fx /= np.linalg.norm(fx)
    fy = np.cross(fz, fx)
    target = np.stack([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # x, y, z in LPS
    rot = target.T @ np.stack([fx, fy, fz])
    matrix = np.eye(4)
    matrix[:3, :3] = rot
    calc_low = np.asarray(m["calcaneus"].vertices)[np.argmin(np.asarray(m["calcaneus"].vertices) @ fz)]
    matrix[:3, 3] = -rot @ floor.point
    matrix[:3, 3][:2] = -(rot @ calc_low)[:2]
    transform_all(m, matrix)

    # 7. first ray and hallux in the transverse plane of the standing foot (LPS z up; the right
    # foot's medial side is +x, anterior -y, so a positive turn about +z swings a ray medially).
    up = np.array([0.0, 0.0, 1.0])
    heel = np.asarray(m["calcaneus"].vertices).mean(axis=0)
    m1_axis, _, m1_end = long_axis(m["metatarsal_1"], heel)
    m1v = np.asarray(m["metatarsal_1"].vertices)
    m1_head = fit_sphere(m1v[m1v @ m1_axis >= m1_end - 11.0])[0]
    rotate_bones(m, HALLUX, up, -params.hallux_valgus, m1_head)
    m1_base = m1v[np.argmin(m1v @ m1_axis)]
    rotate_bones(m, ("metatarsal_1", *HALLUX), up, params.first_ray_varus, m1_base)

    _align_leg(m, lean_deg=params.tibia_lean)
    floor = FloorPlane(point=np.zeros(3), normal=np.array([0.0, 0.0, 1.0]), source="platform")
    if np.isfinite(params.hindfoot_target):
        # Hit the requested hindfoot angle as measured (ANATOMY.md definition) on this foot.
        for _ in range(3):
            error = params.hindfoot_target - _hindfoot_angle(m, floor, patches)
            if abs(error) < 0.2:
                break
            tilt_hindfoot(m, error)
    tilt_hindfoot(m, params.hindfoot_valgus)
    separate_bones(m)
    return Skeleton(m), floor


def trochlea_centre(meshes: dict[str, trimesh.Trimesh]) -> np.ndarray:
    """Centre of the sphere best fitting the talar trochlea (the talus under the tibia): a point
    on the ankle's flexion axis."""
    from scipy.spatial import cKDTree

    talus = meshes["talus"]
    up = _tibia_axis(meshes)
    d, _ = cKDTree(np.asarray(meshes["tibia"].vertices)).query(talus.vertices)
    near = (d <= d.min() + 4.5) & (talus.vertex_normals @ up > 0.5)
    return fit_sphere(np.asarray(talus.vertices)[near])[0]


def malleolar_axis(meshes: dict[str, trimesh.Trimesh]) -> np.ndarray:
    """Unit direction of the ankle (Inman) axis: medial malleolus tip -> lateral malleolus tip."""
    up = _tibia_axis(meshes)
    tib = np.asarray(meshes["tibia"].vertices)
    fib = np.asarray(meshes["fibula"].vertices)
    direction = fib[np.argmin(fib @ up)] - tib[np.argmin(tib @ up)]
    return direction / np.linalg.norm(direction)


def _tibia_axis(meshes: dict[str, trimesh.Trimesh]) -> np.ndarray:
    axis = long_axis(meshes["tibia"], np.asarray(meshes["calcaneus"].vertices).mean(axis=0))[0]
    return axis if axis[2] > 0 else -axis


def _align_leg(meshes: dict[str, trimesh.Trimesh], *, lean_deg: float, gap_mm: float = 1.2) -> None:
    """Dorsiflex the leg (tibia, fibula) about the ankle axis (malleolar direction through the
    trochlea centre) until the tibial shaft leans ``lean_deg`` forward (toward -y) from the
    floor normal, then lift it along its shaft so the ankle joint space is at least ``gap_mm``."""
    # Pure sagittal rotation (about the foot's medial-lateral axis, LPS x here): the template's
    # malleolar tips are too uneven to give a stable oblique axis.
    point, direction = trochlea_centre(meshes), np.array([1.0, 0.0, 0.0])
    up = _tibia_axis(meshes)

    def lean(theta: float) -> float:
        a = Rotation.from_rotvec(np.radians(theta) * direction).apply(up)
        return float(np.degrees(np.arctan2(-a[1], a[2])))

    grid = np.linspace(-70.0, 70.0, 281)
    theta = float(grid[int(np.argmin([abs(lean(t) - lean_deg) for t in grid]))])
    for _ in range(20):  # Newton refinement
        slope = (lean(theta + 0.01) - lean(theta - 0.01)) / 0.02
        if abs(slope) < 1e-6:
            break
        theta -= (lean(theta) - lean_deg) / slope
    rotate_bones(meshes, LEG_BONES, direction, theta, point)
    axis = _tibia_axis(meshes)
    gap = joint_gap(meshes["tibia"], meshes["talus"], axis)
    if gap < gap_mm:
        for name in LEG_BONES:
            meshes[name].apply_translation((gap_mm - gap) * axis)


def joint_gap(upper: trimesh.Trimesh, lower: trimesh.Trimesh, axis: np.ndarray, *, cell_mm: float = 1.0) -> float:
    """Smallest gap along ``axis`` between ``upper``'s underside and ``lower``'s top over the
    columns (cells of a grid perpendicular to ``axis``) that both cover; negative = overlap."""
    basis = np.linalg.svd(np.eye(3) - np.outer(axis, axis))[0][:, :2]

    def cells(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        c = np.floor(points @ basis / cell_mm).astype(np.int64)
        return c[:, 0] * 1_000_003 + c[:, 1], points @ axis

    ku, hu = cells(np.asarray(upper.vertices))
    kl, hl = cells(np.asarray(lower.vertices))
    # Lowest point of `upper` per cell, highest of `lower` below it per cell.
    order = np.argsort(ku)
    uk, first = np.unique(ku[order], return_index=True)
    low_upper = np.minimum.reduceat(hu[order], first)
    pos = np.searchsorted(uk, kl)
    pos = np.clip(pos, 0, len(uk) - 1)
    shared = uk[pos] == kl
    below = hl[shared] <= low_upper[pos[shared]] + 10.0  # only the top surface under the upper bone
    if not np.any(below):
        return float("inf")
    return float(np.min(low_upper[pos[shared]][below] - hl[shared][below]))


# Order along the kinematic chain: when two bones overlap, the later one moves away.
_CHAIN_RANK = {name: i for i, name in enumerate(
    ("talus", "calcaneus", "tibia", "fibula", "navicular", "cuboid", "medial_cuneiform",
     "intermediate_cuneiform", "lateral_cuneiform", "metatarsal_2", "metatarsal_3", "metatarsal_1",
     "metatarsal_4", "metatarsal_5", *HALLUX, *LESSER_TOES))}


def _followers(name: str) -> tuple[str, ...]:
    """The bones that move with ``name`` when it is pushed (its digit, or the fibula with the tibia)."""
    if name == "metatarsal_1":
        return HALLUX
    if name.startswith("metatarsal_"):
        return tuple(n for n in LESSER_TOES if n.startswith(f"toe{name[-1]}"))
    return ()


def separate_bones(meshes: dict[str, trimesh.Trimesh], *, spacing: float = 0.8, max_push_mm: float = 6.0,
                   step_mm: float = 0.3, rounds: int = 3, allowed_depth_voxels: float = 0.0) -> dict[tuple[str, str], float]:
    """Push overlapping bones apart (in place): the later bone of each overlapping pair moves
    away from the other along the line between their centroids (sideways for the leg) until
    their overlap is at most ``allowed_depth_voxels`` thick on a ``spacing`` lattice (0: no
    shared voxel). Returns the push (mm) applied per pair."""
    masks = BoneMasks(meshes, spacing)
    pushes: dict[tuple[str, str], float] = {}
    # A push can create a new overlap further along the chain: a few rounds settle it.
    for _ in range(rounds):
        found = overlap_depths(meshes, min_depth_voxels=allowed_depth_voxels, masks=masks)
        if not found:
            break
        for (a, b) in sorted(found, key=lambda pair: min(_CHAIN_RANK.get(n, 99) for n in pair)):
            pushes[tuple(sorted((a, b), key=lambda n: _CHAIN_RANK.get(n, 99)))] = _push_apart(
                meshes, masks, a, b, spacing=spacing, max_push_mm=max_push_mm, step_mm=step_mm,
                allowed_depth_voxels=allowed_depth_voxels)
    return pushes


def _push_apart(meshes: dict[str, trimesh.Trimesh], masks: BoneMasks, a: str, b: str, *, spacing: float,
                max_push_mm: float, step_mm: float, allowed_depth_voxels: float) -> float:
    """Move the later bone of the pair (a, b) out of the other; returns the distance moved."""
    fixed, moving = sorted((a, b), key=lambda n: _CHAIN_RANK.get(n, 99))
    direction = meshes[moving].vertices.mean(axis=0) - meshes[fixed].vertices.mean(axis=0)
    if moving == "fibula":
        # Laterally (LPS -x for the right foot): the lateral malleolus sits beside the talus.
        direction = np.array([-1.0, 0.0, 0.0])
    elif moving in LEG_BONES or fixed in LEG_BONES:
        # Sideways only: the leg's height over the talus is set by the ankle joint space.
        leg = _tibia_axis(meshes)
        direction = direction - (direction @ leg) * leg
    direction /= np.linalg.norm(direction)
    total = 0.0
    for _ in range(4):
        if masks.depth(a, b) <= allowed_depth_voxels:
            break
        # Distance that clears the deepest vertex of either bone inside the other.
        need = max(masks.exit_distance(fixed, meshes[moving].vertices, direction, max_mm=max_push_mm),
                   masks.exit_distance(moving, meshes[fixed].vertices, -direction, max_mm=max_push_mm))
        step = float(np.clip(need - 0.5 * spacing, step_mm, max_push_mm - total))
        if step <= 0:
            break
        for name in (moving, *_followers(moving)):
            meshes[name].apply_translation(step * direction)
        masks.update(moving)
        total += step
    for name in _followers(moving):
        masks.update(name)
    return total


def _coronal_deviation(v: np.ndarray) -> float:
    """Coronal angle (degrees) of a downward vector in the standing frame of :func:`pose_skeleton`
    (LPS with the right foot's medial = +x, up = +z), medial positive."""
    return float(np.degrees(np.arctan2(v[0], -v[2])))


def tilt_hindfoot(meshes: dict[str, trimesh.Trimesh], valgus_deg: float) -> float:
    """Change the hindfoot angle by ``valgus_deg`` (+ valgus) with the foot kept on the floor.

    The leg and talus turn together about the horizontal long axis of the standing foot through
    the talar head centre: the talonavicular ball stays congruent, the coronal tilt of the
    tibia changes by exactly ``valgus_deg`` (hindfoot angle = tibial minus calcaneal coronal
    deviation), and the talus barely turns in the transverse plane. Returns the angle used.
    """
    if abs(valgus_deg) < 1e-9:
        return 0.0
    # Standing frame of pose_skeleton: anterior = -y. A positive rotation about -y turns +z
    # toward +x (medial for the right foot), i.e. the tibia's lower end laterally: valgus.
    axis = np.array([0.0, -1.0, 0.0])
    down = -_tibia_axis(meshes)
    before = _coronal_deviation(down)
    rotate_bones(meshes, ("talus", *LEG_BONES), axis, valgus_deg, talar_head_centre(meshes))
    change = _coronal_deviation(-_tibia_axis(meshes)) - before
    if abs(change - valgus_deg) > 0.05:  # wrong sense: undo and turn the other way
        rotate_bones(meshes, ("talus", *LEG_BONES), axis, -2.0 * valgus_deg, talar_head_centre(meshes))
    return valgus_deg


def _hindfoot_angle(meshes: dict[str, trimesh.Trimesh], floor: FloorPlane,
                    patches: dict[tuple[str, str], np.ndarray] | None) -> float:
    from footalign.geometry.measurements import measure_foot
    from footalign.simulate.mesh_landmarks import landmarks_from_meshes

    foot = landmarks_from_meshes(meshes, "right", floor, patches=patches)
    return float(measure_foot(foot).values["hindfoot_angle"])
