"""README's two commands, as written: the demo one is run in a fresh copy of the project; the test one
is what .ci/run runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    section = (ROOT / "README.md").read_text().split("## The two commands", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_has_exactly_the_demo_and_the_test_command():
    demo, tests = readme_commands()
    assert demo.endswith("nllhint demo")
    assert tests.endswith("python -m pytest -q")


def test_the_demo_command_works_as_written_on_a_fresh_copy(tmp_path):
    copy = tmp_path / "nllhint"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".venv", "venv", "__pycache__",
                                                               "*.egg-info", ".pytest_cache", ".hypothesis"))
    demo, _ = readme_commands()
    proc = subprocess.run(["bash", "-c", demo], cwd=copy, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:] + proc.stdout[-2000:]
    assert_a_clean_gallery(proc.stdout, proc.stderr)


def assert_a_clean_gallery(out: str, err: str) -> None:
    """Every part of the product, every cell as promised, and nothing else: no warning, no missing module."""
    assert re.search(r"(\d+) of \1 cells raised; each error above is followed by its nllhint hint", out)
    assert re.search(r"(\d+) of \1 silent mistakes were reported by %%losscheck", out)
    assert "not as expected" not in out
    assert out.count("nllhint NLH") >= 15 and out.count("nllhint losscheck:") >= 3
    noise = [line for line in (out + err).splitlines()
             if re.search(r"Warning|warn\(|Exception reporting mode|ModuleNotFoundError|No module named"
                          r"|Failed to initialize|could not build a hint", line)]
    assert noise == []
    installs = [line for line in err.splitlines() if not line.startswith(("WARNING: Location", "  "))]
    assert not [line for line in installs if "rror" in line], installs[-20:]


def test_ci_runs_the_readme_test_command():
    _, tests = readme_commands()
    ci = (ROOT / ".ci" / "run").read_text()
    steps = [step.strip() for step in tests.split("&&")]
    assert steps[0].startswith("python3 -m venv") and steps[1].startswith(". ")
    for step in steps[2:]:
        assert step in ci.replace("pip install -q ", "pip install "), f".ci/run does not run: {step}"
