"""Agreement statistics: landmark error summaries, SDR, MAE, Bland–Altman, ICC(2,1).

Pure NumPy functions on 1-D or 2-D arrays; NaN entries are dropped pairwise, and a statistic
that cannot be computed (too few values, no variance) is NaN rather than an exception.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class BlandAltman:
    """Bland–Altman agreement of two methods: mean difference and 95 % limits of agreement.

    ``bias`` = mean(test − reference); ``sd`` is the sample standard deviation (ddof = 1) of the
    differences; limits = bias ± 1.96·sd. ``n`` is the number of complete pairs.
    """

    n: int
    bias: float
    sd: float
    loa_low: float
    loa_high: float


def error_summary(errors: np.ndarray) -> dict[str, float]:
    """Mean, median, 95th percentile and maximum of the finite values of ``errors``.

    Returns NaN for every statistic when no value is finite.
    """
    e = np.asarray(errors, dtype=float)
    e = e[np.isfinite(e)]
    if e.size == 0:
        nan = float("nan")
        return {"mean": nan, "median": nan, "p95": nan, "max": nan}
    return {
        "mean": float(e.mean()),
        "median": float(np.median(e)),
        "p95": float(np.percentile(e, 95)),
        "max": float(e.max()),
    }


def success_detection_rate(errors: np.ndarray, threshold_mm: float, *, n_expected: int | None = None) -> float:
    """Fraction of landmarks found within ``threshold_mm`` of the truth (SDR).

    Parameters
    ----------
    errors : Euclidean errors in mm; NaN for a landmark that was expected but not predicted.
    threshold_mm : success radius (inclusive).
    n_expected : denominator; default ``errors.size``. NaN errors count as failures, so a
        missing prediction lowers the rate instead of being silently left out.
    """
    e = np.asarray(errors, dtype=float)
    n = e.size if n_expected is None else n_expected
    if n == 0:
        return float("nan")
    return float(np.count_nonzero(np.isfinite(e) & (e <= threshold_mm)) / n)


def wrap_degrees(diff: np.ndarray) -> np.ndarray:
    """Wrap angle differences (degrees) into [-180, 180)."""
    return (np.asarray(diff, dtype=float) + 180.0) % 360.0 - 180.0


def complete_pairs(test: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs ``(test[i], reference[i])`` where both values are finite."""
    a = np.asarray(test, dtype=float).ravel()
    b = np.asarray(reference, dtype=float).ravel()
    if a.shape != b.shape:
        raise ValueError(f"test and reference differ in length: {a.size} vs {b.size}")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep]


def mean_absolute_error(test: np.ndarray, reference: np.ndarray, *, angular: bool = False) -> float:
    """Mean |test − reference| over complete pairs; ``angular`` wraps differences to ±180°."""
    a, b = complete_pairs(test, reference)
    if a.size == 0:
        return float("nan")
    diff = wrap_degrees(a - b) if angular else a - b
    return float(np.mean(np.abs(diff)))


def bland_altman(test: np.ndarray, reference: np.ndarray, *, angular: bool = False) -> BlandAltman:
    """Bland–Altman bias and 95 % limits of agreement of ``test`` against ``reference``.

    Notes
    -----
    d_i = test_i − reference_i (wrapped to ±180° when ``angular``); bias = mean(d);
    limits of agreement = bias ± 1.96·SD(d) with the sample SD (ddof = 1).

    References
    ----------
    Bland JM, Altman DG. Statistical methods for assessing agreement between two methods of
    clinical measurement. Lancet 1986; 327(8476): 307–310.
    """
    a, b = complete_pairs(test, reference)
    diff = wrap_degrees(a - b) if angular else a - b
    nan = float("nan")
    if diff.size == 0:
        return BlandAltman(0, nan, nan, nan, nan)
    bias = float(diff.mean())
    sd = float(diff.std(ddof=1)) if diff.size > 1 else nan
    return BlandAltman(int(diff.size), bias, sd, bias - 1.96 * sd, bias + 1.96 * sd)


def icc_2_1(ratings: np.ndarray) -> float:
    """ICC(2,1): two-way random effects, absolute agreement, single measures.

    Parameters
    ----------
    ratings : ``(n_subjects, k_raters)`` array; rows with any NaN are dropped.

    Returns
    -------
    float
        The intraclass correlation; NaN with fewer than 2 complete subjects or 2 raters, or when
        the ratings have no variance at all.

    Notes
    -----
    From the two-way ANOVA mean squares of the ``n × k`` table (Shrout & Fleiss case 2,
    McGraw & Wong ICC(A,1)):

    ``ICC = (MSR − MSE) / (MSR + (k − 1)·MSE + k·(MSC − MSE)/n)``

    with MSR the between-subjects (rows) mean square, MSC the between-raters (columns) mean
    square and MSE the residual mean square.

    References
    ----------
    Shrout PE, Fleiss JL. Intraclass correlations: uses in assessing rater reliability.
    Psychol Bull 1979; 86(2): 420–428 (worked example in Table 2: ICC(2,1) = 0.29).
    """
    x = np.asarray(ratings, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"ratings must be a 2-D (subjects x raters) array, got shape {x.shape}")
    x = x[np.all(np.isfinite(x), axis=1)]
    n, k = x.shape
    if n < 2 or k < 2:
        return float("nan")
    grand = x.mean()
    ss_rows = k * np.sum((x.mean(axis=1) - grand) ** 2)
    ss_cols = n * np.sum((x.mean(axis=0) - grand) ** 2)
    ss_total = np.sum((x - grand) ** 2)
    ss_error = ss_total - ss_rows - ss_cols
    msr = ss_rows / (n - 1)
    msc = ss_cols / (k - 1)
    mse = ss_error / ((n - 1) * (k - 1))
    denominator = msr + (k - 1) * mse + k * (msc - mse) / n
    if not np.isfinite(denominator) or abs(denominator) < 1e-12:
        return float("nan")
    return float((msr - mse) / denominator)
