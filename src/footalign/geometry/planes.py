"""Planes in 3D: an orthonormal basis of the plane perpendicular to an axis."""

from __future__ import annotations

import numpy as np


def plane_basis(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors ``(u, v)`` spanning the plane perpendicular to ``axis``, with
    ``u x v`` along ``axis`` (a right-handed frame ``u, v, axis``)."""
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    helper = np.eye(3)[int(np.argmin(np.abs(axis)))]  # the coordinate axis least parallel to it
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(axis, u)
