"""Image and landmark IO: round trips, physical space kept, RAS/LPS conversion, bad files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from footalign.errors import InputError, OutputError
from footalign.image import Image, covering, grid_corners, mirror_points_x, mirror_x, resample, shrink
from footalign.io.atomic import atomic_path
from footalign.io.images import read_image, write_image
from footalign.io.landmarks import (
    read_landmarks,
    slicer_markups_document,
    write_landmarks_csv,
    write_landmarks_json,
    write_slicer_markups,
)
from footalign.landmarks import FloorPlane, FootLandmarks


def example_foot(side: str = "right", seed: int = 0) -> FootLandmarks:
    rng = np.random.default_rng(seed)
    points = rng.uniform(-100, 100, size=(22, 3))
    points[5] = np.nan  # one landmark outside the field of view
    status = ["ok"] * 22
    status[5] = "outside_fov"
    return FootLandmarks(side, points, confidence=rng.uniform(0, 1, 22),
                         floor=FloorPlane(np.array([1.0, 2, -30]), np.array([0.05, 0, 1]), "platform"),
                         status=status)


def oblique_image() -> Image:
    rng = np.random.default_rng(1)
    direction = sitk.VersorTransform((0.2, 0.1, 0.9), 0.3).GetMatrix()
    return Image(rng.integers(-1000, 2000, size=(7, 6, 5)).astype(np.int16), (0.5, 0.7, 1.2),
                 (-10.0, 20.5, 33.0), np.asarray(direction).reshape(3, 3))


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".mha"])
def test_volume_round_trip_keeps_values_and_physical_space(tmp_path: Path, suffix: str) -> None:
    img = oblique_image()
    path = write_image(img, tmp_path / f"scan{suffix}")
    back = read_image(path)
    np.testing.assert_array_equal(back.array, img.array)
    np.testing.assert_allclose(back.spacing, img.spacing, atol=1e-5)
    np.testing.assert_allclose(back.origin, img.origin, atol=1e-4)
    np.testing.assert_allclose(back.direction, img.direction, atol=1e-5)
    p = np.array([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(back.index_to_physical(p), img.index_to_physical(p), atol=1e-4)


def test_index_physical_round_trip_and_sitk_agreement() -> None:
    img = oblique_image()
    idx = np.array([[0.5, 1.25, 3.0], [6.0, 5.0, 4.0]])
    np.testing.assert_allclose(img.physical_to_index(img.index_to_physical(idx)), idx, atol=1e-9)
    s = img.to_sitk()
    expected = s.TransformContinuousIndexToPhysicalPoint(tuple(idx[0]))
    np.testing.assert_allclose(img.index_to_physical(idx[0]), expected, atol=1e-9)
    # Array indexing agrees with SimpleITK's (i, j, k) pixel access.
    assert img.array[4, 3, 2] == s.GetPixel(4, 3, 2)


def test_resample_preserves_physical_positions() -> None:
    arr = np.zeros((40, 40, 40), np.float32)
    arr[30, 10, 20] = 1000.0
    img = Image(arr, (1.0, 1.0, 1.0), (5.0, -3.0, 2.0))
    target = img.index_to_physical(np.array([30, 10, 20]))
    out = resample(img, spacing=(0.5, 0.5, 0.5), shape=(20, 20, 20), origin=target - 5.0, default_value=0.0)
    peak = np.unravel_index(np.argmax(out.array), out.shape)
    np.testing.assert_allclose(out.index_to_physical(np.array(peak)), target, atol=0.5)


def test_shrink_averages_blocks_in_place_and_extrapolated_resampling_keeps_the_edge() -> None:
    rng = np.random.default_rng(0)
    arr = rng.normal(0.0, 100.0, size=(9, 8, 6)).astype(np.float32)
    img = Image(arr, (0.4, 0.5, 0.3), (5.0, -3.0, 2.0), oblique_image().direction)
    small = shrink(img, 1.0)  # factors 2, 2, 3: voxels 0.8, 1.0, 0.9 mm apart
    assert small.spacing == pytest.approx((0.8, 1.0, 0.9))
    assert small.shape == (4, 4, 2)  # the partial block at the far x edge is dropped
    np.testing.assert_allclose(small.array[1, 2, 1], arr[2:4, 4:6, 3:6].mean(), rtol=1e-5)
    # Its voxel centres are the block centres, in physical space.
    np.testing.assert_allclose(small.index_to_physical(np.array([1, 2, 1])),
                               img.index_to_physical(np.array([2.5, 4.5, 4.0])), atol=1e-9)
    assert shrink(img, 0.2) is img  # no axis can be shrunk: the image itself
    # The original's last voxel along x lies in the dropped partial block, outside the shrunk
    # image: extrapolation gives the nearest block instead of the default value.
    corner = img.index_to_physical(np.array([8, 7, 5]))
    grid = {"spacing": (1.0, 1.0, 1.0), "shape": (1, 1, 1), "origin": corner, "default_value": -1000.0}
    assert resample(small, **grid).array[0, 0, 0] == -1000.0
    assert resample(small, **grid, extrapolate=True).array[0, 0, 0] == pytest.approx(small.array[3, 3, 1], rel=1e-5)


def test_resampling_a_small_oblique_region_reads_only_the_part_under_it_and_matches_simpleitk() -> None:
    rng = np.random.default_rng(1)
    img = Image(rng.integers(-1000, 1500, size=(60, 50, 40)).astype(np.int16), (0.4, 0.5, 0.6),
                (5.0, -3.0, 2.0), oblique_image().direction)
    turn = np.array([[np.cos(0.3), -np.sin(0.3), 0.0], [np.sin(0.3), np.cos(0.3), 0.0], [0.0, 0.0, 1.0]])
    grid = {"spacing": (0.7, 0.7, 0.7), "shape": (9, 11, 7), "origin": img.center() - 3.0, "direction": turn}

    part = covering(img, grid_corners(grid["spacing"], grid["shape"], grid["origin"], turn), margin=2)
    assert 1 < part.array.size < img.array.size // 8 and np.shares_memory(part.array, img.array)
    start = np.round(img.physical_to_index(part.origin)).astype(int)
    voxel = np.array([3, 2, 1])
    np.testing.assert_allclose(part.index_to_physical(voxel), img.index_to_physical(start + voxel), atol=1e-9)
    assert part.array[tuple(voxel)] == img.array[tuple(start + voxel)]

    # The same values as SimpleITK's resampling of the whole volume (reference grid alike).
    out = resample(img, **grid, default_value=-1000.0)
    reference = sitk.Image(list(grid["shape"]), sitk.sitkFloat32)
    reference.SetSpacing(grid["spacing"])
    reference.SetOrigin(tuple(grid["origin"]))
    reference.SetDirection(tuple(turn.ravel()))
    whole = sitk.Resample(sitk.Cast(img.to_sitk(), sitk.sitkFloat32), reference, sitk.Transform(),
                          sitk.sitkLinear, -1000.0)
    np.testing.assert_allclose(out.array, sitk.GetArrayFromImage(whole).transpose(2, 1, 0), atol=1e-3)
    assert out.array.dtype == np.float32 and np.ptp(out.array) > 100.0
    # A region beside the volume: a one-voxel edge view, and only the default value.
    far = {"spacing": (1.0,) * 3, "shape": (4, 4, 4), "origin": img.center() + 500.0}
    assert covering(img, grid_corners(far["spacing"], far["shape"], far["origin"], np.eye(3))).array.size == 1
    assert (resample(img, **far, default_value=-7.0).array == -7.0).all()


def test_resampling_gives_the_same_values_for_any_memory_layout_of_the_source() -> None:
    # Values linear in the physical position: linear interpolation reproduces them exactly, so
    # each output voxel must read the function at its own LPS position, whatever the layout.
    direction = oblique_image().direction
    img = Image(np.zeros((30, 24, 18), np.float32), (0.6, 0.5, 0.8), (5.0, -3.0, 2.0), direction)
    grid_index = np.stack(np.meshgrid(*[np.arange(n) for n in img.shape], indexing="ij"), axis=-1)
    physical = img.index_to_physical(grid_index.reshape(-1, 3)).reshape(*img.shape, 3)
    values = (physical @ np.array([2.0, -1.0, 0.5]) + 10.0).astype(np.float32)
    turn = np.array([[np.cos(0.4), 0.0, np.sin(0.4)], [0.0, 1.0, 0.0], [-np.sin(0.4), 0.0, np.cos(0.4)]])
    grid = {"spacing": (0.9, 0.7, 1.1), "shape": (7, 6, 5), "origin": img.center() - 2.0, "direction": turn}
    layouts = {"C": np.ascontiguousarray(values), "F": np.asfortranarray(values),
               "strided": np.ascontiguousarray(np.repeat(values, 2, axis=1))[:, ::2, :]}
    out_index = np.stack(np.meshgrid(*[np.arange(n) for n in grid["shape"]], indexing="ij"), axis=-1)
    for name, array in layouts.items():
        out = resample(img.with_array(array), **grid, default_value=-1.0)
        assert out.shape == grid["shape"] and out.array.flags.c_contiguous, name
        expected = out.index_to_physical(out_index.reshape(-1, 3)) @ np.array([2.0, -1.0, 0.5]) + 10.0
        np.testing.assert_allclose(out.array.reshape(-1), expected, atol=1e-3, err_msg=name)
        np.testing.assert_allclose(out.direction, turn)
        assert out.spacing == pytest.approx(grid["spacing"])


def test_mirror_x_maps_points_like_mirror_points_x() -> None:
    img = oblique_image()
    idx = np.array([2.0, 3.0, 1.0])
    value = img.array[2, 3, 1]
    mirrored = mirror_x(img)
    p = mirror_points_x(img.index_to_physical(idx))
    j = np.rint(mirrored.physical_to_index(p)).astype(int)
    assert mirrored.array[tuple(j)] == value
    assert np.linalg.det(mirrored.direction) == pytest.approx(np.linalg.det(img.direction))


def test_dicom_series_reads_with_geometry_and_picks_the_ct_volume(tmp_path: Path, dicom_writer) -> None:
    vol = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)  # slices, rows, columns
    uid = dicom_writer(tmp_path, vol, spacing=(0.8, 0.8, 1.5), origin=(-10, 5, 100), laterality="L", prefix="ct")
    dicom_writer(tmp_path, vol[:1], image_type="ORIGINAL\\PRIMARY\\LOCALIZER", prefix="scout")
    dicom_writer(tmp_path, vol[:3], modality="MR", prefix="mr")
    img = read_image(tmp_path)
    assert img.meta["series_uid"] == uid and img.meta["Laterality"] == "L"
    assert img.shape == (6, 5, 4)
    np.testing.assert_allclose(img.spacing, (0.8, 0.8, 1.5))
    np.testing.assert_allclose(img.origin, (-10, 5, 100))
    assert img.array[5, 4, 3] == vol[3, 4, 5]


def test_dicom_bad_inputs_give_one_line_errors(tmp_path: Path, dicom_writer) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="empty folder"):
        read_image(empty)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("not dicom")
    with pytest.raises(InputError, match="no readable DICOM"):
        read_image(junk)
    scout = tmp_path / "scout"
    dicom_writer(scout, np.zeros((1, 8, 8)), image_type="ORIGINAL\\PRIMARY\\LOCALIZER")
    with pytest.raises(InputError, match="no CT volume"):
        read_image(scout)
    truncated = tmp_path / "truncated"
    dicom_writer(truncated, np.ones((3, 16, 16)) * 100)
    victim = sorted(truncated.iterdir())[1]
    victim.write_bytes(victim.read_bytes()[:400])  # cut in the header
    with pytest.raises(InputError, match="truncated") as info:
        read_image(truncated)
    assert victim.name in str(info.value) and "\n" not in str(info.value)
    truncated_pixels = tmp_path / "truncated_pixels"
    dicom_writer(truncated_pixels, np.ones((3, 16, 16)) * 100)
    victim = sorted(truncated_pixels.iterdir())[2]
    victim.write_bytes(victim.read_bytes()[:-200])  # cut in the pixel data
    with pytest.raises(InputError, match="truncated"):
        read_image(truncated_pixels)
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "missing.nii.gz")
    text = tmp_path / "scan.txt"
    text.write_text("hello")
    with pytest.raises(InputError, match="not a DICOM folder"):
        read_image(text)
    fake = tmp_path / "fake.nii.gz"
    fake.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(InputError, match="cannot read image"):
        read_image(fake)


def test_2d_image_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "flat.nrrd"
    sitk.WriteImage(sitk.Image(10, 10, sitk.sitkInt16), str(path))
    with pytest.raises(InputError, match="2D"):
        read_image(path)


def _assert_same_feet(a: list[FootLandmarks], b: list[FootLandmarks], atol: float = 1e-3) -> None:
    assert len(a) == len(b)
    for fa, fb in zip(a, b, strict=True):
        assert fa.side == fb.side
        np.testing.assert_allclose(fa.points, fb.points, atol=atol, equal_nan=True)


def test_json_round_trip_with_floor_confidence_and_status(tmp_path: Path) -> None:
    feet = [example_foot("right", 0), example_foot("left", 1)]
    path = write_landmarks_json(tmp_path / "lm.json", feet, extra={"case_id": "c1"})
    doc = json.loads(path.read_text())
    assert doc["frame"] == "LPS" and doc["units"] == "mm" and doc["version"] == 1
    back = read_landmarks(path)
    _assert_same_feet(feet, back)
    np.testing.assert_allclose(back[0].confidence, feet[0].confidence, atol=1e-4)
    assert back[0].status[5] == "outside_fov"
    np.testing.assert_allclose(back[1].floor.normal, feet[1].floor.normal, atol=1e-4)
    assert back[1].floor.source == "platform"


def test_csv_round_trip(tmp_path: Path) -> None:
    feet = [example_foot("right", 2), example_foot("left", 3)]
    back = read_landmarks(write_landmarks_csv(tmp_path / "lm.csv", feet))
    _assert_same_feet(feet, back)


def test_slicer_markups_round_trip_and_ras_conversion(tmp_path: Path) -> None:
    foot = example_foot("left", 4)
    path = write_slicer_markups(tmp_path / "lm.mrk.json", foot)
    doc = json.loads(path.read_text())
    markup = doc["markups"][0]
    assert markup["coordinateSystem"] == "LPS" and len(markup["controlPoints"]) == 22
    assert markup["controlPoints"][0]["label"] == "TIB_PROX"
    assert markup["controlPoints"][5]["positionStatus"] == "undefined"
    _assert_same_feet([foot], read_landmarks(path))
    # The same points saved by Slicer in RAS must come back as the same LPS points.
    ras = slicer_markups_document(foot)
    ras["markups"][0]["coordinateSystem"] = "RAS"
    for cp in ras["markups"][0]["controlPoints"]:
        cp["position"] = [-cp["position"][0], -cp["position"][1], cp["position"][2]]
    ras_path = tmp_path / "ras.mrk.json"
    ras_path.write_text(json.dumps(ras))
    _assert_same_feet([foot], read_landmarks(ras_path))


def test_bad_landmark_files_name_the_file_and_problem(tmp_path: Path) -> None:
    good = json.loads(write_landmarks_json(tmp_path / "g.json", [example_foot()]).read_text())
    cases = {
        "nan.json": (lambda d: d["feet"][0]["landmarks"][0].__setitem__("position", [float("nan"), 0, 0]), "NaN"),
        "noside.json": (lambda d: d["feet"][0].pop("side"), "side"),
        "noname.json": (lambda d: d["feet"][0]["landmarks"][1].pop("name"), "needs 'name'"),
        "badname.json": (lambda d: d["feet"][0]["landmarks"][1].__setitem__("name", "KNEE"), "unknown landmark"),
        "nofeet.json": (lambda d: d.pop("feet"), "no 'feet'"),
    }
    for name, (mutate, message) in cases.items():
        doc = json.loads(json.dumps(good))
        mutate(doc)
        path = tmp_path / name
        path.write_text(json.dumps(doc))
        with pytest.raises(InputError, match=message) as info:
            read_landmarks(path)
        assert name in str(info.value) and "\n" not in str(info.value)
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    with pytest.raises(InputError, match="invalid JSON"):
        read_landmarks(broken)
    with pytest.raises(InputError, match="no such landmarks file"):
        read_landmarks(tmp_path / "absent.json")


def test_atomic_path_leaves_nothing_behind_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("crash while writing")
    assert list(tmp_path.iterdir()) == []
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new but broken")
        raise RuntimeError("crash")
    assert target.read_text() == "old"


def test_unwritable_output_directory_is_an_output_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        write_landmarks_json(blocker / "sub" / "lm.json", [example_foot()])


def test_atomic_outputs_get_the_usual_permissions(tmp_path: Path) -> None:
    import os

    umask = os.umask(0)
    os.umask(umask)
    path = write_landmarks_json(tmp_path / "lm.json", [example_foot()])
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
