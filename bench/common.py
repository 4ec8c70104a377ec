"""Shared helpers of the benchmarks: paths, machine description, result files, timing, tables.

Every benchmark writes ``bench/results/<name>.json`` through :func:`write_result`, which adds the
machine (cores, CPU model, RAM), software versions, date and git commit, so a number is never
separated from where and how it was measured.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from footalign.io.jsonable import to_jsonable

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
DOCS = REPO / "docs"
DOCS_IMG = DOCS / "img"
# Large generated inputs (simulated scans, trained peer models) stay out of git.
WORK = REPO / "work_data" / "bench"
BENCH_VENV = REPO / ".venv-bench"

# The held-out synthetic test set: never used for training or model selection.
TEST_SET_SEED = 9001


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or the platform string elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def total_ram_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return float("nan")


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10)
        commit = out.stdout.strip() if out.returncode == 0 else "uncommitted"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return commit + ("+dirty" if dirty and commit != "uncommitted" else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def versions() -> dict[str, str]:
    """Versions of Python and the libraries the numbers depend on."""
    out = {"python": platform.python_version()}
    for name in ("footalign", "torch", "monai", "numpy", "SimpleITK", "scipy"):
        try:
            module = __import__(name)
            out[name] = str(getattr(module, "__version__", getattr(module, "Version", lambda: "?")))
        except ImportError:
            out[name] = "not installed"
    try:
        import torch

        out["torch_threads"] = str(torch.get_num_threads())
    except ImportError:
        pass
    return out


def machine_info() -> dict[str, Any]:
    """Where the benchmark ran: cores, CPU model, RAM, OS, versions, UTC date, git commit."""
    return {
        "cores": usable_cores(),
        "cpu_model": cpu_model(),
        "ram_gb": total_ram_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "versions": versions(),
        "date_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": git_commit(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }


def jsonable(obj: Any) -> Any:
    """NumPy values → Python, NaN/inf → None, Paths → repo-relative strings (recursively)."""
    return to_jsonable(obj, path_to_str=_repo_relative)


def _repo_relative(path: Path) -> str:
    """A path inside the repository as a relative POSIX string; outside it, just the file name."""
    try:
        return path.resolve().relative_to(REPO).as_posix()
    except ValueError:
        return path.name


def result_path(name: str) -> Path:
    """``bench/results/<name>.json``; quick and development runs go to the untracked ``results/tmp/``."""
    return (RESULTS / "tmp" if name.endswith(("_quick", "_dev")) else RESULTS) / f"{name}.json"


def write_result(name: str, data: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` (atomically) with the machine description added."""
    from footalign.io.atomic import write_text_atomic

    payload = {"benchmark": name, "machine": machine_info(), **data}
    text = json.dumps(jsonable(payload), indent=2) + "\n"
    # Tracked files never carry this machine's absolute paths: make them repo-relative.
    text = text.replace(str(REPO) + "/", "").replace(str(REPO), ".")
    return write_text_atomic(result_path(name), text)


def read_result(name: str) -> dict[str, Any] | None:
    path = result_path(name)
    return json.loads(path.read_text()) if path.is_file() else None


@contextmanager
def stopwatch() -> Iterator[Callable[[], float]]:
    """``with stopwatch() as elapsed: ...; elapsed()`` → seconds since entering (wall clock)."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())


def median_runs(fn: Callable[[], Any], *, repeats: int, warmup: int = 1) -> tuple[float, list[float], Any]:
    """Run ``fn`` ``warmup`` + ``repeats`` times; return (median seconds, all timed seconds, last result)."""
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, result


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A short rich table on stdout (the benchmark's printed summary)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(*headers, title=title)
    for row in rows:
        table.add_row(*[fmt(v) for v in row])
    Console(width=140).print(table)


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, float | np.floating):
        return "—" if not np.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def set_threads(n: int | None = None) -> int:
    """Use ``n`` torch threads (default: all usable cores) and return the number."""
    import torch

    n = n or usable_cores()
    torch.set_num_threads(n)
    return n
