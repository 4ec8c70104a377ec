"""CALC_LOW measured in the image (``pipeline.calcaneus_low``) on a heel-bone phantom."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from scipy.spatial.transform import Rotation

from footalign.image import Image
from footalign.pipeline.calcaneus_low import lowest_bone_point

SPACING = 0.5
RADII = np.array([38.0, 16.0, 20.0])  # a calcaneus-sized ellipsoid: long, narrow, tall
CENTRE = np.array([0.0, 0.0, 40.0])
# Pitched 20 deg and rolled 8 deg: the lowest point is not under the centre.
ROTATION = Rotation.from_euler("yx", [20.0, 8.0], degrees=True).as_matrix()


def _lowest_point_of_ellipsoid(up: np.ndarray = np.array([0.0, 0.0, 1.0])) -> np.ndarray:
    # On the surface {x: (x-c)^T M (x-c) = 1}, M = R diag(1/r^2) R^T, the point whose normal
    # is -up is c - A up / sqrt(up^T A up) with A = M^-1.
    a = ROTATION @ np.diag(RADII**2) @ ROTATION.T
    return CENTRE - a @ up / np.sqrt(up @ a @ up)


def _plateau_point(up: np.ndarray = np.array([0.0, 0.0, 1.0]), plateau_mm: float = 1.0) -> np.ndarray:
    """The CALC_LOW rule on the exact surface: of the lower surface within ``plateau_mm`` of
    the lowest (along ``up``), the point nearest to its centre (on a skewed bottom that is not
    the lowest point itself)."""
    m = ROTATION @ np.diag(1.0 / RADII**2) @ ROTATION.T
    helper = np.eye(3)[int(np.argmin(np.abs(up)))]
    u = np.cross(up, helper)
    u /= np.linalg.norm(u)
    v = np.cross(up, u)
    s, t = np.meshgrid(np.arange(-12.0, 12.0, 0.05), np.arange(-12.0, 12.0, 0.05), indexing="ij")
    base = _lowest_point_of_ellipsoid(up) - CENTRE + s[..., None] * u + t[..., None] * v
    # (base + h up)^T M (base + h up) = 1, the lower root in h.
    qa, qb, qc = up @ m @ up, 2.0 * np.einsum("...i,ij,j->...", base, m, up), np.einsum("...i,ij,...j->...", base, m, base) - 1.0
    disc = qb**2 - 4.0 * qa * qc
    ok = disc >= 0
    h = (-qb - np.sqrt(np.where(ok, disc, 0.0))) / (2.0 * qa)
    points = CENTRE + base + h[..., None] * up
    flat = points[ok & (h <= h[ok].min() + plateau_mm)]
    return flat[int(np.argmin(((flat - flat.mean(axis=0)) ** 2).sum(axis=1)))]


@pytest.fixture(scope="module")
def heel() -> Image:
    """Ellipsoid heel bone (1 mm cortex at 1200 HU, cancellous 250 HU) over a fat pad (-100 HU)
    in soft tissue (40 HU), blurred like a CT (sigma 0.5 mm) and noisy (20 HU)."""
    lower = np.array([-45.0, -25.0, 0.0])
    shape = (181, 101, 141)
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    xyz = lower + SPACING * idx
    local = (xyz - CENTRE) @ ROTATION  # body-frame coordinates of each voxel
    r = np.sqrt(((local / RADII) ** 2).sum(axis=-1))
    depth = (1.0 - r) * RADII.min()  # roughly mm inside the surface (exact enough for a shell)
    hu = np.full(shape, 40.0, np.float32)
    hu[xyz[..., 2] < 12.0] = -100.0  # fat under the heel (its bottom is at z ~17)
    hu[depth >= 0] = 1200.0
    hu[depth >= 1.0] = 250.0
    hu = ndimage.gaussian_filter(hu, 0.5 / SPACING)
    hu += np.random.default_rng(0).normal(0.0, 20.0, shape).astype(np.float32)
    return Image(hu, (SPACING,) * 3, tuple(lower), np.eye(3))


def test_lowest_point_is_found_from_a_start_off_to_the_side(heel):
    truth = _plateau_point()
    up = np.array([0.0, 0.0, 1.0])
    for offset in ([3.0, -2.5, 0.3], [-4.0, 3.0, -0.2], [0.0, 0.0, 0.0]):
        start = truth + np.array(offset)
        found = lowest_bone_point(heel, start, up, threshold_hu=300.0, soft_tissue_hu=40.0)
        assert found.point is not None, found.reason
        sideways = (found.point - truth)[:2]
        assert np.linalg.norm(sideways) < 0.5, (offset, sideways)
        assert found.point[2] == pytest.approx(start[2])  # the height stays the start's
        assert found.plateau_columns > 50  # a 1 mm plateau on a curved bottom, not one column


def test_lowest_point_follows_the_floor_normal(heel):
    # Looking up along a tilted normal, the lowest point moves (the bottom is curved): the
    # search must use the normal it is given, not the image axes.
    up = Rotation.from_euler("x", 10.0, degrees=True).as_matrix() @ np.array([0.0, 0.0, 1.0])
    truth = _plateau_point(up)
    found = lowest_bone_point(heel, truth + np.array([2.0, 2.0, 0.0]), up, threshold_hu=300.0, soft_tissue_hu=40.0)
    sideways = (found.point - truth) - ((found.point - truth) @ up) * up
    assert np.linalg.norm(sideways) < 0.5
    assert np.linalg.norm(truth - _plateau_point()) > 1.5  # a different point indeed (2 mm away)


def test_start_away_from_the_heel_bottom_is_not_measured(heel):
    up = np.array([0.0, 0.0, 1.0])
    truth = _plateau_point()
    inside = lowest_bone_point(heel, truth + 6.0 * up, up, threshold_hu=300.0, soft_tissue_hu=40.0)
    assert inside.point is None and "from the start's height" in inside.reason
    beside = lowest_bone_point(heel, np.array([0.0, -24.0, 8.0]), up, threshold_hu=300.0, soft_tissue_hu=40.0)
    assert beside.point is None and beside.reason == "no bone surface under the start point"
