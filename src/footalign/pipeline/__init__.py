"""The real-scan path: content checks, orientation, foot splitting, floor detection, prediction,
outputs and batch processing (``footalign predict``)."""

from __future__ import annotations

from footalign.pipeline.predict import FootResult, LandmarkPredictor, ScanResult, predict_scan

__all__ = ["FootResult", "LandmarkPredictor", "ScanResult", "predict_scan"]
