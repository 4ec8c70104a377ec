"""The per-scan HTML report and its figures, and the cohort summary."""

from __future__ import annotations

import base64
import io
import re
import time

import matplotlib.image as mpimg
import numpy as np
import pytest

from footalign.anatomy import LANDMARK_NAMES, MEASUREMENTS
from footalign.image import Image
from footalign.pipeline.predict import predict_scan
from footalign.report.figures import bone_surface
from footalign.report.html import scan_report_html, summary_html
from test_pipeline_phantoms import MarkerPredictor, make_scan, subvolume


@pytest.fixture(scope="module")
def cut_result():
    """A right foot with the forefoot cut off (some landmarks outside the field of view)."""
    image, _, _ = make_scan()
    y = image.origin[1] + image.spacing[1] * np.arange(image.shape[1])
    cut = subvolume(image, (slice(None), slice(int(np.argmax(y > -95.0)), None), slice(None)))
    cut.meta.update({"PatientName": "ROE^RICHARD", "PatientID": "P-998877"})
    return predict_scan(cut, MarkerPredictor(), crop_spacing=1.5)


def _images(html: str) -> list[np.ndarray]:
    return [mpimg.imread(io.BytesIO(base64.b64decode(b)), format="png")
            for b in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)]


def test_report_is_self_contained_and_complete(cut_result):
    t0 = time.perf_counter()
    html = scan_report_html(cut_result)
    elapsed = time.perf_counter() - t0
    # Offline: no external resources of any kind.
    assert not re.search(r'(src|href)="(https?:)?//', html) and "<script" not in html and "<link" not in html
    pictures = _images(html)
    assert len(pictures) == 3  # MIPs, 3D surface, landmark slices (one foot)
    assert all(p.ndim == 3 and p.shape[0] > 200 and p.shape[1] > 200 for p in pictures)
    assert all(p[..., :3].std() > 0.05 for p in pictures)  # not blank
    for name in LANDMARK_NAMES:
        assert name in html
    for spec in MEASUREMENTS:
        assert spec.title.replace("ö", "&ouml;") in html or spec.title in html
    foot = cut_result.feet[0]
    n_flagged = sum(foot.measurements.out_of_range().values())
    assert html.count("outside normal range") == n_flagged
    assert "outside_fov" in html and "M1_HEAD" in html
    assert "truncated_fov" in html and "floor" in html
    assert "test-double" in html  # model version shown
    assert elapsed < 20.0


def test_report_has_no_identifiers_unless_asked(cut_result):
    # Strip the embedded pictures: base64 text can contain any short letter sequence.
    html = re.sub(r"base64,[A-Za-z0-9+/=]+", "", scan_report_html(cut_result))
    assert "ROE" not in html and "P-998877" not in html
    kept = scan_report_html(cut_result, keep_ids=True, name="case_7")
    assert "ROE^RICHARD" in kept and "case_7" in kept


def test_bone_surface_is_in_physical_millimetres():
    spacing, n = 1.0, 60
    idx = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), axis=-1)
    origin = np.array([-20.0, 35.0, 100.0])
    centre = origin + 30.0
    ball = np.linalg.norm(idx * spacing + origin - centre, axis=-1) <= 18.0
    image = Image(np.where(ball, 800.0, -1000.0).astype(np.float32), (spacing,) * 3, tuple(origin))
    verts, faces = bone_surface(image, threshold=-100.0, spacing=2.0)
    assert len(faces) > 100
    radius = np.linalg.norm(verts - centre, axis=1)
    assert abs(np.median(radius) - 18.0) < 1.5 and radius.max() < 21.0


def test_summary_shows_distributions_and_failures():
    rows = [{"scan": f"s{i}", "side": side, "floor_source": "platform",
             **{f"{m.name} [{m.unit}]": round(float(np.mean(m.normal_range)) + i, 2) for m in MEASUREMENTS}}
            for i, side in enumerate(["left", "right", "left"])]
    html = summary_html(rows, [{"scan": "bad", "reason": "x.nii.gz: volume is constant"}], n_scans=4)
    assert len(_images(html)) == 1
    assert "bad" in html and "volume is constant" in html and "s2" in html
