"""The reshape in the model that merged (or split) the batch, for the watched elementwise losses.

NLH301 (``rules/batch.py``) explains the raising form: ``x.view(-1, k)`` in a model's ``forward`` with k
other than the features per sample. When the input ends with a single row, MSE/L1 broadcast it against
every target instead of raising (NLH901); this asks NLH301 the same question for a watched call, from
the same evidence: the shapes the view node saved in the input's ``grad_fn`` and the ``view(-1, k)`` lines
in the forward of the models whose parameters made the input (found from the user's live frame).
"""

from __future__ import annotations

from .base import Hint, LossCall


def model_reshape(call: LossCall) -> Hint | None:
    """NLH301's hint for this call when input and target differ in rows only, else None (never raises)."""
    a, b = call.shape("input"), call.shape("target")
    inp = call.tensor("input")
    if (a is None or b is None or len(a) != len(b) or len(a) < 2 or a[1:] != b[1:] or a[0] == b[0]
            or inp is None or inp.grad_fn is None):
        return None
    frame = call.user_frame()
    if frame is None:
        return None
    from ..context import LossContext, _graph_params
    from ..messages import MessageMatch
    from ..probe import describe
    from ..rules.batch import reshape_changes_rows

    ctx = LossContext(message="", exc_type="", via="loss", loss=call.loss, module=call.module,
                      matches=[MessageMatch("batch-size", {"n_input": str(a[0]), "n_target": str(b[0])})],
                      options=dict(call.options), call=call.call, values_readable=False)
    try:
        ctx.tensors = {"input": describe(inp, read_values=False),
                       "target": describe(call.tensor("target"), read_values=False)}
        ctx._user_frame = frame
        ctx._input_params = _graph_params(inp.grad_fn)
        hint = reshape_changes_rows.check(ctx)
    finally:
        ctx.close()
        del frame
    return hint
