"""Bad input to ``footalign predict``: one clear line on stderr, non-zero exit, no output.

Every input is built small in ``tmp_path``. All of these fail before the model is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from footalign.cli import main


def _nifti(path: Path, array_kji: np.ndarray, spacing=(1.0, 1.0, 1.0)) -> Path:
    img = sitk.GetImageFromArray(array_kji)
    img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path


def empty_folder(d: Path) -> Path:
    (d / "empty").mkdir()
    return d / "empty"


def non_dicom_folder(d: Path) -> Path:
    folder = d / "notes"
    folder.mkdir()
    for i in range(3):
        (folder / f"readme_{i}.txt").write_text("not an image\n" * 20)
    return folder


def truncated_dicom(d: Path, writer) -> Path:
    folder = d / "truncated"
    writer(folder, np.zeros((6, 32, 32), np.int16))
    for f in folder.iterdir():
        data = f.read_bytes()
        f.write_bytes(data[: len(data) // 2])
    return folder


def scout_only(d: Path, writer) -> Path:
    folder = d / "scout"
    writer(folder, np.zeros((3, 32, 32), np.int16), image_type="ORIGINAL\\PRIMARY\\LOCALIZER")
    return folder


def image_2d(d: Path) -> Path:
    img = sitk.GetImageFromArray(np.zeros((64, 64), np.int16))
    sitk.WriteImage(img, str(d / "xray.nii.gz"))
    return d / "xray.nii.gz"


def nan_volume(d: Path) -> Path:
    arr = np.full((20, 30, 30), -1000.0, np.float32)
    arr[5:10, 10:20, 10:20] = np.nan
    return _nifti(d / "nan.nrrd", arr)  # ITK's NIfTI reader would replace NaN; NRRD keeps it


def constant_volume(d: Path) -> Path:
    return _nifti(d / "constant.nii.gz", np.full((20, 30, 30), 40, np.int16))


def zero_spacing(d: Path) -> Path:
    path = d / "zero.mha"
    raw = np.full((16, 16, 16), -1000, np.int16)
    header = ("ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
              "ElementSpacing = 0 0 0\nDimSize = 16 16 16\nElementType = MET_SHORT\nElementDataFile = LOCAL\n")
    path.write_bytes(header.encode() + raw.tobytes())
    return path


def huge_spacing(d: Path) -> Path:
    rng = np.random.default_rng(0)
    return _nifti(d / "coarse.nii.gz", rng.normal(0, 300, (12, 12, 12)).astype(np.int16), (100.0, 100.0, 100.0))


def air_only(d: Path) -> Path:
    rng = np.random.default_rng(1)
    return _nifti(d / "air.nii.gz", (-1000 + rng.normal(0, 15, (60, 60, 60))).astype(np.int16), (2.0, 2.0, 2.0))


def head_blob(d: Path) -> Path:
    """A skull-like shell of bone around brain-like soft tissue, in air."""
    n, sp = 100, 2.0
    z, y, x = np.mgrid[:n, :n, :n] * sp - n * sp / 2
    r = np.sqrt((x / 1.0) ** 2 + (y / 1.2) ** 2 + (z / 1.1) ** 2)
    arr = np.full((n, n, n), -1000, np.int16)
    arr[r < 78] = 900
    arr[r < 72] = 35
    return _nifti(d / "head.nii.gz", arr, (sp, sp, sp))


CASES = {
    "empty folder": (empty_folder, "empty folder"),
    "non-DICOM files": (non_dicom_folder, "DICOM"),
    "truncated DICOM": (truncated_dicom, "truncated"),
    "scout only": (scout_only, "no CT volume"),
    "2D image": (image_2d, "2D"),
    "NaN volume": (nan_volume, "NaN"),
    "constant volume": (constant_volume, "constant"),
    "spacing 0": (zero_spacing, "spacing"),
    "spacing 100 mm": (huge_spacing, "spacing"),
    "air only": (air_only, "no foot"),
    "head-like blob": (head_blob, "no foot"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_one_line_error_nonzero_exit_no_output(case, tmp_path, capsys, dicom_writer):
    make, expected = CASES[case]
    needs_writer = make in (truncated_dicom, scout_only)
    scan = make(tmp_path, dicom_writer) if needs_writer else make(tmp_path)
    out = tmp_path / "out"
    rc = main(["predict", str(scan), "--output", str(out), "--quiet"])
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc != 0
    assert len(lines) == 1, err
    assert lines[0].startswith("footalign: error:") and "Traceback" not in err
    message = lines[0].split(f"{scan.name}: ", 1)[-1]  # the reason, without the path
    assert expected.lower() in message.lower(), lines[0]
    assert not out.exists(), "no partial output"


def test_output_location_that_cannot_be_a_folder(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    rc = main(["predict", str(tmp_path / "whatever.nii.gz"), "--output", str(blocker / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    # The missing scan is reported first; with a real scan, the output check fails first.
    assert rc != 0 and len(err) == 1
    scan = constant_volume(tmp_path)
    rc = main(["predict", str(scan), "--output", str(blocker / "out"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 4 and len(err) == 1 and "not writable" in err[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_output_directory(tmp_path, capsys):
    scan = constant_volume(tmp_path)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        rc = main(["predict", str(scan), "--output", str(ro), "--quiet"])
    finally:
        ro.chmod(0o700)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 4 and len(err) == 1 and "not writable" in err[0]
    assert list(ro.iterdir()) == []


def test_unknown_precision_is_a_one_line_input_error(tmp_path, capsys):
    scan = constant_volume(tmp_path)
    rc = main(["predict", str(scan), "--output", str(tmp_path / "out"), "--precision", "half"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--precision" in err[0]
    assert not (tmp_path / "out").exists()
