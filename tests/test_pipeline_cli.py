"""``footalign predict`` end to end through the CLI, with the model replaced by the marker test
double (``load_predictor`` monkeypatched): DICOM folder with extra series and files, batch exit
codes."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

from footalign.cli import main
from footalign.io.images import write_image
from footalign.io.landmarks import read_landmarks
from test_pipeline_phantoms import MarkerPredictor, make_scan


@pytest.fixture
def double_model(monkeypatch):
    """Replace the model loader by the marker-reading TEST DOUBLE."""
    monkeypatch.setattr("footalign.cli.predict.load_predictor", lambda model, device, precision="auto": MarkerPredictor())


def test_predict_dicom_folder_with_scout_and_stray_files(tmp_path, capsys, dicom_writer, double_model):
    image, truth, _ = make_scan()
    folder = tmp_path / "study"
    dicom_writer(folder, np.rint(image.array).astype(np.int16).transpose(2, 1, 0), spacing=image.spacing,
                 origin=image.origin, laterality="R", prefix="ct")
    dicom_writer(folder, np.zeros((2, 32, 32), np.int16), image_type="ORIGINAL\\PRIMARY\\LOCALIZER", prefix="scout")
    (folder / "notes.txt").write_text("acquisition notes")
    out = tmp_path / "out"
    assert main(["predict", str(folder), "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "hindfoot_angle" in printed
    feet = read_landmarks(out / "landmarks.json")
    assert [f.side for f in feet] == ["right"]
    assert np.all(np.linalg.norm(feet[0].points - truth[0].points, axis=1) < 1.0)
    doc = json.loads((out / "landmarks.json").read_text())
    assert doc["input"]["format"] == "dicom" and doc["input"]["n_files"] == image.shape[2]
    assert {"read", "load_model", "analysis", "model", "report"} <= set(doc["pipeline"]["timing_s"])
    for f in out.iterdir():
        text = re.sub(r"base64,[A-Za-z0-9+/=]+", "", f.read_text())  # pictures are not text
        assert "TEST^PATIENT" not in text and "ID12345" not in text, f.name


def test_batch_exit_code_reports_failures(tmp_path, capsys, double_model):
    scans = tmp_path / "scans"
    scans.mkdir()
    image, _, _ = make_scan()
    write_image(image.with_array(np.rint(image.array).astype(np.int16)), scans / "good.nii.gz")
    write_image(image.with_array(np.zeros(image.shape, np.int16)), scans / "blank.nii.gz")
    out = tmp_path / "out"
    rc = main(["predict", str(scans), "--output", str(out), "--no-report", "--quiet"])
    assert rc == 1
    with open(out / "failures.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["scan"] for r in rows] == ["blank"] and "constant" in rows[0]["reason"]
    assert (out / "good" / "landmarks.json").is_file()
    (out / "failures.csv").unlink()
    (scans / "blank.nii.gz").unlink()
    assert main(["predict", str(scans), "--output", str(out), "--no-report", "--quiet"]) == 0
