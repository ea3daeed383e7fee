"""The loss module used where its result belongs (``criterion.backward()``), and the loss class used where an
instance belongs (``criterion = nn.CrossEntropyLoss``), written the way forum posts and bug reports show them:
a training loop, a trainer class holding ``self.criterion``, a running-loss counter. An attribute error on a
module that is not a loss looks exactly as it does without the extension.
"""

import re

import pytest


@pytest.fixture(autouse=True)
def _new_notebook(ipython):
    ipython.fresh_namespace()
    yield
    ipython.fresh_namespace()


SETUP = '''
    import torch, torch.nn as nn
    from torch.utils.data import DataLoader, TensorDataset

    model = nn.Sequential(nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 4))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(torch.randn(32, 20), torch.randint(0, 4, (32,))), batch_size=8)
'''


def hint_part(out: str) -> str:
    return out[out.index("\nnllhint "):]


def test_criterion_backward_in_a_training_loop_names_the_loss_variable(ipython):
    ipython.run(SETUP)
    run = ipython.run('''
        criterion = nn.CrossEntropyLoss()
        for epoch in range(2):
            for inputs, labels in loader:
                optimizer.zero_grad()
                outputs = model(inputs)
                loss = criterion(outputs, labels)
                criterion.backward()
                optimizer.step()
    ''')
    assert not run.success and "AttributeError: 'CrossEntropyLoss' object has no attribute 'backward'" in run.out
    hint = hint_part(run.out)
    assert "nllhint NLH595 [bad-option] `criterion` is the CrossEntropyLoss module" in hint
    assert "`loss = criterion(outputs, labels)` holds it" in " ".join(hint.split())  # the prose is wrapped
    assert "\n  fix\n    loss.backward()\n" in hint
    assert re.search(r"at cell \[\d+\], line 7 · nllhint rules NLH595", hint)


def test_self_criterion_backward_in_a_trainer_method(ipython):
    ipython.run(SETUP)
    ipython.run('''
        class Trainer:
            def __init__(self, model, optimizer):
                self.model, self.optimizer = model, optimizer
                self.criterion = nn.CrossEntropyLoss(label_smoothing=0.1)

            def train_step(self, batch):
                x, y = batch
                self.optimizer.zero_grad()
                batch_loss = self.criterion(self.model(x), y)
                self.criterion.backward()
                self.optimizer.step()
                return batch_loss.item()
    ''')
    run = ipython.run('''
        trainer = Trainer(model, optimizer)
        for batch in loader:
            trainer.train_step(batch)
    ''')
    assert not run.success
    hint = hint_part(run.out)
    assert "NLH595" in hint and "`self.criterion` is the CrossEntropyLoss module" in hint
    assert "\n  fix\n    batch_loss.backward()\n" in hint


def test_loss_fn_backward_without_a_loss_variable_calls_it_on_the_loss_call(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn
        loss_fn = nn.MSELoss()
        w = torch.randn(3, 1, requires_grad=True)
        x, y = torch.randn(16, 3), torch.randn(16, 1)
        print("loss", loss_fn(x @ w, y).item())
        loss_fn.backward()
    ''')
    assert not run.success and "'MSELoss' object has no attribute 'backward'" in run.out
    assert "\n  fix\n    loss_fn(x @ w, y).backward()\n" in hint_part(run.out)


def test_loss_fn_backward_with_no_call_in_sight_spells_the_call(ipython):
    ipython.run('''
        import torch, torch.nn as nn
        loss_fn = nn.BCEWithLogitsLoss()
    ''')
    run = ipython.run("loss_fn.backward()")
    assert not run.success
    assert "\n  fix\n    loss_fn(input, target).backward()\n" in hint_part(run.out)


def test_running_loss_from_the_module_item(ipython):
    ipython.run(SETUP)
    run = ipython.run('''
        criterion = nn.CrossEntropyLoss()
        running_loss = 0.0
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels)
            loss.backward()
            optimizer.step()
            running_loss += criterion.item()
    ''')
    assert not run.success and "'CrossEntropyLoss' object has no attribute 'item'" in run.out
    hint = hint_part(run.out)
    assert "NLH595" in hint and ".item() belongs to the loss value" in " ".join(hint.split())
    assert "\n  fix\n    running_loss += loss.item()\n" in hint


def _without_extension(ipython, setup: str, cell: str):
    ipython.run(setup)
    with_ext = ipython.run(cell)
    ipython.shell.run_line_magic("unload_ext", "nllhint")
    try:
        ipython.run(setup)
        without = ipython.run(cell)
    finally:
        ipython.shell.run_line_magic("load_ext", "nllhint")
    return with_ext, without


@pytest.mark.parametrize("cell", [
    "model.backward()",                      # a model, not a loss
    "model[0].item()",
    "criterion.ignore_idx",                  # a loss module's attribute that is no tensor method: a typo
    "criterion.backwards()",
    "for x, y in loader:\n    net.backward()",  # a user's own module
])
def test_attribute_errors_that_are_not_this_mistake_look_as_without_the_extension(ipython, cell):
    setup = SETUP + '''
    criterion = nn.CrossEntropyLoss()
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(20, 4)
        def forward(self, x):
            return self.fc(x)
    net = Net()
    '''
    with_ext, without = _without_extension(ipython, setup, cell)
    assert not with_ext.success and "AttributeError" in with_ext.out
    assert "nllhint" not in with_ext.out
    numbered = re.compile(r"(Cell In\[|cell \[)\d+\]")
    assert numbered.sub(r"\1N]", with_ext.out) == numbered.sub(r"\1N]", without.out)


def test_loss_class_without_parentheses_is_fixed_where_it_was_assigned(ipython):
    ipython.run(SETUP)
    run = ipython.run('''
        criterion = nn.CrossEntropyLoss
        for inputs, labels in loader:
            optimizer.zero_grad()
            loss = criterion(model(inputs), labels)
            loss.backward()
    ''')
    assert not run.success and "Boolean value of Tensor with more than one value is ambiguous" in run.out
    hint = hint_part(run.out)
    assert "NLH590" in hint and "(line 1) stores the class itself" in " ".join(hint.split())
    assert "\n  fix\n    criterion = nn.CrossEntropyLoss()\n" in hint
    assert re.search(r"at cell \[\d+\], line 4 · nllhint rules NLH590", hint)


def test_loss_class_from_an_earlier_cell_is_fixed_in_that_cell(ipython):
    ipython.run(SETUP)
    built = ipython.run("loss_fn = nn.MSELoss")
    run = ipython.run('''
        pred = model(torch.randn(8, 20))
        loss = loss_fn(pred, torch.randn(8, 4))
    ''')
    assert not run.success
    hint = hint_part(run.out)
    assert f"`loss_fn = nn.MSELoss` (cell [{built.result.execution_count}], line 1) stores the class" in " ".join(hint.split())
    assert "\n  fix\n    loss_fn = nn.MSELoss()\n" in hint


def test_loss_class_bound_where_the_code_is_not_visible_is_built_inline(ipython):
    ipython.run(SETUP)
    ipython.shell.user_ns["helper_loss"] = __import__("torch").nn.MSELoss   # set by a helper module, not a cell
    run = ipython.run('''
        pred = model(torch.randn(8, 20))
        loss = helper_loss(pred, torch.randn(8, 4))
    ''')
    assert not run.success
    hint = hint_part(run.out)
    assert "NLH590" in hint and "`helper_loss` is the class nn.MSELoss itself" in " ".join(hint.split())
    assert "\n  fix\n    loss = nn.MSELoss()(pred, torch.randn(8, 4))\n" in hint


def test_loss_class_kept_on_self_is_fixed_in_init(ipython):
    ipython.run(SETUP)
    run = ipython.run('''
        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = model
                self.criterion = nn.CrossEntropyLoss

            def training_step(self, x, y):
                return self.criterion(self.net(x), y)

        clf = Classifier()
        for x, y in loader:
            clf.training_step(x, y)
    ''')
    assert not run.success
    hint = hint_part(run.out)
    assert "NLH590" in hint and "`self.criterion = nn.CrossEntropyLoss` (line 5) stores the class" in " ".join(hint.split())
    assert "\n  fix\n    self.criterion = nn.CrossEntropyLoss()\n" in hint


def test_the_module_name_looked_up_in_functional_becomes_the_function(ipython):
    run = ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        model = nn.Linear(20, 4)
        for step in range(3):
            x, y = torch.randn(8, 20), torch.randint(0, 4, (8,))
            loss = F.CrossEntropyLoss(model(x), y)
    ''')
    assert not run.success and "module 'torch.nn.functional' has no attribute 'CrossEntropyLoss'" in run.out
    hint = hint_part(run.out)
    assert "nllhint NLH596 [bad-option] torch.nn.functional has no `CrossEntropyLoss`: the loss is" in hint
    assert "\n  fix\n    loss = F.cross_entropy(model(x), y)\n" in hint


@pytest.mark.parametrize("line,fixed", [
    ("criterion = F.CrossEntropyLoss(ignore_index=-1)", "criterion = nn.CrossEntropyLoss(ignore_index=-1)"),
    ("criterion = nn.BCEWithLogits()", "criterion = nn.BCEWithLogitsLoss()"),
    ("loss = nn.mse_loss(pred, target)", "loss = F.mse_loss(pred, target)"),
    ("loss = torch.nn.functional.bce_loss(pred.sigmoid(), target)", "loss = F.binary_cross_entropy(pred.sigmoid(), target)"),
])
def test_misremembered_loss_names(ipython, line, fixed):
    ipython.run('''
        import torch, torch.nn as nn, torch.nn.functional as F
        pred, target = torch.randn(8, 1), torch.rand(8, 1)
    ''')
    run = ipython.run(line)
    assert not run.success and "NLH596" in run.out
    assert f"\n  fix\n    {fixed}\n" in hint_part(run.out)


@pytest.mark.parametrize("line", ["layer = nn.Linearr(3, 4)", "F.CrossEntropyLoss", "y = F.sofmax(torch.randn(2, 3), dim=1)"])
def test_other_missing_names_of_torch_nn_get_no_hint(ipython, line):
    run = ipython.run("import torch, torch.nn as nn, torch.nn.functional as F\n" + line)
    assert not run.success and "has no attribute" in run.out and "nllhint" not in run.out


def test_a_loss_with_a_regularisation_term_is_named_not_the_bare_call(ipython):
    ipython.run(SETUP)
    run = ipython.run('''
        criterion = nn.CrossEntropyLoss()
        for inputs, labels in loader:
            optimizer.zero_grad()
            total = criterion(model(inputs), labels) + 1e-4 * sum(p.pow(2).sum() for p in model.parameters())
            criterion.backward()
    ''')
    hint = hint_part(run.out)
    assert "NLH595" in hint and "\n  fix\n    total.backward()\n" in hint


def test_the_loss_computed_in_the_previous_cell(ipython):
    ipython.run(SETUP)
    ipython.run('''
        criterion = nn.CrossEntropyLoss()
        inputs, labels = next(iter(loader))
        optimizer.zero_grad()
        batch_loss = criterion(model(inputs), labels)
        print(batch_loss)
    ''')
    run = ipython.run("criterion.backward()\noptimizer.step()")
    assert not run.success and "NLH595" in run.out
    assert "\n  fix\n    batch_loss.backward()\n" in hint_part(run.out)
