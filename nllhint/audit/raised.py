"""Caught exceptions: a watched loss call that raises gets the hint the exception hook would give.

When the user's code catches the error (``try: loss = criterion(out, y) except Exception as e:
print(e)``) the exception hook never sees it. The loss wrapper hands the exception to ``explain_raised``
while it passes through: the traceback at that point starts at the wrapper, so the frames from the
user's line down to it are put in front for the duration of ``nllhint.explain`` (the exception's own
traceback is put back before it propagates, unchanged). What is kept are Findings: strings only.
"""

from __future__ import annotations

import sys
import types

MAX_FRAMES = 64


def explain_raised(exc: BaseException, user_frame, wrapper_frame) -> list:
    """``nllhint.explain(exc)`` as if raised at the user's line; [] when nothing applies."""
    from ..explain import explain

    frames = []
    frame = wrapper_frame.f_back if wrapper_frame is not None else None
    while frame is not None and len(frames) < MAX_FRAMES:
        frames.append(frame)
        if frame is user_frame:
            break
        frame = frame.f_back
    if not frames or frames[-1] is not user_frame:
        return []
    saved = exc.__traceback__
    tb = saved
    try:
        for f in frames:  # innermost first: each new entry goes in front
            tb = types.TracebackType(tb, f, f.f_lasti, f.f_lineno)
        exc.__traceback__ = tb
        return explain(exc)
    finally:
        exc.__traceback__ = saved
        del tb, frames, frame


def propagating_ids() -> set[int]:
    """ids of the exceptions that are on their way up (being handled, or shown as the last error):
    those were not caught by the user's code, and the exception hook explains them itself."""
    ids = set()
    current = sys.exc_info()[1]
    for _ in range(5):
        if current is None:
            break
        ids.add(id(current))
        current = current.__context__
    last = getattr(sys, "last_value", None)
    if last is not None:
        ids.add(id(last))
    return ids
