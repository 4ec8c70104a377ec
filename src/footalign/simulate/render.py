"""Image formation: posed bone meshes -> label map and a cone-beam weight-bearing CT in HU.

Physical model, in order: bone label map (VTK stencils) -> cortical shell / cancellous bone
with trabecular texture / fatty marrow in the shafts -> soft-tissue envelope (muscle, fat,
heel and forefoot pads flattened on the platform, smooth skin) -> weight-bearing platform ->
acquisition (partial-volume blur, noise, cupping, HU offset/gain, cylindrical field of view).
All sizes are in mm and converted to voxels with the grid spacing, so any spacing works.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import trimesh
from scipy import ndimage

from footalign.image import Image
from footalign.landmarks import FloorPlane
from footalign.simulate.templates import BONE_LABELS
from footalign.simulate.voxelize import Grid, rasterize

AIR_HU = -1000.0
LONG_BONES = ("tibia", "fibula", "metatarsal_1", "metatarsal_2", "metatarsal_3", "metatarsal_4",
              "metatarsal_5", "hallux_proximal_phalanx")


@dataclass(frozen=True)
class RenderParams:
    """Appearance and acquisition settings of one scan (all HU, mm)."""

    cortical_hu: float = 1400.0
    cortical_mm: float = 1.3
    cancellous_hu: float = 280.0
    trabecular_hu: float = 90.0
    marrow_hu: float = 20.0
    muscle_hu: float = 45.0
    fat_hu: float = -95.0
    envelope_mm: float = 11.0
    toe_envelope_mm: float = 4.0
    fat_layer_mm: float = 5.0
    fat_bias: float = 0.0
    heel_contact_mm: float = 24.0
    arch_pad_mm: float = 14.0
    leg_flare: float = 0.22
    platform_mm: float = 8.0
    platform_hu: float = 200.0
    platform_visible: bool = True
    blur_mm: float = 0.55
    noise_hu: float = 30.0
    cupping_hu: float = 40.0
    hu_offset: float = 0.0
    hu_gain: float = 1.0
    fov_radius_mm: float = 1e9
    fov_centre_xy: tuple[float, float] = (0.0, 0.0)
    fov_z: tuple[float, float] = (-1e9, 1e9)
    outside_fov_hu: float = -1000.0

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _smooth_noise(shape: tuple[int, ...], sigma_vox: float, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian-filtered white noise (float32)."""
    field = ndimage.gaussian_filter(rng.standard_normal(shape, dtype=np.float32), sigma_vox)
    field /= float(field.std()) or 1.0
    return field


def _box(mesh: trimesh.Trimesh, grid: Grid, pad: int) -> tuple[slice, slice, slice]:
    sp = np.asarray(grid.spacing)
    lo = np.floor((mesh.bounds[0] - np.asarray(grid.origin)) / sp).astype(int) - pad
    hi = np.ceil((mesh.bounds[1] - np.asarray(grid.origin)) / sp).astype(int) + pad + 1
    lo = np.clip(lo, 0, np.asarray(grid.shape))
    hi = np.clip(hi, 0, np.asarray(grid.shape))
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))  # type: ignore[return-value]


def bone_intensity(meshes: dict[str, trimesh.Trimesh], grid: Grid, params: RenderParams,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Label map and bone HU (NaN outside bone) on ``grid``.

    Cortex: a shell whose thickness is ``cortical_mm`` (thicker on long-bone shafts), found from
    the distance to the bone's own surface; cancellous core with band-pass noise for the
    trabeculae; fatty marrow deep in the shafts of long bones.
    """
    labels = np.zeros(grid.shape, dtype=np.uint8)
    hu = np.full(grid.shape, np.nan, dtype=np.float32)
    sp = np.asarray(grid.spacing)
    for name, mesh in meshes.items():
        box = _box(mesh, grid, pad=2)
        sub_grid = Grid(tuple((np.asarray(grid.origin) + sp * [s.start for s in box]).tolist()),
                        grid.spacing, tuple(s.stop - s.start for s in box))
        mask = rasterize(mesh, sub_grid)
        if not mask.any():
            continue
        depth = ndimage.distance_transform_edt(mask, sampling=sp).astype(np.float32)
        long_bone = name in LONG_BONES
        cortex = params.cortical_mm * (1.6 if long_bone else 1.0) * float(rng.uniform(0.85, 1.15))
        cortical = params.cortical_hu * float(rng.uniform(0.93, 1.07))
        cancellous = params.cancellous_hu * float(rng.uniform(0.85, 1.15))
        shape = mask.shape
        # Trabecular-like texture: fine and medium band-pass noise (rods and plates ~0.5-1.5 mm).
        # tanh sharpens the blobs into plate/rod-like structures of higher contrast.
        texture = (np.tanh(1.5 * (0.8 * _smooth_noise(shape, 0.45 / sp.min(), rng)
                                  + 0.6 * _smooth_noise(shape, 1.0 / sp.min(), rng)))
                   - 0.3 * _smooth_noise(shape, 2.5 / sp.min(), rng))
        inner = cancellous + params.trabecular_hu * texture
        if long_bone:
            # Fatty marrow where the bone is deep enough to be a medullary canal.
            marrow = np.clip((depth - (cortex + 1.5)) / 2.0, 0.0, 1.0)
            inner = inner * (1.0 - marrow) + (params.marrow_hu + 25.0 * texture) * marrow
        shell = 1.0 / (1.0 + np.exp((depth - cortex) / 0.25))
        value = inner * (1.0 - shell) + (cortical + 60.0 * texture) * shell
        region_labels = labels[box]
        region_hu = hu[box]
        region_labels[mask] = BONE_LABELS[name]
        region_hu[mask] = value[mask]
    return labels, hu


def _upsample(coarse: np.ndarray, shape: tuple[int, ...], factor: np.ndarray) -> np.ndarray:
    """Upsample a coarse field (taken every ``factor`` voxels) onto ``shape``: block repeat,
    then a Gaussian of half a block to remove the staircase (much faster than spline zoom)."""
    full = coarse.astype(np.float32)
    for axis, f in enumerate(factor):
        full = np.repeat(full, int(f), axis=axis)
    full = full[: shape[0], : shape[1], : shape[2]]
    if full.shape != tuple(shape):
        full = np.pad(full, [(0, shape[d] - full.shape[d]) for d in range(3)], mode="edge")
    # (Block centres sit up to half a coarse voxel off: well under a millimetre, fine for skin.)
    ndimage.gaussian_filter(full, [max(0.0, f / 2.0) for f in factor], output=full)
    return full


def floor_height(grid: Grid, floor: FloorPlane) -> np.ndarray:
    """Height (mm) of every voxel centre of ``grid`` above the floor plane (broadcastable array)."""
    x, y, z = grid.axes()
    n, p = floor.normal, floor.point
    return (((x - p[0]) * n[0])[:, None, None] + ((y - p[1]) * n[1])[None, :, None]
            + ((z - p[2]) * n[2])[None, None, :]).astype(np.float32)


def _plantar_pad(bones: np.ndarray, h: np.ndarray, spacing: np.ndarray, params: RenderParams) -> np.ndarray:
    """The plantar soft tissue: under every bone column whose lowest bone is near the floor the
    tissue reaches down to the platform (heel and forefoot pads); where the bones are higher
    (the medial arch) the sole lifts off with a smooth surface, ``arch_pad_mm`` under the bone.

    Works per column along the array's k axis (within a few degrees of the floor normal).
    """
    hb = np.where(bones, np.broadcast_to(h, bones.shape), np.inf)
    lowest = hb.min(axis=2)
    foot = np.isfinite(lowest) & (lowest < 70.0)
    contact = params.heel_contact_mm
    sole = np.where(lowest <= contact, 0.0, np.maximum(lowest - params.arch_pad_mm, 0.0))
    sole = np.where(foot, sole, np.nan)
    # Smooth the sole height over the footprint (normalised convolution ignores outside).
    weight = ndimage.gaussian_filter(foot.astype(np.float32), 6.0 / spacing[0])
    smooth = ndimage.gaussian_filter(np.nan_to_num(sole, nan=0.0).astype(np.float32), 6.0 / spacing[0])
    sole = np.where(weight > 1e-3, smooth / np.maximum(weight, 1e-3), np.inf)
    # Round the footprint's outline a little so the pad does not end in a wall.
    footprint = ndimage.gaussian_filter(foot.astype(np.float32), 2.0 / spacing[0]) > 0.35
    # Columns of the rounded outline without bone get a thin pad only (no column up to the sky).
    top = np.where(np.isfinite(lowest), lowest, sole + 4.0)
    return footprint[:, :, None] & (h >= sole[:, :, None]) & (h <= top[:, :, None])


def soft_tissue(bones: np.ndarray, grid: Grid, floor: FloorPlane, ankle_height: float, params: RenderParams,
                rng: np.random.Generator, toes: np.ndarray | None = None) -> np.ndarray:
    """Soft tissue HU (NaN outside the body) around the bone mask ``bones``.

    The body is the set of points within an envelope distance of the bones (growing up the leg
    like a calf), pads flattened down onto the floor under the heel and forefoot, smoothed into
    a skin surface. Inside: muscle/tendon with a subcutaneous fat layer and fat lobules, and
    mostly fat in the plantar pads. Worked out on a 2 mm grid, then upsampled.
    """
    factor = np.maximum(1, np.round(2.0 / np.asarray(grid.spacing)).astype(int))
    small = bones[::factor[0], ::factor[1], ::factor[2]]
    small_sp = np.asarray(grid.spacing) * factor
    dist = ndimage.distance_transform_edt(~small, sampling=small_sp).astype(np.float32)
    small_grid = Grid(grid.origin, tuple(small_sp.tolist()), small.shape)
    h = floor_height(small_grid, floor)
    envelope = params.envelope_mm + params.leg_flare * np.maximum(h - ankle_height, 0.0)
    envelope = envelope * (1.0 + 0.12 * _smooth_noise(small.shape, 12.0 / small_sp.min(), rng))
    if toes is not None and toes.any():
        # Toes get a thin envelope of their own, so they stay toes instead of a mitten.
        toes_small = toes[::factor[0], ::factor[1], ::factor[2]]
        dist = ndimage.distance_transform_edt(~(small & ~toes_small), sampling=small_sp).astype(np.float32)
        toe_dist = ndimage.distance_transform_edt(~toes_small, sampling=small_sp).astype(np.float32)
    else:
        toe_dist = None
    body = dist <= envelope
    if toe_dist is not None:
        body |= toe_dist <= params.toe_envelope_mm
    body |= _plantar_pad(small, h, small_sp, params)
    body &= h >= 0.0
    body = ndimage.gaussian_filter(body.astype(np.float32), 1.2) >= 0.5
    skin_depth = ndimage.distance_transform_edt(body, sampling=small_sp).astype(np.float32)
    lobules = _smooth_noise(small.shape, 3.0 / small_sp.min(), rng)
    pad_zone = np.clip(1.0 - h / 22.0, 0.0, 1.0)
    fat = np.clip(1.2 - skin_depth / params.fat_layer_mm, 0.0, 1.0)
    fat = np.maximum(fat, np.clip(0.45 * lobules + 0.8 * pad_zone - 0.15 + params.fat_bias, 0.0, 1.0))

    inside = _upsample(skin_depth, bones.shape, factor) > 0.5 * small_sp.min()
    # Nothing below the platform surface (slab by slab: a full height map is a whole volume).
    x, y, z = grid.axes()
    n, p = floor.normal, floor.point
    hxy = ((x - p[0]) * n[0])[:, None] + ((y - p[1]) * n[1])[None, :]
    for k, zk in enumerate(z):
        inside[:, :, k] &= hxy + (zk - p[2]) * n[2] >= 0.0
    tissue = _upsample(fat, bones.shape, factor)
    tissue *= params.fat_hu - params.muscle_hu
    tissue += params.muscle_hu
    tissue[~inside] = np.nan
    return tissue


def acquisition(volume: np.ndarray, grid: Grid, params: RenderParams, rng: np.random.Generator) -> np.ndarray:
    """Scanner effects on an ideal HU volume: blur, cupping, noise, gain/offset, field of view.

    Works slab by slab where it can, so the peak memory stays a few volumes even at 0.3 mm.
    """
    sp = np.asarray(grid.spacing)
    out = ndimage.gaussian_filter(volume, params.blur_mm / sp, output=np.float32)
    x, y, z = grid.axes()
    r2 = ((x[:, None] - params.fov_centre_xy[0]) ** 2 + (y[None, :] - params.fov_centre_xy[1]) ** 2)
    radius = min(params.fov_radius_mm, float(np.sqrt(r2.max())) + 1.0)
    cup = (params.cupping_hu * (1.0 - np.clip(r2 / radius**2, 0.0, 1.0))).astype(np.float32)[:, :, None]
    correlated = _smooth_noise(out.shape, 0.8 / sp.min(), rng)
    outside_xy = (r2 > params.fov_radius_mm**2)[:, :, None]
    chunk = 16
    for k0 in range(0, out.shape[2], chunk):
        sl = out[:, :, k0:k0 + chunk]
        sl -= cup * (sl > -500.0)
        white = rng.standard_normal(sl.shape, dtype=np.float32)
        sl += params.noise_hu * (0.75 * white + 0.25 * correlated[:, :, k0:k0 + chunk])
        sl *= params.hu_gain
        sl += params.hu_offset
        zk = z[k0:k0 + chunk]
        outside = outside_xy | ((zk < params.fov_z[0]) | (zk > params.fov_z[1]))[None, None, :]
        sl[np.broadcast_to(outside, sl.shape)] = params.outside_fov_hu
    return out


def render_scene(feet: list[dict[str, trimesh.Trimesh]], grid: Grid, *, floor: FloorPlane,
                 params: RenderParams, rng: np.random.Generator) -> tuple[Image, Image]:
    """Render bone meshes of one or two feet standing on ``floor`` (the platform's top surface).

    Returns ``(ct, labels)``: int16 HU image and uint8 bone label map on ``grid`` (LPS,
    identity direction).
    """
    labels = np.zeros(grid.shape, dtype=np.uint8)
    bone_hu = np.full(grid.shape, np.nan, dtype=np.float32)
    for foot in feet:
        lab, hu = bone_intensity(foot, grid, params, rng)
        take = lab > 0
        labels[take] = lab[take]
        bone_hu[take] = hu[take]
    ankle_height = float(np.mean([floor.height(foot["talus"].vertices).max() for foot in feet]))
    toes = labels >= BONE_LABELS["hallux_proximal_phalanx"]
    tissue = soft_tissue(labels > 0, grid, floor, ankle_height, params, rng, toes=toes)
    # Assemble in place (tissue becomes the volume) to keep the memory peak low.
    volume = tissue
    np.nan_to_num(volume, copy=False, nan=AIR_HU)
    if params.platform_visible:
        x, y, z = grid.axes()
        n, p = floor.normal, floor.point
        hxy = ((x - p[0]) * n[0])[:, None] + ((y - p[1]) * n[1])[None, :]
        for k, zk in enumerate(z):
            h = hxy + (zk - p[2]) * n[2]
            volume[:, :, k][(h < 0.0) & (h >= -params.platform_mm)] = params.platform_hu
    bone = labels > 0
    volume[bone] = bone_hu[bone]
    del bone_hu, bone
    ct = acquisition(volume, grid, params, rng)
    del volume
    np.round(ct, out=ct)
    np.clip(ct, -1024, 3071, out=ct)
    ct = ct.astype(np.int16)
    meta = {"modality": "CT", "generator": "footalign.simulate"}
    ct_image = Image(ct, grid.spacing, grid.origin, np.eye(3), meta)
    label_image = Image(labels, grid.spacing, grid.origin, np.eye(3), {"labels": dict(BONE_LABELS)})
    return ct_image, label_image
