"""``%%losscheck`` and ``%losscheck on|off``: the IPython glue over ``nllhint.watch``.

``%%losscheck`` runs its cell the way the cell would run without it, the way ``%%time`` does: the body
is transformed (``shell.transform_cell``), cached under a cell filename with a leading newline (so
traceback line numbers match the cell, magic line included), parsed, passed through
``shell.transform_ast``, and executed in the user namespace; a last expression is evaluated and
*returned*, so it is displayed and lands in ``Out``/``_`` (a trailing ``;`` silences it). A nested
``shell.run_cell`` is not used on purpose: it swallows errors, so the cell would "succeed" and Run All
would not stop. An exception propagates unchanged (the cell fails, the exception hint still appears)
after the report of what was seen so far is printed. Top-level ``await`` does not work in the body.

``%losscheck on`` keeps a watch around every following cell (``pre_run_cell`` / ``post_run_cell``
events) and prints a report after each cell that called a loss; ``%losscheck off`` stops. Options go
through IPython's ``magic_arguments`` (``%losscheck?`` lists them); bad options raise ``UsageError``.

Glue layer: uses the engine (``watcher``) and ``shellhook``'s colour and width; ``ipython`` registers it.
"""

from __future__ import annotations

import ast
import io
import os
import sys
import tokenize

from IPython.core import magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, no_var_expand

from .ipycompat import cell_number, output_can_be_silenced
from .shellhook import shell_color, shell_width

class _State:
    """What ``%losscheck on`` set for one shell, and the watch around the current cell."""

    def __init__(self, shell):
        self.shell = shell
        self.on = False
        self.options: dict = {}
        self.quiet = False
        self.brief = False
        self.watch = None

    def pre_run_cell(self, info=None) -> None:
        if not self.on or self.watch is not None:
            return
        try:
            from .watcher import Watch

            self.watch = Watch(**self.options)
            self.watch.start()
        except Exception:
            self.watch = None
            if os.environ.get("NLLHINT_DEBUG"):
                raise

    def post_run_cell(self, result=None) -> None:
        current, self.watch = self.watch, None
        if current is None:
            return
        if getattr(result, "success", False):
            _walk_cell_end(self.shell, current, getattr(result, "execution_count", None))
        report = current.stop()
        if report.calls:  # cells without loss calls stay silent
            _print(self.shell, report, quiet=self.quiet, brief=self.brief)

    def turn_on(self, options: dict, quiet: bool, brief: bool) -> None:
        self.options, self.quiet, self.brief = options, quiet, brief
        if not self.on:
            self.shell.events.register("pre_run_cell", self.pre_run_cell)
            self.shell.events.register("post_run_cell", self.post_run_cell)
        self.on = True

    def turn_off(self) -> None:
        if self.on:
            for event, callback in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
                try:
                    self.shell.events.unregister(event, callback)
                except ValueError:
                    pass
        self.on = False
        current, self.watch = self.watch, None
        if current is not None:
            current.stop()


def _walk_cell_end(shell, watch, number) -> None:
    """``%losscheck on``: the hand-written losses the cell just run assigned (its source, as IPython
    compiled it, found by the cell number; IPython 7 keeps no such map: nothing is walked there)."""
    if "torch" not in sys.modules:  # no tensor can hold a graph yet: skip the map scan and the parse
        return
    try:
        import linecache

        mapping = getattr(shell.compile, "_filename_map", None) or {}
        names = [name for name, n in mapping.items() if n == number]
        if not names:
            return
        tree = ast.parse("".join(linecache.getlines(names[-1])))
        from .watcher import walk_cell

        walk_cell(watch, tree, names[-1], shell.user_ns)
    except Exception:
        if os.environ.get("NLLHINT_DEBUG"):
            raise


_STATES: dict[int, _State] = {}


def _state(shell) -> _State:
    state = _STATES.get(id(shell))
    if state is None:
        state = _STATES[id(shell)] = _State(shell)
    return state


@magics_class
class LossCheckMagics(Magics):
    @no_var_expand
    @magic_arguments.magic_arguments()
    @magic_arguments.argument(
        "mode", nargs="?", choices=("on", "off", "status"),
        help="line magic only: 'on' watches every following cell, 'off' stops, 'status' shows the setting")
    @magic_arguments.argument(
        "-q", "--quiet", action="store_true", help="print nothing when no problem is found")
    @magic_arguments.argument(
        "--brief", action="store_true", help="one line and the fix per finding, without the explanation")
    @magic_arguments.argument(
        "--sample", type=int, default=3, metavar="N",
        help="audit the first N calls of each call site, then calls 4, 8, 16, ... (default 3)")
    @magic_arguments.argument(
        "--no-values", action="store_true",
        help="never read tensor values (shapes, dtypes and grad_fn only; no device synchronisation)")
    @magic_arguments.argument(
        "--severity", choices=("info", "warning", "error"), default="info",
        help="leave out findings below this severity (default: info, i.e. show everything)")
    @line_cell_magic
    @output_can_be_silenced
    def losscheck(self, line: str = "", cell: str | None = None):
        """Watch the loss calls of a cell and report silent mistakes, one row per call site.

        ``%%losscheck`` at the top of a cell runs the cell unchanged (same namespace, same Out, same
        errors) and then prints what it saw: each place a loss was called, how often, and findings
        such as softmax outputs fed to CrossEntropyLoss, (N, 1) vs (N,) shapes broadcast by MSELoss,
        or the first NaN loss, each with the fix written with your own expressions. ``%losscheck on``
        does the same for every following cell until ``%losscheck off``.

        Examples::

            %%losscheck
            for x, y in loader:
                loss = criterion(model(x), y)
                ...

            %losscheck on --quiet
            %losscheck off

        From Python: ``with nllhint.watch() as report: ...`` then ``print(report)``.
        """
        __tracebackhide__ = True  # noqa: F841
        args = magic_arguments.parse_argstring(self.losscheck, line)
        if args.sample < 1:
            raise UsageError("--sample must be at least 1")
        options = {"sample": args.sample, "values": not args.no_values, "min_severity": args.severity}
        if cell is None:
            return self._line(args, options)
        if args.mode is not None:
            raise UsageError(f"'{args.mode}' is for the line magic (%losscheck {args.mode}); "
                             f"%%losscheck takes options only")
        return self._cell(cell, options, quiet=args.quiet, brief=args.brief)

    def _line(self, args, options) -> None:
        state = _state(self.shell)
        if args.mode in ("on", "off"):
            from . import default_watch

            default_watch.unload(self.shell)  # the light default watch ends for the session
        if args.mode == "on":
            state.turn_on(options, quiet=args.quiet, brief=args.brief)
            print("nllhint: losscheck on: loss calls in every following cell are watched (%losscheck off to stop)")
        elif args.mode == "off":
            state.turn_off()
            print("nllhint: losscheck off")
        else:
            if state.on:
                shown = ", ".join(f"{k}={v}" for k, v in state.options.items())
                print(f"nllhint: losscheck is on ({shown})")
            else:
                from . import default_watch

                if default_watch.for_shell(self.shell) is not None:
                    print("nllhint: the default light watch is on: a short notice for a sure finding at the first "
                          "call of each loss line (%losscheck on for full reports, %losscheck off to stop)")
                    return
                print("nllhint: losscheck is off (%losscheck on to watch every cell, %%losscheck for one cell)")

    def _cell(self, cell: str, options: dict, *, quiet: bool, brief: bool):
        __tracebackhide__ = True  # noqa: F841
        from .watcher import Watch

        watch = Watch(**options)
        watch.start()
        ran: dict = {}
        try:
            value = run_body(self.shell, cell, ran)
        except BaseException:
            report = watch.stop()
            _print(self.shell, report, quiet=quiet, brief=brief)
            raise
        if ran:  # hand-written losses the cell assigned but never passed to backward()
            from .watcher import walk_cell

            walk_cell(watch, ran["tree"], ran["filename"], self.shell.user_ns)
        report = watch.stop()
        _print(self.shell, report, quiet=quiet, brief=brief)
        return value


def run_body(shell, cell: str, ran: dict | None = None):
    """Run a cell body like ``%%time`` does, returning the value of a last expression (else None).
    ``ran`` gets the cell's parsed tree and filename."""
    __tracebackhide__ = True  # noqa: F841
    python = shell.transform_cell(cell)
    source = "\n" + python  # line 1 is the %%losscheck line
    number = cell_number(shell)
    try:
        filename = shell.compile.cache(source, number, raw_code="\n" + cell)
    except TypeError:  # older IPython without raw_code
        filename = shell.compile.cache(source, number)
    tree = shell.compile.ast_parse(source, filename=filename)
    tree = shell.transform_ast(tree)
    if tree is None:
        return None
    if ran is not None:
        ran.update(tree=tree, filename=filename)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr) and not _silenced(python):
        last = ast.Expression(tree.body.pop().value)
    glob, local = shell.user_global_ns, shell.user_ns
    exec(shell.compile(tree, filename, "exec"), glob, local)
    if last is not None:
        return eval(shell.compile(last, filename, "eval"), glob, local)
    return None


def _silenced(python: str) -> bool:
    """A trailing ``;`` hides the value. IPython >= 8.9 also does this for magics (``output_can_be_silenced``);
    7.x (Colab) does not, so the body's own last token decides, in every version."""
    skip = (tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT)
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(python).readline) if t.type not in skip]
    except (tokenize.TokenError, SyntaxError):
        return False
    return bool(tokens) and tokens[-1].string == ";"


def _print(shell, report, *, quiet: bool, brief: bool) -> None:
    try:
        if quiet and not report.findings:
            return
        from .notices import display_report

        if display_report(shell, report, brief=brief):  # Jupyter-family frontends: a warning block
            return
        print(report.render(color=shell_color(shell), width=shell_width(shell), brief=brief))
    except Exception as exc:  # the report must never cost the user their cell
        if os.environ.get("NLLHINT_DEBUG"):
            raise
        print(f"nllhint: could not print the loss report ({type(exc).__name__})")


def register(shell) -> None:
    shell.register_magics(LossCheckMagics)


def unregister(shell) -> None:
    """Stop any watch, drop the event callbacks and remove the magics (they outlive %unload_ext otherwise)."""
    state = _STATES.pop(id(shell), None)
    if state is not None:
        state.turn_off()
    magics = shell.magics_manager.magics
    for kind in ("line", "cell"):
        magics[kind].pop("losscheck", None)
    shell.magics_manager.registry.pop("LossCheckMagics", None)
