"""``nllhint check notebook.ipynb``: run notebooks headless with the loss watch on, report per notebook.

How it works
    The notebook is read into memory (the file is never written) and executed by ``nbclient`` in a
    fresh kernel (``python3`` unless ``--kernel``) whose working directory is the notebook's folder,
    cell by cell, stopping at the first cell that raises (as Run All does; cells tagged
    ``raises-exception`` may raise). Before the first cell a *silent* request (no output, no execution
    count, no history, no ``pre/post_run_cell`` events) calls :func:`kernel_start` in the kernel: it
    starts one ``nllhint.watch()`` for the whole notebook and registers a ``post_run_cell`` callback
    that, after every cell, writes what was seen so far as JSON to a temporary file whose path the
    request passed (atomic replace, so a kernel that dies or a cell that times out still leaves the
    findings of the cells before it). The notebook's own cells, outputs and namespace are untouched:
    the extension is not loaded for the user and no cell is added. Watches the notebook starts itself
    (``%%losscheck``, ``%losscheck on``, ``with nllhint.watch()``) take the calls made inside them
    (the innermost watch records a call); their reports are merged in, so nothing is lost. A failing
    cell's exception is explained in the kernel (``nllhint.explain``) by the same callback.

Cells are numbered from 1 at the top of the notebook, markdown cells included (``cells[i - 1]``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys

# Exit codes of ``nllhint check`` (documented in ``nllhint check --help``).
CLEAN, FINDINGS, USAGE, CELL_RAISED, NOT_A_NOTEBOOK, NO_TORCH, KERNEL_ERROR = 0, 1, 2, 3, 4, 5, 6
# With several notebooks the exit code is the first of these that applies to one of them.
PRIORITY = (USAGE, NOT_A_NOTEBOOK, KERNEL_ERROR, CELL_RAISED, FINDINGS, NO_TORCH, CLEAN)
STATUS = {CLEAN: "clean", FINDINGS: "findings", USAGE: "missing", CELL_RAISED: "error",
          NOT_A_NOTEBOOK: "not-a-notebook", NO_TORCH: "no-torch", KERNEL_ERROR: "kernel-error"}
EXIT_CODES_HELP = """\
exit codes:
  0  clean: every notebook ran, no warning or error finding
  1  a warning or error finding (info notes alone do not fail)
  2  usage error, or a notebook file that does not exist
  3  a cell raised (or timed out, or the kernel died): the failing cell is named, and the findings
     of the cells before it are still reported; cells tagged raises-exception may raise
  4  not a notebook (not JSON, or not nbformat)
  5  no torch: no cell imports torch and no loss call was seen, so there was nothing to check
  6  the kernel could not start, or nllhint is not importable in it
  130  interrupted (Ctrl-C); the kernel is shut down
With several notebooks, the first code of 2, 4, 6, 3, 1, 5, 0 that applies to one of them.

Cells are numbered from 1 at the top of the notebook, markdown cells included. The notebook file
is never written: it runs from an in-memory copy, in its own folder (relative paths work).
--json prints {"exit_code", "notebooks": [{path, status, exit_code, message, code_cells, cells_run,
loss_calls, sites, findings: [{code, category, severity, title, message, fix, evidence, cell, line,
location, call, loss, calls}], error: null | {cell, line, ename, evalue, hints: [...]},
expected_errors: [...]}]}."""

_FINDING_FIELDS = ("code", "category", "severity", "title", "message", "fix", "evidence", "location")
_TORCH_IMPORT = re.compile(r"^\s*(?:from\s+torch\b|import\s+[^#\n]*\btorch\b)", re.M)
_CELL_LOCATION = re.compile(r"^cell(?: \[(\d+)\])?, line (\d+)$")
_FILE_LOCATION = re.compile(r"^(.*):(\d+)$")


# --- in the kernel -----------------------------------------------------------------------------------------

_KERNEL_CHECK = None


def finding_dict(finding) -> dict:
    data = {name: getattr(finding, name) for name in _FINDING_FIELDS}
    data["evidence"] = list(finding.evidence)
    return data


class _KernelCheck:
    """Kernel side: one watch for the whole notebook, a JSON snapshot written after every cell."""

    def __init__(self, shell, out: str):
        from .watcher import STOP_LISTENERS, Watch

        self.shell = shell
        self.out = out
        self.cells: list[dict] = []  # one record per executed cell: execution count, error if any
        self.others: list = []  # SiteReports of the watches the notebook ran itself
        STOP_LISTENERS.append(self._collect)
        self.watch = Watch()
        self.watch.start()
        shell.events.register("post_run_cell", self.post_run_cell)

    def _collect(self, watch, report) -> None:
        """A watch the notebook ran itself took the calls (the innermost watch records): keep its report."""
        if watch is not self.watch:
            self.others.extend(report.sites)
            self.write()

    def post_run_cell(self, result) -> None:
        try:
            record = {"count": result.execution_count, "error": None}
            error = result.error_in_exec or result.error_before_exec
            if error is not None:
                record["error"] = self._error(error, result.execution_count)
            self.cells.append(record)
            self.write()
        except Exception:
            if os.environ.get("NLLHINT_DEBUG"):
                raise

    def _error(self, error: BaseException, count) -> dict:
        from .explain import explain

        line = getattr(error, "lineno", None) if isinstance(error, SyntaxError) else None
        mapping = getattr(self.shell.compile, "_filename_map", {})
        tb = error.__traceback__
        while tb is not None and not isinstance(error, SyntaxError):  # the innermost line of this cell
            if mapping.get(tb.tb_frame.f_code.co_filename) == count:
                line = tb.tb_lineno
            tb = tb.tb_next
        try:
            hints = [finding_dict(f) for f in explain(error)]
        except Exception:
            hints = []
        return {"ename": type(error).__name__, "evalue": str(error), "line": line, "hints": hints}

    def sites(self) -> list[dict]:
        merged: dict[tuple, dict] = {}
        for site in list(self.watch.report.sites) + list(self.others):
            key = (site.location, site.expression, site.loss)
            row = merged.get(key)
            if row is None:
                row = merged[key] = {"location": site.location, "expression": site.expression,
                                     "loss": site.loss, "calls": 0, "notes": [], "findings": []}
            row["calls"] += site.calls
            row["notes"] += [n for n in site.notes if n not in row["notes"]]
            seen = {f["code"] for f in row["findings"]}
            for finding, first in zip(site.findings, site.first_seen):
                if finding.code not in seen:
                    row["findings"].append(dict(finding_dict(finding), first_seen=first))
        return list(merged.values())

    def write(self) -> None:
        data = {"sites": self.sites(), "cells": self.cells}
        temporary = self.out + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle)
        os.replace(temporary, self.out)

    def finish(self) -> None:
        self.watch.stop()  # reads the accelerators' queued NaN flags
        try:
            self.shell.events.unregister("post_run_cell", self.post_run_cell)
        except ValueError:
            pass
        self.write()


def kernel_start(out: str) -> None:
    """Called by ``nllhint check`` in the kernel, silently, before the first cell."""
    global _KERNEL_CHECK
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        raise RuntimeError("nllhint check: not running in an IPython kernel")
    _KERNEL_CHECK = _KernelCheck(shell, out)


def kernel_finish() -> None:
    """Called by ``nllhint check`` in the kernel, silently, after the last cell."""
    if _KERNEL_CHECK is not None:
        _KERNEL_CHECK.finish()


# --- in the nllhint process --------------------------------------------------------------------------------

class NotANotebook(Exception):
    pass


def read_notebook(path: str):
    """The notebook as an in-memory nbformat v4 node; NotANotebook with a short reason otherwise."""
    import warnings

    import nbformat

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nb = nbformat.read(path, as_version=4)
    except UnicodeDecodeError:
        raise NotANotebook("not a text file") from None
    except Exception as exc:
        reason = "not JSON" if type(exc).__name__ == "NotJSONError" else "not an nbformat notebook"
        raise NotANotebook(reason) from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list) or not all(
            isinstance(c, dict) and isinstance(c.get("cell_type"), str) and isinstance(c.get("source"), str)
            for c in cells):
        raise NotANotebook("not an nbformat notebook (no list of cells)")
    return nb


def imports_torch(nb) -> bool:
    return any(c.cell_type == "code" and _TORCH_IMPORT.search(c.source) for c in nb.cells)


def check_notebook(path: str, *, timeout: int | None = 600, kernel: str = "python3") -> dict:
    """Run one notebook with the watch on; the result as the dict ``--json`` prints."""
    result = {"path": path, "status": None, "exit_code": None, "message": "", "code_cells": 0, "cells_run": 0,
              "loss_calls": 0, "sites": 0, "findings": [], "error": None, "expected_errors": []}
    if not os.path.exists(path):
        return _finish(result, USAGE, "no such file")
    if os.path.isdir(path):
        return _finish(result, USAGE, "is a directory, not a notebook file")
    try:
        nb = read_notebook(path)
    except NotANotebook as exc:
        return _finish(result, NOT_A_NOTEBOOK, f"not a notebook ({exc})")
    except OSError as exc:
        return _finish(result, USAGE, f"cannot read it ({exc.strerror or exc})")
    result["code_cells"] = sum(1 for c in nb.cells if c.cell_type == "code")

    import tempfile

    with tempfile.TemporaryDirectory(prefix="nllhint-check-") as tmp:
        out = os.path.join(tmp, "findings.json")
        log = os.path.join(tmp, "kernel.log")
        try:
            run = asyncio.run(_execute(nb, os.path.dirname(os.path.abspath(path)), out, log, timeout, kernel))
        except _KernelProblem as exc:
            return _finish(result, KERNEL_ERROR, str(exc))
        data = _load(out)
    result["cells_run"] = run["cells_run"]

    counts = {}  # kernel execution count -> 1-based position in the notebook
    for record, (index, count) in zip(data.get("cells", []), run["executed"]):
        count = count if isinstance(count, int) else record.get("count")
        if isinstance(count, int):
            counts[count] = index
    by_count = {r.get("count"): r for r in data.get("cells", [])}
    for site in data.get("sites", []):
        result["loss_calls"] += site["calls"]
        result["sites"] += 1
        cell, line, location = _place(site["location"], counts)
        for finding in site["findings"]:
            row = {k: finding.get(k) for k in _FINDING_FIELDS}
            row.update(cell=cell, line=line, location=location, call=site["expression"], loss=site["loss"],
                       calls=site["calls"])
            result["findings"].append(row)
    result["findings"].sort(key=lambda f: (f["cell"] if f["cell"] is not None else 1 << 30, f["line"] or 0))

    for index, reply in run["errors"]:
        record = by_count.get(reply.get("count")) or {}
        kernel_side = record.get("error") or {}
        hints = []
        for hint in kernel_side.get("hints", []):
            cell, line, location = _place(hint.get("location"), counts)
            hints.append(dict(hint, location=location, cell=cell, line=line))
        error = {"cell": index, "line": kernel_side.get("line"), "ename": reply["ename"],
                 "evalue": reply["evalue"], "hints": hints}
        if reply.get("expected"):
            result["expected_errors"].append(error)
        else:
            result["error"] = error

    failing = [f for f in result["findings"] if f["severity"] in ("error", "warning")]
    if result["error"] is not None:
        e = result["error"]
        return _finish(result, CELL_RAISED, f"cell {e['cell']} raised {e['ename']}; {_summary(result)}")
    if failing:
        return _finish(result, FINDINGS, _summary(result))
    if not result["loss_calls"] and not imports_torch(nb):
        return _finish(result, NO_TORCH, "no cell imports torch and no loss call was seen: nothing to check")
    return _finish(result, CLEAN, _summary(result))


class _KernelProblem(Exception):
    pass


async def _execute(nb, cwd: str, out: str, log: str, timeout: int | None, kernel: str) -> dict:
    """Execute the cells in a fresh kernel; stop at the first cell that raises (not tagged to)."""
    import subprocess

    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    client = NotebookClient(nb, kernel_name=kernel, timeout=timeout or None, allow_errors=False,
                            interrupt_on_timeout=False, shutdown_kernel="immediate",
                            startup_timeout=300,  # first import of torch on a busy CI or Colab VM: 60 s is short
                            resources={"metadata": {"path": cwd}})
    run = {"cells_run": 0, "executed": [], "errors": []}
    with open(log, "wb") as err:
        try:
            client.km = client.create_kernel_manager()
            await client.async_start_new_kernel(cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
            await client.async_start_new_kernel_client()
        except NoSuchKernel:
            await _cleanup(client)
            raise _KernelProblem(f"no Jupyter kernel named {kernel!r} (`jupyter kernelspec list`; "
                                 f"`python -m ipykernel install --sys-prefix --name {kernel}`)") from None
        except Exception as exc:
            await _cleanup(client)
            raise _KernelProblem(f"the {kernel!r} kernel did not start ({type(exc).__name__}: "
                                 f"{_first_line(str(exc))}){_tail(log)}") from None
        try:
            code = f"__import__('nllhint.notebook_check').notebook_check.kernel_start({out!r})"
            reply = await _silent(client, code)
            if reply is None or reply["content"]["status"] != "ok":
                content = (reply or {}).get("content", {})
                what = f"{content.get('ename', 'no reply')}: {_first_line(content.get('evalue', ''))}"
                raise _KernelProblem(f"nllhint could not start in the {kernel!r} kernel ({what}); "
                                     f"is nllhint installed in that kernel's Python?")
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                if client.skip_cells_with_tag in cell.metadata.get("tags", []):
                    continue
                run["cells_run"] += 1
                try:
                    await client.async_execute_cell(cell, index)
                except CellExecutionError as exc:
                    run["executed"].append((index + 1, cell.get("execution_count")))
                    run["errors"].append((index + 1, {"ename": exc.ename, "evalue": exc.evalue,
                                                      "count": cell.get("execution_count")}))
                    break
                except CellTimeoutError:
                    run["errors"].append((index + 1, {"ename": "CellTimeoutError", "count": None,
                                                      "evalue": f"the cell did not finish within {timeout} s "
                                                                f"(--timeout)"}))
                    return run
                except DeadKernelError:
                    if _interrupted():  # Ctrl-C: nbclient reports the cancelled wait as a dead kernel
                        raise asyncio.CancelledError() from None  # asyncio.run turns it into KeyboardInterrupt
                    run["errors"].append((index + 1, {"ename": "DeadKernelError", "count": None,
                                                      "evalue": "the kernel died while running this cell"
                                                                + _tail(log)}))
                    return run
                run["executed"].append((index + 1, cell.get("execution_count")))
                for output in cell.get("outputs", []):  # a tagged cell that raised, as it may
                    if output.get("output_type") == "error":
                        run["errors"].append((index + 1, {"ename": output.get("ename", ""),
                                                          "evalue": output.get("evalue", ""),
                                                          "count": cell.get("execution_count"),
                                                          "expected": True}))
            await _silent(client, "__import__('nllhint.notebook_check').notebook_check.kernel_finish()")
        finally:
            await _cleanup(client)
    return run


def _interrupted() -> bool:
    task = asyncio.current_task()
    cancelling = getattr(task, "cancelling", None)  # Python 3.11+
    return bool(cancelling is not None and cancelling())


async def _silent(client, code: str):
    """Run ``code`` without output, history, execution count or cell events; its reply (or None)."""
    msg_id = client.kc.execute(code, silent=True, store_history=False, allow_stdin=False, stop_on_error=False)
    try:
        return await client.async_wait_for_reply(msg_id)
    except Exception:
        return None


async def _cleanup(client) -> None:
    try:
        if client.km is not None:
            await client._async_cleanup_kernel()
    except Exception:
        pass


def _tail(log: str) -> str:
    try:
        with open(log, encoding="utf-8", errors="replace") as handle:
            lines = [line.strip() for line in handle.read().splitlines()
                     if line.strip() and not line.startswith("[IPKernelApp]")]  # (its startup notices)
    except OSError:
        return ""
    return f"; kernel said: {lines[-1][:200]}" if lines else ""


def _load(out: str) -> dict:
    try:
        with open(out, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _place(location: str | None, counts: dict) -> tuple[int | None, int | None, str | None]:
    """(notebook cell, line, location in notebook cells) of a location the kernel wrote: ``cell [4],
    line 3`` (4 is the kernel's execution count) becomes cell 5 if that is the notebook's 5th cell;
    ``helpers.py:17`` (a module the notebook imports) stays as it is, with no cell."""
    m = _CELL_LOCATION.match(location or "")
    if m:
        cell = counts.get(int(m.group(1))) if m.group(1) else None
        line = int(m.group(2))
        return cell, line, f"cell {cell}, line {line}" if cell is not None else f"a cell, line {line}"
    m = _FILE_LOCATION.match(location or "")
    if m:
        return None, int(m.group(2)), location
    return None, None, location


def _first_line(text: str) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0][:200] if lines else ""


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _summary(result: dict) -> str:
    counts = {}
    for f in result["findings"]:
        counts[f["severity"]] = counts.get(f["severity"], 0) + 1
    words = {"error": "error", "warning": "warning", "info": "note"}
    found = ", ".join(_plural(counts[s], words[s]) for s in ("error", "warning", "info") if counts.get(s))
    calls = (f"{_plural(result['loss_calls'], 'loss call')} at {_plural(result['sites'], 'site')}"
             if result["loss_calls"] else "no loss calls seen")
    return f"{found or 'no problems found'} ({calls}; {result['cells_run']} of " \
           f"{_plural(result['code_cells'], 'code cell')} run)"


def _finish(result: dict, code: int, message: str) -> dict:
    result["exit_code"] = code
    result["status"] = STATUS[code]
    result["message"] = message
    return result


def exit_code(results: list[dict]) -> int:
    codes = {r["exit_code"] for r in results}
    return next((c for c in PRIORITY if c in codes), CLEAN)


# --- text report -------------------------------------------------------------------------------------------

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}


def render(result: dict, *, color: bool = False, width: int = 100) -> str:
    """One notebook's report: a headline, then the findings grouped by cell, then the failing cell."""
    import io

    from rich.console import Console
    from rich.padding import Padding
    from rich.text import Text

    from .finding import Finding
    from .render import render as render_findings

    if os.environ.get("NO_COLOR"):
        color = False
    out = io.StringIO()
    console = Console(file=out, width=max(40, width), force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, force_jupyter=False,
                      force_interactive=False, highlight=False, soft_wrap=False, emoji=False)

    def show(renderable, indent: int) -> None:
        console.print(Padding(renderable, (0, 0, 0, indent)))

    head = Text()
    head.append(f"{result['path']}: ", style="bold")
    style = {CLEAN: "green", FINDINGS: "bold yellow", CELL_RAISED: "bold red"}.get(result["exit_code"], "bold")
    head.append(result["message"], style=style)
    console.print(head, soft_wrap=True)  # one line, however long the path: easy to grep in CI logs

    groups: dict = {}
    for f in result["findings"]:
        key = f"cell {f['cell']}" if f["cell"] is not None else _file_of(f["location"])
        groups.setdefault(key, {}).setdefault((f["line"], f["call"], f["loss"], f["calls"]), []).append(f)
    for group, sites in groups.items():
        show(Text(group, style="bold magenta"), 2)
        for (line, call, loss, calls), findings in sites.items():
            row = Text()
            row.append(f"line {line}  " if line else "", style="dim")
            row.append(call or "?", style="bold")
            row.append(f"  {loss}, {_plural(calls, 'call')}", style="dim")
            show(row, 4)
            for f in findings:
                title = Text()
                title.append(f"{f['severity']} {f['code']}", style=SEVERITY_STYLE.get(f["severity"], "bold"))
                title.append(f" [{f['category']}] ", style="magenta")
                title.append(f["title"])
                show(title, 6)
                show(Text(f["message"]), 8)
                if f["fix"]:
                    fix = Text("fix: ", style="dim")
                    fix.append(f["fix"], style="green")
                    show(fix, 8)

    errors = ([result["error"]] if result["error"] else []) + result["expected_errors"]
    for error in errors:
        line = Text()
        where = f"cell {error['cell']}" + (f", line {error['line']}" if error.get("line") else "")
        expected = error is not result["error"]
        line.append(where, style="bold magenta")
        line.append(f" raised {error['ename']}: {_first_line(error['evalue'])}",
                    style="dim" if expected else "bold red")
        if expected:
            line.append("  (tagged raises-exception)", style="dim")
        elif result["cells_run"] < result["code_cells"]:
            line.append("  (the cells after it were not run)", style="dim")
        console.print(Text("  ") + line, soft_wrap=True)
        if error.get("hints"):
            findings = [Finding(**{k: (tuple(v) if k == "evidence" else v) for k, v in h.items()
                                   if k in _FINDING_FIELDS and k != "location"}) for h in error["hints"]]
            text = render_findings(findings, color=color, width=max(40, width - 4))
            show(Text.from_ansi(text) if color else Text(text), 4)
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip("\n").splitlines())


def _file_of(location: str | None) -> str:
    m = _FILE_LOCATION.match(location or "")
    return m.group(1) if m else (location or "?")


def check_paths(paths: list[str], *, timeout: int | None = 600, kernel: str = "python3",
                as_json: bool = False) -> int:
    """``nllhint check``: check each notebook, print the reports (or JSON), return the exit code."""
    import shutil

    results = []
    color = not as_json and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    width = max(60, min(shutil.get_terminal_size((100, 24)).columns, 120))
    for number, path in enumerate(paths):
        result = check_notebook(path, timeout=timeout, kernel=kernel)
        results.append(result)
        if as_json:
            continue
        if result["exit_code"] in (USAGE, NOT_A_NOTEBOOK, KERNEL_ERROR):
            print(f"nllhint check: {path}: {result['message']}", file=sys.stderr, flush=True)
            continue
        if number and len(paths) > 1:
            print()
        print(render(result, color=color, width=width), flush=True)
    code = exit_code(results)
    if as_json:
        print(json.dumps({"exit_code": code, "notebooks": results}, indent=2))
    return code
