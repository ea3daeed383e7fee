"""The ``nllhint`` command: ``demo``, ``rules``, ``run``, ``check``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nllhint", description="Plain-language hints for PyTorch loss mistakes.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="a tour in a real IPython shell: classic loss errors with their hints, "
                                       "then silent mistakes found by %%%%losscheck and the default watch")
    demo.add_argument("--xmode", default="Minimal", choices=["Minimal", "Plain", "Context", "Verbose"],
                      help="traceback mode for the gallery (default: Minimal, to keep it short)")
    demo.add_argument("--color", action="store_true", help="colour even when stdout is not a terminal")

    rules = sub.add_parser("rules", help="list the rule codes, or show one rule in full")
    rules.add_argument("code", nargs="?", help="a code such as NLH101")

    run = sub.add_parser(
        "run", help="run a Python script with exception hints (and, with --check, the loss watch)",
        description="Run a Python script as `python script.py args...` would, with nllhint's hints under "
                    "an uncaught exception. The exit code is the script's: sys.exit(n) gives n, an uncaught "
                    "exception 1, Ctrl-C 130; 2 when the script cannot be opened.",
        epilog="Options go before the script name; everything after it is the script's own arguments.")
    run.add_argument("--check", action="store_true",
                     help="watch every loss call of the script (as %%%%losscheck does) and print the report "
                          "to stderr when it ends, also when it fails")
    run.add_argument("script", help="the Python file to run as __main__")
    run.add_argument("args", nargs=argparse.REMAINDER, help="arguments passed to the script as sys.argv[1:]")

    from .notebook_check import EXIT_CODES_HELP

    check = sub.add_parser(
        "check", help="run notebooks headless with the loss watch on every cell and report what it finds",
        description="Execute each notebook top to bottom in a fresh Jupyter kernel, with every loss call "
                    "watched (the checks of %%losscheck) and exceptions explained, and print a report per "
                    "notebook: the findings grouped by cell, with the call and the fix.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("notebooks", nargs="+", metavar="notebook.ipynb")
    check.add_argument("--json", action="store_true", help="print machine-readable JSON on stdout instead")
    check.add_argument("--timeout", type=int, default=600, metavar="SECONDS",
                       help="time limit per cell (default 600; 0 for none)")
    check.add_argument("--kernel", default="python3", metavar="NAME",
                       help="the Jupyter kernel to run in (default python3; needs nllhint installed)")

    ns = parser.parse_args(argv)
    if ns.command == "demo":
        from .demo import run_gallery

        return run_gallery(xmode=ns.xmode, color=ns.color or sys.stdout.isatty())
    if ns.command == "rules":
        return show_rules(ns.code)
    if ns.command == "run":
        return run_script(ns.script, ns.args, check=ns.check)
    if ns.command == "check":
        from .notebook_check import check_paths

        if ns.timeout < 0:
            parser.error("--timeout must be 0 (no limit) or a number of seconds")
        try:
            return check_paths(ns.notebooks, timeout=ns.timeout or None, kernel=ns.kernel, as_json=ns.json)
        except KeyboardInterrupt:
            print("nllhint check: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `nllhint check ... | head`: stop quietly
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
    return 2


def show_rules(code: str | None) -> int:
    from .codes import find_rule, rules_table

    if code is None:
        print(rules_table())
        return 0
    found = find_rule(code)
    if found is None:
        print(f"nllhint: no rule {code}; `nllhint rules` lists them", file=sys.stderr)
        return 2
    print(f"{found.code}  [{found.category}]  {found.summary}  ({found.severity})\n")
    print(found.doc or "")
    for example in found.examples[:1]:
        print("\nExample that triggers it:\n")
        print("    " + example.code.replace("\n", "\n    "))
    return 0


def run_script(path: str, args: list[str], *, check: bool = False) -> int:
    """Run ``path`` as ``__main__`` with hints on, as ``python path args...`` would; the script's exit code.

    ``sys.argv`` is ``[path, *args]`` and ``sys.path[0]`` the script's folder (so its sibling modules
    import) while it runs. ``sys.exit(n)`` gives ``n`` (a message is printed to stderr and gives 1), an
    uncaught exception prints its traceback and hint to stderr and gives 1, Ctrl-C gives 130. With
    ``check`` every loss call is watched and the report goes to stderr when the script ends, however.
    """
    import os
    import runpy

    from .excepthook import install, uninstall

    if not os.path.isfile(path):
        reason = "is a directory" if os.path.isdir(path) else "No such file or directory"
        print(f"nllhint run: can't open file {path!r}: {reason}", file=sys.stderr)
        return 2
    saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
    sys.argv = [path, *args]
    folder = os.path.dirname(os.path.abspath(path))
    if sys.path:
        sys.path[0] = folder
    else:
        sys.path.append(folder)
    watch = None
    install()
    try:
        if check:
            from .watcher import Watch

            watch = Watch()
            watch.start()
        else:
            from .default_watch import install_script

            install_script()  # the light watch: notices on stderr
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit as exc:
            return _exit_code(exc.code)
        except KeyboardInterrupt:
            _report_uncaught()
            return 130
        except BaseException:
            _report_uncaught()
            return 1
        return 0
    finally:
        if watch is not None:
            report = watch.stop()
            try:
                color = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
                sys.stdout.flush()
                from .distributed import emit

                emit("\n" + report.render(color=color, width=100), sys.stderr)
            except Exception as exc:  # the report must never cost the user their exit code
                print(f"nllhint: could not print the loss report ({type(exc).__name__})", file=sys.stderr)
        uninstall()
        sys.argv = saved_argv
        if saved_path0 is not None and sys.path and sys.path[0] == folder:
            sys.path[0] = saved_path0


def _exit_code(code) -> int:
    """What the interpreter makes of ``SystemExit(code)``: None 0, an int itself, else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _report_uncaught() -> None:
    """The traceback (without nllhint's and runpy's frames) and the hint, through ``sys.excepthook``."""
    etype, value, tb = sys.exc_info()
    while tb is not None and tb.tb_frame.f_globals.get("__name__") in ("runpy", __name__):
        tb = tb.tb_next
    if value is not None:
        value.__traceback__ = tb  # the interpreter's hook prints the exception's own traceback
    sys.stdout.flush()
    sys.excepthook(etype, value, tb)
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
