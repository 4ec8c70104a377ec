"""Report pictures of one foot, drawn in its canonical frame (upright, foot pointing up the page).

All functions return PNG bytes. Views follow the usual conventions: axial = seen from above
(anterior up, patient right on the left), coronal = seen from the front, sagittal = seen from
the side (anterior on the left).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from footalign.anatomy import AXES, LANDMARK_NAMES, LANDMARKS
from footalign.image import Image, resample
from footalign.landmarks import FloorPlane

if TYPE_CHECKING:
    from footalign.pipeline.predict import FootResult, ScanResult

# Which slice shows a landmark best: margins and cross-sections in the axial plane, profiles
# of the hindfoot and arch in the sagittal plane.
SLICE_PLANE: dict[str, str] = {
    "TIB_PROX": "axial", "TIB_DIST": "axial", "TAL_DOME": "coronal", "TAL_HEAD": "sagittal",
    "TAL_HEAD_MED": "axial", "TAL_HEAD_LAT": "axial", "CALC_LOW": "sagittal", "CALC_TUB": "sagittal",
    "CALC_PFA": "sagittal", "CALC_ANT": "sagittal", "CALC_CC": "sagittal", "NAV_LOW": "sagittal",
    "NAV_MED": "axial", "NAV_LAT": "axial", "CUN1_LOW": "sagittal", "M1_BASE": "axial",
    "M1_HEAD": "axial", "M2_BASE": "axial", "M2_HEAD": "axial", "M5_HEAD": "axial",
    "P1_BASE": "axial", "P1_HEAD": "axial",
}
AXIS_COLOURS: dict[str, str] = {"tibial": "#e41a1c", "talar": "#377eb8", "calcaneal_hindfoot": "#ff7f00",
                                "calcaneal_inclination": "#984ea3", "m1": "#4daf4a", "m2": "#a65628",
                                "p1": "#f781bf"}
# plane -> (horizontal axis, vertical axis, slice axis); LPS axis indices of the canonical frame.
_PLANES: dict[str, tuple[int, int, int]] = {"axial": (0, 1, 2), "coronal": (0, 2, 1), "sagittal": (1, 2, 0)}
_AXIS_LABEL = {0: "x (patient right → left) mm", 1: "y (anterior → posterior) mm",
               2: "z (inferior → superior) mm"}


def display_window(image: Image) -> tuple[float, float]:
    """Grey window: from a little below soft tissue to the bright cortical bone."""
    sample = image.array[::3, ::3, ::3]
    body = sample[sample > -500]
    if body.size < 100:
        return -500.0, 1500.0
    soft = float(np.median(body))
    return soft - 250.0, max(float(np.percentile(body, 99.7)), soft + 500.0)


def _png(fig: plt.Figure, dpi: int, *, tight: bool = True) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight" if tight else None, facecolor="white")
    plt.close(fig)
    return buf.getvalue()


def _axis_coords(image: Image, d: int) -> np.ndarray:
    return image.origin[d] + image.spacing[d] * np.arange(image.shape[d])


def _show(ax: plt.Axes, plane: str, img2d: np.ndarray, image: Image, window: tuple[float, float]) -> None:
    """Draw a 2D array indexed [horizontal, vertical] of ``plane`` in physical mm."""
    h, v, _ = _PLANES[plane]
    hc, vc = _axis_coords(image, h), _axis_coords(image, v)
    ax.imshow(img2d.T, origin="lower", cmap="gray", vmin=window[0], vmax=window[1],
              extent=(hc[0], hc[-1], vc[0], vc[-1]), interpolation="nearest")
    if plane == "axial":
        ax.invert_yaxis()  # anterior (-y) at the top
    ax.set_aspect("equal")


def slice_panel(crop: Image, point: np.ndarray, plane: str, *, window_mm: float, pixels: int) -> np.ndarray:
    """HU of a ``window_mm`` square of the ``plane`` slice through ``point``, ``pixels`` per side.

    Rows run down the page: anterior at the top for axial panels, superior for the others.
    Trilinear samples of the crop (``model.sampling.sample_points``); air outside it.
    """
    from footalign.model.sampling import sample_points

    h, v, s = _PLANES[plane]
    offsets = np.linspace(-window_mm / 2, window_mm / 2, pixels)
    rows = offsets if plane == "axial" else offsets[::-1]  # axial: -y (anterior) at the top
    grid = np.zeros((pixels, pixels, 3))
    grid[..., h] = point[h] + offsets[None, :]
    grid[..., v] = point[v] + rows[:, None]
    grid[..., s] = point[s]
    return sample_points(crop, grid.reshape(-1, 3), background_hu=-1000.0).reshape(pixels, pixels)


def landmark_slices_png(crop: Image, points: np.ndarray, status: list[str], *, window_mm: float = 60.0,
                        dpi: int = 70, pixels: int = 120) -> bytes:
    """One small slice per landmark through its position (canonical crop, points in that frame).

    The 22 panels are composed into one mosaic and drawn on a single axes (22 matplotlib axes
    cost seconds); each landmark sits at the centre of its panel.
    """
    lo, hi = display_window(crop)
    n_cols, gap, title = 6, 4, 16  # pixels between panels and above each for its title
    n_rows = int(np.ceil(len(LANDMARK_NAMES) / n_cols))
    cell_w, cell_h = pixels + gap, pixels + gap + title
    mosaic = np.ones((n_rows * cell_h, n_cols * cell_w))
    fig = plt.figure(figsize=(mosaic.shape[1] / 60.0, mosaic.shape[0] / 60.0))
    ax = fig.add_axes((0, 0, 1, 1))
    texts = []
    for i, name in enumerate(LANDMARK_NAMES):
        r, c = divmod(i, n_cols)
        y0, x0 = r * cell_h + title, c * cell_w + gap // 2
        centre = (x0 + (pixels - 1) / 2, y0 + (pixels - 1) / 2)
        texts.append((x0, y0 - 3, f"{i + 1} {name}", "black", 7, "bottom"))
        p = points[i]
        if not np.all(np.isfinite(p)) or not crop.contains(p):
            mosaic[y0 : y0 + pixels, x0 : x0 + pixels] = 0.93
            texts.append((centre[0] - 30, centre[1], status[i].replace("_", " "), "firebrick", 8, "center"))
            continue
        plane = SLICE_PLANE[name]
        panel = slice_panel(crop, p, plane, window_mm=window_mm, pixels=pixels)
        mosaic[y0 : y0 + pixels, x0 : x0 + pixels] = np.clip((panel - lo) / (hi - lo), 0.0, 1.0)
        colour = "#00e5ff" if status[i] == "ok" else "#ffb000"
        ax.plot(*centre, "+", color=colour, ms=12, mew=1.6)
        ax.plot(*centre, "o", mfc="none", mec=colour, ms=9, mew=0.9)
        texts.append((x0 + 2, y0 + pixels - 3, plane, "yellow", 6, "bottom"))
    ax.imshow(mosaic, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    for x, y, text, colour, size, valign in texts:
        ax.text(x, y, text, color=colour, fontsize=size, va=valign)
    ax.set_xlim(-0.5, mosaic.shape[1] - 0.5)
    ax.set_ylim(mosaic.shape[0] - 0.5, -0.5)
    ax.axis("off")
    return _png(fig, dpi, tight=False)


def _floor_line(floor: FloorPlane | None, plane: str, image: Image) -> tuple[np.ndarray, np.ndarray] | None:
    """The floor's trace in a sagittal/coronal view: vertical (z) as a function of the horizontal."""
    if floor is None or plane == "axial":
        return None
    h, _, s = _PLANES[plane]
    n = floor.normal
    if abs(n[2]) < 1e-6:
        return None
    hc = _axis_coords(image, h)[[0, -1]]
    mid_s = float(image.center()[s])
    z = []
    for hv in hc:
        q = np.zeros(3)
        q[h], q[s] = hv, mid_s
        # solve n·(q - p0) = 0 for q_z
        z.append(floor.point[2] - (n[h] * (hv - floor.point[h]) + n[s] * (mid_s - floor.point[s])) / n[2])
    return hc, np.asarray(z)


def mip_views_png(crop: Image, points: np.ndarray, *, floor: FloorPlane | None = None, dpi: int = 80) -> bytes:
    """Axial, coronal and sagittal maximum-intensity projections with points and axes drawn."""
    window = display_window(crop)
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.8))
    for ax, plane in zip(axes, ("axial", "coronal", "sagittal"), strict=True):
        h, v, s = _PLANES[plane]
        _show(ax, plane, crop.array.max(axis=s), crop, (window[0] + 300.0, window[1]))
        for axis_name, (a, b) in AXES.items():
            pa, pb = points[LANDMARK_NAMES.index(a)], points[LANDMARK_NAMES.index(b)]
            if np.all(np.isfinite(pa)) and np.all(np.isfinite(pb)):
                ax.plot([pa[h], pb[h]], [pa[v], pb[v]], "-", color=AXIS_COLOURS[axis_name], lw=1.6,
                        label=axis_name)
        finite = np.all(np.isfinite(points), axis=1)
        ax.scatter(points[finite, h], points[finite, v], s=14, c="#00e5ff", edgecolors="black",
                   linewidths=0.4, zorder=3)
        for i in np.flatnonzero(finite):
            ax.annotate(str(i + 1), (points[i, h], points[i, v]), fontsize=6, color="yellow",
                        xytext=(2, 2), textcoords="offset points")
        line = _floor_line(floor, plane, crop)
        if line is not None:
            ax.plot(line[0], line[1], "--", color="#00ff66", lw=1.0, label="floor")
        ax.set_title(f"{plane} MIP", fontsize=9)
        ax.set_xlabel(_AXIS_LABEL[h], fontsize=7)
        ax.set_ylabel(_AXIS_LABEL[v], fontsize=7)
        ax.tick_params(labelsize=6)
    handles, labels = axes[2].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=7, frameon=False)
    # A fixed layout: tight_layout/bbox_inches="tight" would draw the figure twice more.
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.16, top=0.94, wspace=0.25)
    return _png(fig, dpi, tight=False)


def bone_surface(crop: Image, *, threshold: float, spacing: float = 3.0,
                 max_faces: int = 8000) -> tuple[np.ndarray, np.ndarray]:
    """Coarse bone surface (vertices in mm of the canonical frame, triangle indices) by VTK flying edges."""
    # The specific VTK modules only: ``import vtk`` loads every module and takes seconds.
    import SimpleITK as sitk
    from vtkmodules.util import numpy_support
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D, vtkQuadricDecimation, vtkTriangleFilter

    shape = tuple(max(2, int(np.ceil(e / spacing))) for e in crop.extent_mm)
    # Smooth before downsampling so the coarse surface is an average, not aliased noise.
    smooth = sitk.SmoothingRecursiveGaussian(sitk.Cast(crop.to_sitk(), sitk.sitkFloat32), spacing / 2.5)
    coarse = resample(Image.from_sitk(smooth), spacing=(spacing,) * 3, shape=shape, origin=crop.origin,
                      default_value=-1000.0)
    data = vtkImageData()
    data.SetDimensions(*coarse.shape)
    data.SetSpacing(*coarse.spacing)
    data.SetOrigin(*coarse.origin)
    flat = np.ascontiguousarray(coarse.array.transpose(2, 1, 0)).ravel()  # VTK is x-fastest
    data.GetPointData().SetScalars(numpy_support.numpy_to_vtk(flat.astype(np.float32), deep=True))
    surf = vtkFlyingEdges3D()
    surf.SetInputData(data)
    surf.SetValue(0, float(threshold))
    surf.ComputeNormalsOff()
    surf.Update()
    poly = surf.GetOutput()
    if poly.GetNumberOfPolys() > max_faces:
        tri = vtkTriangleFilter()
        tri.SetInputData(poly)
        dec = vtkQuadricDecimation()
        dec.SetInputConnection(tri.GetOutputPort())
        dec.SetTargetReduction(1.0 - max_faces / poly.GetNumberOfPolys())
        dec.Update()
        poly = dec.GetOutput()
    if poly.GetNumberOfPoints() == 0:
        return np.empty((0, 3)), np.empty((0, 3), int)
    verts = numpy_support.vtk_to_numpy(poly.GetPoints().GetData()).astype(float)
    faces = numpy_support.vtk_to_numpy(poly.GetPolys().GetData()).reshape(-1, 4)[:, 1:]
    return verts, faces


def surface_3d_png(crop: Image, points: np.ndarray, *, threshold: float, dpi: int = 80) -> bytes:
    """3D view of the coarse bone surface with the landmarks (numbers as in the tables)."""
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    verts, faces = bone_surface(crop, threshold=threshold)
    fig = plt.figure(figsize=(6.0, 5.0))
    ax = fig.add_subplot(111, projection="3d")
    if len(faces):
        tris = verts[faces]
        normals = np.cross(tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0])
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)
        shade = 0.35 + 0.65 * np.abs(normals @ np.array([0.3, -0.5, 0.8]) / np.linalg.norm([0.3, -0.5, 0.8]))
        colours = np.clip(np.outer(shade, [0.93, 0.88, 0.78]), 0, 1)
        ax.add_collection3d(Poly3DCollection(tris, facecolors=colours, edgecolors="none", alpha=0.55))
    finite = np.all(np.isfinite(points), axis=1)
    ax.scatter(points[finite, 0], points[finite, 1], points[finite, 2], s=18, c="#d7191c", depthshade=False)
    for i in np.flatnonzero(finite):
        ax.text(points[i, 0], points[i, 1], points[i, 2], f" {i + 1}", fontsize=6)
    lo = crop.origin
    hi = np.asarray(crop.origin) + crop.extent_mm
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(hi[1], lo[1])  # anterior towards the viewer's right-back
    ax.set_zlim(lo[2], hi[2])
    ax.set_box_aspect(tuple(crop.extent_mm))
    ax.view_init(elev=18, azim=-35)
    ax.set_xlabel("x (L) mm", fontsize=7)
    ax.set_ylabel("y (P) mm", fontsize=7)
    ax.set_zlabel("z (S) mm", fontsize=7)
    ax.tick_params(labelsize=5)
    fig.subplots_adjust(left=0.0, right=0.95, bottom=0.03, top=0.99)
    return _png(fig, dpi, tight=False)


def landmark_legend() -> list[tuple[int, str, str]]:
    """(number, name, bone) of every landmark, as numbered in the figures."""
    return [(s.index + 1, s.name, s.bone) for s in LANDMARKS]


def foot_figures(result: ScanResult, foot: FootResult) -> dict[str, bytes]:
    """The report's three pictures of one foot ("mips", "slices", "3d"), drawn in its canonical frame."""
    canonical = foot.pose.to_canonical(foot.landmarks.points)
    floor = None
    if result.floor is not None:
        floor = FloorPlane(foot.pose.to_canonical(result.floor.point[None])[0],
                           result.floor.normal @ foot.pose.rotation, "platform")
    return {"mips": mip_views_png(foot.crop, canonical, floor=floor),
            "slices": landmark_slices_png(foot.crop, canonical, list(foot.landmarks.status or [])),
            "3d": surface_3d_png(foot.crop, canonical, threshold=result.analysis.bone_threshold_hu)}
