"""``nllhint demo`` as a new user meets it: the whole product (errors, %%losscheck, default notices),
without NumPy installed, and nothing on screen that is not part of the tour."""

from __future__ import annotations

import subprocess
import sys

from test_readme import assert_a_clean_gallery

WITHOUT_NUMPY = """
import sys
sys.modules["numpy"] = None   # as in a fresh venv with only torch: torch warns when it imports
from nllhint.cli import main
sys.exit(main(["demo"]))
"""


def test_the_gallery_runs_clean_without_numpy():
    proc = subprocess.run([sys.executable, "-c", WITHOUT_NUMPY], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert_a_clean_gallery(proc.stdout, proc.stderr)


def test_the_gallery_has_every_part_and_no_cell_needs_numpy():
    from nllhint.demo import parts

    kinds = [part.kind for part in parts()]
    assert kinds[:2] == ["error", "losscheck"]
    cells = [cell for part in parts() for _, _, cell in part.cells]
    assert len(cells) >= 20
    assert not [cell for cell in cells if "numpy" in cell or "np." in cell]
