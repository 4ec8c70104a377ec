"""Remake the bundled demo scan (``src/footalign/data/demo``) from its recipe with the current simulator.

    python scripts/make_demo_scan.py [--work work_data/demo_candidates]

Simulates six single-foot scans with hallux valgus at 1.2 mm (seed 4242; the simulator draws
each side at random), takes the first right foot whose field of view holds all 22 landmarks,
sets the air outside the body to exactly -1000 HU (so the compressed file stays small; voxels
inside the body are unchanged) and writes
``demo_scan.nii.gz`` with its ground truth ``demo_truth.json`` (copied unchanged).
Run it after any simulator change that alters the scans, then update the demo README's size line.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from footalign.image import Image
from footalign.io.atomic import write_text_atomic
from footalign.io.images import read_image, write_image
from footalign.io.landmarks import read_landmarks
from footalign.model.dataset import read_dataset
from footalign.simulate.dataset import simulate_dataset

DEMO_DIR = Path(__file__).resolve().parents[1] / "src" / "footalign" / "data" / "demo"
RECIPE = {"n": 6, "seed": 4242, "spacing": 1.2, "bilateral_fraction": 0.0, "pathology_mix": "hallux_valgus=1"}
BODY_THRESHOLD_HU = -600.0
SMOOTHING_MM = 1.0
BODY_DILATION_VOXELS = 3  # keeps the skin's partial-volume rim


def air_to_minus_1000(image: Image) -> Image:
    """``image`` with every voxel outside the (dilated, smoothed-threshold) body set to -1000 HU."""
    itk = image.to_sitk()
    smooth = sitk.SmoothingRecursiveGaussian(sitk.Cast(itk, sitk.sitkFloat32), SMOOTHING_MM)
    body = sitk.BinaryDilate(smooth > BODY_THRESHOLD_HU, [BODY_DILATION_VOXELS] * 3)
    masked = sitk.Mask(sitk.Cast(itk, sitk.sitkInt16), body, outsideValue=-1000)
    return Image.from_sitk(masked, dict(image.meta))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("work_data/demo_candidates"))
    args = parser.parse_args()
    if args.work.exists():
        shutil.rmtree(args.work)
    data = read_dataset(simulate_dataset(args.work, workers=1, **RECIPE).parent)
    for case in data.cases:
        truth = read_landmarks(case.landmarks)
        if len(truth) == 1 and truth[0].side == "right" and np.all(np.isfinite(truth[0].points)):
            break
    else:
        raise SystemExit(f"no right foot of {args.work} holds all 22 landmarks; change the recipe")
    demo = air_to_minus_1000(read_image(case.image))
    write_image(demo, DEMO_DIR / "demo_scan.nii.gz")
    write_text_atomic(DEMO_DIR / "demo_truth.json", Path(case.landmarks).read_text())
    size = (DEMO_DIR / "demo_scan.nii.gz").stat().st_size / 1e6
    print(f"{case.id}: {' x '.join(map(str, demo.shape))} voxels, {demo.spacing[0]:g} mm, {size:.2f} MB "
          f"-> {DEMO_DIR}")


if __name__ == "__main__":
    main()
