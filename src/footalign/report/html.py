"""Self-contained HTML reports: one per scan (``report.html``) and one per cohort (``summary.html``).

Pictures are embedded as base64 PNG and the style sheet is inline, so a report opens offline
and can be mailed as one file.
"""

from __future__ import annotations

import base64
import html
import time
from typing import Any

import numpy as np

from footalign import __version__
from footalign.anatomy import LANDMARK_NAMES, LANDMARKS, MEASUREMENTS
from footalign.pipeline.predict import FootResult, ScanResult
from footalign.pipeline.qc import doubtful_landmarks, measurement_doubts
from footalign.report.figures import foot_figures

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px;margin-bottom:4px} h2{font-size:18px;border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin-top:22px} table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left} th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums} tr.flag td{background:#fff3cd}
.warn{color:#8a4b00} .info{color:#245} .bad{color:#a00;font-weight:bold} .muted{color:#777;font-size:12px}
img{max-width:100%;border:1px solid #eee} ul.qc li{margin:2px 0}
"""


def png_tag(png: bytes, alt: str) -> str:
    """An <img> element with the PNG embedded as base64."""
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _fmt(v: float, digits: int = 1) -> str:
    return "—" if not np.isfinite(v) else f"{v:.{digits}f}"


def _qc_list(warnings: list[Any]) -> str:
    if not warnings:
        return "<p class='muted'>No QC findings.</p>"
    items = "".join(f"<li class='{html.escape(w.severity)}'><b>{html.escape(w.code)}</b>: "
                    f"{html.escape(w.message)}</li>" for w in warnings)
    return f"<ul class='qc'>{items}</ul>"


def measurement_table(foot: FootResult) -> str:
    """The 14 measurements with units, normal ranges and out-of-range flags."""
    m = foot.measurements
    flags = m.out_of_range()
    doubtful = doubtful_landmarks(foot.landmarks, foot.qc)
    rows = []
    for spec in MEASUREMENTS:
        v = m.values[spec.name]
        lo, hi = spec.normal_range
        if not np.isfinite(v):
            state = f"<span class='muted'>{html.escape(m.reasons.get(spec.name, 'not computed'))}</span>"
        elif flags[spec.name]:
            state = "<span class='bad'>outside normal range</span>"
        else:
            state = "within range"
        doubts = measurement_doubts(spec.landmarks, doubtful, floor_source=m.floor_source,
                                    needs_floor=spec.needs_floor or spec.plane == "sagittal")
        if np.isfinite(v) and doubts:
            state += f"<br><span class='warn'>check: {html.escape(', '.join(doubts))}</span>"
        cls = " class='flag'" if flags[spec.name] else ""
        rows.append(f"<tr{cls}><td>{html.escape(spec.title)}</td><td class='num'>{_fmt(v)}</td>"
                    f"<td>{spec.unit}</td><td>{lo:g} to {hi:g}</td><td>{html.escape(spec.sign)}</td>"
                    f"<td>{state}</td></tr>")
    head = ("<tr><th>measurement</th><th>value</th><th>unit</th><th>normal range</th><th>sign</th>"
            "<th>flag</th></tr>")
    return (f"<table>{head}{''.join(rows)}</table><p class='muted'>Floor used: "
            f"{html.escape(m.floor_source or 'none')}. Normal ranges are for orientation only, not diagnoses."
            "</p>")


def landmark_table(foot: FootResult) -> str:
    """Landmark positions (scan LPS mm), confidence and status, numbered as in the figures."""
    lm = foot.landmarks
    assert lm.confidence is not None and lm.status is not None
    rows = []
    for spec in LANDMARKS:
        p = lm.points[spec.index]
        status = lm.status[spec.index]
        cls = "" if status == "ok" else " class='flag'"
        rows.append(f"<tr{cls}><td>{spec.index + 1}</td><td>{spec.name}</td><td>{spec.bone}</td>"
                    + "".join(f"<td class='num'>{_fmt(c)}</td>" for c in p)
                    + f"<td class='num'>{_fmt(lm.confidence[spec.index], 2)}</td><td>{html.escape(status)}</td></tr>")
    head = ("<tr><th>#</th><th>landmark</th><th>bone</th><th>x (L)</th><th>y (P)</th><th>z (S)</th>"
            "<th>confidence</th><th>status</th></tr>")
    return f"<table>{head}{''.join(rows)}</table>"


def foot_section(result: ScanResult, foot: FootResult) -> str:
    """The report section of one foot: QC, measurements, landmarks and the pictures."""
    t0 = time.perf_counter()
    figures = foot_figures(result, foot)
    foot.landmarks.meta.setdefault("timing", {})["report_figures"] = round(time.perf_counter() - t0, 3)
    status = list(foot.landmarks.status or [])
    n_marked = sum(foot.landmarks.has(n) for n in LANDMARK_NAMES)
    n_measured = sum(np.isfinite(v) for v in foot.measurements.values.values())
    n_flagged = sum(foot.measurements.out_of_range().values())
    n_warnings = sum(w.severity == "warning" for w in foot.qc)
    glance = (f"<p><b>At a glance:</b> {n_marked} of {len(LANDMARK_NAMES)} landmarks marked "
              f"({status.count('outside_fov')} outside the field of view, {status.count('fov_edge')} at its edge, "
              f"{status.count('low_confidence')} low confidence); {n_measured} of {len(MEASUREMENTS)} "
              f"measurements, {n_flagged} outside the normal range; {n_warnings} QC warning(s); floor: "
              f"{html.escape(foot.measurements.floor_source or 'none')}.</p>")
    return f"""
<h2>{foot.side.capitalize()} foot</h2>{glance}
<p class='muted'>Side from: {html.escape(foot.region.side_source)}. Orientation: up from
{html.escape(foot.pose.up_source)}, tilt {foot.pose.tilt_deg:.1f}°; long axis turned {foot.pose.yaw_deg:.1f}°
from anterior{f", rotated back by {foot.pose.turned_deg:.1f}°" if foot.pose.turned_deg else ""}
(pictures are drawn in the frame the model saw; coordinates in the tables are the scan's LPS mm).</p>
<h3>Quality control</h3>{_qc_list(foot.qc)}
<h3>Measurements</h3>{measurement_table(foot)}
<h3>Projections with landmarks and measurement axes</h3>{png_tag(figures["mips"], f"{foot.side} MIPs")}
<h3>3D bone surface</h3>{png_tag(figures["3d"], f"{foot.side} 3D")}
<h3>Each landmark on a slice through it</h3>{png_tag(figures["slices"], f"{foot.side} landmark slices")}
<h3>Landmarks</h3>{landmark_table(foot)}
"""


def scan_report_html(result: ScanResult, *, keep_ids: bool = False, name: str | None = None) -> str:
    """The complete, self-contained HTML report of one scan."""
    from footalign.pipeline.outputs import scan_description

    info = scan_description(result, keep_ids=keep_ids, name=name)
    info_rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                        for k, v in info.items() if k != "direction")
    timing = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
    model = result.model_info or {}
    feet = "".join(foot_section(result, f) for f in result.feet)
    title = f"footalign report{': ' + html.escape(name) if name else ''}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{CSS}</style></head><body>
<h1>{title}</h1>
<p class='muted'>footalign {__version__} · model {html.escape(str(model.get('version', 'unknown')))}
· {len(result.feet)} foot/feet · generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.
Research software: check every landmark before using a measurement.</p>
<h2>Scan</h2><table>{info_rows}</table>
<p class='muted'>Timing: {html.escape(timing)}.</p>
<h3>Scan-level QC</h3>{_qc_list(result.qc)}
{feet}
<h2>Legend</h2><p class='muted'>Landmark numbers in the pictures follow the tables; definitions in
ANATOMY.md. Axis colours: tibial red, talar blue, calcaneal hindfoot orange, calcaneal inclination
purple, M1 green, M2 brown, P1 pink; dashed green = floor.</p>
</body></html>
"""


def summary_html(rows: list[dict[str, Any]], failures: list[dict[str, str]], *, n_scans: int) -> str:
    """The cohort summary: distributions of every measurement, the table, the failures."""
    from footalign.report.cohort import distributions_png

    png = distributions_png(rows) if rows else None
    head = "".join(f"<th>{html.escape(k)}</th>" for k in (rows[0] if rows else {}))
    def cell(key: str, value: Any) -> str:
        text = html.escape(str(value))
        if key == "scan":  # each scan's own report sits in its folder next to this summary
            return f"<td><a href='{html.escape(str(value))}/report.html'>{text}</a></td>"
        return f"<td>{text}</td>"

    body = "".join("<tr>" + "".join(cell(k, v) for k, v in r.items()) + "</tr>" for r in rows)
    fail = "".join(f"<tr><td>{html.escape(f['scan'])}</td><td>{html.escape(f['reason'])}</td></tr>"
                   for f in failures)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>footalign cohort summary</title><style>{CSS}</style></head>
<body><h1>footalign cohort summary</h1>
<p class='muted'>footalign {__version__} · {n_scans} scan(s) · {len(rows)} foot/feet measured ·
{len(failures)} failure(s) · generated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p>
<h2>Distributions</h2>{png_tag(png, 'distributions') if png else "<p>No measurements.</p>"}
<p class='muted'>Shaded band: normal range of ANATOMY.md.</p>
<h2>Measurements</h2><table><tr>{head}</tr>{body}</table>
<h2>Failures</h2>{f"<table><tr><th>scan</th><th>reason</th></tr>{fail}</table>" if failures else "<p>None.</p>"}
</body></html>
"""


__all__ = ["LANDMARK_NAMES", "scan_report_html", "summary_html"]
