"""Predict the 22 landmarks of one foot with a trained two-stage model bundle.

Usage::

    predictor = Predictor.from_folder()          # the shipped model
    foot = predictor.predict_foot(image, "left")  # FootLandmarks in the image's LPS frame
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from footalign.anatomy import LANDMARK_NAMES, N_LANDMARKS
from footalign.geometry.shape_model import ShapeModel
from footalign.image import Image
from footalign.landmarks import FootLandmarks
from footalign.model.bundle import load_bundle_shape_model, load_inference_bundle, shipped_model_dir
from footalign.model.config import PRECISIONS
from footalign.model.heatmaps import decode_heatmaps, spatial_softmax
from footalign.model.sampling import (
    downsample_for,
    from_network_frame,
    grid_origin,
    grid_points,
    normalize_hu,
    sample_grid,
    sample_points,
    to_network_image,
)


def landmark_box_center(points: np.ndarray) -> np.ndarray:
    """Centre of the bounding box of the finite landmark rows (the stage-1 grid centre)."""
    finite = points[np.all(np.isfinite(points), axis=1)]
    return 0.5 * (finite.min(axis=0) + finite.max(axis=0))


def landmark_status(points: np.ndarray, confidence: np.ndarray, image: Image, *,
                    threshold: float) -> tuple[np.ndarray, list[str]]:
    """Flag predicted points: outside the image's field of view → NaN + ``"outside_fov"``;
    confidence below ``threshold`` → ``"low_confidence"``; otherwise ``"ok"``."""
    inside = image.contains(points)
    status = ["outside_fov" if not inside[i] else "low_confidence" if confidence[i] < threshold else "ok"
              for i in range(len(points))]
    return np.where(inside[:, None], points, np.nan), status


def cpu_has_native_bf16() -> bool:
    """Does this CPU compute bfloat16 natively (AVX512-BF16 or AMX)? Emulated bf16 is slower."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())
    except AttributeError:  # private helpers of torch 2.x; absent elsewhere: stay in float32
        return False


class Predictor:
    """A loaded two-stage landmark model (CPU inference).

    Parameters
    ----------
    config : the bundle's ``config.json`` content.
    stage1, stage2 : the coarse and the fine network (eval mode).
    shape_model : the landmark shape prior of the training data (``None`` if the bundle has none);
        the pipeline checks predictions against it.
    precision : ``"float32"``, ``"bfloat16"`` (autocast: 2-3x faster networks on CPUs with
        native bf16, i.e. AVX512-BF16/AMX) or ``"auto"`` (bfloat16 where the CPU has it).
    """

    def __init__(self, config: dict[str, Any], stage1: torch.nn.Module, stage2: torch.nn.Module, *,
                 device: str = "cpu", source: str = "", shape_model: ShapeModel | None = None,
                 precision: str = "auto") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.config = config
        self.shape_model = shape_model
        self.precision = ("bfloat16" if cpu_has_native_bf16() else "float32") if precision == "auto" else precision
        self.device = torch.device(device)
        self.stage1 = stage1.to(self.device).eval()
        self.stage2 = stage2.to(self.device).eval()
        self.source = source

    @classmethod
    def from_folder(cls, model_dir: str | Path | None = None, *, device: str = "cpu",
                    precision: str = "auto") -> Predictor:
        """Load a model bundle (``None`` = the model shipped with footalign), verifying checksums.

        Raises
        ------
        footalign.errors.ModelError
            Missing folder or file, checksum mismatch, or weights that do not fit the config.
        """
        folder = shipped_model_dir() if model_dir is None else Path(model_dir)
        config, net1, net2 = load_inference_bundle(folder)
        return cls(config, net1, net2, device=device, source=str(folder),
                   shape_model=load_bundle_shape_model(folder), precision=precision)

    # ----- stages ------------------------------------------------------------------------------
    def _run(self, net: torch.nn.Module, volumes: np.ndarray) -> np.ndarray:
        hu = self.config["intensity"]
        x = torch.from_numpy(np.ascontiguousarray(volumes, dtype=np.float32))[:, None].to(self.device)
        x = normalize_hu(x, hu_min=hu["hu_min"], hu_max=hu["hu_max"])
        # optimized_execution(False): TorchScript's profiling executor spends its first calls
        # re-optimising the graph (0.4 s per network in a fresh process) for no gain on these convs.
        with torch.inference_mode(), torch.jit.optimized_execution(False), torch.autocast(
                self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            logits = net(x)
        return spatial_softmax(logits.float()).cpu().numpy()

    def locate_coarse(self, image: Image) -> tuple[np.ndarray, np.ndarray]:
        """Stage 1 on a network-frame image: positions (22, 3) mm and confidences of all landmarks."""
        cfg = self.config["stage1"]
        background = self.config["intensity"]["background_hu"]
        spacing, shape = float(cfg["spacing_mm"]), tuple(cfg["shape"])
        coarse = downsample_for(image, spacing)
        center = image.center()
        points = confidence = None
        for _ in range(int(cfg.get("passes", 1))):
            volume = sample_grid(coarse, center, spacing=spacing, shape=shape, background_hu=background)
            prob = self._run(self.stage1, volume[None])[0]
            vox, confidence = decode_heatmaps(prob, method=cfg["decode"], window_vox=cfg["window_mm"] / spacing,
                                              sigma_vox=cfg["sigma_mm"] / spacing)
            points = grid_origin(center, spacing=spacing, shape=shape) + vox * spacing
            # Re-centre on the found landmarks, as in training (grid centred on their box).
            center = landmark_box_center(points)
        assert points is not None and confidence is not None
        return points, confidence

    def refine(self, image: Image, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Stage 2 on a network-frame image: refine positions (22, 3) in fine patches.

        Each pass re-centres the patches on the previous result. With ``repeat_moved_mm`` in the
        stage-2 config, a landmark gets another pass only if the last one moved it farther than
        that (a point already at its patch centre gains nothing from a second look).
        """
        cfg = self.config["stage2"]
        background = self.config["intensity"]["background_hu"]
        spacing, shape = float(cfg["spacing_mm"]), tuple(cfg["shape"])
        repeat_mm = cfg.get("repeat_moved_mm")
        points = np.array(points, dtype=float)
        confidence = np.zeros(points.shape[0])
        active = np.arange(points.shape[0])
        for _ in range(int(cfg.get("passes", 1))):
            centres = points[active]
            grid = np.concatenate([grid_points(p, spacing=spacing, shape=shape) for p in centres])
            values = sample_points(image, grid, background_hu=background)
            prob_all = self._run(self.stage2, values.reshape(len(active), *shape))
            prob = prob_all[np.arange(len(active)), active]  # patch of landmark k is read from channel k
            vox, conf = decode_heatmaps(prob, method=cfg["decode"], window_vox=cfg["window_mm"] / spacing,
                                        sigma_vox=cfg["sigma_mm"] / spacing)
            origins = np.stack([grid_origin(p, spacing=spacing, shape=shape) for p in centres])
            refined = origins + vox * spacing
            points[active], confidence[active] = refined, conf
            if repeat_mm is not None:
                active = active[np.linalg.norm(refined - centres, axis=1) > float(repeat_mm)]
                if active.size == 0:
                    break
        return points, confidence

    # ----- public API --------------------------------------------------------------------------
    def predict_foot(self, image: Image, side: str, *, progress: bool = False) -> FootLandmarks:
        """Predict the 22 landmarks of one foot.

        Parameters
        ----------
        image : a region holding one foot, roughly upright (+z superior), any spacing/direction.
        side : ``"left"`` or ``"right"``; left feet are mirrored to right for the networks.
        progress : print a short line per stage (for the CLI).

        Returns
        -------
        FootLandmarks
            Points in the input's LPS frame (mm); ``confidence`` in [0, 1]; ``status`` is ``"ok"``,
            ``"low_confidence"`` or ``"outside_fov"`` (point NaN); ``meta["timing"]`` holds
            seconds per stage.
        """
        if side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {side!r}")
        t0 = time.perf_counter()
        net_image = to_network_image(image, side)
        coarse, conf1 = self.locate_coarse(net_image)
        t1 = time.perf_counter()
        if progress:
            print(f"  stage 1 (coarse, {side} foot): {t1 - t0:.2f} s")
        fine, conf2 = self.refine(net_image, coarse)
        t2 = time.perf_counter()
        if progress:
            print(f"  stage 2 (refine {N_LANDMARKS} landmarks): {t2 - t1:.2f} s")
        points = from_network_frame(fine, side)
        confidence = np.clip(conf2, 0.0, 1.0)
        points, status = landmark_status(points, confidence, image,
                                         threshold=float(self.config.get("confidence_threshold", 0.5)))
        meta = {
            "timing": {"stage1": t1 - t0, "stage2": t2 - t1},
            "model": {"source": self.source, "version": self.config.get("model_version", "dev"),
                      "precision": self.precision},
            "coarse_confidence": dict(zip(LANDMARK_NAMES, conf1.round(3).tolist(), strict=True)),
        }
        return FootLandmarks(side=side, points=points, confidence=confidence, status=status, meta=meta)
