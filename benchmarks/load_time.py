"""What ``%load_ext nllhint`` adds to a shell, and proof that it does not import torch.

Goal: at most 30 ms. Each measurement is a fresh interpreter, so imports are cold.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

PROBE = r"""
import time, sys
from IPython.testing.globalipapp import start_ipython
ip = start_ipython()
start = time.perf_counter()
ip.run_line_magic("load_ext", "nllhint")
took = (time.perf_counter() - start) * 1000
print(f"{took:.2f} {'torch' in sys.modules}")
"""


def main(runs: int = 7) -> None:
    times, imported = [], set()
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
        ms, torch_loaded = out.stdout.split()[-2:]
        times.append(float(ms))
        imported.add(torch_loaded)
    print(f"%load_ext nllhint: median {statistics.median(times):.1f} ms, max {max(times):.1f} ms "
          f"over {runs} fresh shells; torch imported by loading: {', '.join(sorted(imported))}")


if __name__ == "__main__":
    main()
