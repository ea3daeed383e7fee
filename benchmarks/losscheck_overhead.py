"""What does watching the losses cost? A realistic small training loop, timed three ways.

    /work/venv/bin/python benchmarks/losscheck_overhead.py [--steps 200] [--repeats 7]

Runs an MLP classifier on random MNIST-sized data (784 -> 256 -> 10, batch 128, Adam), and a toy one
(20 -> 64 -> 5, batch 64), for ``--steps``
steps: plain, inside ``nllhint.watch()``, and under ``torch.autograd.detect_anomaly()`` (the usual
"find my NaN" tool, for scale). The three variants run interleaved, in rotating order, timed in process
CPU time (waiting for a core on a busy machine is not counted); the ratio is the median over rounds of
each run divided by the plain run of its round, so slow drift affects both sides alike. The goal is a
ratio <= 1.03 for the watch.
Also reports the per-call cost of the wrapper on a loss-only loop (the worst case: no model at all).
Prints numbers only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import torch
import torch.nn as nn
import torch.nn.functional as F

import nllhint


SIZES = {  # name: (features, hidden, classes, batch)
    "mnist-mlp": (784, 256, 10, 128),
    "tiny-mlp": (20, 64, 5, 64),  # a toy step (~0.2 ms): the fixed per-call cost shows most here
}


def make_run(steps: int, size: str):
    features, hidden, classes, batch = SIZES[size]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()
    data = [(torch.randn(batch, features), torch.randint(0, classes, (batch,))) for _ in range(16)]

    def run():
        for step in range(steps):
            x, y = data[step % len(data)]
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        return loss.item()

    return run


def timed(fn) -> float:
    """CPU time of this process: on a busy machine, time spent waiting for a core is not counted."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def compare(run, size: str, args) -> None:
    run()  # warm up

    def watched():
        with nllhint.watch():
            run()

    def anomaly():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.autograd.detect_anomaly():
                run()

    times = {"plain": [], "watch": [], "anomaly": []}
    variants = [("plain", run), ("watch", watched), ("anomaly", anomaly)]
    for round_ in range(args.repeats):
        shift = round_ % len(variants)  # rotate the order: no variant always runs first or last
        for name, fn in variants[shift:] + variants[:shift]:
            times[name].append(timed(fn))
    features, hidden, classes, batch = SIZES[size]
    print(f"training loop {size}: MLP {features}-{hidden}-{classes}, batch {batch}, Adam, {args.steps} steps, "
          f"{args.repeats} interleaved rounds, {args.threads} thread(s), CPU seconds")
    for name in ("plain", "watch", "anomaly"):
        # ratio: median over rounds of (this run / the plain run of the same round), robust to drift
        ratio = statistics.median(t / p for t, p in zip(times[name], times["plain"]))
        print(f"  {name:<8} median {statistics.median(times[name]):8.4f} s   min {min(times[name]):.4f} s   "
              f"ratio {ratio:6.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 keeps timings stable)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for size in SIZES:
        compare(make_run(args.steps, size), size, args)

    # Worst case: a loop of nothing but loss calls, to show the fixed per-call cost.
    logits, target = torch.randn(32, 10), torch.randint(0, 10, (32,))
    criterion = nn.CrossEntropyLoss()
    n = 20_000

    def calls():
        for _ in range(n):
            criterion(logits, target)

    plain = min(timed(calls) for _ in range(3))
    with nllhint.watch():
        watch = min(timed(calls) for _ in range(3))
    print(f"loss-only loop ({n} calls of CrossEntropyLoss on (32, 10)): "
          f"{plain / n * 1e6:.2f} us plain, {watch / n * 1e6:.2f} us watched, "
          f"+{(watch - plain) / n * 1e6:.2f} us per call")


if __name__ == "__main__":
    main()
