"""The real-scan pipeline on synthetic phantoms: feet, sides, platform, orientation, outputs.

The model is replaced by ``MarkerPredictor``, a test double that finds the phantom's coded
marker balls in whatever crop it is given; so these tests check the pipeline's geometry
(crop, canonical pose, back-transform, FOV status) against known truth.
"""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pytest

from footalign.anatomy import LANDMARK_NAMES, MEASUREMENT_NAMES
from footalign.geometry.measurements import measure_foot
from footalign.image import Image
from footalign.io.landmarks import read_landmarks
from footalign.landmarks import FootLandmarks
from footalign.pipeline.feet import split_feet_along_x
from footalign.pipeline.orientation import Pose, rotation_between
from footalign.pipeline.outputs import measurements_document, outputs_complete, write_scan_outputs
from footalign.pipeline.predict import locate_feet, predict_scan
from test_pipeline_phantoms import TIBIA_CYLINDER, MarkerPredictor, make_scan, restore_storage, subvolume

TOL_MM = 0.8  # marker centroid on a 2 mm phantom resampled to 1 mm


@pytest.fixture(scope="module")
def right_scan():
    return make_scan()


@pytest.fixture(scope="module")
def right_result(right_scan):
    image, _, _ = right_scan
    return predict_scan(image, MarkerPredictor(), crop_spacing=1.0)


def errors(result_foot, truth_foot) -> np.ndarray:
    return np.linalg.norm(result_foot.landmarks.points - truth_foot.points, axis=1)


def test_single_right_foot_landmarks_floor_and_side(right_scan, right_result):
    _, truth, floor = right_scan
    assert len(right_result.feet) == 1
    foot = right_result.feet[0]
    assert foot.side == "right" and foot.region.side_source == "fibula"
    assert np.all(errors(foot, truth[0]) < TOL_MM)
    assert right_result.floor is not None and right_result.floor.source == "platform"
    assert np.degrees(np.arccos(right_result.floor.normal @ floor.normal)) < 0.5
    assert abs(floor.height(right_result.floor.point[None])[0]) < 0.5
    assert foot.measurements.floor_source == "platform"
    # Measurements equal those of the true landmarks on the true floor.
    expected = measure_foot(truth[0], floor)
    for name in MEASUREMENT_NAMES:
        assert foot.measurements.values[name] == pytest.approx(expected.values[name], abs=1.0), name


def test_left_foot_found_by_fibula_and_predicted_as_left():
    image, truth, _ = make_scan(sides=("left",), seed=1)
    predictor = MarkerPredictor()
    result = predict_scan(image, predictor, crop_spacing=1.0)
    assert [f.side for f in result.feet] == ["left"]
    assert predictor.calls[0][1] == "left"
    assert np.all(errors(result.feet[0], truth[0]) < TOL_MM)


def test_dicom_laterality_used_when_the_fibula_is_not_visible():
    image, _, _ = make_scan(sides=("left",), seed=1)
    # Cut the volume below the fibula's separate section: anatomy cannot tell the side.
    low = subvolume(image, (slice(None), slice(None), slice(0, 32)))
    low.meta["Laterality"] = "L"
    layout = locate_feet(low)
    assert layout.regions[0].side == "left" and layout.regions[0].side_source == "laterality"
    low.meta.pop("Laterality")
    layout = locate_feet(low)
    assert layout.regions[0].side_source == "default"
    assert any("could not be determined" in n for n in layout.regions[0].notes)


def test_bilateral_scan_gives_two_feet_with_their_own_landmarks():
    image, truth, _ = make_scan(sides=("right", "left"), seed=3)
    result = predict_scan(image, MarkerPredictor(), crop_spacing=1.5)
    assert [f.side for f in result.feet] == ["right", "left"]
    assert all(f.region.side_source == "position" for f in result.feet)
    right, left = result.feet
    assert np.nanmean(right.landmarks.points[:, 0]) < np.nanmean(left.landmarks.points[:, 0])
    for foot, t in zip(result.feet, truth, strict=True):
        assert np.all(errors(foot, t) < 1.0)
        assert np.all(np.isfinite(list(foot.measurements.values.values())))


@pytest.mark.parametrize(("perm", "flips"), [((2, 0, 1), (True, False, True)), ((1, 2, 0), (False, True, False))])
def test_same_lps_landmarks_whatever_the_storage_order(right_scan, right_result, perm, flips):
    image, truth, _ = right_scan
    stored = restore_storage(image, perm, flips)
    assert stored.shape != image.shape or flips != (False, False, False)
    # Same physical content: the stored first voxel is the original's flipped corner.
    corner = np.where(flips, np.asarray(image.shape) - 1, 0)
    assert np.allclose(stored.index_to_physical(np.zeros(3)), image.index_to_physical(corner))
    assert stored.array[0, 0, 0] == image.array[tuple(corner)]
    result = predict_scan(stored, MarkerPredictor(), crop_spacing=1.0)
    diff = np.linalg.norm(result.feet[0].landmarks.points - right_result.feet[0].landmarks.points, axis=1)
    assert np.all(diff < 0.3)
    assert np.all(errors(result.feet[0], truth[0]) < TOL_MM)


def test_tilted_foot_is_set_upright_and_mapped_back():
    image, truth, floor = make_scan(yaw_deg=20.0, tilt_deg=5.0, seed=4)
    result = predict_scan(image, MarkerPredictor(), crop_spacing=1.0)
    foot = result.feet[0]
    assert foot.pose.up_source == "platform"
    assert abs(foot.pose.tilt_deg - 5.0) < 1.0
    # A usual turn on the platform (< 30°) is measured but left for the model.
    assert 12.0 < foot.pose.yaw_deg < 28.0 and foot.pose.turned_deg == 0.0
    canonical = foot.pose.to_canonical(foot.landmarks.points)
    low, m2 = canonical[LANDMARK_NAMES.index("CALC_LOW")], canonical[LANDMARK_NAMES.index("M2_HEAD")]
    assert abs(low[2] - m2[2]) < 6.0  # floor horizontal in the crop: heel and head at one level
    assert np.all(errors(foot, truth[0]) < TOL_MM)
    assert np.degrees(np.arccos(result.floor.normal @ floor.normal)) < 0.5


def test_foot_turned_far_on_the_platform_can_be_turned_back_for_the_model():
    image, truth, _ = make_scan(yaw_deg=45.0, seed=4)
    result = predict_scan(image, MarkerPredictor(), crop_spacing=1.5, align_long_axis=True)
    foot = result.feet[0]
    assert 35.0 < foot.pose.yaw_deg < 55.0 and foot.pose.turned_deg == foot.pose.yaw_deg
    # In the crop the model sees, the foot points along -y: M2_HEAD in front of CALC_LOW.
    canonical = foot.pose.to_canonical(foot.landmarks.points)
    axis = canonical[LANDMARK_NAMES.index("M2_HEAD")] - canonical[LANDMARK_NAMES.index("CALC_LOW")]
    assert abs(np.degrees(np.arctan2(axis[0], -axis[1]))) < 12.0
    inside = image.contains(truth[0].points, margin_mm=5.0)  # the turned hallux leaves the volume
    assert inside.sum() >= 20 and np.all(errors(foot, truth[0])[inside] < 1.0)


def test_pose_round_trip_and_rotation_between():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=3), rng.normal(size=3)
    r = rotation_between(a, b)
    assert np.allclose(r @ (a / np.linalg.norm(a)), b / np.linalg.norm(b))
    assert np.isclose(np.linalg.det(r), 1.0)
    r2 = rotation_between(np.array([0, 0, 1.0]), np.array([0, 0, -1.0]))
    assert np.allclose(r2 @ np.array([0, 0, 1.0]), [0, 0, -1.0]) and np.isclose(np.linalg.det(r2), 1.0)
    pose = Pose(rotation=r, centre=rng.normal(size=3) * 50)
    pts = rng.normal(size=(22, 3)) * 40
    assert np.allclose(pose.to_scan(pose.to_canonical(pts)), pts)


def test_no_platform_falls_back_to_tripod():
    image, _truth, _ = make_scan(platform=False, seed=5)
    result = predict_scan(image, MarkerPredictor(), crop_spacing=1.5)
    assert result.floor is None
    assert result.feet[0].measurements.floor_source == "tripod"
    assert any(w.code == "floor" and "tripod" in w.message for w in result.feet[0].qc)


def test_landmarks_outside_the_field_of_view_are_reported():
    image, _truth, _ = make_scan()
    # Cut the forefoot off: keep y > -95 mm (the metatarsal heads and hallux lie beyond).
    y = image.origin[1] + image.spacing[1] * np.arange(image.shape[1])
    cut = subvolume(image, (slice(None), slice(int(np.argmax(y > -95.0)), None), slice(None)))
    result = predict_scan(cut, MarkerPredictor(), crop_spacing=1.5)
    foot = result.feet[0]
    status = dict(zip(LANDMARK_NAMES, foot.landmarks.status, strict=True))
    for name in ("M1_HEAD", "M2_HEAD", "M5_HEAD", "P1_BASE", "P1_HEAD"):
        assert status[name] == "outside_fov" and not foot.landmarks.has(name)
    for name in ("CALC_LOW", "TAL_DOME", "NAV_LOW"):
        assert status[name] == "ok" and foot.landmarks.has(name)
    assert any(w.code == "outside_fov" for w in foot.qc)
    assert any(w.code == "truncated_fov" and "anterior" in w.message for w in foot.qc)


def test_split_feet_along_x_needs_a_gap():
    mask = np.zeros((60, 10, 10), bool)
    mask[5:20] = True
    mask[40:55] = True
    parts = split_feet_along_x(mask, spacing=2.0)
    assert len(parts) == 2 and parts[0][10].all() and not parts[0][45].any()
    # A speck at the volume's edge behind a wider empty run than the gap between the feet (a
    # bilateral 0.4 mm scan read as one foot this way): the feet are still split between them.
    specked = np.zeros((90, 10, 10), bool)
    specked[0, :4, :5] = True  # 20 voxels: above the 0.2 % that counts as bone
    specked[30:50] = True
    specked[70:90] = True
    parts = split_feet_along_x(specked, spacing=2.0)
    assert len(parts) == 2 and parts[0][40].all() and parts[1][80].all() and not parts[1][40].any()
    mask[20:40] = True  # no gap: one object
    assert len(split_feet_along_x(mask, spacing=2.0)) == 1


def test_outputs_are_complete_readable_and_free_of_identifiers(right_scan, tmp_path):
    image, _truth, _ = right_scan
    image.meta.update({"PatientName": "DOE^JANE", "PatientID": "12345678", "source": "/data/DOE_JANE/scan"})
    result = predict_scan(image, MarkerPredictor(), crop_spacing=1.5)
    out = tmp_path / "out"
    write_scan_outputs(result, out, report=False)
    assert outputs_complete(out, report=False) and not outputs_complete(out, report=True)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["landmarks.json", "landmarks.csv", "landmarks_right.mrk.json", "measurements.csv", "measurements.json"])
    for f in out.iterdir():
        text = f.read_text()
        assert "DOE" not in text and "12345678" not in text, f.name
    feet = read_landmarks(out / "landmarks.json")
    assert len(feet) == 1 and feet[0].side == "right"
    assert np.allclose(feet[0].points, result.feet[0].landmarks.points, atol=1e-3)
    assert feet[0].floor is not None and feet[0].floor.source == "platform"
    slicer = read_landmarks(out / "landmarks_right.mrk.json")
    assert np.allclose(slicer[0].points, result.feet[0].landmarks.points, atol=1e-3)
    header = (out / "measurements.csv").read_text().splitlines()[0].split(",")
    assert header[:2] == ["side", "floor_source"] and "hindfoot_angle [deg]" in header
    assert "navicular_height [mm]" in header and "foot_ankle_offset [%]" in header
    doc = json.loads((out / "landmarks.json").read_text())
    assert set(doc["pipeline"]["timing_s"]) >= {"analysis", "feet", "floor", "crop", "model"}
    meas = json.loads((out / "measurements.json").read_text())
    assert len(meas["feet"][0]["measurements"]) == 14

    kept = tmp_path / "kept"
    write_scan_outputs(result, kept, report=False, keep_ids=True)
    assert "DOE^JANE" in (kept / "landmarks.json").read_text()


class _SideSensitiveDouble(MarkerPredictor):
    """TEST DOUBLE: like MarkerPredictor, but only confident when told the ``true_side``."""

    def __init__(self, true_side: str) -> None:
        super().__init__()
        self.true_side = true_side

    def predict_foot(self, image, side, *, progress=False):
        foot = super().predict_foot(image, side)
        foot.confidence = np.full(len(LANDMARK_NAMES), 0.9 if side == self.true_side else 0.3)
        return foot


def test_undetermined_side_is_chosen_by_model_confidence():
    image, _, _ = make_scan(sides=("left",), seed=1)
    low = subvolume(image, (slice(None), slice(None), slice(0, 32)))  # no leg: no fibula
    predictor = _SideSensitiveDouble("left")
    result = predict_scan(low, predictor, crop_spacing=1.5)
    foot = result.feet[0]
    assert foot.side == "left" and foot.region.side_source == "model"
    assert sorted(side for _, side in predictor.calls) == ["left", "right"]
    assert any("model confidence (0.90 vs 0.30 for right)" in w.message for w in foot.qc)


def test_scan_stored_upside_down_is_turned_back():
    image, truth, _ = make_scan(seed=0)
    # Rotate the content 180° about the x axis through the volume centre (y and z reversed).
    flipped = Image(np.ascontiguousarray(image.array[:, ::-1, ::-1]), image.spacing, image.origin)
    centre = image.center()
    expected = truth[0].points.copy()
    expected[:, 1:] = 2.0 * centre[1:] - expected[:, 1:]
    result = predict_scan(flipped, MarkerPredictor(), crop_spacing=1.5)
    foot = result.feet[0]
    assert any(w.code == "orientation" for w in result.qc)
    assert foot.pose.up_source == "scanner_z_flipped" and foot.side == "right"
    assert np.all(np.linalg.norm(foot.landmarks.points - expected, axis=1) < 1.0)


class _TruthDouble:
    """TEST DOUBLE: returns given true landmarks (scan LPS) in the crop's canonical frame."""

    config: ClassVar[dict[str, str]] = {"model_version": "test-truth"}

    def __init__(self, points: np.ndarray) -> None:
        self.points = points

    def predict_foot(self, image, side, *, progress=False):
        pose = image.meta["pose"]
        rotation, centre = np.asarray(pose["rotation"]), np.asarray(pose["centre"])
        canonical = centre + (self.points - centre) @ rotation
        return FootLandmarks(side, canonical, np.full(len(canonical), 0.9), status=["ok"] * len(canonical))


def test_cone_beam_fill_value_marks_the_cut_forefoot_outside_fov():
    image, truth, _ = make_scan()
    array = image.array.copy()
    xyz = image.index_to_physical(np.argwhere(np.ones(image.shape, bool))).reshape(*image.shape, 3)
    # Cylindrical field of view of radius 90 mm around the hindfoot; the rest is filled with -1019.
    outside = np.hypot(xyz[..., 0], xyz[..., 1] + 5.0) > 90.0
    noise_clipped = (array < -1010) & ~outside  # some air voxels clipped at -1019 too (speckle)
    array[outside | noise_clipped] = -1019.0
    scan = image.with_array(array)
    # measure_in_image=False: the points must come back exactly as the double gave them.
    result = predict_scan(scan, _TruthDouble(truth[0].points), crop_spacing=1.5, measure_in_image=False)
    assert result.analysis.fill_value == -1019.0
    foot = result.feet[0]
    status = dict(zip(LANDMARK_NAMES, foot.landmarks.status, strict=True))
    inside = np.hypot(truth[0].points[:, 0], truth[0].points[:, 1] + 5.0)
    for name, r in zip(LANDMARK_NAMES, inside, strict=True):
        if r > 92.0:
            assert status[name] == "outside_fov" and not foot.landmarks.has(name), name
        elif r < 85.0:
            assert status[name] == "ok" and foot.landmarks.has(name), name
    assert sum(r > 92.0 for r in inside) >= 4  # the metatarsal heads and the hallux
    assert np.allclose(foot.landmarks.points[inside < 85.0], truth[0].points[inside < 85.0], atol=1e-3)


def test_air_clipped_to_the_fill_value_is_still_inside_the_field_of_view():
    # A negative HU offset clips most air to -1024 HU, the value this scanner also fills the
    # outside of its field of view with; only noise lifts a few air voxels (here 10 %) above it.
    # The field of view is a cylinder of radius 90 mm: only beyond it is the scan "outside".
    image, _, _ = make_scan()
    array = image.array.copy()
    xyz = image.index_to_physical(np.argwhere(np.ones(image.shape, bool))).reshape(*image.shape, 3)
    outside = np.hypot(xyz[..., 0], xyz[..., 1] + 5.0) > 90.0
    air = array < -500.0
    lifted = np.random.default_rng(0).random(image.shape) < 0.10
    array[(air & ~lifted) | outside] = -1024.0
    analysis = locate_feet(image.with_array(array), source="clipped air").analysis
    assert analysis.fill_value == -1024.0
    coarse = analysis.image.index_to_physical(np.argwhere(np.ones(analysis.valid.shape, bool)))
    radius = np.hypot(coarse[:, 0], coarse[:, 1] + 5.0).reshape(analysis.valid.shape)
    # The volume's own edge counts as the border of the field of view anyway (fov_distance_map).
    interior = np.zeros(analysis.valid.shape, bool)
    interior[4:-4, 4:-4, 4:-4] = True  # beyond the closing's reach of the edge
    assert analysis.valid[interior & (radius < 84.0)].all()  # clipped air included
    assert not analysis.valid[radius > 94.0].any()  # the real border kept (within 2-3 voxels)


def test_a_fine_scans_fill_value_reads_as_air_on_the_coarse_grid():
    # A 0.4 mm scan (block-averaged 2 x 2 x 2 before the coarse grid) whose scanner wrote
    # -3024 HU outside a cylindrical field of view: on the coarse grid the fill must read as air,
    # exactly as if the scan had held -1000 HU there, and only the cylinder is field of view.
    from footalign.pipeline.analysis import analyse_scan

    spacing = 0.4
    n = (110, 120, 90)
    xyz = (np.indices(n).transpose(1, 2, 3, 0) - np.array(n) / 2) * spacing  # mm about the centre
    array = np.full(n, -1000, np.int16)
    array[np.abs(xyz).max(axis=-1) < 12.0] = 40  # soft tissue
    array[np.linalg.norm(xyz - [3.0, 0.0, 0.0], axis=-1) < 7.0] = 900  # bone
    outside = np.hypot(xyz[..., 0], xyz[..., 1]) > 16.0
    filled = Image(np.where(outside, np.int16(-3024), array), (spacing,) * 3, (0.0, 0.0, 0.0))
    with_air = filled.with_array(np.where(outside, np.int16(-1000), array))

    a, b = analyse_scan(filled), analyse_scan(with_air)
    assert a.fill_value == -3024.0 and b.fill_value == -1000.0
    # Block shares come in steps of 1/255: at most half a step of the 2024 HU between fill and air.
    assert np.abs(a.image.array - b.image.array).max() < 0.5 / 255 * 2024 + 1.0
    assert a.bone.sum() > 0 and np.array_equal(a.bone, b.bone)
    centre = a.image.physical_to_index(np.array([[21.8, 24.0, 18.0]]))[0].round().astype(int)
    radius = np.hypot(*(a.points(np.ones(a.valid.shape, bool))[:, :2] - [21.8, 23.8]).T).reshape(a.valid.shape)
    assert a.valid[tuple(centre)] and a.valid[radius < 12.0].all()
    assert not a.valid[radius > 20.0].any()


def _tibia_axis_offset(points: np.ndarray) -> np.ndarray:
    """Distance (mm) of points from the phantom tibia's axis, and their height above its end."""
    start, axis, _, _ = TIBIA_CYLINDER
    along = (points - start) @ axis
    return np.c_[np.linalg.norm(points - start - along[:, None] * axis, axis=1), along]


def test_tibial_sections_are_measured_from_a_rough_start():
    image, truth, _ = make_scan()
    tib = [LANDMARK_NAMES.index(n) for n in ("TIB_PROX", "TIB_DIST")]
    rough = truth[0].points.copy()
    rough[tib] += np.array([[3.0, -2.0, 7.0], [-2.5, 2.0, -5.0]])  # sideways and along the shaft
    result = predict_scan(image, _TruthDouble(rough), crop_spacing=1.5)
    foot = result.feet[0]
    np.testing.assert_allclose(foot.landmarks.points[tib], truth[0].points[tib], atol=0.8)
    assert foot.landmarks.meta["tibia_sections"]["notes"] == []
    unrefined = predict_scan(image, _TruthDouble(rough), crop_spacing=1.5, measure_in_image=False).feet[0]
    true_angle = measure_foot(truth[0]).values["hindfoot_angle"]
    assert abs(unrefined.measurements.values["hindfoot_angle"] - true_angle) > 3.0
    assert foot.measurements.values["hindfoot_angle"] == pytest.approx(true_angle, abs=1.0)


def test_proximal_tibial_section_moves_down_to_the_field_of_view():
    image, truth, _ = make_scan()
    array = image.array.copy()
    z = image.index_to_physical(np.argwhere(np.ones(image.shape, bool)))[:, 2].reshape(image.shape)
    array[z > 120.0] = -1019.0  # a cone-beam volume whose reconstruction stops at 120 mm
    result = predict_scan(image.with_array(array), _TruthDouble(truth[0].points), crop_spacing=1.5)
    prox = result.feet[0].landmarks["TIB_PROX"]
    radial, height = _tibia_axis_offset(prox[None])[0]
    assert radial < 0.8
    # The most proximal complete section: its 25 mm disk (tilted with the shaft) below the cut.
    assert 120.0 - 4.0 < prox[2] + 25.0 * np.sin(np.radians(2.9)) + 1.0 <= 120.0 + 0.5
    assert height < 60.0 - 10.0


def test_tibial_points_are_not_marked_when_the_view_ends_below_their_sections():
    image, truth, _ = make_scan()
    array = image.array.copy()
    z = image.index_to_physical(np.argwhere(np.ones(image.shape, bool)))[:, 2].reshape(image.shape)
    array[z > 95.0] = -1019.0  # the reconstruction stops ~17 mm above the plafond (z ~78)
    result = predict_scan(image.with_array(array), _TruthDouble(truth[0].points), crop_spacing=1.5)
    foot = result.feet[0]
    for name in ("TIB_DIST", "TIB_PROX"):
        assert not foot.landmarks.has(name)
        assert foot.landmarks.status[LANDMARK_NAMES.index(name)] == "outside_fov"
    notes = [w.message for w in foot.qc if w.code == "tibia_sections"]
    assert any(m.startswith("TIB_DIST not marked: the field of view ends below") for m in notes), notes
    assert not np.isfinite(foot.measurements.values["hindfoot_angle"])
    assert foot.landmarks.has("TAL_DOME")


def test_tibial_sections_read_a_block_in_the_same_physical_space():
    from footalign.model.sampling import sample_points
    from footalign.pipeline.tibia_sections import local_block

    image, _, _ = make_scan()
    stored = restore_storage(image, (2, 0, 1), (True, False, True))  # a non-contiguous, flipped layout
    points = np.array([[0.0, 8.0, 98.0], [10.0, -20.0, 60.0], [-15.0, 30.0, 120.0]])
    block = local_block(stored, points, margin_mm=20.0)
    assert block.array.flags["C_CONTIGUOUS"] and np.prod(block.shape) < np.prod(stored.shape)
    probe = points + np.random.default_rng(0).uniform(-15.0, 15.0, (3, 3))
    np.testing.assert_allclose(sample_points(block, probe, background_hu=-1000.0),
                               sample_points(image, probe, background_hu=-1000.0), atol=1e-3)


def test_landmark_placed_in_soft_tissue_is_flagged():
    image, truth, _ = make_scan()
    points = truth[0].points.copy()
    points[LANDMARK_NAMES.index("NAV_LOW")] += np.array([40.0, 0.0, -5.0])  # medial soft tissue / air
    result = predict_scan(image, _TruthDouble(points), crop_spacing=1.5)
    off = [w for w in result.feet[0].qc if w.code == "off_bone"]
    assert len(off) == 1 and "NAV_LOW" in off[0].message
    # Measurements built on it say so; the others do not.
    items = {m["name"]: m for m in measurements_document(result)["feet"][0]["measurements"]}
    assert items["navicular_height"]["doubtful_landmarks"] == ["NAV_LOW (failed a QC check)"]
    assert items["hallux_valgus_angle"]["doubtful_landmarks"] == []
    assert not any(w.code == "off_bone" for w in predict_scan(image, _TruthDouble(truth[0].points),
                                                                crop_spacing=1.5).feet[0].qc)


def test_landmark_on_a_faint_calcaneus_is_not_called_off_bone():
    # A low-density heel: the calcaneus (and its three marker balls) at 220 HU, under the bone
    # threshold (~290 HU) but well above soft tissue. It is then missing from the bone mask, and
    # CALC_LOW lies ~40 mm from the nearest masked bone; it must still count as on bone.
    from test_pipeline_phantoms import ELLIPSOIDS, marker_truth

    image, truth, _ = make_scan()
    xyz = image.index_to_physical(np.argwhere(np.ones(image.shape, bool))).reshape(*image.shape, 3)
    centre, radii = (np.asarray(v, float) for v in ELLIPSOIDS[0])
    heel = (((xyz - centre) / radii) ** 2).sum(axis=-1) <= 1.0
    for name in ("CALC_LOW", "CALC_TUB", "CALC_PFA"):
        heel |= np.linalg.norm(xyz - marker_truth()[LANDMARK_NAMES.index(name)], axis=-1) <= 5.0
    array = image.array.copy()
    array[heel & (array > 150.0)] = 220.0
    points = truth[0].points.copy()
    result = predict_scan(image.with_array(array), _TruthDouble(points), crop_spacing=1.5, measure_in_image=False)
    assert not any(w.code == "off_bone" for w in result.feet[0].qc), [w.message for w in result.feet[0].qc]
    points[LANDMARK_NAMES.index("CALC_LOW")] += np.array([25.0, 0.0, 0.0])  # into the soft tissue beside the heel
    result = predict_scan(image.with_array(array), _TruthDouble(points), crop_spacing=1.5, measure_in_image=False)
    off = [w for w in result.feet[0].qc if w.code == "off_bone"]
    assert len(off) == 1 and "CALC_LOW" in off[0].message


def test_side_given_by_the_user_wins_but_a_disagreeing_fibula_is_reported():
    image, _, _ = make_scan()
    layout = locate_feet(image, side="left")
    region = layout.regions[0]
    assert (region.side, region.side_source) == ("left", "user")
    assert any("fibula looks right" in n for n in region.notes)


def test_soft_tissue_peak_is_not_taken_from_a_dense_platform():
    """A small field of view can hold more platform and cancellous bone (~150-250 HU after the
    analysis blur) than soft tissue; the peak must still be the soft tissue's."""
    from footalign.pipeline.analysis import soft_tissue_peak

    rng = np.random.default_rng(0)
    for soft_hu in (-195.0, -80.0, 40.0):  # cone-beam offset, fat-rich, muscle
        values = np.concatenate([rng.normal(soft_hu, 30.0, 30_000), rng.normal(190.0, 25.0, 60_000),
                                 rng.normal(-1000.0, 10.0, 50_000)])
        assert soft_tissue_peak(values) == pytest.approx(soft_hu, abs=25.0)


def test_a_warning_about_one_landmark_does_not_cast_doubt_on_a_namesake():
    from footalign.pipeline.qc import QCWarning, doubtful_landmarks

    foot = FootLandmarks("right", np.zeros((len(LANDMARK_NAMES), 3)), status=["ok"] * len(LANDMARK_NAMES))
    warning = QCWarning("implausible_distance", "warning", "TAL_HEAD_MED–TAL_HEAD_LAT distance 9.1 mm is outside")
    assert set(doubtful_landmarks(foot, [warning])) == {"TAL_HEAD_MED", "TAL_HEAD_LAT"}
