"""The real cone-beam WBCT sample in ../shared (left foot, forefoot cut off): skipped when absent.

The image-only steps run always; the full prediction runs when the shipped model exists.
"""

from __future__ import annotations

import numpy as np
import pytest

from footalign.anatomy import LANDMARK_NAMES
from footalign.errors import ModelError
from footalign.io.images import read_image
from footalign.pipeline.predict import locate_feet, predict_scan


@pytest.mark.needs_shared
@pytest.mark.parametrize("which", ["wbct_left_0p8mm.nii.gz", "dicom"])
def test_real_scan_one_left_foot_no_platform_forefoot_cut(real_wbct, which):
    image = read_image(real_wbct / which)
    layout = locate_feet(image, source=which)
    assert len(layout.regions) == 1
    region = layout.regions[0]
    assert region.side == "left" and region.side_source == "fibula"
    if which == "dicom":
        assert image.meta.get("Laterality") == "L"
        assert not any("DICOM laterality says" in n for n in region.notes)  # header and anatomy agree
    assert layout.floor is None  # README: the platform is not distinguishable
    assert not layout.upside_down
    assert layout.analysis.fill_value == pytest.approx(-1019.0)


@pytest.fixture(scope="module")
def shipped_predictor():
    from footalign.model.predictor import Predictor

    try:
        return Predictor.from_folder()
    except ModelError as exc:
        pytest.skip(f"no shipped model yet: {exc}")


@pytest.mark.needs_shared
def test_real_scan_full_prediction_marks_forefoot_outside_fov(real_wbct, shipped_predictor):
    image = read_image(real_wbct / "wbct_left_0p8mm.nii.gz")
    result = predict_scan(image, shipped_predictor, source="real")
    foot = result.feet[0]
    status = dict(zip(LANDMARK_NAMES, foot.landmarks.status, strict=True))
    # README: metatarsal heads and phalanges are not in the field of view.
    for name in ("M1_HEAD", "M2_HEAD", "M5_HEAD", "P1_BASE", "P1_HEAD"):
        assert status[name] in ("outside_fov", "fov_edge", "low_confidence"), (name, status[name])
    # The hindfoot is fully visible: those landmarks are marked inside the volume.
    for name in ("TAL_DOME", "CALC_LOW", "CALC_TUB", "NAV_LOW"):
        assert foot.landmarks.has(name), name
        assert image.contains(foot.landmarks[name])
    assert any(w.code == "truncated_fov" and "anterior" in w.message for w in foot.qc)
    assert np.isfinite(foot.landmarks.points).any()
