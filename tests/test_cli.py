"""The ``nllhint`` command, run the way users run it: a real subprocess (``python -m nllhint`` and the
``nllhint`` console script), real scripts, real notebooks executed in a real Jupyter kernel.

Kernel starts cost a few seconds each, so the notebook tests are few and each checks several things.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("nllhint")  # the console script next to this interpreter
if not SCRIPT.exists():
    SCRIPT = Path(shutil.which("nllhint") or SCRIPT)


def nllhint(*args, cwd=None, script: bool = False, timeout: float = 300) -> subprocess.CompletedProcess:
    if script and not SCRIPT.exists():
        pytest.skip("the nllhint console script is not installed (pip install -e .)")
    command = [str(SCRIPT)] if script else [sys.executable, "-m", "nllhint"]
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "FORCE_COLOR", "NLLHINT_DEBUG")}
    env["NO_COLOR"] = "1"
    return subprocess.run(command + [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


# --- demo and rules (unchanged behaviour) ------------------------------------------------------------------

def test_rules_lists_codes_and_shows_one_rule():
    listed = nllhint("rules", script=True)
    assert listed.returncode == 0 and "NLH101" in listed.stdout and "target-range" in listed.stdout
    one = nllhint("rules", "NLH101")
    assert one.returncode == 0 and one.stdout.startswith("NLH101  [target-range]")
    assert "Example that triggers it" in one.stdout
    unknown = nllhint("rules", "NLH000")
    assert unknown.returncode == 2 and "no rule NLH000" in unknown.stderr


def test_demo_shows_a_hint_under_every_gallery_cell():
    demo = nllhint("demo")
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    assert "each error above is followed by its nllhint hint" in demo.stdout
    assert "nllhint NLH101 [target-range]" in demo.stdout


# --- run ---------------------------------------------------------------------------------------------------

def test_run_is_python_script_py_argv_main_sibling_imports_and_exit_code(tmp_path):
    write(tmp_path / "helper.py", "ANSWER = 42\n")
    script = write(tmp_path / "train.py", """
        import sys
        import helper  # a module next to the script, as `python train.py` allows
        print("argv", sys.argv, __name__, helper.ANSWER)
        sys.exit(int(sys.argv[1]))
    """)
    ran = nllhint("run", script, "3", "--lr", "0.1", script=True, cwd="/")  # options after it: the script's
    assert ran.returncode == 3, ran.stderr
    assert f"argv [{str(script)!r}, '3', '--lr', '0.1'] __main__ 42" in ran.stdout
    assert nllhint("run", script, "0").returncode == 0

    message = write(tmp_path / "message.py", "import sys\nsys.exit('stopped: no data')\n")
    ran = nllhint("run", message)
    assert ran.returncode == 1 and "stopped: no data" in ran.stderr

    interrupted = write(tmp_path / "interrupted.py", "raise KeyboardInterrupt\n")
    ran = nllhint("run", interrupted)
    assert ran.returncode == 130 and "KeyboardInterrupt" in ran.stderr

    missing = nllhint("run", tmp_path / "nope.py")
    assert missing.returncode == 2 and "can't open file" in missing.stderr


def test_run_uncaught_loss_error_traceback_and_hint_on_stderr_exit_1(tmp_path):
    script = write(tmp_path / "bad.py", """
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss()
        outputs = torch.randn(8, 5, requires_grad=True)
        labels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])
        print("before the loss")
        loss = criterion(outputs, labels)
    """)
    ran = nllhint("run", script, cwd=tmp_path)
    assert ran.returncode == 1
    assert "before the loss" in ran.stdout and "nllhint" not in ran.stdout
    err = ran.stderr
    assert err.startswith("Traceback (most recent call last):\n  File \"")  # the script's frame first
    assert "runpy" not in err and "nllhint/cli.py" not in err
    assert "IndexError: Target 5 is out of bounds." in err
    assert "nllhint NLH101 [target-range]" in err and "loss = criterion(outputs, labels - 1)" in err
    assert err.index("IndexError: Target 5") < err.index("nllhint NLH101")


def test_run_check_reports_a_silent_mistake_also_when_the_script_fails(tmp_path):
    silent = write(tmp_path / "silent.py", """
        import sys
        import torch, torch.nn as nn
        torch.manual_seed(0)
        criterion = nn.CrossEntropyLoss()
        logits = torch.randn(8, 5, requires_grad=True)
        labels = torch.randint(0, 5, (8,))
        for step in range(3):
            loss = criterion(torch.softmax(logits, dim=1), labels)
        print("trained", loss.item() > 0)
        if len(sys.argv) > 1:
            raise RuntimeError("evaluation failed")
    """)
    ran = nllhint("run", "--check", silent, script=True, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "trained True\n"  # the report goes to stderr, the script's output stays clean
    assert "nllhint losscheck: 3 loss calls at 1 site: 1 warning" in ran.stderr
    assert "silent.py:8" in ran.stderr and "NLH804 [double-softmax]" in ran.stderr
    assert "fix: loss = criterion(logits, labels)" in ran.stderr

    failed = nllhint("run", "--check", silent, "fail", cwd=tmp_path)
    assert failed.returncode == 1
    err = failed.stderr
    assert "RuntimeError: evaluation failed" in err and "NLH804 [double-softmax]" in err
    assert err.index("RuntimeError: evaluation failed") < err.index("nllhint losscheck:")

    plain = nllhint("run", silent, cwd=tmp_path)  # without --check: no watch, no report
    assert plain.returncode == 0 and "losscheck" not in plain.stderr


# --- check -------------------------------------------------------------------------------------------------

def notebook(path: Path, *cells: str) -> Path:
    """A notebook of code cells ("# md ..." makes a markdown cell, a first line "# raises-exception" tags
    the cell so), never executed."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

    made = []
    for c in cells:
        tags = []
        if c.startswith("# raises-exception\n"):  # a cell that raises on purpose, tagged as Jupyter does
            c, tags = c.split("\n", 1)[1], ["raises-exception"]
        made.append(new_markdown_cell(c[5:]) if c.startswith("# md ") else
                    new_code_cell(textwrap.dedent(c).strip(), metadata={"tags": tags}))
    nb = new_notebook(cells=made)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


SOFTMAX_CELLS = (
    "# md Training",
    """
    import torch, torch.nn as nn
    torch.manual_seed(0)
    """,
    """
    criterion = nn.CrossEntropyLoss()
    logits = torch.randn(8, 5, requires_grad=True)
    y = torch.randint(0, 5, (8,))
    for step in range(5):
        loss = criterion(torch.softmax(logits, dim=1), y)
    """,
)


@pytest.fixture
def notebooks(tmp_path):
    (tmp_path / "data.txt").write_text("3")
    paths = {
        "clean": notebook(tmp_path / "clean.ipynb", "# md A correct notebook", """
            import torch, torch.nn as nn
            n = int(open('data.txt').read())  # relative to the notebook's folder
            """, """
            loss = nn.CrossEntropyLoss()(torch.randn(4, n), torch.tensor([0, 1, 2, 0]))
            print(loss.item() > 0)
            """, "# raises-exception\nraise ValueError('shown on purpose')", "print('runs after it')"),
        "softmax": notebook(tmp_path / "softmax.ipynb", *SOFTMAX_CELLS),
        "failing": notebook(tmp_path / "failing.ipynb", *SOFTMAX_CELLS, "# md Oops", """
            labels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])
            loss = criterion(logits, labels)
            """, "print('never runs')"),
        "notorch": notebook(tmp_path / "notorch.ipynb", "x = 1 + 1\nprint(x)"),
    }
    before = {name: path.read_bytes() for name, path in paths.items()}
    listing = sorted(p.name for p in tmp_path.iterdir())
    yield paths
    for name, path in paths.items():
        assert path.read_bytes() == before[name], f"{name}.ipynb was changed on disk"
    assert sorted(p.name for p in tmp_path.iterdir()) == listing, "check left files behind"


def test_check_clean_notebook_exits_0(notebooks):
    ran = nllhint("check", notebooks["clean"], script=True)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.startswith(f"{notebooks['clean']}: no problems found (1 loss call at 1 site; 4 of 4 ")
    assert "  cell 4, line 1 raised ValueError: shown on purpose  (tagged raises-exception)" in ran.stdout
    assert "True" not in ran.stdout and "runs after it" not in ran.stdout  # the cells' output is not echoed


def test_check_softmax_notebook_text_report_exits_1(notebooks, tmp_path):
    ran = nllhint("check", "softmax.ipynb", cwd=tmp_path)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    out = ran.stdout
    assert out.startswith("softmax.ipynb: 1 warning (5 loss calls at 1 site; 2 of 2 code cells run)")
    assert "\n  cell 3\n" in out  # counted from the top, markdown included
    assert "line 5  criterion(torch.softmax(logits, dim=1), y)  CrossEntropyLoss, 5 calls" in out
    assert "warning NLH804 [double-softmax]" in out and "fix: loss = criterion(logits, y)" in out


def test_check_failing_cell_is_named_with_its_hint_and_earlier_findings_exit_3(notebooks):
    ran = nllhint("check", notebooks["failing"])
    assert ran.returncode == 3, ran.stdout + ran.stderr
    out = ran.stdout
    assert out.startswith(f"{notebooks['failing']}: cell 5 raised IndexError; 1 warning")
    assert "NLH804 [double-softmax]" in out  # seen before the failing cell: still reported
    assert "cell 5, line 2 raised IndexError: Target 5 is out of bounds.  (the cells after it were not run)" in out
    assert "nllhint NLH101 [target-range]" in out and "loss = criterion(logits, labels - 1)" in out
    assert "Traceback" not in ran.stderr


def test_check_json_for_tools(notebooks):
    ran = nllhint("check", "--json", notebooks["softmax"], notebooks["failing"], notebooks["notorch"])
    assert ran.returncode == 3, ran.stderr  # the worst: a cell raised
    data = json.loads(ran.stdout)
    assert data["exit_code"] == 3
    softmax, failing, notorch = data["notebooks"]

    assert (softmax["path"], softmax["status"], softmax["exit_code"]) == (str(notebooks["softmax"]), "findings", 1)
    assert (softmax["code_cells"], softmax["cells_run"], softmax["loss_calls"]) == (2, 2, 5)
    assert softmax["error"] is None
    [finding] = softmax["findings"]
    assert {k: finding[k] for k in ("code", "category", "severity", "cell", "line", "call", "loss", "calls")} == {
        "code": "NLH804", "category": "double-softmax", "severity": "warning", "cell": 3, "line": 5,
        "call": "criterion(torch.softmax(logits, dim=1), y)", "loss": "CrossEntropyLoss", "calls": 5}
    assert finding["fix"] == "loss = criterion(logits, y)" and "softmax" in finding["title"]
    assert finding["message"] and finding["location"] == "cell 3, line 5"

    assert (failing["status"], failing["exit_code"], failing["cells_run"]) == ("error", 3, 3)
    assert [f["code"] for f in failing["findings"]] == ["NLH804"]
    error = failing["error"]
    assert {k: error[k] for k in ("cell", "line", "ename", "evalue")} == {
        "cell": 5, "line": 2, "ename": "IndexError", "evalue": "Target 5 is out of bounds."}
    [hint] = error["hints"]
    assert hint["code"] == "NLH101" and hint["fix"] == "loss = criterion(logits, labels - 1)"

    assert (notorch["status"], notorch["exit_code"], notorch["findings"]) == ("no-torch", 5, [])
    assert "no cell imports torch" in notorch["message"]


def test_check_missing_file_and_non_notebooks_need_no_kernel(tmp_path):
    missing = nllhint("check", tmp_path / "nope.ipynb", script=True)
    assert missing.returncode == 2 and missing.stdout == ""
    assert missing.stderr.strip() == f"nllhint check: {tmp_path / 'nope.ipynb'}: no such file"

    (tmp_path / "bad.ipynb").write_text("{ not json")
    (tmp_path / "other.ipynb").write_text('{"name": "a JSON file, not a notebook"}')
    for name in ("bad.ipynb", "other.ipynb"):
        ran = nllhint("check", name, cwd=tmp_path)
        assert ran.returncode == 4, ran.stderr
        assert ran.stderr.startswith(f"nllhint check: {name}: not a notebook (") and len(ran.stderr.splitlines()) == 1

    ran = nllhint("check", "--json", "bad.ipynb", "nope.ipynb", cwd=tmp_path)
    data = json.loads(ran.stdout)
    assert ran.returncode == data["exit_code"] == 2  # missing file outranks not-a-notebook
    assert [(n["status"], n["exit_code"]) for n in data["notebooks"]] == [("not-a-notebook", 4), ("missing", 2)]

    usage = nllhint("check")
    assert usage.returncode == 2 and "usage: nllhint check" in usage.stderr
    helped = nllhint("check", "--help")
    assert "exit codes:" in helped.stdout and "5  no torch" in helped.stdout
