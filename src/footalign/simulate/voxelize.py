"""Fast voxelisation of closed surfaces (VTK stencils) and bone-overlap checks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import trimesh
import vtk
from scipy import ndimage
from vtk.util import numpy_support


@dataclass(frozen=True)
class Grid:
    """An axis-aligned voxel grid in LPS mm (identity direction): voxel ``[i, j, k]`` centre is
    ``origin + (i, j, k) * spacing``."""

    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]
    shape: tuple[int, int, int]

    @classmethod
    def around(cls, lower: np.ndarray, upper: np.ndarray, spacing: float | tuple[float, float, float]) -> Grid:
        """Smallest grid with ``spacing`` covering the box ``[lower, upper]``."""
        sp = np.broadcast_to(np.asarray(spacing, dtype=float), (3,))
        shape = np.ceil((np.asarray(upper) - np.asarray(lower)) / sp).astype(int) + 1
        return cls(tuple(np.asarray(lower, float).tolist()), tuple(sp.tolist()), tuple(int(n) for n in shape))

    def axes(self) -> list[np.ndarray]:
        """Coordinates (mm) of the voxel centres along each axis."""
        return [self.origin[d] + self.spacing[d] * np.arange(self.shape[d]) for d in range(3)]


def _polydata(mesh: trimesh.Trimesh) -> vtk.vtkPolyData:
    points = vtk.vtkPoints()
    points.SetData(numpy_support.numpy_to_vtk(np.ascontiguousarray(mesh.vertices, dtype=np.float64), deep=True))
    faces = np.asarray(mesh.faces, dtype=np.int64)
    cells = vtk.vtkCellArray()
    offsets = np.arange(0, 3 * len(faces) + 1, 3, dtype=np.int64)
    cells.SetData(numpy_support.numpy_to_vtkIdTypeArray(offsets, deep=True),
                  numpy_support.numpy_to_vtkIdTypeArray(faces.ravel(), deep=True))
    poly = vtk.vtkPolyData()
    poly.SetPoints(points)
    poly.SetPolys(cells)
    return poly


def rasterize(mesh: trimesh.Trimesh, grid: Grid) -> np.ndarray:
    """Boolean ``[i, j, k]`` mask of the voxel centres of ``grid`` inside the closed ``mesh``.

    Only the mesh's bounding box is filled (VTK ``vtkPolyDataToImageStencil``, a scan-line
    parity fill), so the cost grows with the bone's size, not the grid's.
    """
    out = np.zeros(grid.shape, dtype=bool)
    sp = np.asarray(grid.spacing)
    lo = np.floor((mesh.bounds[0] - np.asarray(grid.origin)) / sp).astype(int) - 1
    hi = np.ceil((mesh.bounds[1] - np.asarray(grid.origin)) / sp).astype(int) + 1
    lo = np.clip(lo, 0, np.asarray(grid.shape) - 1)
    hi = np.clip(hi, 0, np.asarray(grid.shape) - 1)
    if np.any(hi < lo):
        return out
    sub_shape = hi - lo + 1
    sub_origin = np.asarray(grid.origin) + lo * sp

    stencil = vtk.vtkPolyDataToImageStencil()
    stencil.SetInputData(_polydata(mesh))
    stencil.SetOutputOrigin(*sub_origin.tolist())
    stencil.SetOutputSpacing(*sp.tolist())
    stencil.SetOutputWholeExtent(0, int(sub_shape[0]) - 1, 0, int(sub_shape[1]) - 1, 0, int(sub_shape[2]) - 1)
    stencil.SetTolerance(0.0)

    blank = vtk.vtkImageData()
    blank.SetOrigin(*sub_origin.tolist())
    blank.SetSpacing(*sp.tolist())
    blank.SetExtent(0, int(sub_shape[0]) - 1, 0, int(sub_shape[1]) - 1, 0, int(sub_shape[2]) - 1)
    blank.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
    blank.GetPointData().GetScalars().Fill(1)

    to_image = vtk.vtkImageStencil()
    to_image.SetInputData(blank)
    to_image.SetStencilConnection(stencil.GetOutputPort())
    to_image.ReverseStencilOff()
    to_image.SetBackgroundValue(0)
    to_image.Update()
    flat = numpy_support.vtk_to_numpy(to_image.GetOutput().GetPointData().GetScalars())
    # VTK images are x-fastest: reshape as (k, j, i) and transpose to [i, j, k].
    sub = flat.reshape(int(sub_shape[2]), int(sub_shape[1]), int(sub_shape[0])).transpose(2, 1, 0)
    out[lo[0]:hi[0] + 1, lo[1]:hi[1] + 1, lo[2]:hi[2] + 1] = sub.astype(bool)
    return out


def label_map(meshes: dict[str, trimesh.Trimesh], labels: dict[str, int], grid: Grid) -> np.ndarray:
    """uint8 label map of ``meshes`` on ``grid`` (later bones win where two overlap)."""
    out = np.zeros(grid.shape, dtype=np.uint8)
    for name, mesh in meshes.items():
        out[rasterize(mesh, grid)] = labels[name]
    return out


class BoneMasks:
    """Each bone voxelised on its own box of one shared lattice (so masks can be intersected
    without a full-size grid per bone)."""

    def __init__(self, meshes: dict[str, trimesh.Trimesh], spacing: float) -> None:
        self.meshes = meshes
        self.spacing = float(spacing)
        self.origin = np.min([m.bounds[0] for m in meshes.values()], axis=0) - 20.0 * spacing
        self.masks: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in meshes:
            self.update(name)

    def update(self, name: str) -> None:
        """Re-voxelise ``name`` (after it moved)."""
        mesh = self.meshes[name]
        lo = np.floor((mesh.bounds[0] - self.origin) / self.spacing).astype(int) - 1
        hi = np.ceil((mesh.bounds[1] - self.origin) / self.spacing).astype(int) + 1
        lo = np.maximum(lo, 0)
        grid = Grid(tuple((self.origin + lo * self.spacing).tolist()), (self.spacing,) * 3,
                    tuple(int(n) for n in hi - lo + 1))
        self.masks[name] = (lo, rasterize(mesh, grid))

    def overlap(self, a: str, b: str) -> np.ndarray | None:
        """Boolean intersection of two bones over their common box (None when disjoint)."""
        (la, ma), (lb, mb) = self.masks[a], self.masks[b]
        lo = np.maximum(la, lb)
        hi = np.minimum(la + ma.shape, lb + mb.shape)
        if np.any(hi <= lo):
            return None
        sa = tuple(slice(int(x - o), int(y - o)) for x, y, o in zip(lo, hi, la, strict=True))
        sb = tuple(slice(int(x - o), int(y - o)) for x, y, o in zip(lo, hi, lb, strict=True))
        both = ma[sa] & mb[sb]
        return both if both.any() else None

    def inside(self, name: str, points: np.ndarray) -> np.ndarray:
        """Which ``points`` fall in a voxel of bone ``name`` (nearest voxel centre)."""
        lo, mask = self.masks[name]
        idx = np.round((np.asarray(points) - self.origin) / self.spacing).astype(int) - lo
        ok = np.all((idx >= 0) & (idx < np.asarray(mask.shape)), axis=-1)
        out = np.zeros(idx.shape[:-1], dtype=bool)
        out[ok] = mask[tuple(idx[ok].T)]
        return out

    def exit_distance(self, name: str, points: np.ndarray, direction: np.ndarray, *, max_mm: float) -> float:
        """How far the deepest of ``points`` inside bone ``name`` must travel along ``direction``
        to leave it (0 when none is inside)."""
        pts = np.asarray(points)[self.inside(name, points)]
        if len(pts) == 0:
            return 0.0
        steps = np.arange(0.0, max_mm + self.spacing, self.spacing / 2.0)
        track = pts[:, None, :] + steps[None, :, None] * direction
        still = self.inside(name, track.reshape(-1, 3)).reshape(track.shape[:2])
        first_out = np.argmax(~still, axis=1)
        first_out[still.all(axis=1)] = len(steps) - 1
        return float(steps[first_out].max())

    def depth(self, a: str, b: str) -> float:
        """Overlap depth in voxels (0 = none, 1 = a one-voxel-thin sheet)."""
        both = self.overlap(a, b)
        if both is None:
            return 0.0
        return float(ndimage.distance_transform_edt(np.pad(both, 1)).max())


def overlap_depths(meshes: dict[str, trimesh.Trimesh], *, spacing: float = 0.5,
                   min_depth_voxels: float = 0.0, masks: BoneMasks | None = None) -> dict[tuple[str, str], float]:
    """Depth (in voxels of ``spacing``) of the overlap of each pair of touching bones.

    Every bone is voxelised on a shared lattice; the depth of the overlap of two bones is the
    largest distance from a voxel of their intersection to its edge (1 = a one-voxel-thin
    sheet). Pairs deeper than ``min_depth_voxels`` are returned.
    """
    masks = masks or BoneMasks(meshes, spacing)
    names = list(meshes)
    result: dict[tuple[str, str], float] = {}
    for a_i, a in enumerate(names):
        for b in names[a_i + 1:]:
            depth = masks.depth(a, b)
            if depth > min_depth_voxels:
                result[(a, b)] = depth
    return result
