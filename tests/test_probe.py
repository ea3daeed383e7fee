"""The tensor probe reads a bounded number of values, whatever the size, and never past the end."""

import torch

from nllhint.probe import describe


def test_a_billion_element_view_is_sampled_without_reading_past_its_end():
    huge = torch.tensor([3.0]).expand(999_999_999)  # a view: no memory for 10^9 values
    facts = describe(huge)
    assert facts.values and facts.sampled, facts.why_no_values  # float32 linspace ended at 10^9
    assert (facts.min, facts.max) == (3.0, 3.0)


def test_labels_are_described_exactly_below_a_million():
    labels = torch.arange(500_000) % 10 + 1
    facts = describe(labels)
    assert not facts.sampled and (facts.min, facts.max) == (1.0, 10.0)
    assert facts.kind == "class indices"


def test_what_a_tensor_looks_like():
    logits = torch.randn(16, 5)
    assert describe(logits).kind == "logits"
    assert describe(logits.softmax(1)).kind == "probabilities"
    assert describe(logits.log_softmax(1)).kind == "log-probabilities"
    assert describe(torch.eye(5)[torch.tensor([0, 3, 1])].long()).kind == "one-hot rows"
    assert describe(torch.tensor([[1, 0, 1], [0, 1, 1]])).kind == "multi-hot rows"
    assert describe(torch.tensor([0.0, 2.0, 1.0])).kind == "whole-number floats"
    nan = describe(torch.tensor([[0.5, float("nan")], [0.1, 0.2]]))
    assert nan.has_nan and "NaN!" in nan.summary()


def test_meta_and_sparse_tensors_give_metadata_only():
    meta = describe(torch.empty(4, 3, device="meta"))
    assert not meta.values and meta.why_no_values == "meta tensor"
    assert "values unavailable: meta tensor" in meta.summary()
    sparse = describe(torch.eye(3).to_sparse())
    assert not sparse.values and sparse.shape == (3, 3)


def test_describe_builds_no_graph_and_draws_no_random_numbers():
    x = torch.randn(1000, 10, requires_grad=True)
    state = torch.get_rng_state()
    describe(x)
    assert torch.equal(state, torch.get_rng_state())
    assert x.grad is None and x.grad_fn is None
