"""Run by .ci/run under other Pythons (3.10, 3.13) where no CPU torch wheel is at hand: the package
imports, the extension loads without torch, says so once, and leaves tracebacks alone."""

import io
import sys
from contextlib import redirect_stdout

import nllhint
from IPython.testing.globalipapp import start_ipython

assert "torch" not in sys.modules
assert nllhint.explain(ZeroDivisionError("x")) == []
ip = start_ipython()
out = io.StringIO()
with redirect_stdout(out):
    ip.run_line_magic("load_ext", "nllhint")
    ip.run_cell("1 / 0")
text = out.getvalue()
assert text.count("torch is not installed") == 1, text
assert "ZeroDivisionError" in text, text
print(f"Python {sys.version.split()[0]}: nllhint loads without torch and stays quiet")
