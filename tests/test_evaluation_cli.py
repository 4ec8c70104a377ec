"""``footalign evaluate`` end to end: file discovery, case/side pairing, report, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from footalign.anatomy import LANDMARK_NAMES
from footalign.cli import main
from footalign.evaluation.matching import case_id_for_file, load_landmark_set, pair_feet
from footalign.io.landmarks import (
    read_landmarks,
    write_landmarks_csv,
    write_landmarks_json,
    write_slicer_markups,
)
from footalign.landmarks import FloorPlane, FootLandmarks

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "footalign" / "data" / "examples" / "right_foot_landmarks.json"
MIRROR_X = np.array([-1.0, 1.0, 1.0])


def _truth_feet(case: int, *, bilateral: bool) -> list[FootLandmarks]:
    """A right foot (the bundled example, varied per case) and, if bilateral, its mirrored left foot."""
    right = read_landmarks(EXAMPLE)[0]
    rng = np.random.default_rng(case)
    pts = right.points + rng.normal(0, 2.0, right.points.shape) + np.array([60.0, 0, 0])
    floor = FloorPlane(point=np.array([0.0, 0.0, pts[:, 2].min() - 3.0]), normal=np.array([0, 0, 1.0]),
                       source="platform")
    feet = [FootLandmarks(side="right", points=pts, floor=floor)]
    if bilateral:
        feet.insert(0, FootLandmarks(side="left", points=pts * MIRROR_X,
                                     floor=FloorPlane(floor.point * MIRROR_X, floor.normal, "platform")))
    return feet


def _shift(feet: list[FootLandmarks], shift) -> list[FootLandmarks]:
    return [FootLandmarks(side=f.side, points=f.points + np.asarray(shift, float)) for f in feet]


@pytest.fixture()
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    """A ground-truth dataset folder (dataset.json) and a folder of predict-style outputs.

    case_0000 bilateral, case_0001 right only, case_0002 right only but not predicted.
    Predictions are the truth shifted by (3, 4, 0) mm.
    """
    gt_dir, pred_dir = tmp_path / "gt", tmp_path / "pred"
    cases = []
    for i, bilateral in enumerate((True, False, False)):
        cid = f"case_{i:04d}"
        feet = _truth_feet(i, bilateral=bilateral)
        write_landmarks_json(gt_dir / "landmarks" / f"{cid}.json", feet)
        for f in feet:  # decoys next to the truth: must not be read twice
            write_slicer_markups(gt_dir / "landmarks" / f"{cid}_{f.side}.mrk.json", f)
        cases.append({"id": cid, "image": f"images/{cid}.nii.gz", "landmarks": f"landmarks/{cid}.json",
                      "feet": [{"side": f.side} for f in feet]})
        if i < 2:
            out = pred_dir / cid
            pred = _shift(feet, (3.0, 4.0, 0.0))
            write_landmarks_json(out / "landmarks.json", pred)
            write_slicer_markups(out / f"landmarks_{pred[0].side}.mrk.json", pred[0])
            (out / "measurements.json").write_text("{}")
    (gt_dir / "dataset.json").write_text(json.dumps({"schema": "footalign.dataset", "version": 1, "cases": cases}))
    return pred_dir, gt_dir


def test_case_ids_from_file_names():
    assert case_id_for_file("x/case_0007.json") == "case_0007"
    assert case_id_for_file("x/case_0007_left.mrk.json") == "case_0007"
    assert case_id_for_file("x/case_0007.nii.csv") == "case_0007"
    assert case_id_for_file("out/scan_12/landmarks.json") == "scan_12"


def test_evaluate_folder_against_dataset_gives_5mm_and_counts_unpredicted_case(dataset, tmp_path, capsys):
    pred_dir, gt_dir = dataset
    out = tmp_path / "eval"
    assert main(["evaluate", str(pred_dir), str(gt_dir), "--output", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out == ""
    report = json.loads((out / "evaluation.json").read_text())
    assert report["overall"]["n_feet"] == 4 and report["overall"]["n_cases"] == 3
    assert [f["case_id"] for f in report["feet"]] == ["case_0000", "case_0000", "case_0001", "case_0002"]
    assert [f["side"] for f in report["feet"]] == ["left", "right", "right", "right"]
    # Three predicted feet are 5 mm off everywhere; the unpredicted foot counts as missing.
    for name in LANDMARK_NAMES:
        s = report["landmarks"][name]
        assert s["n"] == 3 and s["n_pred_missing"] == 1
        assert s["mean"] == pytest.approx(5.0, abs=1e-3)
        assert s["sdr"]["4"] == 0.0
    assert report["measurements"]["hallux_valgus_angle"]["mae"] == pytest.approx(0.0, abs=1e-3)
    assert any("case_0002" in n for n in report["notes"])
    assert (out / "evaluation.md").is_file() and (out / "landmark_errors.png").is_file()
    assert (out / "bland_altman" / "bohler_angle.png").is_file()


def test_single_files_in_different_formats_are_paired_regardless_of_names(tmp_path):
    feet = _truth_feet(5, bilateral=True)
    write_landmarks_csv(tmp_path / "prediction.csv", _shift(feet, (0.0, 0.0, 2.0)))
    write_landmarks_json(tmp_path / "truth.json", feet)
    out = tmp_path / "eval"
    assert main(["evaluate", str(tmp_path / "prediction.csv"), str(tmp_path / "truth.json"), "-o", str(out),
                 "-q", "--no-plots"]) == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert report["overall"]["mean_error_mm"] == pytest.approx(2.0, abs=1e-3)
    assert report["overall"]["sdr_2mm"] == 1.0
    # Lifting every point by 2 mm above the truth's platform raises both heights by 2 mm.
    assert report["measurements"]["navicular_height"]["bias"] == pytest.approx(2.0, abs=1e-3)
    assert not (out / "landmark_errors.png").exists()


def test_slicer_markups_of_one_case_are_merged_and_paired_by_side(tmp_path):
    feet = _truth_feet(3, bilateral=True)
    for f in _shift(feet, (1.0, 0.0, 0.0)):
        write_slicer_markups(tmp_path / "pred" / f"scan_a_{f.side}.mrk.json", f)
    write_landmarks_json(tmp_path / "gt" / "scan_a.json", feet[::-1])
    pairing = pair_feet(load_landmark_set(tmp_path / "pred"), load_landmark_set(tmp_path / "gt"))
    assert pairing.case_ids == ["scan_a", "scan_a"]
    assert [p.side for p in pairing.pred] == [g.side for g in pairing.gt]
    for p, g in zip(pairing.pred, pairing.gt, strict=True):
        assert np.allclose(np.linalg.norm(p.points - g.points, axis=1), 1.0, atol=1e-3)


def test_user_errors_are_one_line_without_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "500")  # rich would wrap the one line at the captured 80 columns
    out = tmp_path / "eval"
    assert main(["evaluate", str(tmp_path / "nope"), str(tmp_path / "nope2"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no such landmark file or folder" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    # Two folders that share no case id.
    write_landmarks_json(tmp_path / "a" / "case_1.json", _truth_feet(1, bilateral=False))
    write_landmarks_json(tmp_path / "b" / "case_2.json", _truth_feet(2, bilateral=False))
    assert main(["evaluate", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "share no case id" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
