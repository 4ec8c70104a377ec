"""The 22 landmarks of ``docs/ANATOMY.md`` computed geometrically from bone surfaces.

Used for the simulator's exact ground truth, and as a user feature: landmarks from bone
segmentations (meshes, or a label map turned into meshes by :func:`meshes_from_label_map`).

Every definition works in the foot frame (``z`` = floor normal up, ``x`` = long axis
CALC_LOW -> M2_HEAD on the floor, ``y = z x x`` medial). Left feet are mirrored into right-looking
feet first and their landmarks mirrored back, so the code has one side only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
from scipy.spatial import cKDTree

from footalign.anatomy import (
    CALC_LOW_PLATEAU_MM,
    LANDMARK_NAMES,
    TAL_DOME_MID_WIDTH_MM,
    TAL_DOME_PLATEAU_MM,
    TIBIA_COMPLETE_SECTION_RADIUS_MM,
    TIBIA_SECTION_HEIGHTS_MM,
    TIBIA_SECTION_LOWEST_MM,
)
from footalign.geometry.planes import plane_basis
from footalign.image import Image
from footalign.landmarks import FloorPlane, FootLandmarks

REQUIRED_BONES = ("tibia", "talus", "calcaneus", "navicular", "medial_cuneiform",
                  "metatarsal_1", "metatarsal_2", "metatarsal_5", "hallux_proximal_phalanx")

# Which articular surface patches the definitions need: (bone, neighbour).
ARTICULAR_PAIRS = (("talus", "navicular"), ("navicular", "talus"), ("talus", "tibia"),
                   ("calcaneus", "talus"), ("calcaneus", "cuboid"), ("tibia", "talus"))


# The heel's underside is nearly flat: its single lowest vertex jumps by centimetres under a
# 2-degree tilt, so CALC_LOW is the centre of the lowest plateau (see _plateau_centre and
# anatomy.CALC_LOW_PLATEAU_MM). That centre is taken on the surface, area-weighted: the ~30
# vertices (1.9 mm edges) of a plateau put it 0.2-1.4 mm from it, on average 0.8 mm medial.
PLATEAU_SAMPLING_MM = 0.3
# The navicular's underside is nearly level from side to side: its plantar-lateral edge and its
# tuberosity (medial) stand within 1-3 mm of each other, so the single lowest vertex jumped
# ~20 mm across the bone from foot to foot. NAV_LOW is therefore taken along "down" tilted
# medially by this angle, which always lands on the plantar tip of the tuberosity (the point
# navicular height is measured to in the clinic) and is no more than a few mm above the lowest.
NAV_LOW_MEDIAL_TILT_DEG = 20.0
# The top of the posterior subtalar facet is nearly level from side to side as well: its single
# highest vertex sat on the medial rim in most feet and mid-facet (10-17 mm lateral) in others.
# CALC_PFA is therefore taken along "up" tilted medially by this angle, which always lands on the
# top of the facet's medial rim, within a few mm of the facet's highest point.
CALC_PFA_MEDIAL_TILT_DEG = 20.0
# CALC_TUB is the extreme along "back and up" at this elevation above the floor. At 45 deg, in
# steep (cavus) heels the tuberosity's upper border rises at about that angle, so the tip and a
# point 15-20 mm up the border tied and the rule jumped between them with the meshing; 40 deg
# favours the tip (0.6-1.1 mm from the 45-deg point in normal feet).
CALC_TUB_ELEVATION_DEG = 40.0
# Rounds of "sections perpendicular to the line through their centroids" (converges in ~3).
TIBIA_AXIS_ROUNDS = 6


@dataclass(frozen=True)
class Frame:
    """Foot frame: unit axes (rows of ``axes``: x anterior, y medial, z up) in LPS."""

    axes: np.ndarray

    def local(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points, dtype=float) @ self.axes.T


# ----- small geometric tools ----------------------------------------------------------------

def fit_sphere(points: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """Least-squares sphere through ``points`` (algebraic fit, each point's residual weighted
    by ``weights``, e.g. the surface area it stands for); returns centre and radius."""
    p = np.asarray(points, dtype=float)
    a = np.c_[2.0 * p, np.ones(len(p))]
    b = (p**2).sum(axis=1)
    if weights is not None:
        root = np.sqrt(np.asarray(weights, dtype=float))
        a, b = a * root[:, None], b * root
    sol = np.linalg.lstsq(a, b, rcond=None)[0]
    centre = sol[:3]
    radius = float(np.sqrt(max(sol[3] + centre @ centre, 0.0)))
    return centre, radius


def section_centroid(mesh: trimesh.Trimesh, origin: np.ndarray, normal: np.ndarray) -> tuple[np.ndarray, float]:
    """Area centroid and area of the cross-section of closed ``mesh`` by a plane.

    Segments of the section are oriented from the face normals (outward = right of the
    segment seen from ``+normal``), so no loop assembly is needed: Green's theorem sums them.
    Returns ``(nan, 0)`` when the plane misses the mesh.
    """
    n = np.asarray(normal, float) / np.linalg.norm(normal)
    segments, faces = trimesh.intersections.mesh_plane(mesh, n, np.asarray(origin, float), return_faces=True)
    if len(segments) == 0:
        return np.full(3, np.nan), 0.0
    d = segments[:, 1] - segments[:, 0]
    outward = mesh.face_normals[faces]
    flip = np.einsum("ij,ij->i", np.cross(d, n), outward) < 0
    segments = segments.copy()
    segments[flip] = segments[flip][:, ::-1]
    u, v = plane_basis(n)
    p = np.stack([segments[:, 0] @ u, segments[:, 0] @ v], axis=1)
    q = np.stack([segments[:, 1] @ u, segments[:, 1] @ v], axis=1)
    cross = p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]
    area = cross.sum() / 2.0
    if abs(area) < 1e-9:
        return np.full(3, np.nan), 0.0
    c2 = ((p + q) * cross[:, None]).sum(axis=0) / (6.0 * area)
    centre = c2[0] * u + c2[1] * v + (np.asarray(origin, float) @ n) * n
    return centre, float(abs(area))


def long_axis(mesh: trimesh.Trimesh, toward: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Principal axis of a long bone pointing away from ``toward`` (i.e. proximal -> distal),
    with the proximal and distal extents (mm along the axis)."""
    verts = np.asarray(mesh.vertices)
    centred = verts - verts.mean(axis=0)
    axis = np.linalg.svd(centred, full_matrices=False)[2][0]
    if (verts.mean(axis=0) - toward) @ axis < 0:
        axis = -axis
    t = verts @ axis
    return axis, float(t.min()), float(t.max())


def slab_centroid(mesh: trimesh.Trimesh, axis: np.ndarray, start: float, stop: float, *, n: int = 6) -> np.ndarray:
    """Volume centroid of the part of ``mesh`` between heights ``start`` and ``stop`` along
    ``axis`` (area-weighted centroids of ``n`` cross-sections)."""
    centres, areas = [], []
    for h in np.linspace(start, stop, n + 2)[1:-1]:
        c, a = section_centroid(mesh, axis * h, axis)
        if a > 0:
            centres.append(c)
            areas.append(a)
    if not areas:
        return np.full(3, np.nan)
    return np.average(np.asarray(centres), axis=0, weights=np.asarray(areas))


def articular_patch(bone: trimesh.Trimesh, neighbour: trimesh.Trimesh, *, margin_mm: float = 2.5) -> np.ndarray:
    """Indices of ``bone``'s vertices facing ``neighbour`` across a joint: those within
    ``margin_mm`` of the smallest bone-to-neighbour distance (capped at 5 mm)."""
    dense = np.vstack([neighbour.vertices, trimesh.sample.sample_surface_even(neighbour, 20000, seed=0)[0]])
    dist, _ = cKDTree(dense).query(bone.vertices)
    limit = min(float(dist.min()), 3.0) + margin_mm
    return np.flatnonzero(dist <= limit)


# The ankle's cartilage is uneven in thickness: a wider margin catches the whole trochlea.
_PATCH_MARGIN_MM = {("talus", "tibia"): 4.5, ("tibia", "talus"): 4.5}


def articular_patches(meshes: dict[str, trimesh.Trimesh]) -> dict[tuple[str, str], np.ndarray]:
    """All the patches the landmark definitions need (vertex indices; they follow the bone
    through rigid motion and smooth deformation, so compute them once on a neutral pose)."""
    return {(a, b): articular_patch(meshes[a], meshes[b], margin_mm=_PATCH_MARGIN_MM.get((a, b), 2.5))
            for a, b in ARTICULAR_PAIRS if a in meshes and b in meshes}


def posterior_facet(calcaneus: trimesh.Trimesh, subtalar: np.ndarray, anterior: np.ndarray) -> np.ndarray:
    """The posterior facet (vertex indices) of the calcaneus' subtalar surface ``subtalar``.

    The subtalar patch also holds the middle and anterior facets (on the sustentaculum); they
    join the posterior facet only through a narrow bridge across the tarsal canal. A spectral
    bisection of the patch's mesh graph (sign of the Fiedler vector) cuts that bridge; the
    posterior facet is the part farther from the point ``anterior`` (the calcaneocuboid facet).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, laplacian

    inside = np.zeros(len(calcaneus.vertices), dtype=bool)
    inside[subtalar] = True
    edges = calcaneus.edges_unique[inside[calcaneus.edges_unique].all(axis=1)]
    local = np.full(len(calcaneus.vertices), -1)
    local[subtalar] = np.arange(len(subtalar))
    i, j = local[edges[:, 0]], local[edges[:, 1]]
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(len(subtalar),) * 2)
    graph = (graph + graph.T).tocsr()
    # Spectral cut on the largest connected piece (stray margin vertices stay out).
    _, piece = connected_components(graph, directed=False)
    main = np.flatnonzero(piece == np.bincount(piece).argmax())
    lap = laplacian(graph[main][:, main], normed=True).toarray()
    fiedler = np.linalg.eigh(lap)[1][:, 1]
    halves = [subtalar[main[fiedler < 0]], subtalar[main[fiedler >= 0]]]
    far = [np.linalg.norm(np.asarray(calcaneus.vertices)[h].mean(axis=0) - anterior) if len(h) else -1.0
           for h in halves]
    return halves[int(np.argmax(far))]


def _icp(moving: np.ndarray, fixed_tree: cKDTree, fixed: np.ndarray, init: np.ndarray, *,
         iterations: int) -> tuple[np.ndarray, float]:
    """Similarity ICP from ``init`` (4x4); returns the transform and the mean residual (mm)."""
    from footalign.simulate.templates import umeyama

    transform = init.copy()
    for _ in range(iterations):
        current = moving @ transform[:3, :3].T + transform[:3, 3]
        _, idx = fixed_tree.query(current)
        step = umeyama(current, fixed[idx], scale=True)
        transform = step @ transform
    current = moving @ transform[:3, :3].T + transform[:3, 3]
    dist, _ = fixed_tree.query(current)
    return transform, float(dist.mean())


def register_bone(template: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Similarity transform (4x4) of a template bone's vertices onto a target bone's vertices:
    principal-axis starts (the four proper sign choices), ICP from each, the best one refined."""
    tree = cKDTree(target)
    mt, mu = template.mean(axis=0), target.mean(axis=0)
    ut = np.linalg.svd(template - mt, full_matrices=False)[2].T
    uu = np.linalg.svd(target - mu, full_matrices=False)[2].T
    scale = np.sqrt(((target - mu) ** 2).sum(axis=1).mean() / ((template - mt) ** 2).sum(axis=1).mean())
    best = (np.eye(4), np.inf)
    sub = template[:: max(1, len(template) // 800)]
    for signs in ((1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)):
        rot = uu @ np.diag(signs) @ ut.T
        if np.linalg.det(rot) < 0:
            rot = uu @ np.diag(np.array(signs) * [1, 1, -1]) @ ut.T
        init = np.eye(4)
        init[:3, :3] = scale * rot
        init[:3, 3] = mu - scale * rot @ mt
        transform, residual = _icp(sub, tree, target, init, iterations=15)
        if residual < best[1]:
            best = (transform, residual)
    return _icp(template, tree, target, best[0], iterations=20)[0]


def atlas_patches(meshes: dict[str, trimesh.Trimesh]) -> dict[tuple[str, str], np.ndarray]:
    """Articular patches of a user's (right-looking) bones, transferred from the template: each
    template bone is registered onto the user's bone and its patch vertices mapped to the
    nearest user vertices. Works when bones touch or are segmented with uneven gaps, where
    proximity alone picks the wrong surface."""
    from footalign.simulate.templates import _base_skeleton_cached

    template = _base_skeleton_cached().meshes
    template_patches = _template_patches()
    out: dict[tuple[str, str], np.ndarray] = {}
    for bone in {a for a, _ in ARTICULAR_PAIRS}:
        if bone not in meshes:
            continue
        target = np.asarray(meshes[bone].vertices)
        transform = register_bone(np.asarray(template[bone].vertices), target)
        moved = np.asarray(template[bone].vertices) @ transform[:3, :3].T + transform[:3, 3]
        tree = cKDTree(target)
        for (a, b), idx in template_patches.items():
            if a != bone or b not in meshes:
                continue
            _, nearest = tree.query(moved[idx])
            # Every user vertex near the mapped patch belongs to it (meshes differ in density).
            near = tree.query_ball_point(moved[idx], r=1.5)
            out[(a, b)] = np.unique(np.concatenate([nearest, *[np.asarray(n, dtype=int) for n in near]]))
    return out


_TEMPLATE_PATCH_CACHE: dict[str, dict[tuple[str, str], np.ndarray]] = {}


def _template_patches() -> dict[tuple[str, str], np.ndarray]:
    if "patches" not in _TEMPLATE_PATCH_CACHE:
        from footalign.simulate.templates import _base_skeleton_cached

        _TEMPLATE_PATCH_CACHE["patches"] = articular_patches(_base_skeleton_cached().meshes)
    return _TEMPLATE_PATCH_CACHE["patches"]


def support_plane(meshes: dict[str, trimesh.Trimesh], *, up_hint: np.ndarray | None = None) -> FloorPlane:
    """The plane the skeleton stands on: the bottom facet of the convex hull of the calcaneus
    and the distal thirds of the metatarsals that touches both the heel and the forefoot,
    the one whose normal is closest to ``up_hint`` (default: from the foot toward the tibia)."""
    calc = np.asarray(meshes["calcaneus"].vertices)
    heel = calc.mean(axis=0)
    fore, ray = [], []
    for i in range(1, 6):
        name = f"metatarsal_{i}"
        if name in meshes:
            axis, t0, t1 = long_axis(meshes[name], heel)
            verts = np.asarray(meshes[name].vertices)
            sel = verts[verts @ axis >= t0 + 0.66 * (t1 - t0)]
            fore.append(sel)
            ray.append(np.full(len(sel), i))
    fore_pts = np.vstack(fore)
    if up_hint is None:
        # The leg's long axis, pointing away from the heel.
        up_hint = long_axis(meshes["tibia"], heel)[0]
    # Only the part of the hint perpendicular to the heel -> forefoot line counts: the foot may
    # be plantarflexed against the leg.
    along = fore_pts.mean(axis=0) - heel
    along /= np.linalg.norm(along)
    up = np.asarray(up_hint, float) - (np.asarray(up_hint, float) @ along) * along
    up /= np.linalg.norm(up)
    pts = np.vstack([calc, fore_pts])
    group = np.r_[np.zeros(len(calc), int), np.concatenate(ray)]  # 0 heel, 1..5 ray
    hull = trimesh.convex.convex_hull(pts)
    _, idx = cKDTree(pts).query(hull.vertices)
    face_group = group[idx][hull.faces]
    has_heel = (face_group == 0).any(axis=1)
    has_medial = ((face_group >= 1) & (face_group <= 2)).any(axis=1)
    has_lateral = (face_group >= 4).any(axis=1)
    downward = hull.face_normals @ up < 0
    # Prefer the tripod facet (heel, medial and lateral rays), else any heel-forefoot facet.
    for mask in (has_heel & has_medial & has_lateral & downward,
                 has_heel & (face_group > 0).any(axis=1) & downward,
                 np.ones(len(hull.faces), bool)):
        candidates = np.flatnonzero(mask)
        if len(candidates):
            break
    best = candidates[int(np.argmin(hull.face_normals[candidates] @ up))]
    normal = -hull.face_normals[best]
    point = hull.triangles[best].mean(axis=0)
    return FloorPlane(point=point, normal=normal, source="tripod")


# ----- the landmark definitions ---------------------------------------------------------------

def _frame(floor: FloorPlane, calc_low: np.ndarray, m2_head: np.ndarray) -> Frame:
    z = floor.normal
    x = m2_head - calc_low
    x = x - (x @ z) * z
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    return Frame(np.stack([x, y, z]))


def refine_meshes(meshes: dict[str, trimesh.Trimesh], patches: dict[tuple[str, str], np.ndarray],
                  bones: tuple[str, ...], *, max_edge_mm: float
                  ) -> tuple[dict[str, trimesh.Trimesh], dict[tuple[str, str], np.ndarray]]:
    """The meshes with ``bones`` split to ``max_edge_mm``, and the articular patches of those
    bones carried over to the new vertices (by nearest original vertex, which can widen a patch
    by up to half an original edge). For checking how much a rule depends on the meshing."""
    meshes, patches = dict(meshes), dict(patches)
    for bone in bones:
        mesh = meshes[bone]
        vertices, faces = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, max_edge=max_edge_mm)
        _, nearest = cKDTree(mesh.vertices).query(vertices)
        for key, index in list(patches.items()):
            if key[0] == bone:
                member = np.zeros(len(mesh.vertices), bool)
                member[index] = True
                patches[key] = np.flatnonzero(member[nearest])
        meshes[bone] = trimesh.Trimesh(vertices, faces, process=False)
    return meshes, patches


def _surface_samples(mesh: trimesh.Trimesh, faces: np.ndarray, *,
                     max_edge_mm: float = PLATEAU_SAMPLING_MM) -> tuple[np.ndarray, np.ndarray]:
    """The continuous surface of the given faces (rows of vertex indices), split to
    ``max_edge_mm``: the centres ``(n, 3)`` and areas ``(n,)`` of the small faces."""
    vertices, split = trimesh.remesh.subdivide_to_size(mesh.vertices, faces, max_edge=max_edge_mm)
    corners = vertices[split]
    area = 0.5 * np.linalg.norm(np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]), axis=1)
    return corners.mean(axis=1), area


def _plateau_centre(centres: np.ndarray, area: np.ndarray, direction: np.ndarray, *,
                    plateau_mm: float) -> np.ndarray:
    """The surface point furthest along ``direction``, made stable on flat tops: of the surface
    samples within ``plateau_mm`` of the extreme, the one nearest to their area-weighted centre."""
    s = centres @ direction
    plateau = s >= s.max() - plateau_mm
    centre = (centres[plateau] * area[plateau, None]).sum(axis=0) / area[plateau].sum()
    flat = centres[plateau]
    return flat[int(np.argmin(((flat - centre) ** 2).sum(axis=1)))]


def _extreme_on_surface(mesh: trimesh.Trimesh, direction: np.ndarray, keep: np.ndarray | None = None, *,
                        plateau_mm: float, max_edge_mm: float = PLATEAU_SAMPLING_MM) -> np.ndarray:
    """:func:`_plateau_centre` of ``mesh``'s continuous surface: the faces near the extreme are
    split to ``max_edge_mm`` and weighted by area. ``keep`` (per vertex) limits the search to a
    region of the bone (see :func:`_faces_of`); ``None``: the whole bone."""
    score = np.asarray(mesh.vertices) @ direction
    if keep is None:
        keep = np.ones(len(score), bool)
    top = score[keep].max()
    faces = _faces_of(mesh, keep)
    near = faces[score[faces].max(axis=1) >= top - plateau_mm - max_edge_mm]
    centres, area = _surface_samples(mesh, near, max_edge_mm=max_edge_mm)
    return _plateau_centre(centres, area, direction, plateau_mm=plateau_mm)


def _faces_of(mesh: trimesh.Trimesh, keep: np.ndarray, *, at_least: int = 10) -> np.ndarray:
    """The faces (rows of vertex indices) of a region given per vertex (``keep``, boolean):
    those with all three vertices in it, or, for a region too thin to hold ``at_least`` of
    them, those touching it."""
    faces = np.asarray(mesh.faces)
    inside = keep[faces]
    whole = inside.all(axis=1)
    return faces[whole] if whole.sum() >= at_least else faces[inside.any(axis=1)]


def _member(mesh: trimesh.Trimesh, index: np.ndarray) -> np.ndarray:
    """Per-vertex boolean mask of the vertex indices ``index``."""
    mask = np.zeros(len(mesh.vertices), bool)
    mask[index] = True
    return mask


def _patch_surface(mesh: trimesh.Trimesh, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_surface_samples` of the region of the vertex indices ``index`` (an articular patch)."""
    return _surface_samples(mesh, _faces_of(mesh, _member(mesh, index)))


def _ring(centres: np.ndarray, area: np.ndarray, up: np.ndarray, height: float, *,
          half_height_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """The surface samples within ``half_height_mm`` of ``height`` along ``up`` (all of them
    when fewer than 4 are)."""
    inside = np.abs(centres @ up - height) <= half_height_mm
    return (centres[inside], area[inside]) if inside.sum() >= 4 else (centres, area)


def _mid_width_band(points: np.ndarray, across: np.ndarray, *,
                    half_width_mm: float = TAL_DOME_MID_WIDTH_MM) -> np.ndarray:
    """Indices of the points within ``half_width_mm`` of the middle of their extent along the
    unit direction ``across``; at least the 5 nearest."""
    span = points @ across
    offset = np.abs(span - 0.5 * (span.min() + span.max()))
    order = np.argsort(offset)
    return order[: max(5, int(np.sum(offset <= half_width_mm)))]


def _right_foot_landmarks(meshes: dict[str, trimesh.Trimesh], floor: FloorPlane,
                          patches: dict[tuple[str, str], np.ndarray],
                          tibia_top_mm: float | None) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    v = {name: np.asarray(m.vertices) for name, m in meshes.items()}
    calc_centre = v["calcaneus"].mean(axis=0)

    # Heads: sphere fits to the distal end of each long bone (proximal = toward the heel).
    def base_and_head(name: str, head_len: float) -> tuple[np.ndarray, np.ndarray]:
        mesh = meshes[name]
        axis, t0, t1 = long_axis(mesh, calc_centre)
        t = v[name] @ axis
        length = t1 - t0
        base = slab_centroid(mesh, axis, t0, t0 + 0.1 * length)
        distal = v[name][t >= t1 - head_len]
        head, _ = fit_sphere(distal)
        return base, head

    out["M1_BASE"], out["M1_HEAD"] = base_and_head("metatarsal_1", 11.0)
    out["M2_BASE"], out["M2_HEAD"] = base_and_head("metatarsal_2", 8.0)
    out["M5_HEAD"] = base_and_head("metatarsal_5", 8.0)[1]
    out["P1_BASE"], out["P1_HEAD"] = base_and_head("hallux_proximal_phalanx", 7.0)

    # Lowest calcaneus point on the tuberosity (posterior half), then the foot frame.
    z = floor.normal
    provisional_x = out["M2_HEAD"] - calc_centre
    calc = v["calcaneus"]
    posterior = (calc - calc_centre) @ provisional_x < 0
    out["CALC_LOW"] = _extreme_on_surface(meshes["calcaneus"], -z, posterior, plateau_mm=CALC_LOW_PLATEAU_MM)
    frame = _frame(floor, out["CALC_LOW"], out["M2_HEAD"])
    x, y, z = frame.axes

    # Calcaneus: tuberosity tip, subtalar facet, anterior process, calcaneocuboid corner. Every
    # rule below runs on the continuous surface (area-weighted), not on the ~1.9 mm vertices:
    # vertex picks moved 0.3-1.1 mm when the same bones were meshed at 1 mm
    # (scripts/check_ground_truth_discretisation.py), label noise the network cannot learn.
    calc_mesh = meshes["calcaneus"]
    cx = calc @ x
    span = cx.max() - cx.min()
    back = cx <= cx.min() + 0.25 * span
    elevation = np.radians(CALC_TUB_ELEVATION_DEG)
    out["CALC_TUB"] = _extreme_on_surface(calc_mesh, np.sin(elevation) * z - np.cos(elevation) * x, back,
                                          plateau_mm=1.0)
    front = cx >= cx.max() - 0.2 * span
    cc = _member(calc_mesh, patches[("calcaneus", "cuboid")]) if ("calcaneus", "cuboid") in patches else front
    post_facet = _member(calc_mesh, posterior_facet(calc_mesh, patches[("calcaneus", "talus")],
                                                    calc[cc].mean(axis=0)))
    pfa_tilt = np.radians(CALC_PFA_MEDIAL_TILT_DEG)
    out["CALC_PFA"] = _extreme_on_surface(calc_mesh, np.cos(pfa_tilt) * z + np.sin(pfa_tilt) * y, post_facet,
                                          plateau_mm=1.0)
    out["CALC_ANT"] = _extreme_on_surface(calc_mesh, (x + z) / np.sqrt(2), front, plateau_mm=1.0)
    out["CALC_CC"] = _extreme_on_surface(calc_mesh, (x - z) / np.sqrt(2), cc, plateau_mm=1.0)

    # Talus: dome centre, head sphere and the head's articular margins.
    talus = meshes["talus"]
    troch_idx = patches[("talus", "tibia")]
    # The trochlea proper faces up (the malleolar facets face sideways).
    facing_up = talus.vertex_normals[troch_idx] @ z > 0.5
    centres, area = _patch_surface(talus, troch_idx[facing_up] if facing_up.sum() >= 10 else troch_idx)
    band = _mid_width_band(centres, y)
    out["TAL_DOME"] = _plateau_centre(centres[band], area[band], z, plateau_mm=TAL_DOME_PLATEAU_MM)
    head, head_area = _patch_surface(talus, patches[("talus", "navicular")])
    out["TAL_HEAD"] = fit_sphere(head, head_area)[0]
    ring, ring_area = _ring(head, head_area, z, out["TAL_HEAD"] @ z, half_height_mm=2.0)
    out["TAL_HEAD_MED"] = _plateau_centre(ring, ring_area, y, plateau_mm=1.0)
    out["TAL_HEAD_LAT"] = _plateau_centre(ring, ring_area, -y, plateau_mm=1.0)

    # Navicular, medial cuneiform.
    nav_mesh = meshes["navicular"]
    tilt = np.radians(NAV_LOW_MEDIAL_TILT_DEG)
    out["NAV_LOW"] = _extreme_on_surface(nav_mesh, -np.cos(tilt) * z + np.sin(tilt) * y, plateau_mm=1.0)
    nav_art, nav_area = _patch_surface(nav_mesh, patches[("navicular", "talus")])
    mean_height = float(np.average(nav_art @ z, weights=nav_area))
    nav_ring, nav_ring_area = _ring(nav_art, nav_area, z, mean_height, half_height_mm=3.0)
    out["NAV_MED"] = _plateau_centre(nav_ring, nav_ring_area, y, plateau_mm=1.0)
    out["NAV_LAT"] = _plateau_centre(nav_ring, nav_ring_area, -y, plateau_mm=1.0)
    out["CUN1_LOW"] = _extreme_on_surface(meshes["medial_cuneiform"], -z, plateau_mm=1.0)

    # Tibia: plafond above the dome, sections 20 and 60 mm above it along the shaft axis.
    out.update(_tibia_landmarks(meshes["tibia"], out["TAL_DOME"], z, tibia_top_mm))
    return out


def _oriented(axis: np.ndarray, up: np.ndarray) -> np.ndarray:
    return axis if axis @ up > 0 else -axis


def _tibia_landmarks(tibia: trimesh.Trimesh, dome: np.ndarray, up: np.ndarray,
                     top_z: float | None) -> dict[str, np.ndarray]:
    verts = np.asarray(tibia.vertices)
    rel = verts - dome

    def plafond_height(axis: np.ndarray) -> float:
        # The tibial surface directly above the dome (heights are relative to the dome).
        radial = rel - np.outer(rel @ axis, axis)
        near = np.linalg.norm(radial, axis=1) < 4.0
        return float((rel[near] @ axis).min()) if near.any() else 0.0

    def sections(axis: np.ndarray) -> dict[str, np.ndarray]:
        plafond = plafond_height(axis)
        # The most proximal complete section: below the (cut) end of the mesh and the FOV.
        top = float((rel @ axis).max()) - 3.0
        if top_z is not None:
            # A section at height h reaches about h * cos(tilt) + r * sin(tilt) above the dome.
            tilt_margin = TIBIA_COMPLETE_SECTION_RADIUS_MM * np.sqrt(max(0.0, 1.0 - float(axis @ up) ** 2))
            top = min(top, (float(top_z - dome @ up) - tilt_margin - 1.0) / float(axis @ up))
        out = {}
        for name, height in TIBIA_SECTION_HEIGHTS_MM.items():
            h = min(plafond + height, top)
            if h < plafond + TIBIA_SECTION_LOWEST_MM[name] - 1e-6:  # the view ends too low
                out[name] = np.full(3, np.nan)
                continue
            centre, area = section_centroid(tibia, dome + h * axis, axis)
            out[name] = centre if area > 0 else np.full(3, np.nan)
        return out

    axis = _oriented(np.linalg.svd(rel - rel.mean(axis=0), full_matrices=False)[2][0], up)
    shaft = verts[rel @ axis > plafond_height(axis) + 15.0]
    if len(shaft) > 10:
        axis = _oriented(np.linalg.svd(shaft - shaft.mean(axis=0), full_matrices=False)[2][0], up)
    # The sections are perpendicular to the tibial axis, i.e. to the line through their own
    # centroids (what a measurement in the image converges to). The shaft's principal axis
    # misses that line by 1-2 deg on the flaring metaphysis, which put TIB_DIST ~0.5 mm off
    # the image's section (and the hindfoot angle ~0.9 deg off); fixed-point rounds from it.
    points = sections(axis)
    for _ in range(TIBIA_AXIS_ROUNDS):
        line = points["TIB_PROX"] - points["TIB_DIST"]
        # A short field of view can put both sections at the same height: keep the shaft's axis.
        if not np.all(np.isfinite(line)) or np.linalg.norm(line) < 10.0:
            break
        line /= np.linalg.norm(line)
        converged = float(line @ axis) > np.cos(np.radians(0.01))
        axis = line
        points = sections(axis)
        if converged:
            break
    return points


def landmarks_from_meshes(
    meshes: dict[str, trimesh.Trimesh],
    side: str,
    floor: FloorPlane | None = None,
    *,
    patches: dict[tuple[str, str], np.ndarray] | None = None,
    tibia_top_height_mm: float | None = None,
    patch_method: str = "atlas",
) -> FootLandmarks:
    """The 22 ANATOMY.md landmarks of one foot from its bone surfaces (LPS mm).

    Parameters
    ----------
    meshes : closed bone surfaces keyed by bone name (``tibia``, ``talus``, ``calcaneus``,
        ``navicular``, ``cuboid``, ``medial_cuneiform``, ``metatarsal_1`` ... ``metatarsal_5``,
        ``hallux_proximal_phalanx``), LPS mm.
    side : ``"left"`` or ``"right"``.
    floor : the weight-bearing floor; when ``None`` the bones' own support plane (convex hull
        under the calcaneus and metatarsals) is used and recorded with source ``"tripod"``.
    patches : articular surface vertex indices per (bone, neighbour), e.g. computed once by
        :func:`articular_patches` on a neutral pose. When ``None`` they are found by
        ``patch_method``: ``"atlas"`` (default; transferred from the template bones by
        registration, :func:`atlas_patches`) or ``"proximity"`` (bone-to-bone distance).
    tibia_top_height_mm : height (along the floor normal, above the floor) of the top of the
        field of view; TIB_PROX then moves down to the most proximal complete section, and a
        section that would lie below ``anatomy.TIBIA_SECTION_LOWEST_MM`` is NaN (out of view).

    Returns
    -------
    FootLandmarks with the floor attached.
    """
    missing = [b for b in REQUIRED_BONES if b not in meshes]
    if missing:
        raise ValueError(f"landmarks need the bones {', '.join(missing)}")
    if side not in ("left", "right"):
        raise ValueError(f"side must be 'left' or 'right', got {side!r}")
    work = dict(meshes)
    mirror = np.diag([-1.0, 1.0, 1.0])
    work_floor = floor
    if side == "left":
        work = {}
        for k, m in meshes.items():
            mm = m.copy()
            mm.apply_transform(np.diag([-1.0, 1.0, 1.0, 1.0]))  # trimesh re-winds the faces
            work[k] = mm
        if floor is not None:
            work_floor = FloorPlane(floor.point @ mirror, floor.normal @ mirror, floor.source)
    if work_floor is None:
        work_floor = support_plane(work)
    if patches is None:
        patches = atlas_patches(work) if patch_method == "atlas" else articular_patches(work)
    top = None
    if tibia_top_height_mm is not None:
        top = float(work_floor.point @ work_floor.normal) + float(tibia_top_height_mm)
    points = _right_foot_landmarks(work, work_floor, patches, top)
    arr = np.stack([points[name] for name in LANDMARK_NAMES])
    if side == "left":
        arr = arr @ mirror
    out_floor = floor if floor is not None else FloorPlane(
        work_floor.point @ (mirror if side == "left" else np.eye(3)),
        work_floor.normal @ (mirror if side == "left" else np.eye(3)), "tripod")
    return FootLandmarks(side=side, points=arr, floor=out_floor)


def meshes_from_label_map(labels: Image, names: dict[str, int] | None = None, *,
                          smoothing_iterations: int = 15) -> dict[str, trimesh.Trimesh]:
    """Bone surfaces (LPS mm) from a bone label map: one discrete marching-cubes surface per
    label (VTK), lightly smoothed, largest connected piece kept.

    ``names`` maps bone names to label values (default: the simulator's ``BONE_LABELS``).
    Labels absent from the image are skipped.
    """
    import vtk
    from vtk.util import numpy_support

    from footalign.simulate.templates import BONE_LABELS

    names = dict(BONE_LABELS) if names is None else names
    arr = np.asarray(labels.array)
    present = set(np.unique(arr).tolist())
    out: dict[str, trimesh.Trimesh] = {}
    for name, value in names.items():
        if value not in present:
            continue
        where = np.argwhere(arr == value)
        lo = np.maximum(where.min(axis=0) - 2, 0)
        hi = np.minimum(where.max(axis=0) + 3, arr.shape)
        sub = np.pad((arr[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] == value).astype(np.uint8), 1)
        image = vtk.vtkImageData()
        image.SetDimensions(*sub.shape)
        image.SetSpacing(*labels.spacing)
        image.SetOrigin(0.0, 0.0, 0.0)
        image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(sub.transpose(2, 1, 0).ravel(), deep=True))
        mc = vtk.vtkDiscreteFlyingEdges3D()
        mc.SetInputData(image)
        mc.SetValue(0, 1)
        smooth = vtk.vtkWindowedSincPolyDataFilter()
        smooth.SetInputConnection(mc.GetOutputPort())
        smooth.SetNumberOfIterations(smoothing_iterations)
        smooth.SetPassBand(0.1)
        smooth.NonManifoldSmoothingOn()
        smooth.NormalizeCoordinatesOn()
        smooth.Update()
        poly = smooth.GetOutput()
        if poly.GetNumberOfPoints() == 0:
            continue
        pts = numpy_support.vtk_to_numpy(poly.GetPoints().GetData()).astype(float)
        faces = numpy_support.vtk_to_numpy(poly.GetPolys().GetConnectivityArray()).reshape(-1, 3)
        # Voxel (padded sub-volume) coordinates -> LPS mm.
        index = pts / np.asarray(labels.spacing) + lo - 1
        mesh = trimesh.Trimesh(labels.index_to_physical(index), faces, process=True)
        pieces = mesh.split(only_watertight=False)
        if len(pieces) > 1:
            mesh = max(pieces, key=lambda m: len(m.faces))
        if mesh.volume < 0:
            mesh.invert()
        out[name] = mesh
    return out


def landmarks_from_label_map(labels: Image, side: str, floor: FloorPlane | None = None,
                             names: dict[str, int] | None = None) -> FootLandmarks:
    """The 22 landmarks of one foot from a bone label map (see :func:`meshes_from_label_map`)."""
    return landmarks_from_meshes(meshes_from_label_map(labels, names), side, floor)
