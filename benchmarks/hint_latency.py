"""Time from a caught loss exception to its rendered hint, for inputs of 10^3 to 10^9 elements.

Goal: at most 50 ms and flat in the size of the tensors. Prints one row per size; run by hand:

    python benchmarks/hint_latency.py            # up to 10^9 elements (needs ~5 GB of RAM)
    python benchmarks/hint_latency.py --max 8    # up to 10^8
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn as nn

import nllhint
from nllhint.render import render


def failing_call(n_elements: int, classes: int = 100) -> BaseException:
    rows = max(1, n_elements // classes)
    log_probs = torch.zeros(rows, classes)  # NLLLoss input: (rows, classes)
    labels = torch.arange(rows) % classes + 1  # 1-based labels: the classic mistake
    labels[-1] = classes
    try:
        nn.NLLLoss()(log_probs, labels)
    except IndexError as exc:
        return exc
    raise AssertionError("expected an IndexError")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max", type=int, default=9, help="largest size as a power of ten")
    parser.add_argument("--repeat", type=int, default=5)
    ns = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'elements':>14} {'median ms':>10} {'max ms':>8}  finding")
    for power in range(3, ns.max + 1):
        exc = failing_call(10**power)
        times, codes = [], []
        for _ in range(ns.repeat):
            start = time.perf_counter()
            findings = nllhint.explain(exc)
            render(findings, color=False, width=100)
            times.append((time.perf_counter() - start) * 1000)
            codes = [f.code for f in findings]
        print(f"{10**power:>14,} {statistics.median(times):>10.1f} {max(times):>8.1f}  {','.join(codes)}")
        del exc


if __name__ == "__main__":
    main()
