"""``docs/rules.md``, generated from the rule registry by running every rule's own example.

    python -m nllhint.docs > docs/rules.md

tests/test_docs.py fails when the committed file differs from what this prints, so the page can
never describe a hint the code no longer gives.
"""

from __future__ import annotations

import linecache
import warnings

# Why each category matters, in one or two sentences: the "why is this bad" of every rule page.
CATEGORY_WHY = {
    "target-shape": "Class-index losses want one integer per sample (and per pixel); an extra dimension "
                    "makes PyTorch refuse the target or, worse, read it as something else.",
    "target-dtype": "Class indices must be int64 and probability targets floating point; the wrong dtype "
                    "stops training at the first batch.",
    "target-range": "A label outside 0..C-1 has no output to score it. On the CPU it raises; on CUDA it is "
                    "a device-side assert that breaks the whole session.",
    "batch-mismatch": "Input and target must describe the same samples; a different count means one of them "
                      "was reshaped or batched wrongly, and every later number is meaningless.",
    "class-dim": "PyTorch's class-index losses read classes from dim 1; a class axis left last scores the "
                 "wrong numbers, loudly when sizes differ and silently when they happen to agree.",
    "input-not-logprob": "NLLLoss and KLDivLoss expect log-probabilities; raw scores or probabilities give a "
                         "loss that can go negative or stop moving, and the model does not learn.",
    "double-softmax": "CrossEntropyLoss applies log_softmax itself; feeding it softmax outputs squashes the "
                      "gradients and the loss stalls near log(C).",
    "unstable-log": "log of a softmax or sigmoid underflows to -inf for confident predictions, then the loss "
                    "becomes inf or NaN; the fused log_softmax / logsigmoid / with-logits forms do not.",
    "bce-range": "BCELoss needs probabilities in [0, 1] for input and target; logits or 0/255 masks break it.",
    "double-sigmoid": "BCEWithLogitsLoss applies the sigmoid itself; a second sigmoid weakens the gradients "
                      "and puts a floor under the loss.",
    "shape-mismatch": "Element-wise losses compare input and target position by position; different shapes "
                      "either raise or broadcast into a silently wrong (N, N) comparison.",
    "weight-size": "The class weight must have one float entry per class, on the input's device.",
    "nan-inf": "A NaN or Inf that reaches the loss poisons every gradient and parameter after it.",
    "device-mismatch": "All tensors of one loss call must live on the same device.",
    "input-dtype": "Losses work on floating-point scores; integers (from argmax) or mixed float widths fail, "
                   "and argmax outputs carry no gradient anyway.",
    "backward-nonscalar": "backward() without arguments needs a single number; an unreduced loss has one per "
                          "sample.",
    "no-grad": "When the loss is not connected to the parameters' graph there is nothing to differentiate: "
               "something between model and loss cut the graph.",
    "kl-format": "KLDivLoss has its own conventions (input log-probabilities, target probabilities unless "
                 "log_target=True, reduction='batchmean'); breaking them gives a plausible but wrong number.",
    "ctc-format": "CTCLoss wants (T, N, C) log-probabilities and consistent lengths; otherwise it raises or "
                  "returns inf.",
    "bad-option": "An invalid option is rejected, or silently changes what the loss computes.",
    "empty-input": "A loss over zero elements is NaN (mean) or an error; an empty batch usually means a filter "
                   "or a split kept nothing.",
    "wrong-loss": "The loss does not fit the task: multi-label data needs BCE-with-logits, class indices need "
                  "cross-entropy, real-valued targets need a regression loss.",
}


def run_example(code: str, name: str, *, watched: bool = False):
    """Run an example cell in a fresh namespace with a fixed seed; return what a user would read.

    ``watched`` runs it under ``nllhint.watch()`` (the audits); otherwise the exception it raises is
    explained while its frames are still alive (the rules read them). The namespace is then cleared;
    global RNG state and grad mode are restored (an example may switch autograd off, NLH710).
    """
    import torch

    from .explain import explain
    from .render import render

    filename = f"<example {name}>"
    linecache.cache[filename] = (len(code), None, code.splitlines(keepends=True), filename)
    namespace: dict = {"__name__": "__nllhint_example__"}
    grad = torch.is_grad_enabled()
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        try:
            if watched:
                from .watcher import watch

                with watch() as report:
                    exec(compile(code, filename, "exec"), namespace)
                return report.render(color=False, width=100)
            exec(compile(code, filename, "exec"), namespace)
            return "(no error)"
        except BaseException as exc:  # a rule's example is supposed to raise
            findings = explain(exc)
            head = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            return head + "\n\n" + (render(findings, color=False, width=100) if findings else "(no hint)")
        finally:
            torch.set_grad_enabled(grad)
            namespace.clear()


def _page(item, watched: bool) -> list[str]:
    out = ["", f"## {item.code}", "",
           f"**Category** `{item.category}` · **severity** {item.severity} · "
           + ("found by `%%losscheck` (raises nothing)" if watched else "explains an exception"), "",
           f"### What it means\n\n{item.summary[0].upper() + item.summary[1:]}. {item.doc}".rstrip(), "",
           f"### Why it is a problem\n\n{CATEGORY_WHY.get(item.category, '')}", ""]
    if item.examples:
        example = item.examples[0].code
        shown = ("%%losscheck\n" + example) if watched else example
        out += ["### Example", "", "```python", shown, "```", "",
                "### What nllhint shows (the fix is the last block)", "", "```text",
                run_example(example, item.code, watched=watched), "```"]
    return out


def generate() -> str:
    from .audit import AUDITS
    from .rules import RULES

    out = ["# nllhint rules", "",
           "Generated by `python -m nllhint.docs > docs/rules.md` from the rule registries; every example",
           "below was run to produce the output shown. Codes are stable and never reused; `nllhint rules CODE`",
           "prints one. NLH1xx-7xx explain exceptions; NLH8xx-9xx are the `%%losscheck` audits of mistakes",
           "that raise nothing.", "",
           "| code | category | what it catches |", "|---|---|---|"]
    out += [f"| [{r.code}](#{r.code.lower()}) | `{r.category}` | {r.summary} |" for r in [*RULES, *AUDITS]]
    for r in RULES:
        out += _page(r, watched=False)
    for a in AUDITS:
        out += _page(a, watched=True)
    out += _no_hint()
    return "\n".join(out) + "\n"


def _no_hint() -> list[str]:
    """PyTorch's loss messages that get no hint, each with the reason (``messages.NO_HINT``)."""
    from .messages import NO_HINT

    out = ["", "## PyTorch loss messages without a hint", "",
           "Every other error message PyTorch's losses raise has a rule above. These get none, for the reason given.",
           "", "| message | why no hint |", "|---|---|"]
    bar = "\\|"  # a literal | inside a table cell
    return out + ["| `" + m.replace("|", bar) + f"` | {why} |" for m, why in NO_HINT]


if __name__ == "__main__":
    print(generate(), end="")
