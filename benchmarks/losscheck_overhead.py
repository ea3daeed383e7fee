"""What does watching the losses cost? A realistic small training loop, timed four ways.

    python benchmarks/losscheck_overhead.py [--steps 200] [--repeats 9]
    python benchmarks/losscheck_overhead.py --device cuda [--steps 300] [--repeats 7]

CPU (the default): 
Runs an MLP classifier on random MNIST-sized data (784 -> 256 -> 10, batch 128, Adam), and a toy one
(20 -> 64 -> 5, batch 64), for ``--steps``
steps: plain, with the default mode's light watch attached the whole time (as after ``%load_ext
nllhint``: its one examination per site happened in the warm-up), inside ``nllhint.watch()``, and under
``torch.autograd.detect_anomaly()`` (the usual "find my NaN" tool, for scale). The three variants run interleaved, in rotating order, timed in process
CPU time (waiting for a core on a busy machine is not counted); the ratio is the median over rounds of
each run divided by the plain run of its round, so slow drift affects both sides alike. The goal is a
ratio <= 1.03 for the watch and <= 1.01 for the default mode.
Also reports the per-call cost of the wrapper on a loss-only loop (the worst case: no model at all).

CUDA (``--device cuda``): an MLP 784-1024-10 at batch 512 with Adam, and a ResNet-18 (written here, no
torchvision) on 3x32x32 images at batch 64, timed in wall-clock time after ``torch.cuda.synchronize()``:
plain, default mode, ``watch()`` and ``watch(values=False)``. Then the synchronisations each watched run
makes, counted with ``torch.cuda.set_sync_debug_mode("warn")``: the goal is none outside the bounded
examinations (a fixed number per call site) and the one read of the NaN flag when the watch ends.
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
from nllhint import watcher


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


class DefaultMode:
    """The light watch of ``%load_ext nllhint``, kept across runs (its call sites stay examined), so a run
    costs what a session with it on all the time pays. Entering and leaving only swap the attributes of
    ``torch.nn.functional`` (the loops call ``nn.CrossEntropyLoss``, which looks ``F.cross_entropy`` up at
    each call): the one-off scan for directly imported names at attach time is not part of a step."""

    def __init__(self):
        watcher._dirs()
        self.watch = watcher.Watch(sample=1, audit_at=())
        self.watch._running = True
        self.originals = {name: getattr(F, name) for name in watcher.LOSS_NAMES if hasattr(F, name)}
        self.wrappers = {name: watcher._PATCHES.wrapper_for(name, fn) for name, fn in self.originals.items()}

    def __enter__(self):
        for name, wrapper in self.wrappers.items():
            setattr(F, name, wrapper)
        watcher._ACTIVE.insert(0, self.watch)

    def __exit__(self, *exc):
        watcher._ACTIVE.remove(self.watch)
        for name, original in self.originals.items():
            setattr(F, name, original)


def variants(run) -> list:
    """(label, function) for the loop plain, in the default mode and under a watch, after a warm-up run
    and the default mode's one examination per site."""
    run()  # warm up (and on an accelerator: cuDNN autotuning, the allocator)
    light = DefaultMode()
    with light:
        run()

    def default():
        with light:
            run()

    def watched():
        with nllhint.watch():
            run()

    return [("plain", run), ("default", default), ("watch", watched)]


def interleaved(variants: list, repeats: int, clock) -> dict:
    """Seconds per variant and round; the order rotates so that no variant always runs first or last."""
    times = {label: [] for label, _ in variants}
    for round_ in range(repeats):
        shift = round_ % len(variants)
        for label, fn in variants[shift:] + variants[:shift]:
            times[label].append(clock(fn))
    return times


def compare(run, size: str, args) -> None:
    def anomaly():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.autograd.detect_anomaly():
                run()

    times = interleaved(variants(run) + [("anomaly", anomaly)], args.repeats, timed)
    features, hidden, classes, batch = SIZES[size]
    print(f"training loop {size}: MLP {features}-{hidden}-{classes}, batch {batch}, Adam, {args.steps} steps, "
          f"{args.repeats} interleaved rounds, {args.threads} thread(s), CPU seconds")
    for name in times:
        # ratio: median over rounds of (this run / the plain run of the same round), robust to drift
        ratio = statistics.median(t / p for t, p in zip(times[name], times["plain"]))
        best = min(times[name]) / min(times["plain"])  # on a busy machine the fastest runs are the least disturbed
        print(f"  {name:<8} median {statistics.median(times[name]):8.4f} s   min {min(times[name]):.4f} s   "
              f"ratio {ratio:6.3f}x   ratio of minima {best:6.3f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 keeps timings stable)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.device != "cpu":
        device_main(args)
        return
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
    light = DefaultMode()
    with light:
        calls()
        default = min(timed(calls) for _ in range(3))
    print(f"loss-only loop ({n} calls of CrossEntropyLoss on (32, 10)): "
          f"{plain / n * 1e6:.2f} us plain, {default / n * 1e6:.2f} us default mode "
          f"(+{(default - plain) / n * 1e6:.2f} us per call), {watch / n * 1e6:.2f} us watched "
          f"(+{(watch - plain) / n * 1e6:.2f} us per call)")


# --- CUDA ----------------------------------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.skip = nn.Sequential()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.skip(x))


def resnet18(classes: int = 10) -> nn.Module:
    """ResNet-18 (BasicBlock, [2, 2, 2, 2]) for 32x32 images, as torchvision builds it minus the stem pool."""
    layers, cin = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()], 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes)]
    return nn.Sequential(*layers)


def device_loop(name: str, steps: int, device: str):
    torch.manual_seed(0)
    if name == "mlp":
        model = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 10)).to(device)
        data = [(torch.randn(512, 784, device=device), torch.randint(0, 10, (512,), device=device))
                for _ in range(8)]
    else:
        model = resnet18().to(device)
        data = [(torch.randn(64, 3, 32, 32, device=device), torch.randint(0, 10, (64,), device=device))
                for _ in range(8)]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    criterion = nn.CrossEntropyLoss()

    def run():
        for step in range(steps):
            x, y = data[step % len(data)]
            optimizer.zero_grad(set_to_none=True)
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        return loss

    return run


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def wall(fn, device: str) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def count_syncs(fn, device: str) -> int:
    """Synchronising CUDA calls made while ``fn`` runs (torch warns for each in sync debug mode "warn")."""
    if not device.startswith("cuda"):
        return -1
    synchronize(device)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode(0)
    return sum("synchroniz" in str(w.message) for w in seen)


def device_main(args) -> None:
    device = args.device
    steps = args.steps if args.steps != 200 else 300
    for name in ("mlp", "resnet18"):
        run = device_loop(name, steps, device)

        def no_values():
            with nllhint.watch(values=False):
                run()

        modes = variants(run) + [("watch(values=False)", no_values)]
        times = interleaved(modes, args.repeats, lambda fn: wall(fn, device))
        fns = dict(modes)
        title = "MLP 784-1024-10, batch 512" if name == "mlp" else "ResNet-18 on 3x32x32, batch 64"
        print(f"{device} training loop: {title}, Adam, {steps} steps, {args.repeats} interleaved rounds, "
              f"wall seconds")
        for label in times:
            ratio = statistics.median(t / p for t, p in zip(times[label], times["plain"]))
            print(f"  {label:<20} median {statistics.median(times[label]):8.4f} s   ratio {ratio:6.3f}x")
        print(f"  synchronisations in one run: plain {count_syncs(run, device)}, default mode "
              f"{count_syncs(fns['default'], device)}, watch {count_syncs(fns['watch'], device)}, "
              f"watch(values=False) {count_syncs(no_values, device)}")


if __name__ == "__main__":
    main()
