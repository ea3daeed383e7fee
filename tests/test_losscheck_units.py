"""Small pure pieces of the audits: reading what produced a tensor, and unwrapping the user's expression."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nllhint.audit.base import unwrap
from nllhint.audit.provenance import origin


@pytest.mark.parametrize("expr,names,expected", [
    ("F.softmax(model(x), dim=1)", ("softmax",), ("model(x)", "1")),
    ("torch.softmax(out, 1)", ("softmax",), ("out", "1")),
    ("out.softmax(dim=-1)", ("softmax",), ("out", "-1")),
    ("model(x).softmax(1)", ("softmax",), ("model(x)", "1")),
    ("nn.Softmax(dim=1)(logits)", ("softmax",), ("logits", "1")),
    ("torch.nn.functional.softmax(a + b, dim=1)", ("softmax",), ("a + b", "1")),
    ("torch.sigmoid(model(x))", ("sigmoid",), ("model(x)", None)),
    ("probs", ("softmax",), None),
    ("F.log_softmax(z, 1)", ("softmax",), None),
])
def test_unwrap(expr, names, expected):
    assert unwrap(expr, *names) == expected


def test_origin_reads_the_graph_through_value_preserving_ops():
    lin = nn.Linear(4, 6)
    x = torch.randn(2, 3, 4)
    assert origin(F.softmax(lin(x), dim=-1)).producer == "softmax"
    assert origin(F.softmax(lin(x), dim=-1)).dim == 2
    assert origin(F.log_softmax(lin(x), dim=1).transpose(1, 2)).dim is None  # reordered: dim unknown
    assert origin(lin(x)).producer == "linear" and not origin(lin(x)).reordered
    assert origin(lin(x).permute(0, 2, 1)).reordered
    assert origin(lin(x).squeeze(0).float()).producer == "linear"
    assert origin(torch.log(F.softmax(lin(x), 1))).producer == "log(softmax)"
    eps = origin(torch.log(F.softmax(lin(x), 1) + 1e-8))
    assert eps.producer == "log(softmax)" and eps.eps
    assert origin(torch.log(torch.sigmoid(lin(x)))).producer == "log(sigmoid)"
    assert origin(lin(x) * 2).producer is None and origin(lin(x) * 2).traced
    assert not origin(torch.randn(3)).traced
    with torch.no_grad():
        assert not origin(F.softmax(lin(x), 1)).traced
