"""Landmark containers: the 22 points of one foot (LPS mm), optional floor plane and confidences."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from footalign.anatomy import LANDMARK_NAMES, N_LANDMARKS, landmark_index


@dataclass(frozen=True)
class FloorPlane:
    """The weight-bearing floor: a point on it and its unit normal pointing up (LPS mm).

    ``source`` records how it was found: ``"platform"`` (detected in the image), ``"tripod"``
    (plane through CALC_LOW, M1_HEAD, M5_HEAD), ``"file"`` (read with the landmarks) or
    ``"image_axis"`` (last resort: the scanner's axial plane through CALC_LOW).
    """

    point: np.ndarray
    normal: np.ndarray
    source: str = "file"

    def __post_init__(self) -> None:
        n = np.asarray(self.normal, dtype=float)
        norm = np.linalg.norm(n)
        if not np.isfinite(norm) or norm < 1e-9:
            raise ValueError("floor normal must be a non-zero finite vector")
        object.__setattr__(self, "normal", n / norm)
        object.__setattr__(self, "point", np.asarray(self.point, dtype=float))

    def height(self, points: np.ndarray) -> np.ndarray:
        """Signed height (mm) of LPS ``points`` above the plane."""
        return (np.asarray(points, dtype=float) - self.point) @ self.normal


@dataclass
class FootLandmarks:
    """The 22 landmarks of one foot in canonical order (``anatomy.LANDMARK_NAMES``).

    ``points`` is ``(22, 3)`` LPS mm with NaN rows for landmarks that are missing (e.g. outside
    the field of view). ``confidence`` is in [0, 1] per landmark (NaN when unknown).
    ``status`` says why a point is missing or doubtful (``"ok"``, ``"outside_fov"``, ...).
    """

    side: str
    points: np.ndarray
    confidence: np.ndarray | None = None
    floor: FloorPlane | None = None
    status: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.side not in ("left", "right"):
            raise ValueError(f"side must be 'left' or 'right', got {self.side!r}")
        pts = np.asarray(self.points, dtype=float)
        if pts.shape != (N_LANDMARKS, 3):
            raise ValueError(f"expected {N_LANDMARKS}x3 landmark coordinates, got {pts.shape}")
        self.points = pts
        if self.confidence is None:
            self.confidence = np.full(N_LANDMARKS, np.nan)
        self.confidence = np.asarray(self.confidence, dtype=float)
        if self.status is None:
            self.status = ["ok" if np.all(np.isfinite(p)) else "missing" for p in pts]

    def __getitem__(self, name: str) -> np.ndarray:
        return self.points[landmark_index(name)]

    def has(self, name: str) -> bool:
        return bool(np.all(np.isfinite(self[name])))

    def as_dict(self) -> dict[str, np.ndarray]:
        return {name: self.points[i] for i, name in enumerate(LANDMARK_NAMES)}

    @classmethod
    def from_dict(cls, side: str, points: dict[str, Any], **kwargs: Any) -> FootLandmarks:
        """Build from ``{name: (x, y, z)}``; names not given are missing (NaN)."""
        arr = np.full((N_LANDMARKS, 3), np.nan)
        for name, p in points.items():
            arr[landmark_index(name)] = np.asarray(p, dtype=float)
        return cls(side=side, points=arr, **kwargs)
