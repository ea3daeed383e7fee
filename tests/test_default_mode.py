"""Default mode: after `%load_ext nllhint` alone, the light watch gives a short notice for the silent
mistakes it is sure of, once per call site, and stays out of the way otherwise."""

import re
import subprocess
import sys
import textwrap

import pytest

NOTICE = "nllhint: "  # every notice starts with this; exception hints start with "nllhint NLH"


def notices(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith(NOTICE)]


@pytest.mark.parametrize("cell, code, fix", [
    ("""
        import torch, torch.nn as nn
        model = nn.Linear(8, 4)
        x, labels = torch.randn(16, 8), torch.randint(0, 4, (16,))
        logits = model(x)
        loss = nn.NLLLoss()(logits, labels)
        print(loss.shape)
     """, "NLH801", "loss = nn.NLLLoss()(logits.log_softmax(dim=1), labels)"),
    ("""
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Linear(8, 4)
        x, y = torch.randn(16, 8), torch.randint(0, 4, (16,))
        probs = F.softmax(model(x), dim=1)
        loss = nn.CrossEntropyLoss()(probs, y)
     """, "NLH804", "remove the softmax that makes `probs`"),
    ("""
        import torch, torch.nn as nn
        model = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())
        x, y = torch.randn(16, 8), torch.randint(0, 2, (16, 1)).float()
        loss = nn.BCEWithLogitsLoss()(model(x), y)
     """, "NLH807", "model = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())  ->  model = nn.Sequential(nn.Linear(8, 1))"),
    ("""
        import torch, torch.nn as nn
        model = nn.Linear(8, 1)
        x, y = torch.randn(16, 8), torch.randn(16)
        loss = nn.MSELoss()(model(x), y)
     """, "NLH901", "loss = nn.MSELoss()(model(x).squeeze(1), y)"),
    ("""
        import torch, torch.nn.functional as F
        scores = torch.tensor([0.5, float('nan'), -1.0])
        loss = F.binary_cross_entropy_with_logits(scores, torch.tensor([1.0, 0.0, 1.0]))
        print(loss)
     """, "NLH902", None),
])
def test_each_silent_mistake_gets_a_short_notice(ipython, cell, code, fix):
    run = ipython.run(cell)
    assert run.success, run.out
    found = notices(run.out)
    assert len(found) == 1 and code in found[0], run.out
    assert "%%losscheck" in run.out  # the magic that gives the full report
    if fix:
        assert f"fix: {fix}" in run.out, run.out
    assert len(run.out.strip().splitlines()) <= 5, run.out  # short: the cell's print and three lines
    assert "nllhint losscheck:" not in run.out  # not the full report


def test_the_notice_comes_under_the_cells_own_output(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        logits, labels = nn.Linear(8, 4)(torch.randn(16, 8)), torch.randint(0, 4, (16,))
        loss = nn.NLLLoss()(logits, labels)
        print("epoch done")
    """)
    assert run.out.index("epoch done") < run.out.index("NLH801")


def test_a_1000_step_loop_gets_one_notice(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        torch.set_num_threads(1)
        model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 5), nn.Softmax(dim=1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        criterion = nn.CrossEntropyLoss()
        x, y = torch.randn(64, 20), torch.randint(0, 5, (64,))
        for step in range(1000):
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
    """)
    assert run.success, run.out
    assert len(notices(run.out)) == 1 and "NLH804" in run.out, run.out
    again = ipython.run("for step in range(10):\n    loss = criterion(model(x), y)")
    assert "NLH804" in again.out  # a new cell is a new call site
    helper = ipython.run("def step(x, y):\n    return criterion(model(x), y)")
    first = ipython.run("for _ in range(5):\n    step(x, y)")
    second = ipython.run("step(x, y);")
    assert "NLH804" in first.out and second.out == ""  # same site (the function's line): once


def test_the_first_nan_of_a_training_loop_gets_one_notice_naming_the_call(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn
        model, criterion = nn.Linear(4, 3), nn.CrossEntropyLoss()
        for step in range(200):
            x = torch.randn(8, 4)
            if step >= 120:
                x[0, 0] = float('inf')
            loss = criterion(model(x), torch.randint(0, 3, (8,)))
    """)
    assert len(notices(run.out)) == 1, run.out
    assert "NLH902" in run.out and "call 121" in run.out


def test_looks_like_guesses_stay_silent(ipython):
    """Row sums of 1 with no softmax in the grad_fn are only a guess: the full report has it, the default
    mode says nothing."""
    cell = """
        import torch, torch.nn.functional as F
        probs = torch.rand(16, 4)
        probs = probs / probs.sum(dim=1, keepdim=True)
        loss = F.cross_entropy(probs, torch.randint(0, 4, (16,)))
    """
    assert notices(ipython.run(cell).out) == []
    assert "NLH804" in ipython.run("%%losscheck\n" + textwrap.dedent(cell)).out


def test_cells_without_torch_or_without_findings_print_nothing(ipython):
    assert ipython.run("total = sum(range(10))\nprint(total)").out == "45\n"
    run = ipython.run("""
        import torch, torch.nn.functional as F
        loss = F.cross_entropy(torch.randn(8, 3, requires_grad=True), torch.randint(0, 3, (8,)))
    """)
    assert run.success and run.out == ""


def test_loading_imports_no_torch_and_the_watch_attaches_in_the_cell_that_imports_it():
    """A fresh shell: `%load_ext nllhint` leaves torch alone; the first cell imports torch and gets its
    notice; only one meta-path finder was added, and it is gone once torch is in."""
    code = textwrap.dedent('''
        import sys
        from IPython.testing.globalipapp import start_ipython
        ip = start_ipython()
        finders = len(sys.meta_path)
        ip.run_line_magic("load_ext", "nllhint")
        print("torch after load:", "torch" in sys.modules, len(sys.meta_path) - finders)
        ip.run_cell("x = [i * i for i in range(5)]")
        print("torch after a plain cell:", "torch" in sys.modules)
        ip.run_cell("import torch, torch.nn as nn\\n"
                    "loss = nn.NLLLoss()(nn.Linear(4, 3)(torch.randn(5, 4)), torch.tensor([0, 1, 2, 0, 1]))")
        print("finders left:", len(sys.meta_path) - finders)
    ''')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300).stdout
    assert "torch after load: False 1" in out, out
    assert "torch after a plain cell: False" in out, out
    assert "NLH801" in out, out
    assert "finders left: 0" in out, out


def test_losscheck_off_ends_the_default_watch_and_on_gives_the_full_report(ipython):
    import torch.nn.functional as F

    cell = """
        import torch, torch.nn as nn
        loss = nn.NLLLoss()(nn.Linear(4, 3)(torch.randn(5, 4)), torch.tensor([0, 1, 2, 0, 1]))
    """
    assert "NLH801" in ipython.run(cell).out
    assert hasattr(F.nll_loss, "__nllhint_original__")  # the light watch's wrapper
    assert "default light watch is on" in ipython.run("%losscheck status").out
    assert ipython.run("%losscheck off").out == "nllhint: losscheck off\n"
    assert not hasattr(F.nll_loss, "__nllhint_original__")
    assert ipython.run(cell).out == ""
    full = ipython.run("%losscheck on").out
    assert "losscheck on" in full
    out = ipython.run(cell).out
    assert "nllhint losscheck: 1 loss call at 1 site" in out and "NLH801" in out
    ipython.run("%losscheck off")
    assert ipython.run(cell).out == ""  # off for the session
    assert "losscheck is off" in ipython.run("%losscheck status").out


def test_unload_restores_every_function_by_identity(ipython):
    import torch.nn.functional as F

    from nllhint.watcher import LOSS_NAMES

    ipython.run("import torch.nn.functional as F\nfrom torch.nn.functional import cross_entropy")
    wrapped = {name: getattr(F, name) for name in LOSS_NAMES if hasattr(F, name)}
    assert all(hasattr(fn, "__nllhint_original__") for fn in wrapped.values())
    ipython.shell.run_line_magic("unload_ext", "nllhint")
    try:
        for name, wrapper in wrapped.items():
            assert getattr(F, name) is wrapper.__nllhint_original__, name
        assert ipython.shell.user_ns["cross_entropy"] is wrapped["cross_entropy"].__nllhint_original__
        assert not any(type(f).__name__ == "_TorchImport" for f in sys.meta_path)
    finally:
        ipython.shell.run_line_magic("load_ext", "nllhint")


@pytest.mark.parametrize("setting, expect", [("off", None), ("light", "nllhint: warning NLH801"),
                                            ("full", "nllhint losscheck: 1 loss call")])
def test_the_environment_variable_chooses_the_default(ipython, monkeypatch, setting, expect):
    monkeypatch.setenv("NLLHINT_DEFAULT", setting)
    ipython.shell.run_line_magic("unload_ext", "nllhint")
    ipython.shell.run_line_magic("load_ext", "nllhint")
    try:
        out = ipython.run("""
            import torch, torch.nn as nn
            loss = nn.NLLLoss()(nn.Linear(4, 3)(torch.randn(5, 4)), torch.tensor([0, 1, 2, 0, 1]))
        """).out
        if expect is None:
            assert out == ""
        else:
            assert expect in out, out
    finally:
        ipython.run("%losscheck off")


def test_ipython_config_chooses_the_default(ipython, monkeypatch):
    """`c.NllHint.default = "off"` in ipython_config.py."""
    monkeypatch.delenv("NLLHINT_DEFAULT", raising=False)
    shell = ipython.shell
    before = shell.config.pop("NllHint", None)
    shell.config.NllHint.default = "off"
    try:
        shell.run_line_magic("unload_ext", "nllhint")
        shell.run_line_magic("load_ext", "nllhint")
        out = ipython.run("import torch\nloss = torch.nn.NLLLoss()(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))").out
        assert out == ""
    finally:
        shell.config.pop("NllHint", None)
        if before is not None:
            shell.config["NllHint"] = before


def test_no_color_gives_plain_text(ipython, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(ipython.shell, "colors", "Linux", raising=False)
    out = ipython.run("""
        import torch, torch.nn as nn
        loss = nn.NLLLoss()(nn.Linear(4, 3)(torch.randn(5, 4)), torch.tensor([0, 1, 2, 0, 1]))
    """).out
    assert "NLH801" in out and "\x1b[" not in out


def test_tracebacks_of_loss_errors_are_unchanged_apart_from_the_hint(ipython):
    cell = """
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss()
        logits = torch.randn(4, 3)
        labels = torch.tensor([1, 2, 3, 1])
        loss = criterion(logits, labels)
    """

    def traceback_of(out: str) -> str:
        out = out.split("\nnllhint NLH")[0]
        out = re.sub(r"<ipython-input-\d+-", "<ipython-input-N-", out)  # IPython 7's cell filenames
        return re.sub(r"(In ?\[|Cell In\[)\d+\]", r"\1N]", out).strip()

    ipython.run("%losscheck off")
    ipython.shell.run_line_magic("unload_ext", "nllhint")
    try:
        plain = ipython.run(cell)
    finally:
        ipython.shell.run_line_magic("load_ext", "nllhint")
    watched = ipython.run(cell)
    assert not watched.success and "nllhint NLH" in watched.out
    assert traceback_of(watched.out) == traceback_of(plain.out)
    assert traceback_of(watched.out).splitlines()[-1] == "IndexError: Target 3 is out of bounds."
    assert "watcher.py" not in watched.out


def test_compile_script_export_func_and_autocast_work_with_the_watch_on(ipython):
    run = ipython.run("""
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(6, 3)

            def forward(self, x, y):
                return F.cross_entropy(self.fc(x), y)

        net, x, y = Net(), torch.randn(8, 6), torch.randint(0, 3, (8,))
        eager = net(x, y)
        compiled = torch.compile(net, backend="aot_eager", fullgraph=True)(x, y)
        scripted = torch.jit.script(net)(x, y)
        exported = torch.export.export(net, (x, y)).module()(x, y)
        grads = torch.func.grad(lambda w: F.mse_loss(x @ w, torch.zeros(8)))(torch.ones(6))
        per_sample = torch.func.vmap(lambda a, b: F.cross_entropy(a, b))(torch.randn(8, 3), y)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = F.cross_entropy(net.fc(x), y)
        print(torch.allclose(eager, compiled), torch.allclose(eager, scripted), torch.allclose(eager, exported),
              grads.shape, per_sample.shape, mixed.dtype)
    """)
    assert run.success, run.out
    assert "True True True torch.Size([6]) torch.Size([8]) torch.float32" in run.out
    assert notices(run.out) == []


def test_a_loss_inside_a_compiled_function_is_not_examined_but_still_runs(ipython):
    run = ipython.run("""
        import torch, torch.nn.functional as F

        @torch.compile(backend="eager", fullgraph=True)
        def step(probs, y):
            return F.nll_loss(probs, y)   # raw scores: the eager call would get a notice

        out = step(torch.randn(4, 3), torch.tensor([0, 1, 2, 0]))
    """)
    assert run.success, run.out
    assert notices(run.out) == []  # the compiled path bypasses the wrapper (fullgraph: no graph break)


def test_scripts_get_the_same_notices_on_stderr(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import nllhint
        nllhint.install()
        import torch, torch.nn as nn
        criterion = nn.NLLLoss()
        for step in range(100):
            logits = nn.Linear(4, 3)(torch.randn(5, 4))
            loss = criterion(logits, torch.tensor([0, 1, 2, 0, 1]))
        print("done")
    """))
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "done\n"
    assert run.stderr.count("NLH801") == 1, run.stderr
    assert "loss = criterion(logits.log_softmax(dim=1), torch.tensor([0, 1, 2, 0, 1]))" in run.stderr
    assert "train.py:8" in run.stderr and "nllhint run --check" in run.stderr
    cli = subprocess.run([sys.executable, "-m", "nllhint", "run", str(script)], capture_output=True, text=True,
                         timeout=300)
    assert cli.stderr.count("NLH801") == 1, cli.stderr


def test_a_script_traceback_is_the_one_without_the_watch(tmp_path, monkeypatch):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import nllhint
        nllhint.install()
        import torch, torch.nn.functional as F
        loss = F.cross_entropy(torch.randn(4, 3), torch.tensor([1, 2, 3, 1]))
    """))

    def traceback_with(mode: str) -> str:
        monkeypatch.setenv("NLLHINT_DEFAULT", mode)
        run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
        return run.stderr.split("IndexError: Target 3 is out of bounds.")[0]

    light = traceback_with("light")
    assert light.startswith("Traceback") and "nllhint/" not in light, light  # no frame of the package
    assert light == traceback_with("off")


def test_ddp_training_step_under_the_light_watch(tmp_path):
    """A one-process DDP (gloo) step with the light watch from nllhint.install(): same loss as without it."""
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys
        if os.environ.get("WITH_NLLHINT"):
            import nllhint
            nllhint.install()
        import torch, torch.distributed as dist, torch.nn as nn, torch.nn.functional as F
        dist.init_process_group("gloo", init_method="file://{tmp_path / 'store'}-" + os.environ["RUN"],
                                rank=0, world_size=1)
        torch.manual_seed(0)
        model = nn.parallel.DistributedDataParallel(nn.Linear(6, 3))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        x, y = torch.randn(8, 6), torch.randint(0, 3, (8,))
        for step in range(5):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
        print(repr(loss.item()), hasattr(F.cross_entropy, "__nllhint_original__"))
        dist.destroy_process_group()
    """))

    def run(with_nllhint: bool, name: str):
        env = dict(__import__("os").environ, RUN=name)
        env.pop("WITH_NLLHINT", None)
        if with_nllhint:
            env["WITH_NLLHINT"] = "1"
        return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)

    plain, watched = run(False, "plain"), run(True, "watched")
    assert plain.returncode == 0 and watched.returncode == 0, watched.stderr
    value, wrapped = watched.stdout.split()
    assert wrapped == "True" and plain.stdout.split()[0] == value  # watched, and bit-identical
    assert "nllhint" not in watched.stderr


def test_install_and_uninstall_in_a_script_restore_the_originals_by_identity():
    import torch.nn.functional as F

    import nllhint

    before = {name: getattr(F, name) for name in ("cross_entropy", "nll_loss", "mse_loss", "one_hot")}
    hook = sys.excepthook
    nllhint.install()
    try:
        assert all(getattr(F, name) is not fn for name, fn in before.items())
    finally:
        nllhint.uninstall()
    assert all(getattr(F, name) is fn for name, fn in before.items())
    assert sys.excepthook is hook
