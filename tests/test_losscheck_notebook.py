"""notebooks/02_silent_mistakes.ipynb is committed executed: its outputs are the documented behaviour."""

import json
import re
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "02_silent_mistakes.ipynb"


def _outputs():
    nb = json.loads(NOTEBOOK.read_text())
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    texts = []
    for cell in cells:
        for out in cell.get("outputs", []):
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            text += "\n".join(out.get("traceback", []))
            texts.append(re.sub(r"\x1b\[[0-9;]*m", "", text))
    return cells, "\n".join(texts)


def test_notebook_is_executed_and_shows_each_silent_mistake():
    cells, text = _outputs()
    assert all(c.get("execution_count") for c in cells), "run the notebook with nbclient before committing"
    for code in ("NLH804", "NLH801", "NLH806", "NLH901", "NLH807", "NLH816", "NLH810", "NLH813", "NLH902",
                 "NLH805"):
        assert f" {code} [" in text, code
    assert "304 loss calls at 2 sites, no problems found" in text
    assert "IndexError: Target 5 is out of bounds." in text and "nllhint NLH101" in text
    errors = [c for c in cells if any(o["output_type"] == "error" for o in c.get("outputs", []))]
    assert len(errors) == 1 and "raises-exception" in errors[0]["metadata"].get("tags", [])
