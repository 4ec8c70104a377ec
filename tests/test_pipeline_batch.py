"""Batch mode: every scan of a folder, past bad ones, resumable, with cohort outputs."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from footalign.io.images import write_image
from footalign.pipeline.batch import find_scans, is_batch_folder, run_batch
from test_pipeline_phantoms import MarkerPredictor, make_scan


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_batch_continues_past_bad_scans_and_resumes(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    image, _, _ = make_scan(sides=("right", "left"), seed=3)
    write_image(image.with_array(image.array.astype(np.int16)), scans / "bilateral.nii.gz")
    write_image(image.with_array(np.full(image.shape, 40, np.int16)), scans / "constant.nii.gz")
    (scans / "notes").mkdir()
    (scans / "notes" / "readme.txt").write_text("not a scan")
    assert is_batch_folder(scans)
    assert [n for n, _ in find_scans(scans)] == ["bilateral", "constant", "notes"]

    out = tmp_path / "out"
    made = []
    seen: list[tuple[str, str]] = []

    def factory():
        made.append(1)
        return MarkerPredictor()

    summary = run_batch(scans, out, factory, report=False,
                        on_progress=lambda name, state: seen.append((name, state)))
    assert summary.done == ["bilateral"] and len(made) == 1
    failures = _rows(out / "failures.csv")
    assert [f["scan"] for f in failures] == ["constant", "notes"]
    assert "constant" in failures[0]["reason"] and "DICOM" in failures[1]["reason"]
    assert not (out / "constant").exists() and not (out / "notes").exists()
    table = _rows(out / "measurements_all.csv")
    assert [(r["scan"], r["side"]) for r in table] == [("bilateral", "right"), ("bilateral", "left")]
    assert "hindfoot_angle [deg]" in table[0] and table[0]["floor_source"] == "platform"
    assert (out / "summary.html").read_text().count("data:image/png;base64,") == 1
    assert next(s for _, s in seen) == "done"

    # Second run: the finished scan is skipped, the bad ones are retried and fail again.
    seen.clear()
    summary = run_batch(scans, out, factory, report=False,
                        on_progress=lambda name, state: seen.append((name, state)))
    assert summary.skipped == ["bilateral"] and summary.done == []
    assert len(summary.failures) == 2
    assert len(_rows(out / "measurements_all.csv")) == 2


def test_single_dicom_folder_is_not_a_batch(tmp_path, dicom_writer):
    dicom_writer(tmp_path / "series", np.zeros((4, 16, 16), np.int16))
    assert not is_batch_folder(tmp_path / "series")
    assert is_batch_folder(tmp_path)  # a folder holding a DICOM sub-folder is a batch


def test_batch_with_two_worker_processes(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    for side in ("right", "left"):
        image, _, _ = make_scan(sides=(side,), seed=1 if side == "left" else 0)
        write_image(image.with_array(image.array.astype(np.int16)), scans / f"{side}.nii.gz")
    out = tmp_path / "out"
    summary = run_batch(scans, out, MarkerPredictor, report=False, workers=2)
    assert sorted(summary.done) == ["left", "right"] and not summary.failures
    table = _rows(out / "measurements_all.csv")
    assert sorted((r["scan"], r["side"]) for r in table) == [("left", "left"), ("right", "right")]
