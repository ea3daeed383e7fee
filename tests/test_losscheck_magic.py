"""%%losscheck and %losscheck on/off in a real IPython shell: what the user reads."""

import re

import pytest


@pytest.fixture
def one_thread():
    """Keep the 1000-step loop fast on a busy machine (torch's thread pool thrashes when oversubscribed)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_cell_magic_reports_double_softmax_in_a_training_loop(ipython, one_thread):
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
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
    print(run.out)
    assert run.success
    assert "nllhint losscheck: 1000 loss calls at 1 site: 1 warning" in run.out
    assert re.search(r"cell \[\d+\], line 10  criterion\(model\(x\), y\)  CrossEntropyLoss, 1000 calls", run.out)
    assert "NLH804" in run.out and "[double-softmax]" in run.out
    assert "softmax produced `model(x)`" in run.out and "(certain)" in run.out


def test_clean_cell_gets_one_short_line(ipython):
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn as nn
        criterion = nn.CrossEntropyLoss()
        for _ in range(3):
            loss = criterion(torch.randn(8, 4, requires_grad=True), torch.randint(0, 4, (8,)))
    """)
    assert run.success
    assert run.out.strip() == "nllhint losscheck: 3 loss calls at 1 site, no problems found"


def test_loss_computed_in_a_function_is_reported_at_the_line_in_the_function(ipython):
    ipython.run("""
        import torch, torch.nn as nn, torch.nn.functional as F
        def compute_loss(model, batch):
            x, y = batch
            logits = model(x)
            return F.nll_loss(logits, y)
    """)
    run = ipython.run("""
        %%losscheck
        model = nn.Linear(10, 3)
        for _ in range(4):
            loss = compute_loss(model, (torch.randn(16, 10), torch.randint(0, 3, (16,))))
    """)
    assert run.success
    assert re.search(r"cell \[\d+\], line 5  F\.nll_loss\(logits, y\)  F\.nll_loss, 4 calls", run.out), run.out
    assert "NLH801" in run.out and "return F.nll_loss(logits.log_softmax(dim=1), y)" in run.out


def test_eval_loop_under_no_grad_uses_values_and_says_looks_like(ipython):
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn as nn
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 5), nn.Softmax(dim=1))
        criterion = nn.CrossEntropyLoss()
        model.eval()
        with torch.no_grad():
            for _ in range(50):
                x, y = torch.randn(32, 20), torch.randint(0, 5, (32,))
                val_loss = criterion(model(x), y)
    """)
    assert run.success
    assert "50 calls" in run.out and "NLH804" in run.out
    assert "looks like softmax output" in run.out and "(certain)" not in run.out


def test_last_expression_is_returned_displayed_and_stored_in_out(ipython):
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn.functional as F
        loss = F.cross_entropy(torch.zeros(4, 2), torch.tensor([0, 1, 0, 1]))
        round(loss.item(), 4)
    """)
    assert run.success
    assert run.result.result == 0.6931
    assert ipython.shell.user_ns["Out"][run.result.execution_count] == 0.6931
    assert "0.6931" in run.out


def test_trailing_semicolon_silences_the_value(ipython):
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn.functional as F
        F.mse_loss(torch.ones(3), torch.zeros(3));
    """)
    assert run.success
    assert run.result.result is None


def test_error_in_the_middle_prints_the_report_then_fails_with_the_hint(ipython):
    ipython.run("%losscheck off")  # the default light watch keeps the wrappers for the session
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn as nn, torch.nn.functional as F
        criterion = nn.CrossEntropyLoss()
        model = nn.Linear(6, 5)
        for step in range(10):
            x = torch.randn(8, 6)
            labels = torch.randint(0, 5, (8,)) if step < 3 else torch.tensor([1, 2, 3, 4, 5, 1, 2, 3])
            loss = criterion(F.softmax(model(x), dim=1), labels)
        print("never reached")
    """)
    assert not run.success
    assert isinstance(run.result.error_in_exec, IndexError)
    assert "\nnever reached\n" not in run.out
    report = run.out.index("nllhint losscheck: 4 loss calls at 1 site")
    assert "1 call raised an error" in run.out and "NLH804" in run.out
    error = run.out.index("IndexError: Target 5 is out of bounds.")
    assert report < error
    assert "nllhint NLH101" in run.out  # the exception hint, with the user's names
    assert "loss = criterion(F.softmax(model(x), dim=1), labels - 1)" in run.out
    assert "line 8" in run.out  # traceback line numbers match the cell
    import torch.nn.functional as F
    assert not hasattr(F.cross_entropy, "__nllhint_original__")  # restored after the error


def test_directly_imported_names_are_watched_and_restored(ipython):
    ipython.run("%losscheck off")  # the default light watch keeps the wrappers for the session
    import torch.nn.functional as F

    original = F.cross_entropy
    ipython.run("from torch.nn.functional import cross_entropy as ce")
    run = ipython.run("""
        %%losscheck
        import torch
        from torch.nn.functional import binary_cross_entropy as bce
        a = ce(torch.softmax(torch.randn(8, 3, requires_grad=True), 1), torch.randint(0, 3, (8,)))
        b = bce(torch.rand(8), torch.rand(8))
    """)
    assert run.success
    assert "ce(torch.softmax(" in run.out and "NLH804" in run.out
    assert "bce(torch.rand(8), torch.rand(8))" in run.out
    ns = ipython.shell.user_ns
    assert ns["ce"] is original
    assert not hasattr(ns["bce"], "__nllhint_original__")
    assert F.cross_entropy is original


def test_losscheck_on_watches_following_cells_until_off(ipython):
    run = ipython.run("%losscheck on")
    assert "losscheck on" in run.out
    try:
        run = ipython.run("""
            import torch, torch.nn.functional as F
            loss = F.nll_loss(torch.randn(8, 4, requires_grad=True), torch.randint(0, 4, (8,)))
        """)
        assert run.success
        assert "nllhint losscheck: 1 loss call at 1 site: 1 warning" in run.out and "NLH801" in run.out
        run = ipython.run("x = 1 + 1")
        assert run.out == ""  # cells without losses stay silent
        run = ipython.run("""
            %%losscheck
            loss = F.mse_loss(torch.ones(2), torch.zeros(2))
        """)
        assert run.out.count("nllhint losscheck:") == 1  # the cell magic reports; the outer watch is quiet
        run = ipython.run("%losscheck")
        assert "losscheck is on" in run.out
    finally:
        run = ipython.run("%losscheck off")
    assert "losscheck off" in run.out
    run = ipython.run("loss = F.nll_loss(torch.randn(8, 4), torch.randint(0, 4, (8,)))")
    assert "nllhint losscheck" not in run.out


def test_quiet_brief_severity_and_no_values_options(ipython):
    cell = """
        import torch, torch.nn as nn, torch.nn.functional as F
        torch.manual_seed(0)
        logits = torch.randn(16, 4, requires_grad=True)
        y = torch.randint(0, 4, (16,))
        a = F.cross_entropy(F.log_softmax(logits, dim=1), y)
        with torch.no_grad():
            b = F.cross_entropy(F.softmax(logits, dim=1), y)
    """
    full = ipython.run("%%losscheck\n" + cell)
    assert "NLH805" in full.out and "NLH804" in full.out
    severe = ipython.run("%%losscheck --severity warning\n" + cell)
    assert "NLH805" not in severe.out and "NLH804" in severe.out
    no_values = ipython.run("%%losscheck --no-values\n" + cell)
    assert "NLH805" in no_values.out and "NLH804" not in no_values.out  # no grad_fn under no_grad, no values
    brief = ipython.run("%%losscheck --brief\n" + cell)
    assert "NLH804" in brief.out and "squashed twice" in brief.out and "training stalls" not in brief.out
    quiet = ipython.run("%%losscheck -q\nimport torch\nloss = torch.nn.functional.mse_loss(torch.ones(2), torch.ones(2))")
    assert quiet.success and quiet.out == ""


def test_bad_options_are_usage_errors(ipython):
    for line in ("%losscheck maybe", "%losscheck --sample 0", "%losscheck --severity loud", "%losscheck --nope"):
        run = ipython.run(line)
        assert not run.success and "UsageError" in run.out, (line, run.out)
    run = ipython.run("%%losscheck on\nx = 1")
    assert not run.success and "UsageError" in run.out and "line magic" in run.out


def test_help_documents_the_options(ipython):
    doc = ipython.shell.find_line_magic("losscheck").__doc__
    for option in ("--quiet", "--brief", "--sample", "--no-values", "--severity", "on", "off"):
        assert option in doc


def test_unload_removes_the_magics_and_stops_watching(ipython):
    ipython.run("%losscheck on")
    ipython.shell.run_line_magic("unload_ext", "nllhint")
    try:
        assert "losscheck" not in ipython.shell.magics_manager.magics["cell"]
        assert "losscheck" not in ipython.shell.magics_manager.magics["line"]
        run = ipython.run("""
            import torch, torch.nn.functional as F
            loss = F.nll_loss(torch.randn(8, 4), torch.randint(0, 4, (8,)))
        """)
        assert "nllhint losscheck" not in run.out
        import torch.nn.functional as F

        assert not hasattr(F.nll_loss, "__nllhint_original__")
    finally:
        ipython.shell.run_line_magic("load_ext", "nllhint")


def test_loss_inside_a_users_module_file(ipython, tmp_path, monkeypatch):
    ipython.run("%losscheck off")  # the default light watch keeps the wrappers for the session
    (tmp_path / "mytrain.py").write_text(
        "import torch\n"
        "from torch.nn.functional import cross_entropy\n"
        "\n"
        "def train_step(model, x, y):\n"
        "    probs = torch.softmax(model(x), dim=1)\n"
        "    return cross_entropy(probs, y)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    run = ipython.run("""
        import importlib, torch, torch.nn as nn
        import mytrain
        importlib.reload(mytrain)
    """)
    assert run.success, run.out
    run = ipython.run("""
        %%losscheck
        for _ in range(3):
            loss = mytrain.train_step(nn.Linear(4, 3), torch.randn(8, 4), torch.randint(0, 3, (8,)))
    """)
    assert run.success
    assert "mytrain.py:6  cross_entropy(probs, y)  F.cross_entropy, 3 calls" in run.out, run.out
    assert "NLH804" in run.out
    import sys

    assert not hasattr(sys.modules["mytrain"].cross_entropy, "__nllhint_original__")


def test_a_diverged_model_is_named_as_where_the_nan_came_from(ipython):
    ipython.run("""
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Linear(4, 3)
        with torch.no_grad():
            model.weight.fill_(float("nan"))   # what a diverged training run leaves behind
        x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    """)
    run = ipython.run("""
        %%losscheck
        loss = F.cross_entropy(model(x), y)
    """)
    assert "NLH902" in run.out
    assert "`model(x)` held NaN" in run.out
    assert "from finite inputs" not in run.out


def test_a_cell_that_dies_in_a_loss_call_is_never_reported_as_without_problems(ipython):
    run = ipython.run("""
        %%losscheck
        import torch, torch.nn as nn
        criterion, model = nn.CrossEntropyLoss(), nn.Linear(6, 5)
        x, y = torch.randn(8, 6), torch.randint(0, 5, (8,))
        for inputs, labels in [(x, y), (x, y), (x, y + 1)]:  # the last batch has labels 1..5
            loss = criterion(model(inputs), labels)
    """)
    assert isinstance(run.result.error_in_exec, IndexError)
    assert "no problems found" not in run.out, run.out
    assert ("nllhint losscheck: 3 loss calls at 1 site; stopped at a loss error (explained under the "
            "traceback)") in " ".join(run.out.split())
    assert run.out.index("stopped at a loss error") < run.out.index("IndexError: Target 5") < run.out.index("nllhint NLH101")
