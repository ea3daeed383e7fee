"""KLDivLoss with its arguments swapped, told by autograd: the fixed reference (no grad) passed as the
input, the model's softmax probabilities (with grad) as the target."""

HEAD = """%%losscheck
import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""


def _prose(out: str) -> str:
    return " ".join(out.split())


def test_teacher_log_probabilities_first_student_probabilities_second(ipython):
    run = ipython.run(HEAD + """
student = nn.Linear(16, 8)
teacher_probs = F.softmax(torch.randn(4, 8), dim=1)
feat = torch.randn(4, 16)
loss = F.kl_div(teacher_probs.log(), F.softmax(student(feat), dim=1), reduction='batchmean')
""")
    prose = _prose(run.out)
    assert "NLH846" in prose and "[kl-format]" in prose and "arguments look swapped" in prose
    assert "fix: loss = F.kl_div(student(feat).log_softmax(dim=1), teacher_probs, reduction='batchmean')" in prose


def test_module_form_with_teacher_log_softmax_computed_without_grad(ipython):
    run = ipython.run(HEAD + """
teacher, student = nn.Linear(10, 5), nn.Linear(10, 5)
kd = nn.KLDivLoss(reduction='batchmean')
x = torch.randn(32, 10)
with torch.no_grad():
    t_logp = F.log_softmax(teacher(x) / 2.0, dim=1)
s_probs = F.softmax(student(x) / 2.0, dim=1)
loss = kd(t_logp, s_probs)
""")
    prose = _prose(run.out)
    assert "NLH846" in prose and "requires grad" in prose
    assert "fix: loss = kd(F.log_softmax(student(x) / 2.0, dim=1), t_logp.exp())" in prose


def test_the_warning_shows_without_losscheck(ipython):
    run = ipython.run("""
import torch, torch.nn as nn, torch.nn.functional as F
student = nn.Linear(16, 8)
ref = F.softmax(torch.randn(4, 8), dim=1)
loss = F.kl_div(torch.log(ref), student(torch.randn(4, 16)).softmax(dim=1), reduction='batchmean')
""")
    assert run.success and "NLH846" in run.out
    assert "loss = F.kl_div(student(torch.randn(4, 16)).log_softmax(dim=1), ref, reduction='batchmean')" in run.out


def test_distillation_in_the_right_order_is_clean(ipython):
    run = ipython.run(HEAD + """
teacher, student = nn.Linear(16, 8), nn.Linear(16, 8)
feat = torch.randn(4, 16)
teacher_probs = F.softmax(teacher(feat), dim=1).detach()
loss = F.kl_div(F.log_softmax(student(feat), dim=1), teacher_probs, reduction='batchmean')
loss.backward()
""")
    assert run.success and "no problems found" in run.out and "NLH8" not in run.out, run.out


def test_log_target_forms_are_clean_in_either_order(ipython):
    run = ipython.run(HEAD + """
teacher, student = nn.Linear(16, 8), nn.Linear(16, 8)
feat = torch.randn(4, 16)
with torch.no_grad():
    t_logp = F.log_softmax(teacher(feat), dim=1)
s_logp = F.log_softmax(student(feat), dim=1)
forward_kl = F.kl_div(s_logp, t_logp, reduction='batchmean', log_target=True)
reverse_kl = nn.KLDivLoss(reduction='batchmean', log_target=True)(t_logp, s_logp)
""")
    assert run.success and "no problems found" in run.out and "NLH8" not in run.out, run.out


def test_mutual_learning_with_grad_on_both_sides_is_not_called_swapped(ipython):
    run = ipython.run(HEAD + """
net_a, net_b = nn.Linear(16, 8), nn.Linear(16, 8)
feat = torch.randn(4, 16)
loss = F.kl_div(F.log_softmax(net_a(feat), dim=1), F.softmax(net_b(feat), dim=1), reduction='batchmean')
""")
    assert "NLH846" not in run.out, run.out
