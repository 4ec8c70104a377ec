"""Run one ``read_image`` + ``predict_scan`` in a fresh process and print its cost as JSON.

Used by the memory and scaling benchmarks: the peak resident set size (``VmHWM``) of this
process is the peak memory of predicting that scan, imports and model included.

    python bench/predict_probe.py SCAN [--model DIR] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time


def peak_rss_mb() -> float:
    """This process's peak resident memory (MB): ``VmHWM`` of /proc/self/status.

    ``ru_maxrss`` is not used: Linux carries the parent's peak over ``fork``/``exec`` into it,
    so a probe started from a big benchmark process would report the parent's memory.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("scan")
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    import torch

    from footalign.io.images import read_image
    from footalign.model.predictor import Predictor
    from footalign.pipeline.predict import predict_scan

    torch.set_num_threads(args.threads)
    predictor = Predictor.from_folder(args.model)
    rss_after_load = peak_rss_mb()
    t1 = time.perf_counter()
    image = read_image(args.scan)
    t2 = time.perf_counter()
    result = predict_scan(image, predictor, source=args.scan)
    t3 = time.perf_counter()
    print(json.dumps({
        "shape": list(image.shape), "voxels": int(image.array.size), "spacing_mm": list(image.spacing),
        "n_feet": len(result.feet), "startup_and_model_load_s": t1 - t0, "read_s": t2 - t1,
        "predict_s": t3 - t2, "read_and_predict_s": t3 - t1, "timings": result.timings,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_model_load_mb": rss_after_load,
        "model_version": str(predictor.config.get("model_version", "dev")),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
