"""Standing posture: rotations of the template bones about their joints, then the foot on a floor.

The chain (all rotations about joint centres of the current geometry, in the neutral foot frame
of the template: x anterior, y medial, z up, right foot):

1. hallux at the first metatarsophalangeal joint (vertical axis through the M1 head centre): HVA;
2. first ray at the first tarsometatarsal joint (vertical axis through the M1 base): IMA;
3. midfoot sagittal bend (cavus +, flat -): cuneiforms and rays about a transverse axis at the
   naviculocuneiform joint, and the rays again at the tarsometatarsal joints;
4. Chopart transverse rotation (forefoot abduction +): navicular, cuboid and everything distal,
   about a vertical axis between the talar head and the calcaneocuboid joint;
5. subtalar rotation (eversion/pronation +, valgus): every foot bone except the talus about the
   subtalar (Inman) axis through the talar head;
6. the foot set on the floor (support plane of calcaneus and metatarsal heads), and the leg
   (tibia, fibula) rotated about the ankle axis until the tibia stands at the requested lean.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import trimesh
from scipy.spatial.transform import Rotation

from footalign.landmarks import FloorPlane
from footalign.simulate.mesh_landmarks import fit_sphere, long_axis, support_plane
from footalign.simulate.templates import CUNEIFORMS, HALLUX, LEG_BONES, LESSER_TOES, METATARSALS, Skeleton

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
    forefoot_abduction: float = 0.0
    subtalar_eversion: float = 0.0
    forefoot_pronation: float = 0.0
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


def talar_head_centre(meshes: dict[str, trimesh.Trimesh]) -> np.ndarray:
    from scipy.spatial import cKDTree

    talus = np.asarray(meshes["talus"].vertices)
    d, _ = cKDTree(np.asarray(meshes["navicular"].vertices)).query(talus)
    return fit_sphere(talus[d <= d.min() + 3.0])[0]


def pose_skeleton(skeleton: Skeleton, params: PoseParams) -> tuple[Skeleton, FloorPlane]:
    """Pose a right-foot skeleton by the joint chain and stand it on the floor z = 0.

    Returns the posed skeleton (LPS mm: floor normal +z, foot long axis toward -y i.e.
    anterior, heel near the origin) and the floor plane (source ``"platform"``).
    """
    m = skeleton.copy().meshes
    x, y, z = neutral_frame(m)
    heel = np.asarray(m["calcaneus"].vertices).mean(axis=0)

    # 1-2. first ray and hallux (valgus = hallux tip lateral: rotation about -z for a right foot).
    m1_axis, _, m1_end = long_axis(m["metatarsal_1"], heel)
    m1v = np.asarray(m["metatarsal_1"].vertices)
    m1_head = fit_sphere(m1v[m1v @ m1_axis >= m1_end - 11.0])[0]
    rotate_bones(m, HALLUX, z, -params.hallux_valgus, m1_head)
    m1_base = m1v[np.argmin(m1v @ m1_axis)]
    rotate_bones(m, ("metatarsal_1", *HALLUX), z, params.first_ray_varus, m1_base)

    # 3. midfoot bend (plantarflexion of the forefoot = rotation about +y for x anterior, z up:
    # right-hand rule about y turns x toward -z).
    nc = _contact_centre(m["navicular"], m["intermediate_cuneiform"])
    rotate_bones(m, FOREFOOT, y, 0.6 * params.midfoot_plantarflexion, nc)
    tmt = _contact_centre(m["metatarsal_2"], m["intermediate_cuneiform"])
    rotate_bones(m, RAYS, y, 0.4 * params.midfoot_plantarflexion, tmt)

    # 4. Chopart: abduction moves the forefoot laterally (about +z for a right foot, y medial).
    head = talar_head_centre(m)
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

    _align_leg(m, lean_deg=params.tibia_lean)
    return Skeleton(m), FloorPlane(point=np.zeros(3), normal=np.array([0.0, 0.0, 1.0]), source="platform")


def trochlea_centre(meshes: dict[str, trimesh.Trimesh]) -> np.ndarray:
    """Centre of the sphere best fitting the talar trochlea (the talus under the tibia): a point
    on the ankle's flexion axis."""
    from scipy.spatial import cKDTree

    talus = meshes["talus"]
    up = _tibia_axis(meshes)
    d, _ = cKDTree(np.asarray(meshes["tibia"].vertices)).query(talus.vertices)
    near = (d <= d.min() + 4.5) & (talus.vertex_normals @ up > 0.5)
    return fit_sphere(np.asarray(talus.vertices)[near])[0]


def _tibia_axis(meshes: dict[str, trimesh.Trimesh]) -> np.ndarray:
    axis = long_axis(meshes["tibia"], np.asarray(meshes["calcaneus"].vertices).mean(axis=0))[0]
    return axis if axis[2] > 0 else -axis


def _align_leg(meshes: dict[str, trimesh.Trimesh], *, lean_deg: float) -> None:
    """Dorsiflex/plantarflex the leg (tibia, fibula) about the ankle's flexion axis (the foot's
    medial-lateral axis, LPS x here, through the trochlea centre) so the tibial shaft leans
    ``lean_deg`` forward (toward anterior = -y) from the floor normal in the sagittal plane."""
    up = _tibia_axis(meshes)
    current = float(np.degrees(np.arctan2(-up[1], up[2])))
    # Rotating about +x by a positive angle turns +z toward -y (anterior): lean increases.
    rotate_bones(meshes, LEG_BONES, np.array([1.0, 0.0, 0.0]), lean_deg - current, trochlea_centre(meshes))
