"""Rules for the losses that compare embeddings or scores: TripletMarginLoss (and its WithDistance form, with
the user's distance function), CosineEmbeddingLoss and MarginRankingLoss.

Their shape errors are mostly PyTorch's generic broadcast message ("The size of tensor a (8) must match the
size of tensor b (5) at non-singleton dimension 1") or a count of dimensions; the traceback says which loss
raised it, and the tensors in its frame say which argument is the odd one: an embedding of another width, a
batch of another size, an extra axis, a target shaped like the inputs instead of one value per pair.
"""

from __future__ import annotations

import math
import re

from ..probe import _num
from .base import Example, Hint, rule
from .options import option_fix, option_text
from .roles import callee_of, constant_value, full_of, odd_one, pick_fix, shape_text

TRIPLET = ("triplet_margin_loss", "triplet_margin_with_distance_loss")
PAIR_TARGET = ("cosine_embedding_loss", "margin_ranking_loss")
TRIPLET_FAMILIES = ("broadcast", "triplet-ndim", "distance-function")


def _triplet(ctx):
    """{role: facts} for anchor/positive/negative, when all three are tensors of a triplet loss."""
    if ctx.loss not in TRIPLET:
        return None
    found = {k: ctx.t(k) for k in ("anchor", "positive", "negative")}
    return found if all(found.values()) else None


def _in_callback(ctx) -> str:
    if ctx.loss == "triplet_margin_with_distance_loss" and ctx.callback:
        return f" (PyTorch raised it inside your distance function `{ctx.callback}`, on these tensors)"
    return ""


# --- triplets ------------------------------------------------------------------------------------------

@rule("NLH320", "shape-mismatch", "triplet embeddings of different widths (anchor, positive, negative)",
      families=TRIPLET_FAMILIES,
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "net = nn.Linear(32, 16)\n"
              "criterion = nn.TripletMarginLoss(margin=1.0)\n"
              "anchor_x, pos_x, neg_x = torch.randn(8, 32), torch.randn(8, 32), torch.randn(8, 32)\n"
              "loss = criterion(net(anchor_x), net(pos_x), neg_x)",
              expect=("loss = criterion(net(anchor_x), net(pos_x), net(neg_x))", "32")),
          Example(
              "import torch, torch.nn as nn, torch.nn.functional as F\n"
              "text_emb, image_emb, other_emb = torch.randn(4, 128), torch.randn(4, 64), torch.randn(4, 128)\n"
              "criterion = nn.TripletMarginWithDistanceLoss(\n"
              "    distance_function=lambda x, y: 1.0 - F.cosine_similarity(x, y))\n"
              "loss = criterion(text_emb, image_emb, other_emb)",
              expect=("`image_emb`", "64", "128", "<lambda>")),
      ))
def triplet_widths(ctx) -> Hint | None:
    """The three embeddings must have the same width D: distances are taken over their last dimension.

    When two come from the user's network and the odd one is a raw input of another width, the odd one
    was not embedded: the fix passes it through the same network.
    """
    found = _triplet(ctx)
    if not found:
        return None
    if len({f.ndim for f in found.values()}) != 1 or found["anchor"].ndim == 0:
        return None
    widths = {k: f.shape[-1] for k, f in found.items()}
    if len(set(widths.values())) == 1:
        return None
    rest = {k: f.shape[:-1] for k, f in found.items()}
    if len({s for s in rest.values()}) != 1:
        return None  # other dims differ too: batch rule
    odd = odd_one(widths)
    shown = ", ".join(f"{ctx.code(k)} {shape_text(f.shape)}" for k, f in found.items())
    label = ctx.loss_label
    if odd is None:
        return Hint(
            title=f"anchor, positive and negative have three different widths: {shown}",
            message=(f"{label} takes a distance between anchor and positive and between anchor and negative over "
                     f"the last dimension, so all three must be embeddings of the same size D.{_in_callback(ctx)} "
                     "Embed them with the same network (or project them to one size) first."),
            fix=None,
        )
    width = widths["anchor" if odd != "anchor" else "positive"]
    others = [k for k in found if k != odd]
    message = (f"{label} measures the distance from the anchor to the positive and to the negative over the last "
               f"dimension, so anchor, positive and negative must all be (N, D) with the same D. "
               f"{ctx.code(others[0])} and {ctx.code(others[1])} have D = {width}, {ctx.code(odd)} has "
               f"{widths[odd]}{_in_callback(ctx)}.")
    fix = None
    nets = {callee_of(ctx.name(k)) for k in others}
    odd_facts = found[odd]
    net = nets.pop() if len(nets) == 1 else None
    if net and callee_of(ctx.name(odd)) is None and odd_facts.grad_fn is None:
        message += (f" The other two come out of `{net}`, while {ctx.code(odd)} is passed as it is: it was never "
                    f"embedded.")
        fix = ctx.fix({odd: f"{net}({ctx.name(odd)})"})
    else:
        layers = ctx.output_layers(widths[odd])
        if layers:
            message += f" {layers[0]} has out_features={widths[odd]}: all three must come from the same head."
        else:
            message += " Embed all three with the same network, or project the odd one to the same size."
    return Hint(title=f"{ctx.code(odd)} has {widths[odd]} features per sample, but {ctx.code(others[0])} has "
                      f"{width}: triplet embeddings must have the same width",
                message=message, fix=fix)


@rule("NLH321", "batch-mismatch", "anchor, positive and negative hold different numbers of samples",
      families=TRIPLET_FAMILIES,
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "embed = nn.Linear(20, 8)\n"
          "anchors, positives = embed(torch.randn(16, 20)), embed(torch.randn(16, 20))\n"
          "negatives = embed(torch.randn(12, 20))   # fewer hard negatives were mined\n"
          "loss = nn.TripletMarginLoss()(anchors, positives, negatives)",
          expect=("16", "12", "`negatives`")),))
def triplet_batches(ctx) -> Hint | None:
    """Each anchor needs its own positive and negative: the three batches must have the same length N."""
    found = _triplet(ctx)
    if not found:
        return None
    if len({f.ndim for f in found.values()}) != 1 or found["anchor"].ndim < 2:
        return None
    rows = {k: f.shape[0] for k, f in found.items()}
    if len(set(rows.values())) == 1 or len({f.shape[1:] for f in found.values()}) != 1:
        return None
    if 1 in rows.values():
        return None  # a (1, D) side broadcasts; the mismatch is elsewhere
    odd = odd_one(rows)
    shown = ", ".join(f"{ctx.code(k)} {shape_text(f.shape)}" for k, f in found.items())
    which = (f"{ctx.code(odd)} has {rows[odd]} rows, the other two "
             f"{rows['anchor' if odd != 'anchor' else 'positive']}" if odd else "all three differ")
    strided = all(re.search(r"\[\s*[0-2]?\s*::\s*3\s*\]", ctx.name(k)) for k in found)
    if strided:
        total = sum(rows.values())
        return Hint(
            title=f"the batch of {total} is not a multiple of 3: [0::3], [1::3], [2::3] give {shown}",
            message=(f"{ctx.loss_label} needs as many positives and negatives as anchors. Slicing a batch of packed "
                     f"(anchor, positive, negative) triplets with a stride of 3 only works when the batch size is "
                     f"a multiple of 3; this batch has {total} rows (a smaller last batch, or a batch size not "
                     "divisible by 3)."),
            fix="DataLoader(..., batch_size=3 * k, drop_last=True)   # whole triplets in every batch",
        )
    return Hint(
        title=f"anchor, positive and negative have different batch sizes: {shown}",
        message=(f"{ctx.loss_label} compares row i of the anchor with row i of the positive and row i of the "
                 f"negative, so all three need the same number of rows N; {which}{_in_callback(ctx)}. When "
                 "triplets are mined (hard negatives, pairs per class), index all three with the same "
                 "triplet indices: anchor[a_idx], emb[p_idx], emb[n_idx]."),
        fix=None,
    )


@rule("NLH322", "shape-mismatch", "one of anchor/positive/negative has an extra or a missing dimension",
      families=("triplet-ndim",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "anchor, positive = torch.randn(8, 32), torch.randn(8, 32)\n"
              "negatives = torch.randn(8, 5, 32)     # 5 negatives per anchor\n"
              "loss = nn.TripletMarginLoss()(anchor, positive, negatives)",
              expect=("anchor.unsqueeze(1)", "positive.unsqueeze(1)", "5 negatives")),
          Example(
              "import torch, torch.nn as nn\n"
              "anchor, positive, negative = torch.randn(8, 32), torch.randn(8, 1, 32), torch.randn(8, 32)\n"
              "loss = nn.TripletMarginLoss()(anchor, positive, negative)",
              expect=("positive.squeeze(1)",)),
      ))
def triplet_dims(ctx) -> Hint | None:
    """Anchor, positive and negative need the same number of dimensions: (N, D) each (or (D,) each).

    A (N, K, D) side holds K candidates per anchor (the others then broadcast as (N, 1, D)); a (N, 1, D)
    side has a stray axis; a (N, C, H, W) side is a feature map not yet flattened; a (D,) side is one
    embedding meant for every anchor.
    """
    found = _triplet(ctx)
    if not found:
        return None
    dims = {k: f.ndim for k, f in found.items()}
    odd = odd_one(dims)
    if odd is None:
        return None
    others = [k for k in found if k != odd]
    ref = found[others[0]].shape
    if found[others[1]].shape[-1:] != ref[-1:]:
        return None
    shape = found[odd].shape
    label = ctx.loss_label
    base = (f"{label} needs anchor, positive and negative with the same number of dimensions, normally (N, D) "
            f"each; {ctx.code(odd)} is {shape_text(shape)} while {ctx.code(others[0])} and "
            f"{ctx.code(others[1])} are {shape_text(ref)}.")
    if len(shape) == len(ref) + 1 and shape[0] == ref[0] and shape[-1] == ref[-1] and len(ref) >= 1:
        axis = next((d for d in range(1, len(shape) - 1) if shape[:d] + shape[d + 1:] == ref and shape[d] == 1), None)
        if axis is not None:
            return Hint(
                title=f"{ctx.code(odd)} {shape_text(shape)} has an extra size-1 axis; the others are {shape_text(ref)}",
                message=base + f" Squeeze the size-1 axis at dim {axis}.",
                fix=pick_fix(ctx, {odd: ctx.with_method(odd, f".squeeze({axis})")}),
            )
        if len(shape) == 3 and len(ref) == 2:
            k = shape[1]
            fixes = {o: ctx.with_method(o, ".unsqueeze(1)") for o in others}
            return Hint(
                title=f"{ctx.code(odd)} {shape_text(shape)} holds {k} candidates per sample; the others are "
                      f"{shape_text(ref)}",
                message=(base + f" With {k} {odd}s per anchor, give the other two an axis of size 1, "
                         f"(N, 1, D): the distances then broadcast to (N, {k}), one term per candidate "
                         f"({k} {odd}s per anchor)."),
                fix=pick_fix(ctx, fixes),
            )
    if len(ref) == 2 and len(shape) >= 3 and shape[0] == ref[0] and math.prod(shape[1:]) == ref[1]:
        return Hint(
            title=f"{ctx.code(odd)} is a feature map {shape_text(shape)}; the others are flat (N, D) {shape_text(ref)}",
            message=base + f" Flatten it per sample: its {math.prod(shape[1:])} values are the D = {ref[1]} features.",
            fix=pick_fix(ctx, {odd: ctx.with_method(odd, ".flatten(1)")}),
        )
    if len(shape) == 1 and len(ref) == 2 and shape[0] == ref[1]:
        return Hint(
            title=f"{ctx.code(odd)} is one embedding {shape_text(shape)}; the others are a batch {shape_text(ref)}",
            message=(base + f" If the one {odd} is meant for every anchor, give it a batch axis of 1 so it "
                     f"broadcasts over the {ref[0]} rows."),
            fix=pick_fix(ctx, {odd: ctx.with_method(odd, ".unsqueeze(0)")}),
        )
    if len(shape) == 1 and len(ref) == 2 and shape[0] == ref[0]:
        facts = found[odd]
        labels = facts.values and facts.whole
        return Hint(
            title=f"{ctx.code(odd)} {shape_text(shape)} has one value per sample, not an embedding",
            message=(base + (f" Its values are whole numbers ({_num(facts.min)}..{_num(facts.max)}): it looks like "
                             "class labels. A triplet loss takes three embeddings; pick positives and negatives "
                             "from the labels first (a triplet miner), then pass their embeddings."
                             if labels else f" Pass the {odd} embeddings (N, D), not one value per sample."))
            , fix=None,
        )
    return Hint(title=f"{ctx.code(odd)} is {shape_text(shape)} but the others are {shape_text(ref)}",
                message=base + " Give all three the same layout.", fix=None)


@rule("NLH323", "bad-option", "TripletMarginWithDistanceLoss's distance_function is not a function of two batches",
      families=("distance-function",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "criterion = nn.TripletMarginWithDistanceLoss(distance_function=nn.PairwiseDistance)\n"
              "a, p, n = torch.randn(8, 16), torch.randn(8, 16), torch.randn(8, 16)\n"
              "loss = criterion(a, p, n)",
              expect=("distance_function=nn.PairwiseDistance()",)),
          Example(
              "import torch, torch.nn as nn, torch.nn.functional as F\n"
              "a, p, n = torch.randn(8, 16), torch.randn(8, 16), torch.randn(8, 16)\n"
              "loss = F.triplet_margin_with_distance_loss(a, p, n, distance_function=F.pairwise_distance(a, p))",
              expect=("distance_function=F.pairwise_distance)",)),
      ))
def distance_function_kind(ctx) -> Hint | None:
    """``distance_function`` is called as ``d(anchor, positive)`` and must return one distance per row: not a
    class (``nn.PairwiseDistance`` without ``()``), not an already computed tensor, not a one-argument function."""
    if ctx.loss != "triplet_margin_with_distance_loss":
        return None
    kind = ctx.options.get("distance_function") or ("Tensor" if ctx.t("distance_function") else "")
    written = option_text(ctx, "distance_function") or "distance_function"
    if kind.startswith("class "):
        cls = kind.split(" ", 1)[1]
        return Hint(
            title=f"distance_function={written} is the class {cls}, not an instance",
            message=(f"The loss calls distance_function(anchor, positive); calling the class builds a new {cls} "
                     f"module with anchor and positive as its options instead of measuring a distance. Create "
                     f"the module first: {written}()."),
            fix=option_fix(ctx, "distance_function", f"{written}()"),
            evidence=(),
        )
    if kind == "Tensor":
        callee = strip_call_any(written)
        return Hint(
            title=f"distance_function={written} is a tensor (a distance already computed), not a function",
            message=("The loss calls distance_function(anchor, positive) and distance_function(anchor, negative) "
                     "itself, so it needs the function, not its result."),
            fix=option_fix(ctx, "distance_function", callee) if callee else None,
            evidence=(),
        )
    m = ctx.family("distance-function")
    if kind.startswith("function") and m and "count" in m.groups and m.groups["count"] == "1":
        return Hint(
            title=f"distance_function={written} takes one argument, but the loss calls it with two",
            message=("TripletMarginWithDistanceLoss calls distance_function(x1, x2) with two (N, D) batches and "
                     "expects one non-negative distance per row, shaped (N,): e.g. lambda x1, x2: "
                     "1 - F.cosine_similarity(x1, x2), or nn.PairwiseDistance()."),
            fix=None,
            evidence=(),
        )
    return None


def strip_call_any(expr: str) -> str | None:
    """``F.pairwise_distance`` from ``F.pairwise_distance(a, p)``."""
    callee = callee_of(expr)
    if callee:
        return callee
    import ast

    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        return None
    return ast.unparse(node.func) if isinstance(node, ast.Call) else None


# --- pairs with a target: CosineEmbeddingLoss, MarginRankingLoss -------------------------------------

def _pair(ctx):
    if ctx.loss not in PAIR_TARGET:
        return None
    x1, x2, y = ctx.t("input1"), ctx.t("input2"), ctx.t("target")
    return (x1, x2, y) if x1 and x2 and y else None


def _target_words(ctx) -> str:
    return "1 for a similar pair, -1 for a dissimilar one" if ctx.loss == "cosine_embedding_loss" else \
        "1 when input1 should rank higher, -1 when input2 should"


@rule("NLH324", "target-shape", "CosineEmbeddingLoss target shaped like the embeddings instead of one +1/-1 per pair",
      families=("multi-target", "pair-ndim"),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "criterion = nn.CosineEmbeddingLoss(margin=0.2)\n"
              "emb_a, emb_b = torch.randn(16, 64), torch.randn(16, 64)\n"
              "same = torch.randint(0, 2, (16, 1)).float() * 2 - 1   # +1 / -1 as a column\n"
              "loss = criterion(emb_a, emb_b, same)",
              expect=("loss = criterion(emb_a, emb_b, same.squeeze(1))", "(16, 1)")),
          Example(
              "import torch, torch.nn as nn\n"
              "emb_a, emb_b = torch.randn(16, 64), torch.randn(16, 64)\n"
              "loss = nn.CosineEmbeddingLoss()(emb_a, emb_b, torch.ones_like(emb_a))",
              expect=("torch.ones(emb_a.size(0))", "(16, 64)")),
          Example(
              "import torch, torch.nn as nn\n"
              "emb_a, emb_b = torch.randn(16, 64), torch.randn(16, 64)\n"
              "loss = nn.CosineEmbeddingLoss()(emb_a, emb_b, torch.tensor(1.0))",
              expect=("torch.ones(emb_a.size(0))",)),
      ))
def cosine_target_shape(ctx) -> Hint | None:
    """One target per pair: (N,) of +1/-1 for (N, D) embeddings. A (N, 1) column, a (N, D) tensor made with
    ``ones_like(emb)`` or a single 0-d value do not fit."""
    found = _pair(ctx)
    if not found or ctx.loss != "cosine_embedding_loss":
        return None
    x1, x2, y = found
    if x1.ndim != 2 or x2.ndim != 2 or x1.shape[0] != x2.shape[0]:
        return None
    n = x1.shape[0]
    name = ctx.code("target")
    base = (f"CosineEmbeddingLoss compares the embeddings pair by pair: for {ctx.code('input1')} and "
            f"{ctx.code('input2')} of shape {shape_text(x1.shape)} the target is ({n},), one value per pair "
            f"({_target_words(ctx)}).")
    if y.ndim == 2 and y.shape == (n, 1):
        return Hint(title=f"{name} is a ({n}, 1) column; CosineEmbeddingLoss expects ({n},)",
                    message=base + " Squeeze the extra axis.",
                    fix=pick_fix(ctx, {"target": ctx.with_method("target", ".squeeze(1)")}))
    value = constant_value(y)
    count = f"{ctx.name('input1')}.size(0)" if ctx.call and ctx.call.simple.get("input1", True) else str(n)
    if y.ndim == 0:
        fix_value = _num(value) if value is not None else None
        new = full_of(ctx, value, count) if value is not None else ctx.with_method("target", f".expand({count})")
        return Hint(title=f"{name} is a single value; CosineEmbeddingLoss expects one per pair, ({n},)",
                    message=base + (f" {name} holds {fix_value} for all pairs: repeat it." if fix_value else
                                    " Repeat it for every pair."),
                    fix=pick_fix(ctx, {"target": new}))
    if y.ndim >= 2 and y.shape[0] == n:
        if value is not None and value in (1.0, -1.0):
            return Hint(title=f"{name} is {shape_text(y.shape)}, shaped like the embeddings; CosineEmbeddingLoss "
                              f"expects one value per pair, ({n},)",
                        message=base + f" {name} is {_num(value)} everywhere, so one {_num(value)} per pair is meant.",
                        fix=pick_fix(ctx, {"target": full_of(ctx, value, count)}))
        return Hint(title=f"{name} is {shape_text(y.shape)}; CosineEmbeddingLoss expects one value per pair, ({n},)",
                    message=base + (f" {name} has {y.shape[1]} values per pair; if it holds per-dimension "
                                    "targets, CosineEmbeddingLoss is the wrong loss (MSELoss or "
                                    "CosineSimilarity-based losses compare vectors element by element)."),
                    fix=None)
    return None


@rule("NLH325", "shape-mismatch", "CosineEmbeddingLoss inputs that are not (N, D) batches of embeddings",
      families=("pair-ndim",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "query, doc = torch.randn(32), torch.randn(32)\n"
              "loss = nn.CosineEmbeddingLoss()(query, doc, torch.tensor([1.0]))",
              expect=("query.unsqueeze(0)", "doc.unsqueeze(0)")),
          Example(
              "import torch, torch.nn as nn\n"
              "tokens_a, tokens_b = torch.randn(8, 10, 64), torch.randn(8, 10, 64)\n"
              "loss = nn.CosineEmbeddingLoss()(tokens_a, tokens_b, torch.ones(8))",
              expect=("(8, 10, 64)", "mean(1)")),
      ))
def cosine_input_dims(ctx) -> Hint | None:
    """CosineEmbeddingLoss wants (N, D) pairs with a (N,) target, or one (D,) pair with a 0-d target."""
    found = _pair(ctx)
    if not found or ctx.loss != "cosine_embedding_loss":
        return None
    x1, x2, y = found
    if x1.shape != x2.shape:
        return None
    if y.ndim == 1 and x1.ndim == 1:
        if y.shape[0] == 1:
            return Hint(
                title=f"{ctx.code('input1')} and {ctx.code('input2')} are single vectors {shape_text(x1.shape)} "
                      f"but {ctx.code('target')} is a batch of one",
                message=("With a 1-D target CosineEmbeddingLoss expects a batch of pairs, (N, D) each. Give the two "
                         "vectors a batch axis (or pass a 0-d target for one unbatched pair)."),
                fix=pick_fix(ctx, {"input1": ctx.with_method("input1", ".unsqueeze(0)"),
                                   "input2": ctx.with_method("input2", ".unsqueeze(0)")}),
            )
        return Hint(
            title=f"{ctx.code('input1')} and {ctx.code('input2')} are 1-D {shape_text(x1.shape)}: one number per "
                  "sample, not embeddings",
            message=(f"CosineEmbeddingLoss measures the angle between two vectors per pair, so it needs (N, D) "
                     f"embeddings; {ctx.code('input1')} is read as a single {x1.shape[0]}-dim vector. With one "
                     "score per sample, MarginRankingLoss (rank input1 above input2) or HingeEmbeddingLoss "
                     "(on a distance) fits instead."),
            fix=None,
        )
    if y.ndim == 1 and x1.ndim >= 3 and y.shape[0] != x1.shape[0]:
        d = x1.shape[-1]
        rows = math.prod(x1.shape[:-1])
        if y.shape[0] not in (1, rows):
            return None
        which = ("one target for every vector" if y.shape[0] == 1 else f"one target per vector ({rows})")
        return Hint(
            title=f"{ctx.code('input1')} and {ctx.code('input2')} are {shape_text(x1.shape)}: CosineEmbeddingLoss "
                  f"takes (N, D) rows",
            message=(f"CosineEmbeddingLoss compares (N, D) embeddings row by row (or one (D,) pair). "
                     f"{ctx.code('target')} {shape_text(y.shape)} gives {which}, so each of the {rows} "
                     f"{d}-dim vectors is a pair: make them rows."),
            fix=pick_fix(ctx, {"input1": ctx.with_method("input1", f".reshape(-1, {d})"),
                               "input2": ctx.with_method("input2", f".reshape(-1, {d})")}),
        )
    if y.ndim == 1 and x1.ndim >= 3 and x1.shape[0] == y.shape[0]:
        pool = ctx.with_method("input1", ".mean(1)"), ctx.with_method("input2", ".mean(1)")
        return Hint(
            title=f"{ctx.code('input1')} and {ctx.code('input2')} are {shape_text(x1.shape)}: one more axis than "
                  "(N, D) embeddings",
            message=(f"CosineEmbeddingLoss takes one D-dim embedding per pair. {shape_text(x1.shape)} holds "
                     f"{x1.shape[1]} vectors per sample (tokens, positions): pool them to one, e.g. the mean over "
                     "dim 1, or flatten(1) to compare the whole sequence as one vector."),
            fix=pick_fix(ctx, {"input1": pool[0], "input2": pool[1]}),
        )
    return None


@rule("NLH326", "shape-mismatch", "CosineEmbeddingLoss/MarginRankingLoss inputs of different widths",
      families=("broadcast",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "text_enc, image_enc = nn.Linear(300, 256), nn.Linear(2048, 512)\n"
          "t, v = text_enc(torch.randn(8, 300)), image_enc(torch.randn(8, 2048))\n"
          "loss = nn.CosineEmbeddingLoss()(t, v, torch.ones(8))",
          expect=("image_enc", "256", "512")),))
def pair_widths(ctx) -> Hint | None:
    """Both sides of a pair must be the same size: cosine similarity is taken over their last dimension."""
    found = _pair(ctx)
    if not found:
        return None
    x1, x2, y = found
    if x1.ndim != x2.ndim or x1.ndim < 2 or x1.shape[:-1] != x2.shape[:-1] or x1.shape[-1] == x2.shape[-1]:
        return None
    a, b = x1.shape[-1], x2.shape[-1]
    layers = ctx.output_layers(b) or ctx.output_layers(a)
    where = f" {layers[0]} has out_features={b if ctx.output_layers(b) else a}." if layers else ""
    what = "embeddings" if ctx.loss == "cosine_embedding_loss" else "score tensors"
    return Hint(
        title=f"{ctx.code('input1')} has {a} features per sample but {ctx.code('input2')} has {b}",
        message=(f"{ctx.loss_label} compares the two {what} position by position, so they must have the same shape: "
                 f"{shape_text(x1.shape)} and {shape_text(x2.shape)} do not fit.{where} Project both into one "
                 "space of the same size (e.g. a final Linear to the same out_features) before the loss."),
        fix=None,
    )


@rule("NLH327", "batch-mismatch", "the +1/-1 target has another length than the batch of pairs",
      families=("broadcast",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "from torch.utils.data import DataLoader, TensorDataset\n"
          "ranker = nn.Linear(10, 1)\n"
          "criterion = nn.MarginRankingLoss(margin=0.5)\n"
          "loader = DataLoader(TensorDataset(torch.randn(100, 10), torch.randn(100, 10)), batch_size=32)\n"
          "y = torch.ones(32)\n"
          "for better, worse in loader:\n"
          "    loss = criterion(ranker(better).squeeze(1), ranker(worse).squeeze(1), y)",
          expect=("torch.ones(ranker(better).squeeze(1).size(0)))", "the last batch")),))
def pair_target_length(ctx) -> Hint | None:
    """A target made once with a fixed batch size (``torch.ones(batch_size)``) against a shorter last batch."""
    found = _pair(ctx)
    if not found:
        return None
    x1, x2, y = found
    if x1.shape != x2.shape or x1.ndim < 1 or y.ndim != (x1.ndim if ctx.loss == "margin_ranking_loss" else 1):
        return None
    n, m = x1.shape[0], y.shape[0]
    if n == m or 1 in (n, m):
        return None
    value = constant_value(y)
    name = ctx.code("target")
    count = f"{ctx.name('input1')}.size(0)"
    message = (f"{ctx.loss_label} needs one target per pair ({_target_words(ctx)}): {ctx.code('input1')} has {n} "
               f"pairs but {name} has {m}.")
    loaders = ctx.data_loaders()
    if loaders and any(b == m for _, b, _, _ in loaders):
        message += (f" {name} was made for a full batch of {m}; the last batch of the loader is smaller. Build "
                    "it from the batch you have.")
    fix = None
    if value is not None and y.ndim == 1:
        fix = pick_fix(ctx, {"target": full_of(ctx, value, count)})
        message += f" It is {_num(value)} everywhere, so make it from the batch's own size."
    return Hint(title=f"{name} has {m} entries but there are {n} pairs", message=message, fix=fix)


@rule("NLH328", "target-shape", "MarginRankingLoss inputs and target with different numbers of dimensions",
      families=("ranking-ndim",),
      examples=(
          Example(
              "import torch, torch.nn as nn\n"
              "scorer = nn.Linear(16, 1)\n"
              "pos_score, neg_score = scorer(torch.randn(64, 16)), scorer(torch.randn(64, 16))\n"
              "y = torch.Tensor([1])\n"
              "loss = nn.MarginRankingLoss(margin=1.0)(pos_score, neg_score, y)",
              expect=("torch.ones_like(pos_score)", "(1,)")),
      ))
def ranking_dims(ctx) -> Hint | None:
    """input1, input2 and target must have the same number of dimensions (PyTorch >= 1.11 no longer
    broadcasts a (1,) target or a (N,) target against (N, 1) scores)."""
    found = _pair(ctx)
    if not found or ctx.loss != "margin_ranking_loss":
        return None
    x1, x2, y = found
    label = ctx.loss_label
    base = (f"{label} takes input1, input2 and target with the same number of dimensions (one target per "
            f"score: {_target_words(ctx)}); here {ctx.code('input1')} is {shape_text(x1.shape)}, "
            f"{ctx.code('input2')} {shape_text(x2.shape)} and {ctx.code('target')} {shape_text(y.shape)}. "
            "PyTorch before 1.11 broadcast them; now it checks.")
    value = constant_value(y)
    if y.numel == 1 and x1.ndim == x2.ndim and x1.ndim >= 1:
        if value in (1.0, -1.0) and x1.shape == x2.shape:
            new = ("torch.ones_like({})" if value == 1 else "-torch.ones_like({})").format(ctx.name("input1"))
        else:
            new = ctx.with_method("target", f".expand_as({ctx.name('input1')})") if x1.shape == x2.shape else None
        return Hint(
            title=f"{ctx.code('target')} is a single value {shape_text(y.shape)} for {shape_text(x1.shape)} scores",
            message=base + " Give every pair its target, shaped like the scores.",
            fix=pick_fix(ctx, {"target": new}) if new else None,
        )
    if _score_columns(x1, x2, y):
        return None  # NLH338
    if x1.ndim == x2.ndim == y.ndim + 1 and y.ndim >= 1:
        try:
            import torch

            wide = torch.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
            torch.broadcast_shapes(wide, tuple(y.shape) + (1,))
        except RuntimeError:
            return None
        return Hint(
            title=f"{ctx.code('target')} {shape_text(y.shape)} has one dimension less than the scores "
                  f"{shape_text(x1.shape)} / {shape_text(x2.shape)}",
            message=(base + f" Add a trailing axis to the target so each row's target covers its scores "
                     f"(the comparison is {shape_text(tuple(wide))})."),
            fix=pick_fix(ctx, {"target": ctx.with_method("target", ".unsqueeze(-1)")}),
        )
    if y.ndim == x1.ndim + 1 and x1.ndim == x2.ndim and y.ndim == 2 and y.shape[1] == 1:
        return Hint(title=f"{ctx.code('target')} is a ({y.shape[0]}, 1) column; the scores are {shape_text(x1.shape)}",
                    message=base + " Squeeze the target.",
                    fix=pick_fix(ctx, {"target": ctx.with_method("target", ".squeeze(1)")}))
    return Hint(title=f"input1 {shape_text(x1.shape)}, input2 {shape_text(x2.shape)} and target "
                      f"{shape_text(y.shape)} have different numbers of dimensions",
                message=base + " Give all three the layout of one score per pair, (N,).",
                fix=_one_score_per_pair(ctx, x1, x2, y))


def _one_score_per_pair(ctx, x1, x2, y) -> str | None:
    """The user's line with (N, 1) scores squeezed and a single-value target expanded to (N,)."""
    sizes = {t.shape[0] for t in (x1, x2) if t.ndim in (1, 2)}
    if len(sizes) != 1 or any(t.ndim == 2 and t.shape[1] != 1 or t.ndim not in (1, 2) for t in (x1, x2)):
        return None
    n = sizes.pop()
    new = {p: ctx.with_method(p, ".squeeze(1)") for p, t in (("input1", x1), ("input2", x2)) if t.ndim == 2}
    flat = next((ctx.name(p) for p, t in (("input1", x1), ("input2", x2)) if t.ndim == 1), None)
    if y.ndim == 2 and y.shape == (n, 1):
        new["target"] = ctx.with_method("target", ".squeeze(1)")
    elif y.numel == 1 and y.ndim == 1:
        new["target"] = ctx.with_method("target", f".expand_as({flat})" if flat else f".expand({n})")
    elif y.shape != (n,):
        return None
    return pick_fix(ctx, new)


@rule("NLH329", "shape-mismatch", "HingeEmbeddingLoss given (N, D) vectors instead of one distance per pair",
      families=("broadcast",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "encoder = nn.Linear(20, 8)\n"
          "left, right = encoder(torch.randn(16, 20)), encoder(torch.randn(16, 20))\n"
          "same = torch.randint(0, 2, (16,)).float() * 2 - 1      # +1 similar, -1 dissimilar\n"
          "loss = nn.HingeEmbeddingLoss(margin=2.0)(left - right, same)",
          expect=("F.pairwise_distance(left, right)", "(16, 8)")),))
def hinge_vectors(ctx) -> Hint | None:
    """HingeEmbeddingLoss takes a distance (a non-negative number) per pair with a +1/-1 target: a difference
    of embeddings must be reduced to its norm first."""
    if ctx.loss != "hinge_embedding_loss":
        return None
    inp, tgt = ctx.t("input"), ctx.t("target")
    if inp is None or tgt is None or inp.ndim != 2 or tgt.ndim != 1 or tgt.shape[0] != inp.shape[0]:
        return None
    import ast

    expr = ctx.name("input")
    fix = None
    try:
        node = ast.parse(expr.strip(), mode="eval").body
    except SyntaxError:
        node = None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
        pair = f"F.pairwise_distance({ast.get_source_segment(expr.strip(), node.left)}, " \
               f"{ast.get_source_segment(expr.strip(), node.right)})"
        fix = pick_fix(ctx, {"input": pair})
    n, d = inp.shape
    return Hint(
        title=f"{ctx.code('input')} is {shape_text(inp.shape)}: HingeEmbeddingLoss takes one distance per pair, ({n},)",
        message=(f"HingeEmbeddingLoss scores a distance per pair against its target ({ctx.code('target')}: +1 for "
                 f"similar, -1 for dissimilar), so its input is ({n},). {ctx.code('input')} holds {d} values per "
                 "pair: reduce them to a distance first (the L2 norm of the difference, or 1 - cosine similarity)."),
        fix=fix,
    )


def _score_columns(x1, x2, y) -> bool:
    return (x1.ndim == x2.ndim == y.ndim + 1 and x1.ndim == 2 and x1.shape[1] == 1 and x2.shape[1] == 1
            and x1.shape[0] == y.shape[0])


@rule("NLH338", "shape-mismatch", "MarginRankingLoss scores as (N, 1) columns with a (N,) target",
      families=("ranking-ndim",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "scorer = nn.Linear(16, 1)\n"
          "s1, s2 = scorer(torch.randn(64, 16)), scorer(torch.randn(64, 16))\n"
          "y = torch.randint(0, 2, (64,)).float() * 2 - 1\n"
          "loss = nn.MarginRankingLoss()(s1, s2, y)",
          expect=("s1.squeeze(1)", "s2.squeeze(1)")),))
def ranking_score_columns(ctx) -> Hint | None:
    """A scorer with one output unit gives (N, 1) scores; the target has one value per pair, (N,)."""
    found = _pair(ctx)
    if not found or ctx.loss != "margin_ranking_loss" or not _score_columns(*found):
        return None
    x1, x2, y = found
    return Hint(
        title=f"the scores are ({x1.shape[0]}, 1) columns but {ctx.code('target')} is ({y.shape[0]},)",
        message=(f"{ctx.loss_label} takes input1, input2 and target with the same number of dimensions (PyTorch "
                 "before 1.11 broadcast them; now it checks). A scorer with one output unit gives a column per "
                 "sample; squeeze it so scores and target are all (N,)."),
        fix=pick_fix(ctx, {"input1": ctx.with_method("input1", ".squeeze(1)"),
                           "input2": ctx.with_method("input2", ".squeeze(1)")}),
    )


@rule("NLH339", "batch-mismatch", "input1 and input2 of a pair loss hold different numbers of samples",
      families=("broadcast",),
      examples=(Example(
          "import torch, torch.nn as nn\n"
          "scores = torch.randn(100)\n"
          "labels = torch.tensor([1] * 20 + [0] * 80)\n"
          "pos, neg = scores[labels == 1], scores[labels == 0]\n"
          "loss = nn.MarginRankingLoss(margin=0.5)(pos, neg, torch.ones_like(pos))",
          expect=("`pos`", "`neg`", "pos.unsqueeze(1), neg.unsqueeze(0)", "every pos against every neg")),))
def pair_lengths(ctx) -> Hint | None:
    """Each pair is row i of input1 with row i of input2: both need the same number of rows."""
    found = _pair(ctx)
    if not found:
        return None
    x1, x2, y = found
    if x1.ndim != x2.ndim or not x1.ndim or x1.shape[0] == x2.shape[0] or 1 in (x1.shape[0], x2.shape[0]):
        return None
    if x1.shape[1:] != x2.shape[1:]:
        return None
    a, b = ctx.code("input1"), ctx.code("input2")
    return Hint(
        title=f"{a} has {x1.shape[0]} samples but {b} has {x2.shape[0]}",
        message=(f"{ctx.loss_label} compares row i of {a} with row i of {b} (and target i), so both need the same "
                 "number of rows. Two sets selected separately (positives and negatives by a mask, two "
                 "samplers) rarely have the same size: build the pairs explicitly, e.g. index both with the same "
                 "pair indices, or sample as many of one as of the other."),
        fix=_all_pairs(ctx, x1, x2, y),
    )


def _all_pairs(ctx, x1, x2, y) -> str | None:
    """MarginRankingLoss over every (input1, input2) combination: (N, 1) against (1, M), an (N, M) target."""
    value = constant_value(y)
    if ctx.loss != "margin_ranking_loss" or x1.ndim != 1 or value not in (1.0, -1.0):
        return None
    a, b = ctx.name("input1"), ctx.name("input2")
    ones = ("torch.ones" if value == 1 else "-torch.ones") + f"(len({a}), len({b}))"
    fixed = ctx.fix({"input1": ctx.with_method("input1", ".unsqueeze(1)"),
                     "input2": ctx.with_method("input2", ".unsqueeze(0)"), "target": ones})
    return f"# every {a} against every {b}:\n{fixed}" if fixed else None


RULES = [distance_function_kind, hinge_vectors, ranking_score_columns, pair_lengths, triplet_dims,
         triplet_widths, triplet_batches, cosine_target_shape, cosine_input_dims, pair_widths,
         pair_target_length, ranking_dims]
