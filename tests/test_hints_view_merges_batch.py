"""A view(-1, k) in the model's forward that merges (or splits) the samples, seen through an elementwise
loss: MSE/L1 broadcast a single row silently, or raise for other counts. Either way the hint points at the
line in the forward and fixes it there, never at the last Linear layer's out_features (already right)."""

HEAD = """import torch, torch.nn as nn, torch.nn.functional as F
torch.manual_seed(0)
"""

NET = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.fc = nn.Linear({k}, 18)
    def forward(self, x):
        x = F.relu(self.conv(x))
        x = x.view({view})
        return self.fc(x)

model = Net()
criterion = nn.{loss}()
inputs = torch.randn(8, 1, 8, 8)
targets = torch.rand(8, 18)
outputs = model(inputs)
loss = criterion(outputs, targets)
"""


def net(k="8 * 8 * 8 * 8", view="-1, 8 * 8 * 8 * 8", loss="MSELoss"):
    return HEAD + NET.format(k=k, view=view, loss=loss)


def test_all_samples_in_one_row_broadcast_silently_under_losscheck(ipython):
    run = ipython.run("%%losscheck\n" + net())
    assert run.success, run.out
    assert "NLH901 [shape-mismatch]" in run.out, run.out
    assert "x.view(-1, 8 * 8 * 8 * 8)  ->  x.view(x.size(0), -1)   # Net.forward, line" in run.out, run.out
    assert "one row of all 8 samples" in run.out, run.out
    assert "nn.Linear(512, ...)" in run.out, run.out
    assert "out_features" not in run.out, run.out


def test_all_samples_in_one_row_get_the_forward_line_in_default_mode(ipython):
    run = ipython.run(net())
    assert run.success, run.out
    assert "nllhint: error NLH901" in run.out, run.out
    assert "x.view(-1, 8 * 8 * 8 * 8)  ->  x.view(x.size(0), -1)" in run.out, run.out
    assert "out_features" not in run.out, run.out


def test_view_merging_pairs_of_samples_raises_and_names_the_line(ipython):
    run = ipython.run(net(k="8 * 8 * 8 * 2", view="-1, 8 * 8 * 8 * 2"))
    assert "The size of tensor a (4) must match the size of tensor b (8)" in run.out, run.out
    assert "nllhint NLH301 [batch-mismatch]" in run.out, run.out
    assert "rows of 2 samples each" in run.out, run.out
    assert "x.view(-1, 8 * 8 * 8 * 2)  ->  x.view(x.size(0), -1)" in run.out, run.out


def test_view_splitting_samples_into_an_l1_loss_names_the_line(ipython):
    run = ipython.run(net(k="8 * 8 * 4", view="-1, 8 * 8 * 4", loss="L1Loss"))
    assert "nllhint NLH301 [batch-mismatch]" in run.out, run.out
    assert "makes 2 rows of each" in run.out, run.out
    assert "x.view(-1, 8 * 8 * 4)  ->  x.view(x.size(0), -1)" in run.out, run.out


def test_merged_rows_found_from_a_training_function(ipython):
    cell = net().replace("outputs = model(inputs)\nloss = criterion(outputs, targets)\n", """
def train_step(model, xb, yb):
    pred = model(xb)
    return F.mse_loss(pred, yb)
loss = train_step(model, inputs, targets)
""")
    run = ipython.run("%%losscheck\n" + cell)
    assert "NLH901" in run.out, run.out
    assert "x.view(x.size(0), -1)   # Net.forward, line" in run.out, run.out


def test_one_row_without_a_view_in_the_model_never_blames_out_features(ipython):
    run = ipython.run("%%losscheck\n" + HEAD + """
head = nn.Linear(16, 18)
feats, targets = torch.randn(8, 16), torch.rand(8, 18)
pred = head(feats[:1])
loss = F.mse_loss(pred, targets)
""")
    assert "NLH901" in run.out, run.out
    assert "out_features" not in run.out, run.out
    assert "`pred` has 1 row for the 8 samples of `targets`" in run.out, run.out


def test_a_wrong_width_still_points_at_out_features(ipython):
    run = ipython.run("%%losscheck\n" + HEAD + """
head = nn.Linear(16, 1)
feats, targets = torch.randn(8, 16), torch.rand(8, 18)
loss = F.mse_loss(head(feats), targets)
""")
    assert "NLH901" in run.out and "out_features" in run.out, run.out


def test_a_model_that_flattens_per_sample_gets_nothing(ipython):
    cell = net(k="8 * 8 * 8", view="x.size(0), -1")
    run = ipython.run("%%losscheck\n" + cell)
    assert "no problems found" in run.out, run.out
    run = ipython.run(cell)
    assert run.success and "nllhint" not in run.out, run.out


def test_a_view_with_the_per_sample_width_gets_nothing(ipython):
    cell = net(k="8 * 8 * 8", view="-1, 8 * 8 * 8")
    run = ipython.run("%%losscheck\n" + cell)
    assert "no problems found" in run.out, run.out


def test_without_a_graph_an_elementwise_mismatch_does_not_blame_a_view(ipython):
    cell = net(k="8 * 8 * 4", view="-1, 8 * 8 * 4", loss="L1Loss").replace(
        "outputs = model(inputs)", "with torch.no_grad():\n    outputs = model(inputs)")
    run = ipython.run(cell)
    assert "The size of tensor a (16)" in run.out, run.out
    assert "NLH301" not in run.out, run.out
