"""The default mode: a light watch that is on after ``%load_ext nllhint`` (and ``nllhint.install()``).

What it does
    Every loss call goes through the watch's wrappers, but only the *first* call at each call site is
    examined with the audits of ``%%losscheck`` (and the call where the loss first turns NaN/Inf: on the
    CPU a 0-dim loss is compared per call, free of any synchronisation; on an accelerator a device flag
    is updated in place and read once at the end of the cell). A finding that is certain or likely
    becomes a notice (``nllhint.notices``), once per call site and code, shown under the cell's output
    (scripts: on stderr at once). After the first call a site costs the wrapper only: a few microseconds.

Modes (``NLLHINT_DEFAULT`` environment variable, else ``c.NllHint.default`` in an IPython config
file, else ``light``)
    off    nothing is watched until ``%losscheck on`` / ``%%losscheck``
    light  the light watch (default)
    full   ``%losscheck on`` from the start: a full report after every cell with loss calls
``%losscheck on`` and ``%losscheck off`` end the light watch for the session.

Free when idle
    Loading imports no torch. If torch is already imported the watch starts at once; otherwise a
    meta-path finder waits for ``import torch``: it answers only for the name ``torch`` (any other
    import costs one string comparison, and imports already done cost nothing), lets the normal finders
    locate torch, and starts the watch right after torch's ``__init__`` has run, then removes itself.
    This is what catches the usual first cell, which imports torch *and* calls the loss; a
    ``post_run_cell`` check of ``sys.modules`` would only start watching from the next cell (it stays
    as a fallback in ``pre_run_cell``: one dictionary lookup per cell).
"""

from __future__ import annotations

import os
import sys

MODES = ("off", "light", "full")
ENV = "NLLHINT_DEFAULT"
MAX_SEEN = 10_000  # notices remembered for "once per site and code"
MAX_SITES = 5_000  # call sites kept by the session's watch; beyond, they are forgotten (not their notices)


def configured_mode(shell=None) -> str:
    """The default mode: the environment variable, else the IPython config, else light."""
    value = os.environ.get(ENV, "").strip().lower()
    if value in MODES:
        return value
    try:
        section = shell.config.get("NllHint") if shell is not None else None  # (attribute access creates it)
        value = str(section.get("default", "")).strip().lower() if section else ""
    except Exception:
        value = ""
    return value if value in MODES else "light"


class _TorchImport:
    """A meta-path finder that calls ``ready()`` once ``import torch`` has finished executing."""

    def __init__(self, ready):
        self.ready = ready
        self.busy = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" or self.busy:
            return None
        self.busy = True
        try:
            spec = None
            for finder in list(sys.meta_path):
                find = getattr(finder, "find_spec", None)
                if finder is self or find is None:
                    continue
                spec = find(fullname, path, target)
                if spec is not None:
                    break
        finally:
            self.busy = False
        loader = getattr(spec, "loader", None)
        run = getattr(loader, "exec_module", None)
        if run is None:
            return spec
        hook = self

        def exec_module(module):  # on this loader instance only; removed as soon as torch has run
            __tracebackhide__ = True  # noqa: F841
            try:
                run(module)
            finally:
                loader.__dict__.pop("exec_module", None)
            hook.fire()

        try:
            loader.exec_module = exec_module
        except Exception:
            pass
        return spec

    def install(self) -> None:
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def remove(self) -> None:
        while self in sys.meta_path:
            sys.meta_path.remove(self)

    def fire(self) -> None:
        self.remove()
        try:
            self.ready()
        except Exception:
            if os.environ.get("NLLHINT_DEBUG"):
                raise


class LightWatch:
    """The light watch of one session (a shell or a script) and its notices not yet shown."""

    def __init__(self, show, *, immediate: bool = False):
        self.show = show  # show(list of notices): print or display them
        self.immediate = immediate  # scripts: show each notice when found, not at the end of a cell
        self.watch = None
        self.on = False
        self.pending: list = []
        self.seen: set = set()
        self._import = _TorchImport(self.attach)

    def start(self) -> None:
        self.on = True
        if "torch.nn.functional" in sys.modules:
            self.attach()
        else:
            self._import.install()

    def stop(self) -> None:
        self.on = False
        self._import.remove()
        current, self.watch = self.watch, None
        if current is not None:
            current.listener = None
            current.stop()

    def attach(self) -> None:
        """Start the watch, outermost: ``%%losscheck`` and ``nllhint.watch()`` inside it take the calls."""
        if not self.on or self.watch is not None:
            return
        from . import watcher

        watch = _light_watch_class()(sample=1, audit_at=(), min_severity="warning")
        watch.listener = self._found
        with watcher._PATCHES.lock:
            watch.start()
            watcher._ACTIVE.remove(watch)
            watcher._ACTIVE.insert(0, watch)
        self.watch = watch

    def check_import(self) -> None:
        """Fallback for a torch imported without the finder seeing it (one dictionary lookup)."""
        if self.on and self.watch is None and "torch.nn.functional" in sys.modules:
            self.attach()

    def _found(self, site, finding) -> None:
        from .notices import is_sure, notice_for

        if not is_sure(finding):
            return
        code = getattr(site, "code", None)
        notice = notice_for(finding, getattr(code, "co_filename", None))
        if notice.key in self.seen:
            return
        if len(self.seen) >= MAX_SEEN:
            self.seen.clear()
        self.seen.add(notice.key)
        if self.immediate:
            self._show([notice])
        elif not _merge_same_cause(self.pending, notice):
            self.pending.append(notice)

    def flush(self) -> None:
        """Read the device NaN flags (a synchronisation, once per cell and accelerator site) and show
        what was found since the last flush."""
        watch = self.watch
        if watch is not None and any(s.pending is not None for s in list(watch._sites.values())):
            try:
                watch._read_pending()
            except Exception:
                if os.environ.get("NLLHINT_DEBUG"):
                    raise
        if watch is not None and len(watch._sites) > MAX_SITES:
            watch._sites.clear()  # a long session: forget old sites (their notices are remembered)
        notices, self.pending = self.pending, []
        if notices:
            self._show(notices)

    def _show(self, notices) -> None:
        try:
            self.show(notices)
        except Exception as exc:
            if os.environ.get("NLLHINT_DEBUG"):
                raise
            print(f"nllhint: could not show a notice ({type(exc).__name__})", file=sys.stderr)


def _merge_same_cause(pending: list, notice) -> bool:
    """A notice with the same code and the same fix as one already pending in this cell (one ``nn.Sigmoid``
    in the model, three loss calls): its line is added to that notice's (``lines 16, 20, 24``) instead of a
    second notice. False when there is none to merge with."""
    import dataclasses
    import re

    here = re.fullmatch(r"(.*), line (\d+)", notice.location or "")
    if not notice.fix or here is None:
        return False
    for i, other in enumerate(pending):
        there = re.fullmatch(r"(.*), lines? ([\d, ]+)", other.location or "")
        if other.code == notice.code and other.fix == notice.fix and there and there[1] == here[1]:
            pending[i] = dataclasses.replace(other, location=f"{there[1]}, lines {there[2]}, {here[2]}")
            return True
    return False


def _light_watch_class():
    """A Watch without the report-only work: an exception is explained once, by the exception hook, not
    also as it passes through the wrapper (that is for the report of a watch that may catch it); and
    ``backward()`` is left alone (the hand-written-loss walk is for ``%%losscheck``), so its errors'
    tracebacks and its cost are what they are without nllhint."""
    from . import watcher

    backward = getattr(watcher, "_BACKWARD", None)

    class LightWatch(watcher.Watch):
        def start(self):
            report = super().start()
            if backward is not None:
                backward.release()  # the one acquire() of start()
            return report

        def stop(self):
            if backward is not None and self._running:
                backward.acquire()  # for the release() of stop(): balanced, nothing patched meanwhile
            return super().stop()

        def _note_raised(self, site, exc, frame) -> None:
            return None

    return LightWatch


# --- IPython ------------------------------------------------------------------------------------------------

_SHELLS: dict[int, LightWatch] = {}


def load(shell) -> None:
    """Called by ``%load_ext nllhint``: start the configured default."""
    mode = configured_mode(shell)
    if mode == "full":
        shell.run_line_magic("losscheck", "on")
        return
    if mode == "off" or id(shell) in _SHELLS:
        return
    light = LightWatch(lambda notices: _show_in_shell(shell, notices))
    _SHELLS[id(shell)] = light
    shell.events.register("pre_run_cell", _pre(light))
    shell.events.register("post_run_cell", _post(light))
    light.start()


def unload(shell) -> None:
    """Called by ``%unload_ext nllhint`` and by ``%losscheck on|off``: the light watch ends for good."""
    light = _SHELLS.pop(id(shell), None)
    if light is None:
        return
    light.stop()
    for event, callback in (("pre_run_cell", light._pre), ("post_run_cell", light._post)):
        try:
            shell.events.unregister(event, callback)
        except (ValueError, AttributeError):
            pass


def for_shell(shell) -> LightWatch | None:
    return _SHELLS.get(id(shell))


def _pre(light):
    def pre_run_cell(info=None):
        light.check_import()

    light._pre = pre_run_cell
    return pre_run_cell


def _post(light):
    def post_run_cell(result=None):
        light.flush()

    light._post = post_run_cell
    return post_run_cell


def _show_in_shell(shell, notices) -> None:
    from . import notices as render

    if render.in_kernel(shell):  # Jupyter-family frontends: an HTML block
        from IPython.display import display

        plain = "\n".join(render.text(n) for n in notices)
        display({"text/plain": plain, "text/html": render.html_block(notices)}, raw=True)
        return
    color = str(getattr(shell, "colors", "nocolor")).lower() != "nocolor"
    print("\n".join(render.text(n, color=color) for n in notices))


# --- scripts ------------------------------------------------------------------------------------------------

_SCRIPT: list = []  # the light watch of nllhint.install()


def install_script() -> None:
    """``nllhint.install()`` / ``nllhint run``: notices on stderr as soon as they are found."""
    if _SCRIPT or configured_mode() == "off":
        return
    import atexit

    light = LightWatch(_show_on_stderr, immediate=True)
    _SCRIPT.append(light)
    light.start()
    atexit.register(uninstall_script)


def uninstall_script() -> None:
    while _SCRIPT:
        light = _SCRIPT.pop()
        light.flush()
        light.stop()


def _show_on_stderr(notices) -> None:
    from . import notices as render
    from .distributed import emit, label, rank  # under torchrun: every line labelled [rankN]:

    color = hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    sys.stdout.flush()
    for notice in notices:
        emit(label(render.text(notice, color=color, where=render.SCRIPT_REPORT), rank()), sys.stderr)
