"""Default mode: a loss call spread over several lines gets the whole corrected statement in its notice
(joined on one line, as short as the report's fix allows), never one physical line of it."""

import re
import textwrap

import pytest

HEAD = "import torch, torch.nn as nn, torch.nn.functional as F\ntorch.manual_seed(0)\n"


def notebook(body: str) -> str:
    return HEAD + textwrap.dedent(body)


def fix_of(out: str) -> str:
    """The notice's fix, its hanging lines included."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  fix: "))
    fix = [lines[start][len("  fix: "):]]
    for line in lines[start + 1:]:
        if not line.startswith(" " * 7):
            break
        fix.append(line[7:])
    return "\n".join(fix)


@pytest.mark.parametrize("cell, code, fix", [
    ("""
        model = nn.Linear(10, 4)
        x, y = torch.randn(6, 10), torch.randint(0, 4, (6,))
        loss = F.cross_entropy(
            F.softmax(model(x), dim=1),
            y)
     """, "NLH804", "loss = F.cross_entropy(model(x), y)"),
    ("""
        T = 4.0
        student_logits = torch.randn(8, 10, requires_grad=True)
        teacher_logits = torch.randn(8, 10)
        distill = nn.KLDivLoss(reduction='batchmean')
        loss = distill(F.log_softmax(student_logits / T, dim=1),
                       F.log_softmax(teacher_logits / T, dim=1)) * T * T
     """, "NLH811", "loss = distill(F.log_softmax(student_logits / T, dim=1), "
                    "F.log_softmax(teacher_logits / T, dim=1).exp()) * T * T"),
    ("""
        encoder = nn.Linear(8, 4)
        criterion = nn.NLLLoss()
        x, labels = torch.randn(16, 8), torch.randint(0, 4, (16,))
        loss = criterion(
            encoder(x),   # scores for the 4 classes
            labels,
        )
     """, "NLH801", "loss = criterion(encoder(x).log_softmax(dim=1), labels)"),
    ("""
        regressor = nn.Linear(8, 1)
        features, prices = torch.randn(32, 8), torch.randn(32)
        loss = nn.MSELoss()(regressor(features),
                            prices)
     """, "NLH901", "loss = nn.MSELoss()(regressor(features).squeeze(1), prices)"),
    ("""
        classifier = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())
        x, y = torch.randn(16, 8), torch.randint(0, 2, (16, 1)).float()
        loss = F.binary_cross_entropy_with_logits(
            classifier(x), y,
            reduction="mean")
     """, "NLH807", None),
])
def test_a_call_over_several_lines_gets_the_whole_statement(ipython, cell, code, fix):
    run = ipython.run(notebook(cell))
    assert run.success, run.out
    assert f"warning {code}" in run.out or f"error {code}" in run.out, run.out
    shown = fix_of(run.out)
    assert "\n" not in shown, run.out  # one statement: one line
    assert shown.count("(") == shown.count(")"), run.out  # never a fragment of the call
    assert shown.startswith("loss = ") or "remove" in shown or "  ->  " in shown, run.out  # or the model's line
    if fix:
        assert shown == fix, run.out


def test_the_notice_and_the_report_give_the_same_fix(ipython):
    """%%losscheck prints the statement as the user laid it out; the notice, the same code on one line
    (without the comment inside the call, which described the old argument, and the trailing comma)."""
    cell = notebook("""
        scores_net = nn.Linear(10, 4)
        x, y = torch.randn(6, 10), torch.randint(0, 4, (6,))
        loss = nn.CrossEntropyLoss()(
            torch.softmax(scores_net(x), 1),  # probabilities
            y,
        )
    """)
    notice = fix_of(ipython.run(cell).out)
    ipython.fresh_namespace()
    report = ipython.run("%%losscheck\n" + cell).out
    assert "NLH804" in report, report
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if "fix: " in line)
    indent = lines[start].index("fix: ") + len("fix: ")
    full = [lines[start][indent:]] + [line.split("#")[0].strip() for line in lines[start + 1:start + 4]]
    assert notice == re.sub(r"\(\s+", "(", " ".join(full)).replace(", )", ")"), (notice, report)
    assert notice == "loss = nn.CrossEntropyLoss()(scores_net(x), y)"


def test_a_single_line_fix_is_unchanged(ipython):
    run = ipython.run(notebook("""
        model = nn.Linear(8, 4)
        x, labels = torch.randn(16, 8), torch.randint(0, 4, (16,))
        loss = nn.NLLLoss()(model(x), labels)
    """))
    assert fix_of(run.out) == "loss = nn.NLLLoss()(model(x).log_softmax(dim=1), labels)"


def test_a_correct_call_over_several_lines_gets_no_notice(ipython):
    run = ipython.run(notebook("""
        model = nn.Linear(10, 4)
        x, y = torch.randn(6, 10), torch.randint(0, 4, (6,))
        loss = F.cross_entropy(
            model(x),   # raw scores
            y,
            reduction="mean",
        )
        teacher, student = torch.randn(6, 4), model(x)
        kd = F.kl_div(F.log_softmax(student, dim=1),
                      F.log_softmax(teacher, dim=1),
                      reduction="batchmean", log_target=True)
        loss.backward()
    """))
    assert run.success, run.out
    assert "nllhint" not in run.out, run.out
