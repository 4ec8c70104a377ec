"""From a CT volume to landmarks and measurements for every foot in it.

``predict_scan`` chains the steps, each in its own module: content checks → coarse LPS
analysis → feet and sides → platform → per-foot canonical pose and crop → model → back to the
scan frame → field-of-view status → measurements → QC.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
from scipy import ndimage

from footalign.anatomy import LANDMARK_INDEX, LANDMARK_NAMES, TIBIA_SECTION_LOWEST_MM
from footalign.errors import InputError
from footalign.geometry.measurements import Measurements, measure_foot
from footalign.geometry.shape_model import ShapeModel
from footalign.image import Image
from footalign.landmarks import FloorPlane, FootLandmarks
from footalign.pipeline.analysis import ScanAnalysis, analyse_scan, remove_slabs
from footalign.pipeline.calcaneus_low import LowestPoint, lowest_bone_point
from footalign.pipeline.checks import check_scan_content
from footalign.pipeline.feet import FootRegion, detect_feet
from footalign.pipeline.floor import detect_platform
from footalign.pipeline.orientation import Pose, crop_canonical, estimate_pose, looks_upside_down
from footalign.pipeline.qc import QCWarning, confidence_warnings, implausible_distances, side_consistency
from footalign.pipeline.shape_check import check_against_shape
from footalign.pipeline.tibia_sections import SECTION_HEIGHTS_MM, TibiaSections, measure_tibia_sections

FOV_EDGE_MM = 2.0  # a predicted point this close to the FOV boundary may sit on cut-off bone
# Centres of heads and bases: the structure extends about this far around the point, so a
# field-of-view edge closer than that cuts the very bone the centre is fitted to.
CENTRE_RADIUS_MM: dict[str, float] = {"TAL_HEAD": 12.0, "M1_BASE": 8.0, "M1_HEAD": 9.0, "M2_BASE": 6.0,
                                      "M2_HEAD": 7.0, "M5_HEAD": 7.0, "P1_BASE": 8.0, "P1_HEAD": 7.0}


class LandmarkPredictor(Protocol):
    """What the pipeline needs from a model (``footalign.model.predictor.Predictor``)."""

    def predict_foot(self, image: Image, side: str, *, progress: bool = False) -> FootLandmarks: ...


@dataclass
class FootResult:
    """Everything found for one foot (all points in the scan's LPS frame)."""

    landmarks: FootLandmarks
    measurements: Measurements
    pose: Pose
    crop: Image
    region: FootRegion
    qc: list[QCWarning] = field(default_factory=list)

    @property
    def side(self) -> str:
        return self.landmarks.side


@dataclass
class ScanResult:
    """The result of :func:`predict_scan` for one scan."""

    image: Image
    analysis: ScanAnalysis
    feet: list[FootResult]
    floor: FloorPlane | None
    timings: dict[str, float]
    qc: list[QCWarning] = field(default_factory=list)
    model_info: dict[str, Any] = field(default_factory=dict)


def fov_distance_map(analysis: ScanAnalysis) -> np.ndarray:
    """Distance (mm) of every analysis voxel to the nearest voxel outside the field of view."""
    padded = np.pad(analysis.valid, 1, constant_values=False)
    dist = ndimage.distance_transform_edt(padded, sampling=analysis.spacing)
    return dist[1:-1, 1:-1, 1:-1]


def fov_depth(points: np.ndarray, image: Image, analysis: ScanAnalysis, distance: np.ndarray) -> np.ndarray:
    """Depth (mm) of each LPS point inside the reconstructed field of view (``distance`` is
    :func:`fov_distance_map`); 0 for points outside it or the volume, and for NaN points."""
    points = np.asarray(points, dtype=float)
    finite = np.all(np.isfinite(points), axis=1)
    inside_volume = image.contains(np.nan_to_num(points, nan=1e9))
    idx = np.rint(analysis.image.physical_to_index(np.nan_to_num(points, nan=-1e9))).astype(int)
    in_grid = np.all((idx >= 0) & (idx <= np.asarray(analysis.valid.shape) - 1), axis=1)
    ok = finite & inside_volume & in_grid
    depth = np.zeros(len(points))
    depth[ok] = distance[tuple(idx[ok].T)]
    return depth


def fov_status(points: np.ndarray, image: Image, analysis: ScanAnalysis,
               distance: np.ndarray) -> list[str]:
    """Per landmark: ``"outside_fov"`` (outside the volume or its reconstructed field of view),
    ``"fov_edge"`` (within :data:`FOV_EDGE_MM` of it, or within the radius of the head/base whose
    centre it is), else ``"ok"``; NaN points → ``"outside_fov"``."""
    status = []
    for name, d in zip(LANDMARK_NAMES, fov_depth(points, image, analysis, distance), strict=True):
        # The coarse map is quantised: half a voxel of slack before calling a point outside.
        edge = max(FOV_EDGE_MM, CENTRE_RADIUS_MM.get(name, 0.0)) + 0.5 * analysis.spacing
        status.append("outside_fov" if d <= 0.0 else "fov_edge" if d <= edge else "ok")
    return status


def truncation_warnings(analysis: ScanAnalysis, bone: np.ndarray, pose: Pose,
                        distance: np.ndarray) -> list[QCWarning]:
    """Where this foot's bone runs into the edge of the field of view (anterior, proximal, ...).

    ``distance`` is :func:`fov_distance_map`; bone within two voxels of the edge counts.
    """
    touching = bone & (distance <= 2.0 * analysis.spacing)
    if touching.sum() < 5:
        return []
    pts = pose.to_canonical(analysis.points(touching))
    centre = pose.to_canonical(analysis.points(bone)).mean(axis=0)
    names = {(1, -1): "anterior (forefoot)", (1, 1): "posterior (heel)", (2, 1): "proximal (leg)",
             (2, -1): "plantar", (0, 1): "patient-left side", (0, -1): "patient-right side"}
    found = set()
    for p in pts - centre:
        axis = int(np.argmax(np.abs(p)))
        found.add(names[(axis, int(np.sign(p[axis]) or 1))])
    # The leg is always cut somewhere; say so as information, the rest as a warning.
    out = []
    for where in sorted(found):
        severity = "info" if where == "proximal (leg)" else "warning"
        out.append(QCWarning("truncated_fov", severity, f"bone runs into the edge of the field of view: "
                             f"{where}"))
    return out


OFF_BONE_MM = 6.0


def off_bone_warnings(foot: FootLandmarks, analysis: ScanAnalysis, bone: np.ndarray,
                      region_points: np.ndarray | None = None) -> list[QCWarning]:
    """Landmarks farther than :data:`OFF_BONE_MM` from this foot's bone: all 22 lie on or in bone.

    "Bone" here is generous: voxels in this foot's bounding box (its bone mask + 25 mm, and the
    box of ``region_points``, the foot's region from :func:`foot_region_points`) denser
    than half-way between soft tissue and the bone threshold (low-contrast cancellous bone),
    flat platform-like slabs removed, with holes filled slice by slice (a tibia cut by the field
    of view is an open tube). It does not have to touch the bone mask: in a low-density scan
    the whole calcaneus can stay under the bone threshold (a simulated scan read CALC_LOW,
    correct to 0.5 mm, as "76 mm from bone" when only voxels within 20 mm of the mask counted).
    The check is meant to catch gross errors, not millimetres.
    """
    # Work in the foot's bounding box (+ 25 mm): the rest of the scan cannot change the answer.
    pad = round(25.0 / analysis.spacing)
    idx = np.argwhere(bone)
    lo, hi = idx.min(axis=0) - pad, idx.max(axis=0) + pad + 1
    if region_points is not None and len(region_points):
        # The skin envelope bounds bones too faint for the mask (a low-density heel).
        corners = np.rint(analysis.image.physical_to_index(region_points)).astype(int)
        lo, hi = np.minimum(lo, corners.min(axis=0)), np.maximum(hi, corners.max(axis=0) + 1)
    lo, hi = np.maximum(lo, 0), np.minimum(hi, bone.shape)
    box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    sub_bone, values = bone[box], analysis.image.array[box]
    level = 0.5 * (analysis.soft_tissue_hu + analysis.bone_threshold_hu)
    faint = remove_slabs((values > level) & analysis.valid[box], spacing=analysis.spacing)
    closed = ndimage.binary_closing(sub_bone | faint, iterations=1)
    solid = closed.copy()
    for axis in range(3):
        plane = np.zeros((3, 3, 3), bool)
        index = [slice(None)] * 3
        index[axis] = 1
        plane[tuple(index)] = ndimage.generate_binary_structure(2, 1)
        solid |= ndimage.binary_fill_holes(closed, structure=plane)
    distance = ndimage.distance_transform_edt(~solid, sampling=analysis.spacing)
    far = []
    for name, p in zip(LANDMARK_NAMES, foot.points, strict=True):
        if not np.all(np.isfinite(p)):
            continue
        i = np.rint(analysis.image.physical_to_index(p)).astype(int) - lo
        if np.any(i < 0) or np.any(i >= distance.shape):
            far.append(f"{name} (> 25 mm)")
        elif distance[tuple(i)] > OFF_BONE_MM:
            far.append(f"{name} ({distance[tuple(i)]:.0f} mm)")
    if not far:
        return []
    return [QCWarning("off_bone", "warning", "landmark(s) away from any bone, check them: " + ", ".join(far))]


def foot_region_points(analysis: ScanAnalysis, bone: np.ndarray, *, floor: FloorPlane | None,
                       x_limits: tuple[float, float] = (-np.inf, np.inf)) -> np.ndarray:
    """LPS points whose bounding box is this foot's region: its bone and its skin envelope.

    The soft-tissue envelope bounds every bone even when some bones are too faint for the bone
    mask (low-contrast scans). Only tissue above the floor (or at most 25 mm below the lowest
    bone) and within ``x_limits`` (the other foot's side excluded) counts.
    """
    pts = analysis.points(bone)
    body = analysis.points(analysis.body)
    keep = (body[:, 0] >= x_limits[0]) & (body[:, 0] <= x_limits[1])
    if floor is not None:
        keep &= floor.height(body) > 2.0  # the platform is not the foot
    else:
        keep &= body[:, 2] >= pts[:, 2].min() - 25.0
    return np.vstack([pts, body[keep]])


def _mean_confidence(foot: FootLandmarks) -> float:
    conf = np.asarray(foot.confidence, dtype=float)
    return float(np.nanmean(conf)) if np.isfinite(conf).any() else 0.0


def _side_by_confidence(predictor: LandmarkPredictor, crop: Image, region: FootRegion,
                        first: FootLandmarks) -> FootLandmarks:
    """Neither anatomy nor header tell the side: keep the side the model is surer about.

    The model sees left feet mirrored; given the wrong side it sees a mirror-image foot, which
    it has never been trained on, and its heatmaps spread out.
    """
    other = "left" if region.side == "right" else "right"
    second = predictor.predict_foot(crop, other)
    c_first, c_second = _mean_confidence(first), _mean_confidence(second)
    chosen, result = (region.side, first) if c_first >= c_second else (other, second)
    region.side, region.side_source = chosen, "model"
    rejected = "left" if chosen == "right" else "right"
    region.notes = [f"side not visible in the anatomy or header: {chosen}, by model confidence "
                    f"({max(c_first, c_second):.2f} vs {min(c_first, c_second):.2f} for {rejected}); "
                    "use --side to set it"]
    return result


def _floor_note(floor: FloorPlane | None, measurements: Measurements) -> QCWarning:
    if floor is not None:
        tilt = float(np.degrees(np.arccos(min(1.0, abs(floor.normal[2])))))
        return QCWarning("floor", "info", f"floor: weight-bearing platform detected in the image "
                         f"(tilt {tilt:.1f}° from the scanner axial plane)")
    source = measurements.floor_source or "none"
    text = {"tripod": "no platform visible: floor = tripod plane CALC_LOW, M1_HEAD, M5_HEAD "
                      "(tilted a few degrees against a real platform)",
            "image_axis": "no platform and incomplete tripod: floor = scanner axial plane through "
                          "CALC_LOW (heights and sagittal angles less reliable)"}.get(
        source, f"no floor could be placed ({source}): floor-based measurements missing")
    return QCWarning("floor", "info" if source == "tripod" else "warning", text)


@dataclass
class ScanLayout:
    """What the image alone tells: the coarse analysis, the feet, the platform, orientation notes."""

    analysis: ScanAnalysis
    regions: list[FootRegion]
    floor: FloorPlane | None
    upside_down: bool
    qc: list[QCWarning]
    timings: dict[str, float]


def turned_upside_down(analysis: ScanAnalysis) -> ScanAnalysis:
    """The analysis grid turned 180° about its x axis (y and z reversed), same grid geometry."""
    def turn(a: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(a[:, ::-1, ::-1])

    return replace(analysis, image=analysis.image.with_array(turn(analysis.image.array)),
                   valid=turn(analysis.valid), body=turn(analysis.body), bone=turn(analysis.bone))


def locate_feet(image: Image, *, source: str = "scan", side: str | None = None,
                analysis_spacing: float = 2.0) -> ScanLayout:
    """Check the content, find the feet (with sides) and the platform; no model needed.

    Raises ``InputError`` for unusable content or a volume without a foot, so bad input fails
    before the model is loaded.
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    check_scan_content(image, source=source)
    analysis = analyse_scan(image, spacing=analysis_spacing)
    timings["analysis"] = round(time.perf_counter() - t, 4)
    t = time.perf_counter()
    regions = detect_feet(image, analysis, source=source, meta=image.meta, side=side)
    all_bone = np.logical_or.reduce([r.bone for r in regions])
    qc: list[QCWarning] = []
    timings["feet"] = round(time.perf_counter() - t, 4)
    t = time.perf_counter()
    floor = detect_platform(analysis, all_bone)
    upside_down = False
    if floor is None:
        # No platform under the feet: is there one above them (a volume stored upside down)?
        # Without any platform only a very top-heavy bone distribution counts: a small field of
        # view can make an upright foot look top-heavy.
        if detect_platform(turned_upside_down(analysis), all_bone[:, ::-1, ::-1]) is not None:
            upside_down, why = True, "the platform lies above the feet"
        elif looks_upside_down(all_bone, ratio=4.0):
            upside_down, why = True, "the bone is much wider at the top than at the bottom"
        if upside_down:
            qc.append(QCWarning("orientation", "warning", f"the scan looks stored upside down ({why}): "
                                "treated as superior = scanner -z"))
    timings["floor"] = round(time.perf_counter() - t, 4)
    return ScanLayout(analysis, regions, floor, upside_down, qc, timings)


def _measure_tibia(points: np.ndarray, image: Image, analysis: ScanAnalysis, distance: np.ndarray,
                   up: np.ndarray) -> tuple[np.ndarray, TibiaSections]:
    """TIB_DIST / TIB_PROX re-measured as tibial section centroids (``tibia_sections``), where
    the sections can be measured; NaN (not in the scan) where the field of view ends below the
    section's lowest allowed height; elsewhere the network's points stay."""
    sections = measure_tibia_sections(
        image, points[LANDMARK_INDEX["TAL_DOME"]], {name: points[LANDMARK_INDEX[name]] for name in SECTION_HEIGHTS_MM},
        threshold_hu=analysis.bone_threshold_hu,
        inside=lambda p: fov_depth(p, image, analysis, distance) > 0.0,
        up=up)
    points = points.copy()
    for name, p in sections.points.items():
        if np.all(np.isfinite(p)):
            points[LANDMARK_INDEX[name]] = p
        elif name in sections.out_of_view:
            points[LANDMARK_INDEX[name]] = np.nan
    return points, sections


def _measure_calc_low(points: np.ndarray, image: Image, analysis: ScanAnalysis, distance: np.ndarray,
                      up: np.ndarray) -> tuple[np.ndarray, LowestPoint | None]:
    """CALC_LOW re-measured as the lowest point of the heel bone near the network's point
    (``calcaneus_low``); the network's point stays where it cannot be measured."""
    start = points[LANDMARK_INDEX["CALC_LOW"]]
    if not np.all(np.isfinite(start)):
        return points, None
    found = lowest_bone_point(image, start, up, threshold_hu=analysis.bone_threshold_hu,
                              soft_tissue_hu=analysis.soft_tissue_hu,
                              inside=lambda p: fov_depth(p, image, analysis, distance) > 0.0)
    points = points.copy()
    if found.point is not None:
        points[LANDMARK_INDEX["CALC_LOW"]] = found.point
    return points, found


def _tibia_notes(sections: TibiaSections | None) -> list[QCWarning]:
    if sections is None:
        return []
    out = [QCWarning("tibia_sections", "warning",
                     f"{name} not marked: the field of view ends below its section (at the lowest "
                     f"{TIBIA_SECTION_LOWEST_MM[name]:.0f} mm above the plafond)") for name in sections.out_of_view]
    return out + [QCWarning("tibia_sections", "info", note + "; the model's point is kept") for note in sections.notes]


def predict_scan(
    image: Image,
    predictor: LandmarkPredictor,
    *,
    source: str = "scan",
    side: str | None = None,
    crop_spacing: float | None = None,
    analysis_spacing: float = 2.0,
    layout: ScanLayout | None = None,
    align_long_axis: bool = False,
    shape_model: ShapeModel | str | None = "model",
    measure_in_image: bool = True,
    progress: Callable[[str], None] | None = None,
) -> ScanResult:
    """Find every foot in ``image`` and predict its landmarks and measurements.

    Parameters
    ----------
    image : the CT volume (HU, LPS), as read by ``footalign.io.images.read_image``.
    predictor : the landmark model (``Predictor``) or anything with its ``predict_foot``.
    source : the input's name for error messages.
    side : force the side of a single-foot scan.
    crop_spacing : voxel size (mm) of the per-foot crop given to the model; default: the scan's
        finest spacing, clipped to [0.6, 2.0] mm (the model resamples to its own grids).
    analysis_spacing : voxel size (mm) of the coarse grid used to find feet, sides and floor.
    layout : the result of :func:`locate_feet` if already computed.
    align_long_axis : also turn each foot turned > 30° about the vertical back to -y for the
        model. Off by default: the bone's principal axis is a rough estimate of the long axis,
        and on simulated scans turning made the model worse (docs/report.md).
    shape_model : the landmark shape prior that recognises landmarks cut off by the field of
        view and implausible positions (``pipeline.shape_check``); ``"model"`` = the predictor's
        own (its ``shape_model`` attribute, from the model bundle), ``None`` = no such check.
    measure_in_image : re-measure, starting from the model's points, the landmarks whose
        definition the image shows better than a heatmap: TIB_DIST and TIB_PROX as tibial
        section centroids (``pipeline.tibia_sections``), CALC_LOW as the lowest point of the
        heel bone along the floor normal (``pipeline.calcaneus_low``).
    progress : called with a short line at each step (for the CLI).

    Returns
    -------
    ScanResult
        Landmarks in the scan's LPS frame; timings per step in seconds.

    Raises
    ------
    InputError
        Unusable content (NaN, constant, absurd spacing) or no foot in the volume.
    """
    say = progress or (lambda _msg: None)
    if isinstance(shape_model, str):
        shape_model = getattr(predictor, "shape_model", None)
    if layout is None:
        layout = locate_feet(image, source=source, side=side, analysis_spacing=analysis_spacing)
    analysis, regions, floor = layout.analysis, layout.regions, layout.floor
    timings = dict(layout.timings)
    say(f"found {len(regions)} foot/feet: " + ", ".join(f"{r.side} ({r.side_source})" for r in regions))
    say("platform detected" if floor is not None else "no platform visible: tripod floor")
    t = time.perf_counter()
    if crop_spacing is None:
        # The scan's own resolution: finer adds no information, coarser would lose some.
        crop_spacing = float(np.clip(min(image.spacing), 0.6, 2.0))
    distance = fov_distance_map(analysis)
    timings["fov"] = round(time.perf_counter() - t, 4)
    feet: list[FootResult] = []
    timings["model"] = 0.0
    # Each foot's region stops half-way to the other foot.
    centres = {id(r): float(analysis.points(r.bone)[:, 0].mean()) for r in regions}
    x_limits: dict[int, tuple[float, float]] = {}
    for r in regions:
        others = [c for k, c in centres.items() if k != id(r)]
        lo = max([0.5 * (c + centres[id(r)]) for c in others if c < centres[id(r)]], default=-np.inf)
        hi = min([0.5 * (c + centres[id(r)]) for c in others if c > centres[id(r)]], default=np.inf)
        x_limits[id(r)] = (lo, hi)
    for region in regions:
        t_foot = time.perf_counter()
        pose = estimate_pose(analysis, region.bone, floor=floor, upside_down=layout.upside_down,
                             align_long_axis=align_long_axis)
        region_points = foot_region_points(analysis, region.bone, floor=floor, x_limits=x_limits[id(region)])
        crop = crop_canonical(image, pose, region_points, spacing=crop_spacing, margin_mm=10.0)
        timings["crop"] = round(timings.get("crop", 0.0) + time.perf_counter() - t_foot, 4)
        t_model = time.perf_counter()
        say(f"predicting the {region.side} foot ({crop.shape[0]}x{crop.shape[1]}x{crop.shape[2]} voxels)")
        predicted = predictor.predict_foot(crop, region.side)
        if region.side_source == "default":
            predicted = _side_by_confidence(predictor, crop, region, predicted)
        timings["model"] = round(timings["model"] + time.perf_counter() - t_model, 4)
        t_measure = time.perf_counter()
        canonical = np.asarray(predicted.points, dtype=float)
        network_points = pose.to_scan(canonical)
        points = network_points.copy()  # the network's own stay for meta["calc_low"]
        sections, lowest = None, None
        if measure_in_image:
            # The foot's up (floor normal or scanner axis): the canonical z axis in the scan.
            up = pose.rotation[:, 2]
            points, sections = _measure_tibia(points, image, analysis, distance, up)
            # CALC_LOW is lowest along the floor normal, which the measurements use too.
            points, lowest = _measure_calc_low(points, image, analysis, distance,
                                               floor.normal if floor is not None else up)
        fov = fov_status(points, image, analysis, distance)
        model_status = list(predicted.status or ["ok"] * len(LANDMARK_NAMES))
        status = []
        for i, (m, f) in enumerate(zip(model_status, fov, strict=True)):
            if m == "outside_fov" or f == "outside_fov":
                status.append("outside_fov")
                points[i] = np.nan
            elif f == "fov_edge":
                status.append("fov_edge")
            else:
                status.append(m)
        shape_qc: list[QCWarning] = []
        if shape_model is not None:
            points, status, shape_qc, _ = check_against_shape(
                shape_model, points, status, region.side,
                fov_of=lambda p: fov_status(p, image, analysis, distance))
        meta = dict(predicted.meta)
        meta.update({"side_source": region.side_source, "pose": pose.as_dict(),
                     "crop_spacing_mm": crop_spacing})
        if sections is not None:
            # The network's own points are kept, so a reader (or the benchmark) can compare.
            meta["tibia_sections"] = {"plafond_above_dome_mm": sections.plafond_mm,
                                      "heights_above_plafond_mm": sections.heights_mm, "notes": sections.notes,
                                      "network_points_mm": {name: np.round(p, 3).tolist()
                                                            for name, p in sections.start.items()}}
        if lowest is not None:
            meta["calc_low"] = {"plateau_columns": lowest.plateau_columns, "note": lowest.reason,
                                "network_point_mm": np.round(network_points[LANDMARK_INDEX["CALC_LOW"]], 3).tolist()}
        foot = FootLandmarks(region.side, points, predicted.confidence, floor, status, meta)
        measurements = measure_foot(foot, floor)
        qc = [QCWarning("side", "info" if region.side_source in ("position", "fibula", "user", "laterality")
                        else "warning",
                        note) for note in region.notes]
        qc += confidence_warnings(foot)
        qc += _tibia_notes(sections)
        if lowest is not None and lowest.point is None:
            qc.append(QCWarning("calc_low", "info", f"CALC_LOW not measured in the image ({lowest.reason}); "
                                                    "the model's point is kept"))
        qc += shape_qc
        qc += implausible_distances(foot)
        qc += off_bone_warnings(foot, analysis, region.bone, region_points)
        qc += side_consistency(foot, np.where(np.isfinite(points), canonical, np.nan))
        qc += truncation_warnings(analysis, region.bone, pose, distance)
        qc.append(_floor_note(floor, measurements))
        feet.append(FootResult(foot, measurements, pose, crop, region, qc))
        timings["measure_qc"] = round(timings.get("measure_qc", 0.0) + time.perf_counter() - t_measure, 4)
    model_info: dict[str, Any] = {}
    if hasattr(predictor, "source"):
        model_info["source"] = str(predictor.source)
    config = getattr(predictor, "config", None)
    if isinstance(config, dict):
        model_info["version"] = str(config.get("model_version", config.get("version", "")))
    if not feet:
        raise InputError(f"{source}: no foot found")
    return ScanResult(image=image, analysis=analysis, feet=feet, floor=floor, timings=timings,
                      qc=list(layout.qc), model_info=model_info)
