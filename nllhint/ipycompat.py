"""What differs between the IPython versions nllhint supports (7.34, as pinned by Google Colab, to 9.x)."""

from __future__ import annotations


def output_can_be_silenced(magic):
    """IPython >= 8.9 marks magics whose output a trailing ``;`` hides; 7.x has no such marker and never
    hid a magic's output, so there the magic is returned unchanged."""
    try:
        from IPython.core.magic import output_can_be_silenced as mark
    except ImportError:
        return magic
    return mark(magic)


def cell_number(shell) -> int:
    """The number of the running cell (``shell.execution_count`` is one ahead inside a cell on IPython 9)."""
    result = getattr(getattr(shell, "displayhook", None), "exec_result", None)
    count = getattr(result, "execution_count", None)
    return count if isinstance(count, int) else shell.execution_count
