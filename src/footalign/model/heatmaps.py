"""Heatmaps: Gaussian targets, spatial softmax, soft-argmax, and decoding to sub-voxel points.

All positions here are continuous voxel indices of the network grid (the model code converts
them to LPS mm). A network channel is turned into a probability map by a spatial softmax; its
target is a normalised Gaussian, and the training loss combines the soft-argmax distance with a
divergence term pulling the map towards that Gaussian (DSNT, Nibali et al. 2018).
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import gammainc

# Probability mass of a 3D isotropic Gaussian within 2 sigma of its centre: the chi distribution
# with 3 dof, P(3/2, 2^2/2) (scipy.special, not scipy.stats, which costs ~1 s of start-up).
_MASS_2SIGMA = float(gammainc(1.5, 2.0))


def voxel_grid(shape: tuple[int, ...], *, device: torch.device | str = "cpu") -> torch.Tensor:
    """Voxel index coordinates ``(N, 3)`` of a 3D grid in C order (i slowest)."""
    axes = [torch.arange(n, dtype=torch.float32, device=device) for n in shape]
    mesh = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([m.reshape(-1) for m in mesh], dim=-1)


def spatial_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Softmax over the spatial axes of ``(B, C, I, J, K)`` logits."""
    b, c = logits.shape[:2]
    return torch.softmax(logits.reshape(b, c, -1), dim=-1).reshape(logits.shape)


def soft_argmax(prob: torch.Tensor) -> torch.Tensor:
    """Expected voxel position ``(B, C, 3)`` of probability maps ``(B, C, I, J, K)``."""
    b, c = prob.shape[:2]
    grid = voxel_grid(tuple(prob.shape[2:]), device=prob.device)
    return prob.reshape(b, c, -1) @ grid


def gaussian_target(points: torch.Tensor, shape: tuple[int, int, int], sigma_vox: float) -> torch.Tensor:
    """Normalised (sum 1) Gaussians ``(B, C, I, J, K)`` centred on voxel positions ``(B, C, 3)``.

    Built as the outer product of three 1D Gaussians (separable, cheap on big grids).
    """
    factors = []
    for d, n in enumerate(shape):
        axis = torch.arange(n, dtype=points.dtype, device=points.device)
        g = torch.exp(-0.5 * ((axis - points[..., d : d + 1]) / sigma_vox) ** 2)
        factors.append(g / g.sum(-1, keepdim=True).clamp_min(1e-12))
    gi, gj, gk = factors
    return gi[..., :, None, None] * gj[..., None, :, None] * gk[..., None, None, :]


def kl_to_target(log_prob: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL(target || prob) ``(B, C)`` for log-probability maps and target maps ``(B, C, ...)``."""
    t = target.flatten(2)
    entropy = (t * torch.log(t.clamp_min(1e-12))).sum(-1)
    return entropy - (t * log_prob.flatten(2)).sum(-1)


def heatmap_loss(
    logits: torch.Tensor,
    points: torch.Tensor,
    valid: torch.Tensor,
    *,
    spacing_mm: float,
    sigma_mm: float,
    heatmap_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """DSNT-style loss: soft-argmax distance (mm) + ``heatmap_weight`` x KL(target Gaussian || map).

    (The DSNT paper uses a Jensen-Shannon term; KL to the target needs one log-softmax and is
    several times cheaper on CPU, with the same minimiser.)

    Parameters
    ----------
    logits : (B, C, I, J, K) network output.
    points : (B, C, 3) target voxel positions (anything where ``valid`` is false).
    valid : (B, C) bool, which channels are supervised.

    Returns
    -------
    loss : scalar tensor to minimise.
    distance_mm : (B, C) detached soft-argmax errors in mm (NaN where not valid).
    """
    b, c = logits.shape[:2]
    log_prob = torch.log_softmax(logits.reshape(b, c, -1), dim=-1)
    prob = log_prob.exp()
    pts = torch.where(valid[..., None], points, torch.zeros_like(points))
    grid = voxel_grid(tuple(logits.shape[2:]), device=logits.device)
    expected = prob @ grid
    dist = torch.linalg.norm(expected - pts, dim=-1) * spacing_mm
    target = gaussian_target(pts, tuple(logits.shape[2:]), sigma_mm / spacing_mm)
    kl = kl_to_target(log_prob, target)
    weight = valid.float()
    n = weight.sum().clamp_min(1.0)
    loss = ((dist + heatmap_weight * kl) * weight).sum() / n
    shown = torch.where(valid, dist.detach(), torch.full_like(dist, float("nan")))
    return loss, shown


def gaussian_heatmap(center: np.ndarray, shape: tuple[int, int, int], sigma_vox: float) -> np.ndarray:
    """A normalised Gaussian probability map on a voxel grid (the encoding the network learns)."""
    axes = np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij")
    d2 = sum((a - c) ** 2 for a, c in zip(axes, center, strict=True))
    g = np.exp(-0.5 * d2 / sigma_vox**2)
    return g / g.sum()


def decode_heatmaps(
    prob: np.ndarray,
    *,
    method: str = "local",
    window_vox: float = 3.0,
    sigma_vox: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode probability maps ``(C, I, J, K)`` to sub-voxel positions and confidences.

    Parameters
    ----------
    method : ``"local"`` = weighted mean within ``window_vox`` of the arg-max (robust to a second
        mode far away); ``"softargmax"`` = expectation over the whole grid.
    window_vox : radius of the local window (voxels).
    sigma_vox : width of the training target; sets the radius of the confidence mass.

    Returns
    -------
    points : (C, 3) continuous voxel indices.
    confidence : (C,) in [0, 1]: probability mass within 2 sigma of the peak divided by the mass
        a perfect target Gaussian has there (1 = sharp single peak, ~0 = diffuse or split).
    """
    c = prob.shape[0]
    shape = np.asarray(prob.shape[1:])
    flat = prob.reshape(c, -1)
    peaks = np.stack(np.unravel_index(flat.argmax(axis=1), prob.shape[1:]), axis=-1)
    points = np.zeros((c, 3))
    confidence = np.zeros(c)
    grids = np.meshgrid(*[np.arange(n, dtype=float) for n in prob.shape[1:]], indexing="ij")
    coords = np.stack([g.reshape(-1) for g in grids], axis=-1)
    for ch in range(c):
        p = flat[ch].astype(np.float64)
        total = p.sum()
        d2 = ((coords - peaks[ch]) ** 2).sum(-1)
        if method == "softargmax":
            points[ch] = (p @ coords) / max(total, 1e-12)
        else:
            w = np.where(d2 <= window_vox**2, p, 0.0)
            points[ch] = (w @ coords) / max(w.sum(), 1e-12)
        mass = p[d2 <= (2.0 * sigma_vox) ** 2].sum() / max(total, 1e-12)
        confidence[ch] = min(1.0, mass / _MASS_2SIGMA)
    points = np.clip(points, 0.0, shape - 1.0)
    return points, confidence
