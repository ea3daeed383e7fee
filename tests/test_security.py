"""nllhint reads; it never runs the user's code, writes files or imports what the user did not.

* Hinting evaluates nothing from the source it reads: an argument expression with a side effect
  (``criterion(out, make_labels())``) runs once, by the user's own call; properties, ``__getattr__``,
  ``__getattribute__``/``__class__`` (proxies, mocks) and a tensor subclass's ``__torch_function__`` see
  exactly the accesses they see without the extension.
* During explain(), a hint and a watch: no ``exec`` of anything, no file opened for writing, no file
  removed or renamed, no process started, no socket (``sys.addaudithook``, in a subprocess since audit
  hooks cannot be removed); no new or changed entry in the working directory or the temp directory.
* explain() and the watch import nothing the user's code did not, beyond nllhint itself, the standard
  library and the two libraries it reads source and renders with (``executing``, ``rich``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

NAMESPACE = """
import torch, torch.nn as nn, torch.nn.functional as F
LOG = []
calls = 0

def make_labels():
    global calls
    calls += 1
    return torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])

class Batch:
    def __init__(self):
        self._labels = torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])
        self.outputs = torch.randn(8, 5)
    @property
    def labels(self):
        LOG.append("Batch.labels")
        return self._labels

class Proxy:
    '''A lazy proxy: answers every attribute, __class__ included, with its own code.'''
    def __init__(self, inner):
        object.__setattr__(self, "_inner", inner)
    def __getattribute__(self, name):
        if name != "_inner":
            LOG.append(f"Proxy.__getattribute__({name})")
        return object.__getattribute__(self, name)
    def __getattr__(self, name):
        LOG.append(f"Proxy.__getattr__({name})")
        return getattr(object.__getattribute__(self, "_inner"), name)
    @property
    def labels(self):
        LOG.append("Proxy.labels")
        return object.__getattribute__(self, "_inner").labels

class Config:
    @property
    def classes(self):
        LOG.append("Config.classes")
        return 3

class Logged(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        LOG.append("Logged.__torch_function__")
        return super().__torch_function__(func, types, args, kwargs or {})

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 5)
    def forward(self, x):
        return self.fc(x)

batch, proxy, cfg, model = Batch(), Proxy(Batch()), Config(), Model()
lazy = Proxy(model)   # a proxy in the namespace that the failing line does not use
criterion = nn.CrossEntropyLoss()
"""

CELLS = {
    "side-effect-argument": "loss = criterion(batch.outputs, make_labels())",
    "property": "loss = criterion(batch.outputs, batch.labels)",
    "getattr-and-property-on-a-proxy": "loss = criterion(proxy.outputs, proxy.labels)",
    "proxy-in-namespace-batch-rules": "loss = criterion(model(torch.randn(8, 4)), torch.tensor([0, 1, 2, 3, 4, 0, 1]))",
    "proxy-in-namespace-target-range": "loss = criterion(model(torch.randn(8, 4)), batch.labels)",
    "one-hot-with-property-options": "encoded = F.one_hot(batch.labels, num_classes=cfg.classes)",
    "one-hot-through-a-proxy": "encoded = F.one_hot(proxy.labels, num_classes=cfg.classes)",
    "tensor-subclass": "loss = criterion(batch.outputs.as_subclass(Logged), batch.labels.as_subclass(Logged))",
    "backward-names-looked-up": "out = model(torch.randn(8, 4)).detach()\nloss = criterion(out, make_labels() - 1)\nloss.backward()",
}


def _trace(ipython, cell: str) -> tuple[list, int, str]:
    ipython.run(NAMESPACE)
    run = ipython.run(cell)
    assert not run.success
    return list(ipython.shell.user_ns["LOG"]), ipython.shell.user_ns["calls"], run.out


@pytest.mark.parametrize("cell", list(CELLS.values()), ids=list(CELLS))
def test_hinting_runs_no_user_code(ipython, cell):
    with_ext = _trace(ipython, cell)
    ipython.shell.run_line_magic("unload_ext", "nllhint")
    try:
        without = _trace(ipython, cell)
    finally:
        ipython.shell.run_line_magic("load_ext", "nllhint")
    assert with_ext[:2] == without[:2]
    assert "nllhint" not in without[2]
    if "make_labels()" in cell:
        assert with_ext[1] == 1  # the user's own call, once
    if "proxy-in-namespace" in cell or "property" in cell or "side-effect" in cell:
        assert "nllhint NLH" in with_ext[2]  # a hint was built: the rules did run


def test_the_watch_runs_no_user_code(ipython):
    cell = textwrap.dedent("""
        for step in range(20):
            a = criterion(batch.outputs.softmax(1), batch.labels - 1)
            b = criterion(batch.outputs.as_subclass(Logged), make_labels() - 1)
            c = criterion(model(torch.randn(8, 4)), proxy.labels - 1)
    """)

    def trace(magic):
        ipython.run(NAMESPACE)
        run = ipython.run(magic + cell)
        assert run.success, run.out
        return list(ipython.shell.user_ns["LOG"]), ipython.shell.user_ns["calls"], run.out

    watched = trace("%%losscheck\n")
    plain = trace("")
    assert watched[:2] == plain[:2]
    assert "NLH804" in watched[2]  # the audits did run


# --- no exec, no writes, no processes, no new imports (subprocess: audit hooks are permanent) --------

PROBE = r"""
import json, os, sys
sys.path.insert(0, sys.argv[1])
import warnings
warnings.simplefilter("ignore")
import torch
import lossgen
from hypothesis import given, settings, HealthCheck

calls = []

@settings(max_examples=int(sys.argv[2]), derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(call=lossgen.calls())
def collect(call):
    # Torch itself imports sympy (torch.fx.experimental.symbolic_shapes) for meta tensors (Python
    # decompositions) and for F.binary_cross_entropy with a weight: left out, so that an import of sympy
    # by nllhint shows.
    tensors = [v for v in {**call.args, **call.kwargs}.values() if isinstance(v, lossgen.T)]
    if any(t.layout == "meta" for t in tensors):
        return
    if call.loss == "binary_cross_entropy" and "weight" in call.kwargs:
        return
    calls.append(call)

collect()
errors = []
for call in calls:  # each call once before the snapshot: torch's own lazy imports happen here
    try:
        call.run_direct()
    except Exception as exc:
        errors.append(exc)

before = set(sys.modules)
events = []
active = [False]
PACKAGE = None
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
FORBIDDEN = ("os.remove", "os.rename", "os.rmdir", "os.mkdir", "os.truncate", "shutil.", "subprocess.",
             "os.system", "os.exec", "os.spawn", "os.fork", "os.posix_spawn", "socket.", "urllib.",
             "ctypes.dlopen", "sqlite3.connect", "tempfile.", "os.chmod", "os.symlink", "os.link")

def inside_nllhint():
    frame = sys._getframe(2)
    while frame is not None:
        if PACKAGE and frame.f_code.co_filename.startswith(PACKAGE):
            return True
        frame = frame.f_back
    return False

def hook(event, args):
    if not active[0]:
        return
    if event == "exec":
        code = args[0]
        if code.co_name == "<module>" and os.path.isfile(code.co_filename):
            return  # an import (what it imports is checked below)
    elif event.startswith(FORBIDDEN):
        pass
    elif event == "open":
        path, mode, flags = args
        if not ((mode and any(c in mode for c in "wax+")) or (isinstance(flags, int) and flags & WRITE)):
            return
    else:
        return
    if inside_nllhint():
        events.append(f"{event} {str(args)[:200]}")

sys.addaudithook(hook)
import nllhint
from nllhint.render import render
PACKAGE = os.path.dirname(nllhint.__file__)

def everything():
    hinted = 0
    for exc in errors:
        findings = nllhint.explain(exc)
        hinted += bool(findings)
        if findings:
            render(findings, color=True)
    for call in calls:
        with nllhint.watch() as report:
            try:
                call.run_direct()
            except Exception:
                pass
        str(report)
    return hinted

everything()  # the first pass imports nllhint's modules (their dataclasses exec generated code)
active[0] = True
hinted = everything()
active[0] = False
new = sorted(set(sys.modules) - before)
print(json.dumps({"errors": len(errors), "hinted": hinted, "events": events, "new": new,
                  "sympy_before": "sympy" in before}))
"""


def test_no_exec_no_writes_no_processes_and_no_foreign_imports(tmp_path):
    """Watched: a working directory, a temp directory and a home of the probe's own (whatever else runs
    on the machine writes to the machine's /tmp and home, never to these)."""
    cwd, tmp, home = (tmp_path / name for name in ("cwd", "tmp", "home"))
    for directory in (cwd, tmp, home):
        directory.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), HOME=str(home), IPYTHONDIR=str(home / ".ipython"),
               XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"),
               HYPOTHESIS_STORAGE_DIRECTORY=str(tmp_path / "hypothesis"))  # the probe's tool, not nllhint
    snapshot = [_tree(d) for d in (cwd, tmp, home)]
    proc = subprocess.run([sys.executable, "-c", PROBE, str(TESTS), "120"], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] >= 15 and result["hinted"] >= 5, result
    assert result["events"] == []
    assert not result["sympy_before"]  # so that a heavy import by nllhint (torch.fx, sympy) would show
    stdlib = sys.stdlib_module_names
    allowed = ("nllhint", "executing", "rich")
    foreign = [m for m in result["new"] if m.split(".")[0] not in stdlib and m.split(".")[0] not in allowed]
    assert foreign == [], foreign
    assert [_tree(d) for d in (cwd, tmp, home)] == snapshot


def _tree(directory) -> dict:
    """Every entry under ``directory`` (recursively) with its modification time."""
    out = {}
    for path in sorted(Path(directory).rglob("*")):
        try:
            out[str(path.relative_to(directory))] = path.lstat().st_mtime_ns
        except OSError:
            pass
    return out


def test_a_hint_and_a_watched_cell_write_nothing(ipython, tmp_path, monkeypatch):
    """In the session's own shell: the session's private temp directory and home (tests/conftest.py),
    and a working directory of this test's own."""
    monkeypatch.chdir(tmp_path)
    ipython.run(NAMESPACE)
    watched = (str(tmp_path), tempfile.gettempdir(), os.path.expanduser("~"))
    assert all(not d.startswith("/tmp/") or "nllhint-tests-" in d for d in watched[1:]), watched
    before = [_tree(d) for d in watched]
    assert "nllhint NLH101" in ipython.run(CELLS["property"]).out
    assert "NLH804" in ipython.run("%%losscheck\nloss = criterion(batch.outputs.softmax(1), batch.labels - 1)").out
    assert [_tree(d) for d in watched] == before


def test_the_tests_see_no_machine_state(private_root, shell):
    """tests/conftest.py: a private home, temp directory, IPython profile and Jupyter directories, so a
    user's IPython config or kernelspec, or another process's files, cannot change what a test sees."""
    from IPython.paths import get_ipython_dir
    from jupyter_core.paths import jupyter_data_dir, jupyter_runtime_dir

    for path in (os.path.expanduser("~"), tempfile.gettempdir(), get_ipython_dir(), jupyter_data_dir(),
                 jupyter_runtime_dir(), shell.profile_dir.location):
        assert Path(path).resolve().is_relative_to(private_root.resolve()), path
