"""The user's code a rule may search beyond the failing line: the function or cell that failed, the cell or
file around it, and a notebook's earlier cells. Where a model was built (``num_labels=``) or a loss computed
(``loss = criterion(...)``) is often one of these. Read as text (linecache, IPython's input history), never run.
"""

from __future__ import annotations


def user_texts(ctx) -> list[tuple[str, int, str]]:
    """``(text, first line, where)`` of the user's code, nearest first: the function or cell that failed, the
    whole cell or file it is in, then IPython's earlier cells (newest first, a few). Where the model was built
    (``num_labels=``) or the loss computed is often one of these, not the failing line's function."""
    found = ctx.user_source()
    texts = [(found[0], found[1], "")] if found else []
    frame = ctx._user_frame
    if frame is not None:
        import linecache

        whole = "".join(linecache.getlines(frame.f_code.co_filename))
        if whole and (not found or whole != found[0]):
            texts.append((whole, 1, ""))
    import sys

    from ..recent import history

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and frame is not None else None
    running = getattr(shell, "execution_count", None)
    seen = {t.strip() for t, _, _ in texts}
    for number, cell in history(shell, running, cells=30) if isinstance(running, int) else ():
        if len(cell) < 100_000 and cell.strip() not in seen:  # the cell that failed is searched already
            texts.append((cell, 1, f"cell [{number}], "))
    return texts
