"""The bundled demo scan: small, found right, platform at its true floor; with the shipped model
(skipped until it exists) ``footalign demo`` runs offline and lands near the ground truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from footalign.cli import main
from footalign.cli.predict import demo_scan_path
from footalign.errors import ModelError
from footalign.io.images import read_image
from footalign.io.landmarks import read_landmarks
from footalign.pipeline.predict import locate_feet


def test_demo_scan_is_small_and_its_layout_matches_the_truth():
    path = demo_scan_path()
    assert path.stat().st_size < 3_000_000
    truth = read_landmarks(path.with_name("demo_truth.json"))
    layout = locate_feet(read_image(path))
    assert [(r.side, r.side_source) for r in layout.regions] == [(truth[0].side, "fibula")]
    assert layout.floor is not None
    assert np.degrees(np.arccos(layout.floor.normal @ truth[0].floor.normal)) < 0.5
    assert abs(truth[0].floor.height(layout.floor.point[None])[0]) < 0.5


def test_demo_command_with_the_shipped_model(tmp_path, capsys):
    from footalign.model.predictor import Predictor

    try:
        Predictor.from_folder()
    except ModelError as exc:
        pytest.skip(f"no shipped model yet: {exc}")
    out = tmp_path / "demo"
    assert main(["demo", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "landmark error vs the demo's ground truth" in printed
    doc = json.loads((out / "landmarks.json").read_text())
    assert [f["side"] for f in doc["feet"]] == ["right"]
    pred = read_landmarks(out / "landmarks.json")[0]
    truth = read_landmarks(demo_scan_path().with_name("demo_truth.json"))[0]
    both = np.all(np.isfinite(pred.points), axis=1) & np.all(np.isfinite(truth.points), axis=1)
    errors = np.linalg.norm(pred.points[both] - truth.points[both], axis=1)
    assert both.sum() >= 20 and np.median(errors) < 3.0
    assert (out / "report.html").stat().st_size > 100_000
