"""Pictures and a summary of the shipped model on the real WBCT in ``../shared/data/real_wbct``.

    python scripts/real_scan_pictures.py [--real ../shared/data/real_wbct] [--model DIR]

Writes ``docs/img/real_scan_{mips,slices,3d}.png`` (the report's own figures for the left foot)
and ``docs/real_scan_result.json`` (per landmark: status, confidence, position; QC warnings;
NIfTI vs DICOM agreement; timings), which ``docs/real_scan.md`` quotes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from footalign.anatomy import LANDMARK_NAMES
from footalign.io.atomic import atomic_path, write_text_atomic
from footalign.io.images import read_image
from footalign.io.jsonable import to_jsonable
from footalign.model.predictor import Predictor
from footalign.pipeline.predict import predict_scan
from footalign.report.figures import foot_figures

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, default=REPO.parent / "shared" / "data" / "real_wbct")
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    predictor = Predictor.from_folder(args.model)
    results = {}
    for which in ("wbct_left_0p8mm.nii.gz", "dicom"):
        results[which] = predict_scan(read_image(args.real / which), predictor, source=which)
    result = results["wbct_left_0p8mm.nii.gz"]
    foot = result.feet[0]
    status = list(foot.landmarks.status or [])
    for key, png in foot_figures(result, foot).items():
        with atomic_path(REPO / "docs" / "img" / f"real_scan_{key}.png") as tmp:
            tmp.write_bytes(png)
    a, b = (r.feet[0].landmarks.points for r in results.values())
    both = np.all(np.isfinite(a), axis=1) & np.all(np.isfinite(b), axis=1)
    summary = {
        "model": {k: str(v).replace(str(REPO) + "/", "") for k, v in result.model_info.items()},
        "side": foot.side, "side_source": foot.region.side_source,
        "floor_source": foot.measurements.floor_source,
        "landmarks": {n: {"status": s, "confidence": round(float(c), 3),
                          "lps_mm": None if not np.all(np.isfinite(p)) else np.round(p, 1).tolist()}
                      for n, s, c, p in zip(LANDMARK_NAMES, status, foot.landmarks.confidence,
                                            foot.landmarks.points, strict=True)},
        "qc": [w.as_dict() for w in foot.qc],
        "measurements": {k: (round(v, 1) if np.isfinite(v) else None) for k, v in foot.measurements.values.items()},
        "nifti_vs_dicom_max_mm": float(np.max(np.linalg.norm(a[both] - b[both], axis=1))) if both.any() else None,
        "n_marked_in_both": int(both.sum()),
        "timings_s": result.timings,
    }
    write_text_atomic(REPO / "docs" / "real_scan_result.json", json.dumps(to_jsonable(summary), indent=1) + "\n")
    counts = {s: status.count(s) for s in sorted(set(status))}
    print(f"{foot.side} foot ({foot.region.side_source}); statuses {counts}; NIfTI vs DICOM "
          f"max {summary['nifti_vs_dicom_max_mm']:.2f} mm over {summary['n_marked_in_both']} landmarks")


if __name__ == "__main__":
    main()
