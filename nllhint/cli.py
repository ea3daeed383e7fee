"""The ``nllhint`` command: ``demo``, ``rules``, ``run``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nllhint", description="Plain-language hints for PyTorch loss mistakes.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run a gallery of classic loss mistakes in a real IPython shell")
    demo.add_argument("--xmode", default="Minimal", choices=["Minimal", "Plain", "Context", "Verbose"],
                      help="traceback mode for the gallery (default: Minimal, to keep it short)")
    demo.add_argument("--color", action="store_true", help="colour even when stdout is not a terminal")

    rules = sub.add_parser("rules", help="list the rule codes, or show one rule in full")
    rules.add_argument("code", nargs="?", help="a code such as NLH101")

    run = sub.add_parser("run", help="run a Python script with exception hints")
    run.add_argument("script")
    run.add_argument("args", nargs=argparse.REMAINDER)

    ns = parser.parse_args(argv)
    if ns.command == "demo":
        from .demo import run_gallery

        return run_gallery(xmode=ns.xmode, color=ns.color or sys.stdout.isatty())
    if ns.command == "rules":
        return show_rules(ns.code)
    if ns.command == "run":
        return run_script(ns.script, ns.args)
    return 2


def show_rules(code: str | None) -> int:
    from .magics import rules_table
    from .rules import by_code

    if code is None:
        print(rules_table())
        return 0
    found = by_code(code)
    if found is None:
        print(f"nllhint: no rule {code}; `nllhint rules` lists them", file=sys.stderr)
        return 2
    print(f"{found.code}  [{found.category}]  {found.summary}  ({found.severity})\n")
    print(found.doc or "")
    for example in found.examples[:1]:
        print("\nExample that triggers it:\n")
        print("    " + example.code.replace("\n", "\n    "))
    return 0


def run_script(path: str, args: list[str]) -> int:
    """Run ``path`` as ``__main__`` with hints on; the exit code is the script's."""
    import runpy

    from .excepthook import install, uninstall

    sys.argv = [path, *args]
    install()
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except BaseException:
        sys.excepthook(*sys.exc_info())
        return 1
    finally:
        uninstall()
    return 0


if __name__ == "__main__":
    sys.exit(main())
