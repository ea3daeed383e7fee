"""``nllhint.watch()``: watch every loss call in a block of code and report the silent mistakes.

    with nllhint.watch() as report:
        train(model, loader)
    print(report)            # one row per call site, with its findings
    report.findings          # list[nllhint.Finding]

``%%losscheck`` and ``%losscheck on`` (``nllhint.losscheck``) are thin IPython glue over this engine.

How loss calls are seen
    For the duration of the watch every loss function in ``torch.nn.functional`` is replaced by a thin
    wrapper. ``nn.*Loss`` modules look ``F.<loss>`` up at call time, so they are covered too. Names
    imported directly (``from torch.nn.functional import cross_entropy``) are rebound as well: the IPython
    user namespace, ``__main__`` and the globals of the loaded non-stdlib, non-torch modules are scanned
    for objects that *are* the original functions and swapped for the wrapper; on exit everything is put
    back exactly (also names bound to the wrapper during the watch, e.g. by an import inside the cell),
    even when the block raises. Not covered: a loss function captured elsewhere before the watch (a
    default argument, a class attribute, a closure, ``functools.partial``). ``TorchFunctionMode`` would
    see those, but costs ~70 % on a small training step; the wrappers cost a dictionary lookup and a
    short frame walk per call. When no watch is active nothing is patched: zero cost.

What one call costs
    Each call is attributed to its *call site*: the innermost frame outside torch and nllhint (the
    user's line, also inside their own functions and ``nn.Module`` classes), keyed by code object and
    instruction, so a 1000-step loop is one site with a count. The audits (``nllhint.audit``) run on the
    first ``sample`` calls of a site and then on calls 16, 64, 256, 1024, ...: 6 examinations in 1000
    calls. An examination asks for evidence cheapest first: metadata, then ``grad_fn`` provenance, then
    bounded value reads (``nllhint.probe.describe``) only when an audit needs them, and only in the first
    ``sample`` examinations of a site (and on the call where the loss first turns NaN/Inf): what a
    tensor *is* (probabilities, logits, class indices) does not change from batch to batch. Between
    examinations a call costs the wrapper plus, for a CPU scalar loss, one ``.item()`` to catch the first
    NaN/Inf loss. On accelerators no value is read per call (no device synchronisation): the NaN check is
    queued on the device (``isfinite(loss).all()`` folded into a flag) and the flag is read once, when
    the watch ends; examined calls (few, sampled) do read values.

What it never does
    The original function is called with the original arguments and its result object is returned
    unchanged; exceptions from it propagate untouched. Checks run after the call, under
    ``torch.no_grad()`` with torch-function subclasses disabled, draw no random numbers and keep no tensor,
    frame or exception (a report holds strings only). An exception inside a check is swallowed
    (``NLLHINT_DEBUG=1`` raises it). Inside ``torch.compile`` / ``torch.export`` tracing
    (``torch.compiler.is_compiling()``) the wrapper calls straight through, so dynamo inlines the original
    and nllhint adds no graph break; those calls are not checked. Meta tensors are checked from shapes
    and ``grad_fn`` only ("values unavailable").

What can still differ (documented trade-offs)
    * A warning that torch raises from inside a loss with ``stacklevel=2`` (MSELoss's "Using a target
      size ... different to the input size", KLDivLoss's ``reduction='mean'``) would name the wrapper's
      line. On examined calls, and on every call at a site that has warned, the wrapper catches it by
      swapping ``warnings._showwarnmsg`` for the duration of the call and re-issues it with
      ``warnings.warn_explicit`` at its caller's file, line, module and registry: the same text at the
      same line as without a watch, once per location. ``catch_warnings`` is not used: it is not
      thread-safe and resets every once-per-location registry. The swap is thread-safe among watched
      calls (a lock links and unlinks them; other threads' warnings pass through untouched), but a hook
      that other code swaps into ``warnings._showwarnmsg`` during such a call keeps ours beneath it (it
      then only forwards) and sees the re-issued warning, not torch's. Sites that never warned take the
      plain path; a call at a site that warns costs about 6 us more (torch's warning is processed twice).
      A site whose first warning comes after its examined calls (a later batch of another shape) is
      not captured: that warning names the wrapper's line, as before.
    * A function compiled with ``torch.compile`` before the watch is recompiled once the first time it
      runs inside one (dynamo guards on ``F.<loss>``); the wrappers are reused across watches, so a
      session toggling ``%losscheck`` costs at most that one extra cache entry. TorchScript compiles the
      original (the wrapper carries ``__wrapped__`` and ``torch.nn.functional``'s globals).
"""

from __future__ import annotations

import functools
import inspect
import math
import os
import sys
import threading
import types
from dataclasses import dataclass, field

from .contracts import FUNCTIONAL_NAMES, losses_where
from .finding import SEVERITIES, Finding

__all__ = ["watch", "Watch", "LossReport", "SiteReport", "LOSS_NAMES"]

# The losses of torch.nn.functional that are watched (functions missing from a torch version are skipped).
LOSS_NAMES = FUNCTIONAL_NAMES  # from the loss-contract table
DEFAULT_SAMPLE = 3
AUDIT_AT = frozenset(4 ** k for k in range(2, 16))  # after the first calls: calls 16, 64, 256, 1024, ...
MAX_MODULES = 20_000  # modules whose globals are scanned for directly imported loss functions
MAX_GLOBALS = 100_000  # skip a module with more globals than this
QUEUE_DEVICES = frozenset({"cuda", "xpu", "mps", "hpu", "privateuseone"})
# Losses whose integer target indexes the classes: on accelerators an index out of range is a device-side
# assert, so examined calls check the range first (``target_out_of_range``).
CLASS_INDEX_LOSSES = losses_where(lambda c: c.log_softmax_classes)  # cross_entropy, nll_loss
INDEX_FUNCTIONS = ("one_hot",)  # not losses, but class indices out of range assert on a device too
_FORCE_DEVICE_PATH = False  # tests only: treat CPU tensors as accelerator tensors (no per-call read, prechecks)
# Top-level packages whose globals never hold a user's loss function (pure speed; swapping is by identity).
_SKIP_PACKAGES = frozenset({
    "torch", "nllhint", "IPython", "ipykernel", "jupyter_client", "jupyter_core", "traitlets", "zmq",
    "tornado", "prompt_toolkit", "pygments", "numpy", "rich", "executing", "stack_data", "asttokens",
    "pure_eval", "parso", "jedi", "_pytest", "pytest", "pluggy", "hypothesis", "sympy", "mpmath",
    "typing_extensions", "jinja2", "markupsafe", "filelock", "fsspec", "networkx", "debugpy", "psutil",
    "nbclient", "nbformat", "jsonschema", "attr", "attrs", "platformdirs", "wcwidth", "decorator",
})

_NLLHINT_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
SEVERITY_RANK = {name: i for i, name in enumerate(SEVERITIES)}  # error 0, warning 1, info 2
_OPTION_TYPES = (int, float, str, bool, type(None))


# --- patching --------------------------------------------------------------------------------------------

class _Patches:
    """The process-wide patch state. Wrappers are made once per function and reused by every watch
    (so ``torch.compile`` sees at most two versions of ``F.<loss>``, never a new object per cell)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.depth = 0
        self.originals: dict[str, object] = {}
        self.wrappers: dict[str, object] = {}
        self.swapped: list[tuple[dict, str, object, object]] = []  # (namespace, key, original, wrapper)

    def wrapper_for(self, name: str, original):
        wrapper = self.wrappers.get(name)
        if wrapper is None or getattr(wrapper, "__wrapped__", None) is not original:
            wrapper = _make_index_wrapper(original) if name in INDEX_FUNCTIONS else _make_wrapper(name, original)
            self.wrappers[name] = wrapper
        return wrapper

    def acquire(self) -> None:
        with self.lock:
            self.depth += 1
            if self.depth > 1:
                return
            import torch.nn.functional as F

            self.originals = {}
            for name in LOSS_NAMES + INDEX_FUNCTIONS:
                current = getattr(F, name, None)
                if current is None:
                    continue
                original = getattr(current, "__nllhint_original__", current)  # a wrapper left behind
                self.originals[name] = original
                setattr(F, name, self.wrapper_for(name, original))
            table = {id(orig): (orig, self.wrappers[name]) for name, orig in self.originals.items()}
            self.swapped = _swap(_namespaces(changed_only=True), table)

    def release(self) -> None:
        with self.lock:
            if self.depth == 0:
                return
            self.depth -= 1
            if self.depth > 0:
                return
            import torch.nn.functional as F

            for name, original in self.originals.items():
                if getattr(F, name, None) is self.wrappers.get(name):
                    setattr(F, name, original)
            for space, key, original, wrapper in self.swapped:
                try:
                    if space.get(key) is wrapper:
                        space[key] = original
                except Exception:
                    pass
            # Names bound to a wrapper while the watch ran (an import inside the cell): put the original.
            table = {id(orig): (orig, orig) for orig in self.originals.values()}  # hits, left as they are
            table.update({id(w): (w, w.__nllhint_original__) for w in self.wrappers.values()})
            _swap(_namespaces(changed_only=True), table)
            self.swapped = []


_PATCHES = _Patches()
_ACTIVE: list["Watch"] = []  # innermost watch last; calls are recorded by the innermost one
_MODULE_DICTS: list = [0, []]  # [len(sys.modules) when listed, module dicts worth scanning]
_CLEAN_SIZES: dict[int, int] = {}  # id(module dict) -> its size when a scan found nothing in it


def _namespaces(changed_only: bool = False) -> list[dict]:
    """Dictionaries that may hold a directly imported loss function: the IPython user namespace,
    ``__main__`` and loaded non-stdlib, non-torch modules (bounded).

    With ``changed_only``, module dicts that held nothing at their last scan and have not changed size
    since are left out (the user namespace and ``__main__`` are always included): a module that rebinds
    an existing global to a loss function after it was scanned is missed, which costs a miss, not a bug.
    """
    seen: set[int] = set()
    spaces: list[dict] = []

    def add(d, always=False):
        if not isinstance(d, dict) or id(d) in seen or len(d) > MAX_GLOBALS:
            return
        seen.add(id(d))
        if changed_only and not always and _CLEAN_SIZES.get(id(d)) == len(d):
            return
        spaces.append(d)

    ipython = sys.modules.get("IPython")
    if ipython is not None:
        try:
            shell = ipython.get_ipython()
        except Exception:
            shell = None
        if shell is not None:
            add(getattr(shell, "user_ns", None), True)
            add(getattr(shell, "user_global_ns", None), True)
    main = sys.modules.get("__main__")
    if isinstance(main, types.ModuleType):
        add(main.__dict__, True)
    if _MODULE_DICTS[0] != len(sys.modules):
        stdlib = getattr(sys, "stdlib_module_names", frozenset())
        found = []
        for count, (name, module) in enumerate(list(sys.modules.items())):
            if count >= MAX_MODULES:
                break
            top = name.partition(".")[0]
            if top in _SKIP_PACKAGES or top in stdlib or top.startswith("_"):
                continue
            if isinstance(module, types.ModuleType):
                found.append(module.__dict__)
        _MODULE_DICTS[:] = [len(sys.modules), found]
        live = {id(d) for d in found}
        for key in [k for k in _CLEAN_SIZES if k not in live]:
            del _CLEAN_SIZES[key]
    for d in _MODULE_DICTS[1]:
        add(d)
    return spaces


def _swap(spaces: list[dict], table: dict) -> list[tuple[dict, str, object, object]]:
    """Replace values that are keys of ``table`` (by identity) with their partner; remember clean dicts."""
    done = []  # (namespace, key, old value, new value)
    for space in spaces:
        try:
            hits = [(k, v) for k, v in list(space.items()) if id(v) in table]
        except Exception:
            continue
        if not hits:
            _CLEAN_SIZES[id(space)] = len(space)
            continue
        _CLEAN_SIZES.pop(id(space), None)
        for key, value in hits:
            old, new = table[id(value)]
            if value is old and new is not old:
                space[key] = new
                done.append((space, key, old, new))
    return done


def _make_wrapper(name: str, original):
    """A pass-through for ``original`` that reports to the innermost active watch.

    The wrapper refers to nothing global: it is a closure rebuilt with ``torch.nn.functional``'s globals
    and ``__wrapped__`` set, so TorchScript (which compiles ``__wrapped__``'s source with the function's
    globals) scripts a model calling ``F.<loss>`` during a watch exactly as without it.
    """
    import torch
    import torch.nn.functional as F

    def build(original, name, is_compiling, getframe, active, tensor_type, isfinite, kinds, classify, user,
              skip, transforms, unlink, capture):
        def wrapper(*args, **kwargs):
            __tracebackhide__ = True  # noqa: F841  (IPython hides this frame in tracebacks)
            if not active or is_compiling() or transforms() is not None:
                # dynamo inlines the original (no graph break from us); torch.func transforms see the original
                try:
                    return original(*args, **kwargs)
                except BaseException as error:
                    if unlink and error.__traceback__ is not None:  # drop this frame from the traceback:
                        error.__traceback__ = error.__traceback__.tb_next  # a bare raise adds none back
                    raise
            try:  # find and count the call site: the innermost frame outside torch and nllhint
                watch = active[-1]
                frame = getframe(1)
                child = None
                while frame is not None:
                    kind = kinds.get(id(frame.f_code))  # by id: hashing a code object hashes its bytecode
                    if kind is None:
                        kind = classify(frame.f_code)
                    if kind is user:
                        break
                    if kind is skip:  # a loss called by torch.nn.functional itself, or FX-compiled code
                        frame = None
                        break
                    child = frame
                    frame = frame.f_back
                site = None
                if frame is not None:
                    site = watch._sites.get((id(frame.f_code), frame.f_lasti))
                    if site is None:
                        site = watch._new_site(name, frame, child)
                    site.calls += 1
            except Exception:
                site = None
            if site is None:
                try:
                    return original(*args, **kwargs)
                except BaseException as error:
                    if unlink and error.__traceback__ is not None:
                        error.__traceback__ = error.__traceback__.tb_next
                    raise
            n = site.calls
            examine = n <= site.sample or n in site.audit_at  # the first calls, then 16, 64, 256, ...
            if examine:  # accelerators: a class index out of range raises here, not as a device assert
                early = watch._precheck_safely(site, args, kwargs)
                if early is not None:  # raise the CPU kernel's error from a stand-in of the loss's frame
                    site.raised += 1
                    try:
                        early()
                    except IndexError as error:
                        if unlink and error.__traceback__ is not None:
                            error.__traceback__ = error.__traceback__.tb_next
                        raise
            captured = capture() if examine or site.warns else None  # a warning names the caller, not us
            try:
                result = original(*args, **kwargs)
            except BaseException as exc:
                if captured is not None:
                    captured.reissue(site, getframe(1))
                site.raised += 1
                if unlink and exc.__traceback__ is not None:  # no frame of ours in the traceback
                    exc.__traceback__ = exc.__traceback__.tb_next
                if site.raised == 1:  # explained now, in case the user's code catches it
                    watch._note_raised(site, exc, frame)
                raise
            if captured is not None:
                captured.reissue(site, getframe(1))
            if examine:
                watch._examine_safely(site, original, args, kwargs, result)
            elif site.scalar_cpu:  # between audits: catch the first NaN/Inf loss (CPU: no sync)
                if type(result) is tensor_type:
                    try:
                        finite = isfinite(result.item())
                    except Exception:
                        finite = site.scalar_cpu = False
                    if not finite:
                        watch._examine_safely(site, original, args, kwargs, result)
            elif site.queue:  # accelerators: fold the check into a device flag (one in-place kernel)
                watch._queue_safely(site, result)
            return result

        return wrapper

    inner = build(original, name, torch.compiler.is_compiling, sys._getframe, _ACTIVE, torch.Tensor,
                  math.isfinite, _INTERNAL, _classify, _USER, _SKIP,
                  getattr(torch._C._functorch, "peek_interpreter_stack", lambda: None),
                  sys.version_info >= (3, 11), _WarningCapture)
    wrapper = types.FunctionType(inner.__code__, F.__dict__, name, inner.__defaults__, inner.__closure__)
    functools.update_wrapper(wrapper, original)
    wrapper.__nllhint_original__ = original
    return wrapper


class _WarningCapture:
    """The warnings one thread shows while a loss runs. torch warns with ``stacklevel=2``, which names the
    wrapper's line; the capture takes those and re-issues them at the wrapper's caller (the user's line,
    or torch's ``nn.*Loss.forward`` as without a watch), with that module's registry so once-per-location
    holds. It swaps ``warnings._showwarnmsg`` for the call only (no filter change: ``catch_warnings``
    would reset every once-per-location registry); other threads' warnings and warnings naming any
    other line pass straight through."""

    __slots__ = ("previous", "log", "thread", "done")

    def __init__(self):
        import warnings

        self.log = []
        self.thread = threading.get_ident()
        self.done = False
        with _WARN_LOCK:
            self.previous = warnings._showwarnmsg
            warnings._showwarnmsg = self

    def __call__(self, msg):
        if self.done or msg.filename != _WRAPPER_FILE or threading.get_ident() != self.thread:
            return self.previous(msg)
        self.log.append(msg)

    def reissue(self, site, caller) -> None:
        import warnings

        self.done = True  # from now on it only forwards, should another thread still reach it
        with _WARN_LOCK:  # take it out of the chain, also when another thread's capture went on top
            if warnings._showwarnmsg is self:
                warnings._showwarnmsg = self.previous
            else:
                link = warnings._showwarnmsg
                while isinstance(link, _WarningCapture) and link.previous is not self:
                    link = link.previous
                if isinstance(link, _WarningCapture):
                    link.previous = self.previous
        if not self.log:
            return
        site.warns = True  # later calls here are captured too
        import torch.nn.functional as F

        ours = F.__dict__.get("__warningregistry__") or {}  # the wrapper runs with F's globals
        version = ours.get("version")  # the filters' version: torch's warn just brought it up to date
        for msg in self.log:
            text, category = str(msg.message), msg.category
            for key in ((text, category, msg.lineno), (text, category, 0), (text, category)):  # 'default', 'module'
                ours.pop(key, None)  # so the next call here is seen again
            if caller is None:
                self.previous(msg)
                continue
            globs = caller.f_globals
            registry = globs.setdefault("__warningregistry__", {})
            if registry.get("version") == version and registry.get((text, category, caller.f_lineno)):
                continue  # shown at that line already: what warn_explicit decides, without reading the source
            warnings.onceregistry.pop((text, category), None)  # 'once': the re-issue decides
            where = (msg.message, category, caller.f_code.co_filename, caller.f_lineno, globs.get("__name__"),
                     registry)
            try:
                warnings.warn_explicit(*where, module_globals=globs, source=msg.source)
            except Warning:
                raise  # the user's filters turn it into an error, at their line
            except Exception:  # a module whose loader cannot give its source line (<stdin>)
                warnings.warn_explicit(*where, source=msg.source)


_WRAPPER_FILE = _make_wrapper.__code__.co_filename
_WARN_LOCK = threading.Lock()  # captures of several threads link and unlink one at a time


def _make_index_wrapper(original):
    """``F.one_hot`` during a watch: on an accelerator, the first calls at each call site check the class
    indices before the kernel (``one_hot_out_of_range``); everything else calls straight through.
    TorchScript sees the builtin (the wrapper is registered as ``aten::one_hot``)."""
    import torch
    import torch.nn.functional as F

    def build(original, is_compiling, getframe, active, transforms, unlink, check):
        def one_hot(*args, **kwargs):
            __tracebackhide__ = True  # noqa: F841
            if active and not is_compiling() and transforms() is None:
                early = check(getframe(1), args, kwargs)
                if early is not None:
                    try:
                        raise early
                    except RuntimeError as error:
                        if unlink:  # the traceback ends at the caller's line, as the CPU kernel's error does
                            error.__traceback__ = None
                        raise
            try:
                return original(*args, **kwargs)
            except BaseException as error:
                if unlink and error.__traceback__ is not None:
                    error.__traceback__ = error.__traceback__.tb_next
                raise

        return one_hot

    inner = build(original, torch.compiler.is_compiling, sys._getframe, _ACTIVE,
                  getattr(torch._C._functorch, "peek_interpreter_stack", lambda: None), sys.version_info >= (3, 11),
                  _one_hot_safely)
    wrapper = types.FunctionType(inner.__code__, F.__dict__, "one_hot", inner.__defaults__, inner.__closure__)
    functools.update_wrapper(wrapper, original)
    wrapper.__nllhint_original__ = original
    try:
        torch.jit._builtins._register_builtin(wrapper, "aten::one_hot")
    except Exception:
        pass
    return wrapper


def _one_hot_safely(frame, args, kwargs):
    try:
        return one_hot_out_of_range(frame, args, kwargs)
    except Exception:
        if os.environ.get("NLLHINT_DEBUG"):
            raise
        return None


def one_hot_out_of_range(frame, args, kwargs):
    """The error ``F.one_hot`` raises on the CPU for an index out of range, or None; checked on an
    accelerator's tensor on the first calls of a call site (one reduction, one read)."""
    import torch

    tensor = args[0] if args else kwargs.get("tensor")
    if type(tensor) is not torch.Tensor or (tensor.device.type == "cpu" and not _FORCE_DEVICE_PATH):
        return None
    if tensor.device.type == "meta" or not tensor.numel() or tensor.is_floating_point():
        return None
    watch = _ACTIVE[-1]
    key = (id(frame.f_code), frame.f_lasti) if frame is not None else None
    calls = watch._index_calls.get(key, 0) + 1
    watch._index_calls[key] = calls
    if calls > watch.sample and calls not in watch.audit_at:
        return None
    classes = args[1] if len(args) > 1 else kwargs.get("num_classes", -1)
    with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
        low, high = torch.stack(torch.aminmax(tensor.detach())).tolist()  # the one read
    if low < 0:
        return RuntimeError("Class values must be non-negative.")
    if type(classes) is int and classes >= 0 and high >= classes:
        return RuntimeError("Class values must be smaller than num_classes.")
    return None


# --- the watch -------------------------------------------------------------------------------------------

_INTERNAL: dict[int, str] = {}  # id(code object) -> _USER, _WALK or _SKIP
_CODES: list = []  # the code objects classified (code objects are small; no frames, no tensors)


@functools.lru_cache(maxsize=1)
def _lazy():
    """nllhint modules used per examined call, imported once (an import statement costs per call)."""
    from .audit import LossCall, run
    from .context import location_of
    from .probe import describe

    return types.SimpleNamespace(LossCall=LossCall, run=run, location_of=location_of, describe=describe)


_TORCH_DIR: str | None = None
_FUNCTIONAL_FILE: str | None = None


def _dirs() -> None:
    global _TORCH_DIR, _FUNCTIONAL_FILE
    if _TORCH_DIR is None:
        import torch

        _TORCH_DIR = os.path.dirname(os.path.abspath(torch.__file__)) + os.sep
        _FUNCTIONAL_FILE = os.path.join(_TORCH_DIR, "nn", "functional.py")


_USER, _WALK, _SKIP = "user", "walk", "skip"


def _classify(code) -> str:
    """Is a frame the user's (a call site), torch's or nllhint's (walk past it), or one whose loss calls
    are not the user's (``torch/nn/functional.py`` itself, FX code generated by ``torch.compile``)?"""
    filename = code.co_filename
    if filename == _FUNCTIONAL_FILE or filename.startswith("<eval_with_key"):
        kind = _SKIP
    elif filename.startswith(_TORCH_DIR) or filename.startswith(_NLLHINT_DIR):
        kind = _WALK
    else:
        kind = _USER
    if len(_INTERNAL) > 50_000:
        _INTERNAL.clear()
        _CODES.clear()
    _INTERNAL[id(code)] = kind
    _CODES.append(code)  # keeps every id in _INTERNAL pointing at the same code object
    return kind


@dataclass
class _Site:
    """A call site while the watch runs. Holds no tensor (the device flag is a one-element tensor of ours)."""

    order: int
    loss: str
    label: str
    module: str | None
    location: str
    expression: str
    call: object = None  # source.UserCall: strings and offsets only
    calls: int = 0
    sample: int = DEFAULT_SAMPLE
    examined: int = 0
    raised: int = 0
    scalar_cpu: bool = False
    queue: bool = False
    warns: bool = False  # a call here showed a warning: every call re-issues them at the caller
    pending: object = None  # a 0-dim float tensor on the loss's device: NaN once a non-finite loss went by
    flag_since: int = 0  # the call after which the device flag was last read (clean)
    audit_at: frozenset = AUDIT_AT
    nonfinite: bool = False
    findings: dict = field(default_factory=dict)  # code -> [Finding, first call, times seen]
    notes: list = field(default_factory=list)
    code: object = None  # the call site's code object, while the watch runs
    source: tuple | None = None  # (AST call node, executing.Source, filename, params, line): no frame
    signature: tuple | None = None  # metadata of the last examined call
    _call_done: bool = False

    def user_call(self):
        """The user's call (names, rewrites), built on first use: most sites never need it."""
        if not self._call_done:
            self._call_done = True
            if self.source is not None:
                node, source, filename, params, lineno = self.source
                self.expression, self.call = _describe_call(node, source, filename, params, lineno)
                self.source = None
        return self.call

    def text(self) -> str:
        self.user_call()
        return self.expression


@dataclass(frozen=True)
class SiteReport:
    """One row of the report: where a loss was called, how often, and what was found there."""

    location: str  # "cell [4], line 3" or "train.py:17"
    expression: str  # the call as the user wrote it: "criterion(model(x), y)"
    loss: str  # "CrossEntropyLoss" or "F.cross_entropy"
    calls: int
    examined: int
    findings: tuple[Finding, ...] = ()
    first_seen: tuple[int, ...] = ()  # for each finding, the call number where it first showed
    notes: tuple[str, ...] = ()
    raised: int = 0  # calls at this site that raised


class LossReport:
    """What a watch saw. ``str(report)`` is the printable report; ``report.findings`` the findings.

    While the watch runs, the properties show the calls so far; after it ends they are fixed (plain
    strings, no tensors).
    """

    def __init__(self, watch: "Watch"):
        self._watch: Watch | None = watch
        self._sites: tuple[SiteReport, ...] = ()

    @property
    def sites(self) -> tuple[SiteReport, ...]:
        return self._watch._snapshot() if self._watch is not None else self._sites

    @property
    def findings(self) -> list[Finding]:
        return [f for site in self.sites for f in site.findings]

    @property
    def calls(self) -> int:
        return sum(site.calls for site in self.sites)

    def summary(self) -> str:
        """One line: ``3 loss calls at 1 site, no problems found``."""
        sites = self.sites
        calls = sum(s.calls for s in sites)
        if not calls:
            return "no loss calls seen"
        head = f"{_plural(calls, 'loss call')} at {_plural(len(sites), 'site')}"
        counts = {}
        for f in (f for s in sites for f in s.findings):
            counts[f.severity] = counts.get(f.severity, 0) + 1
        if not counts:
            return f"{head}, no problems found"
        words = {"error": "error", "warning": "warning", "info": "note"}
        parts = [_plural(counts[sev], words[sev]) for sev in SEVERITIES if counts.get(sev)]
        return f"{head}: " + ", ".join(parts)

    def render(self, *, color: bool = False, width: int = 100, brief: bool = False) -> str:
        """The report as text: a summary line, then one row per call site with its findings."""
        from .distributed import label, rank  # under torchrun: every line labelled [rankN]:

        return label(_render(self, color=color, width=width, brief=brief), rank())

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"<nllhint LossReport: {self.summary()}>"

    def __bool__(self) -> bool:  # "if report:" -> were there findings
        return bool(self.findings)

    def _freeze(self, sites: tuple[SiteReport, ...]) -> None:
        self._sites = sites
        self._watch = None


# Called as ``listener(watch, report)`` when any watch stops: how ``nllhint check`` collects the reports
# of the watches a notebook runs itself (``%%losscheck`` cells), which take the calls from its own watch.
STOP_LISTENERS: list = []


class Watch:
    """Context manager behind ``nllhint.watch()``. Entering patches the losses (once for nested
    watches); leaving restores them and freezes the report. Calls go to the innermost active watch."""

    def __init__(self, *, sample: int = DEFAULT_SAMPLE, values: bool = True, min_severity: str = "info",
                 audit_at=AUDIT_AT):
        if min_severity not in SEVERITIES:
            raise ValueError(f"min_severity must be one of {SEVERITIES}, not {min_severity!r}")
        self.sample = max(1, int(sample))
        self.values = bool(values)
        self.min_severity = min_severity
        self.audit_at = frozenset(audit_at)  # later calls examined (the light watch: none)
        self._index_calls: dict = {}  # F.one_hot call site -> calls (range-checked like examined loss calls)
        self.listener = None  # called as listener(site, finding) for each new finding (the light watch)
        self.report = LossReport(self)
        self._sites: dict = {}
        self._running = False
        self._done = False

    # --- lifetime -----------------------------------------------------------------------------------------
    def start(self) -> LossReport:
        if self._running or self._done:
            raise RuntimeError("a watch can be started once")
        _dirs()
        _PATCHES.acquire()
        _BACKWARD.acquire()
        _ACTIVE.append(self)
        self._running = True
        return self.report

    def stop(self) -> LossReport:
        if not self._running:
            return self.report
        self._running = False
        self._done = True
        try:
            _ACTIVE.remove(self)
        except ValueError:
            pass
        _PATCHES.release()
        _BACKWARD.release()
        try:
            _settle_raised(self)
            self._read_pending()
            self.report._freeze(self._snapshot())
        except Exception:
            if os.environ.get("NLLHINT_DEBUG"):
                raise
            self.report._freeze(())
        self._sites = {}
        for listener in list(STOP_LISTENERS):
            try:
                listener(self, self.report)
            except Exception:
                if os.environ.get("NLLHINT_DEBUG"):
                    raise
        return self.report

    def __enter__(self) -> LossReport:
        return self.start()

    def __exit__(self, *exc) -> bool:
        self.stop()
        return False

    # --- per call -----------------------------------------------------------------------------------------
    def _examine_safely(self, site: _Site, original, args, kwargs, result) -> None:
        __tracebackhide__ = True  # noqa: F841
        try:
            self._examine(site, original, args, kwargs, result)
        except Exception:
            if os.environ.get("NLLHINT_DEBUG"):
                raise

    def _queue_safely(self, site: _Site, result) -> None:
        try:
            self._queue(site, result)
        except Exception:
            site.queue = False
            if os.environ.get("NLLHINT_DEBUG"):
                raise

    def _precheck_safely(self, site: _Site, args, kwargs):
        """The exception to raise instead of running the loss, or None (also when the check fails)."""
        if site.loss not in CLASS_INDEX_LOSSES:
            return None
        try:
            return target_out_of_range(site.loss, args, kwargs)
        except Exception:
            if os.environ.get("NLLHINT_DEBUG"):
                raise
            return None

    def _note_raised(self, site: _Site, exc: BaseException, frame) -> None:
        _note_raised(site, exc, frame, sys._getframe(1))

    def _new_site(self, name: str, frame, child) -> _Site:
        """Describe a call site the first time a loss is called there (the only frame inspection)."""
        site = self._describe_site(name, frame, child)
        site.sample = self.sample
        site.audit_at = self.audit_at
        site.code = frame.f_code  # keeps the id in the key valid
        self._sites[(id(frame.f_code), frame.f_lasti)] = site
        return site

    def _describe_site(self, name: str, frame, child) -> _Site:
        import torch

        location_of = _lazy().location_of
        module = None
        params = None
        if child is not None and child.f_code.co_name in ("_wrapped_call_impl", "_call_impl"):
            owner = child.f_locals.get("self")
            if isinstance(owner, torch.nn.Module):
                module = type(owner).__name__
                params = _module_params(type(owner), name)
        elif child is None:
            params = _functional_params(name)
        filename = frame.f_code.co_filename
        lineno = frame.f_lineno
        node, source = _call_node(frame)
        site = _Site(order=len(self._sites), loss=name, label=module or f"F.{name}", module=module,
                     location=location_of(filename, lineno), expression="")
        site.source = (node, source, filename, params, lineno)  # parsed lazily: see _Site.call
        return site

    def _examine(self, site: _Site, original, args, kwargs, result) -> None:
        """Run the audits on this call: the only place values may be read (bounded, sampled calls)."""
        import torch

        lazy = _lazy()
        site.examined += 1
        if site.pending is not None:  # accelerators: an examination may synchronise; read the NaN flag
            self._read_flag(site, site.calls - 1)
            site.flag_since = site.calls  # this call's own value is checked below
        with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
            bound = _bind(site.loss, original, args, kwargs)
            options = {k: v for k, v in bound.items() if type(v) in _OPTION_TYPES}
            tensors = {k: v for k, v in bound.items() if k not in options and isinstance(v, torch.Tensor)}
            # Values are read in a site's first examinations (what a tensor is does not change from batch
            # to batch) and when the loss turned NaN/Inf; later ones re-check metadata and grad_fn only.
            finite, facts, value = self._result_state(site, result)
            read = self.values and (site.examined <= self.sample or finite is False)
            signature = _signature_of(tensors, options)
            if not read and signature == site.signature:
                return  # same shapes, dtypes, producers and options as the last audit: same answers
            site.signature = signature
            call = lazy.LossCall(loss=site.loss, module=site.module, options=options, user=None,
                                 step=site.calls, read_values=read, _tensors=tensors)
            call.site_call = site.user_call
            call.frame_finder = _caller_frame  # walks the live stack past nllhint and torch when asked
            if not read:
                call.why_no_values = "values read in earlier calls only"
            unreadable = _why_unreadable(tensors)
            if unreadable and not any(unreadable in note for note in site.notes):
                site.notes.append(f"values unavailable ({unreadable}): checked from shapes and grad_fn only")
            if site.examined == 1:
                self._classify_result(site, result)
            call.result_finite, call.result_facts, call.result_value = finite, facts, value
            try:
                for item, hint in lazy.run(call):
                    self._add(site, item, hint, call)
            finally:
                call.close()
            if call.result_finite is False:
                site.nonfinite = True
                site.scalar_cpu = site.queue = False  # found: no more per-call checks at this site

    def _classify_result(self, site: _Site, result) -> None:
        import torch

        if type(result) is not torch.Tensor:
            return
        kind = result.device.type
        wrapped = torch._C._functorch.is_functorch_wrapped_tensor(result)
        if wrapped:
            return
        if kind == "cpu" and result.dim() == 0 and not _FORCE_DEVICE_PATH:
            site.scalar_cpu = True
        elif (kind in QUEUE_DEVICES or _FORCE_DEVICE_PATH) and self.values:
            site.queue = True

    def _result_state(self, site: _Site, result):
        """(finite?, facts, scalar value) for the loss value; Nones when its values may not be read."""
        import torch

        if not self.values or not isinstance(result, torch.Tensor):
            return None, None, None
        if torch._C._functorch.is_functorch_wrapped_tensor(result):
            return None, None, None
        describe = _lazy().describe
        if (result.device.type == "cpu" and result.numel() == 1 and type(result) is torch.Tensor
                and not result.is_complex()):  # a complex loss (complex targets) has no isfinite(item)
            value = result.detach().reshape(()).item()
            return math.isfinite(value), None, value
        if result.device.type != "cpu" and site.examined > self.sample:
            return None, None, None  # accelerators: later calls are covered by the queued device flag
        facts = describe(result)
        if not facts.values:
            return None, None, None
        return not (facts.has_nan or facts.has_inf), facts, None

    def _queue(self, site: _Site, result) -> None:
        """Accelerators: fold the loss into a 0-dim device flag with one in-place kernel, no read.

        ``flag += 0 * loss`` leaves the flag at 0 for a finite loss and makes it NaN for good once a loss
        is NaN or Inf (0 * inf is NaN). A loss with more than one element is first reduced as
        ``(0 * loss).sum()`` (a plain sum could overflow to inf from finite values). The flag is read at
        the site's next examination and when the watch ends (``_read_flag``).
        """
        import torch

        if type(result) is not torch.Tensor:
            return
        flag = site.pending
        if flag is None:
            with torch.inference_mode(False):  # a flag made under inference_mode could not be updated later
                flag = site.pending = torch.zeros((), dtype=torch.float32, device=result.device)
        loss = result.detach()
        if loss.dim():
            loss = loss.reshape(()) if loss.numel() == 1 else loss.mul(0).sum()
        flag.add_(loss, alpha=0)

    def _read_flag(self, site: _Site, upto: int) -> None:
        """Read a site's device flag (a synchronisation: only at examinations and when the watch ends)."""
        flag, since = site.pending, site.flag_since
        if flag is None:
            return
        site.flag_since = upto
        if flag.item() == 0:
            return
        site.pending = None
        site.queue = False  # found: no more per-call checks at this site
        site.nonfinite = True
        if "NLH902" in site.findings:
            return
        from .audit.numeric import queued_nonfinite

        hint = queued_nonfinite(site.label, site.text())
        first, last = since + 1, max(upto, since + 1)
        when = f"at call {first}" if first == last else f"between calls {first} and {last}"
        message = (f"A device-side flag for {site.label} at `{site.text()}` shows a NaN or Inf loss {when} of "
                   f"this line (the flag is read only at examinations and when the watch ends, so the GPU "
                   f"never waits). Check the inputs with torch.isfinite, or run fewer steps, to find where "
                   f"it starts.")
        finding = Finding(code="NLH902", category="nan-inf", severity="error", title=hint.title,
                          message=message, location=site.location)
        site.findings["NLH902"] = [finding, first, 1]
        self._tell(site, finding)

    def _read_pending(self) -> None:
        """Read the device flags once. A read that fails (a CUDA context poisoned by a device-side assert
        raises at every op) ends the reading: the other flags are dropped unread, the sites are kept."""
        sites = list(self._sites.values())
        for i, site in enumerate(sites):
            try:
                self._read_flag(site, site.calls)
            except Exception:
                if os.environ.get("NLLHINT_DEBUG"):
                    raise
                for rest in sites[i:]:
                    rest.pending = None
                return
            finally:
                if not self._running:
                    site.pending = None

    def _tell(self, site: _Site, finding: Finding) -> None:
        if self.listener is not None:
            try:
                self.listener(site, finding)
            except Exception:
                if os.environ.get("NLLHINT_DEBUG"):
                    raise

    def _add(self, site: _Site, item, hint, call) -> None:
        entry = site.findings.get(item.code)
        if entry is not None:
            entry[2] += 1
            return
        evidence = hint.evidence if hint.evidence is not None else _evidence(call)
        finding = Finding(code=item.code, category=item.category, severity=item.severity, title=hint.title,
                          message=hint.message, fix=hint.fix, evidence=evidence, location=site.location)
        site.findings[item.code] = [finding, call.step, 1]
        self._tell(site, finding)

    def _snapshot(self) -> tuple[SiteReport, ...]:
        limit = SEVERITY_RANK[self.min_severity]
        rows = []
        for site in sorted(self._sites.values(), key=lambda s: s.order):
            entries = [e for e in site.findings.values() if SEVERITY_RANK[e[0].severity] <= limit]
            entries.sort(key=lambda e: (SEVERITY_RANK[e[0].severity], e[0].code))
            notes = list(site.notes)
            if site.raised:
                notes.append(f"{_plural(site.raised, 'call')} raised an error")
            rows.append(SiteReport(location=site.location, expression=site.text(), loss=site.label,
                                   calls=site.calls, examined=site.examined,
                                   findings=tuple(e[0] for e in entries),
                                   first_seen=tuple(e[1] or 0 for e in entries), notes=tuple(notes),
                                   raised=site.raised))
        return tuple(rows)


# --- caught exceptions and hand-written losses (nllhint.audit.raised / .handwritten) --------------------

def _note_raised(site: _Site, exc: BaseException, frame, wrapper_frame) -> None:
    """Explain a loss call's exception as it passes through (strings kept; settled when the watch stops)."""
    if not isinstance(exc, Exception):  # KeyboardInterrupt, SystemExit: let them through at once
        return
    try:
        from .audit.raised import explain_raised

        findings = explain_raised(exc, frame, wrapper_frame)
        if findings:
            site.caught = (id(exc), frame.f_lineno, findings)
    except Exception:
        if os.environ.get("NLLHINT_DEBUG"):
            raise


def _settle_raised(watch: "Watch") -> None:
    """Exceptions still propagating were not caught: the exception hook explains those. The others go
    into the report, marked as raised and caught."""
    from dataclasses import replace

    from .audit.raised import propagating_ids

    live = propagating_ids()
    for site in watch._sites.values():
        caught = getattr(site, "caught", None)
        if not caught:
            continue
        ident, line, findings = caught
        site.caught = None
        if ident in live:
            continue
        for f in findings:
            if f.code not in site.findings:
                marked = replace(f, title=f"raised and caught at line {line}: {f.title}",
                                 location=site.location)
                site.findings[f.code] = [marked, None, 1]


class _BackwardPatch:
    """``torch.autograd.backward`` (which ``Tensor.backward`` calls) wrapped while a watch runs (once for
    nested watches): the first calls at each backward() site get a bounded walk of the graph for
    hand-written losses (``nllhint.audit.handwritten``). Between those, a call costs a frame lookup and a
    dict read."""

    def __init__(self):
        self.lock = threading.RLock()
        self.depth = 0
        self.saved = None
        self.counts: dict = {}  # (id(code), f_lasti) of a backward() site -> calls seen
        self.logs: set = set()  # the sites whose graph had a log at the first walk

    def acquire(self) -> None:
        with self.lock:
            self.depth += 1
            if self.depth > 1:
                return
            self.counts, self.logs = {}, set()
            try:
                import torch

                original = torch.autograd.backward  # Tensor.backward calls it too: one wrapper sees both
                self.saved = original
                torch.autograd.backward = self._wrap(original, getattr(torch.Tensor.backward, "__code__", None))
            except Exception:
                self.saved = None

    def release(self) -> None:
        with self.lock:
            if self.depth == 0:
                return
            self.depth -= 1
            if self.depth > 0 or self.saved is None:
                return
            import torch

            if getattr(torch.autograd.backward, "__wrapped__", None) is self.saved:
                torch.autograd.backward = self.saved
            self.saved = None

    def _wrap(self, original, tensor_backward):
        counts, logs, getframe = self.counts, self.logs, sys._getframe
        import torch

        compiling = torch.compiler.is_compiling

        @functools.wraps(original)
        def backward(*args, **kwargs):
            __tracebackhide__ = True  # noqa: F841
            if _ACTIVE and not compiling():
                frame = getframe(1)
                if frame.f_code is tensor_backward:  # loss.backward(): the user's line is one further up
                    frame = frame.f_back
                key = (id(frame.f_code), frame.f_lasti)
                n = counts[key] = counts.get(key, 0) + 1
                if n <= _ACTIVE[-1].sample and (n == 1 or key in logs):  # later walks only if logs were seen
                    _on_backward(args[0] if args else kwargs.get("tensors"), frame, key, n, logs)
                else:
                    site = _ACTIVE[-1]._sites.get(key)  # a hand-written loss with findings: count
                    if site is not None:
                        site.calls = n
            try:
                return original(*args, **kwargs)
            except BaseException as exc:
                if _ACTIVE:
                    _backward_raised(exc, getframe(0))
                raise

        return backward


_BACKWARD = _BackwardPatch()


def _caller_frame():
    """The user's frame above the audit that asks (the loss call being examined is still on the stack)."""
    return _user_frame(sys._getframe(1))


def _user_frame(frame):
    """The first of ``frame`` and its callers that is the user's (past torch's and nllhint's), or None."""
    while frame is not None:
        kind = _INTERNAL.get(id(frame.f_code)) or _classify(frame.f_code)
        if kind is _USER:
            return frame
        frame = frame.f_back
    return None


def _on_backward(tensors, frame, key, n, logs) -> None:
    try:
        watch = _ACTIVE[-1]
        frame = _user_frame(frame)
        if frame is None:
            return
        if key != (id(frame.f_code), frame.f_lasti):  # called from torch or a library: count the user's line
            key = (id(frame.f_code), frame.f_lasti)
        site = watch._sites.get(key)
        if site is not None:
            site.calls = n
        _walk_backward(watch, tensors, frame, key, n, logs)
    except Exception:
        if os.environ.get("NLLHINT_DEBUG"):
            raise


def _backward_raised(exc: BaseException, wrapper_frame) -> None:
    """A backward() that raised under the watch: explained like a loss call's error (see _note_raised)."""
    try:
        watch = _ACTIVE[-1]
        frame = _user_frame(wrapper_frame.f_back)
        if frame is None:
            return
        key = (id(frame.f_code), frame.f_lasti)
        site = _backward_site(watch, frame, key, _BACKWARD.counts.get(key, 1))
        site.raised += 1
        if site.raised == 1:
            _note_raised(site, exc, frame, wrapper_frame)
    except Exception:
        if os.environ.get("NLLHINT_DEBUG"):
            raise


def _backward_site(watch: "Watch", frame, key, n: int) -> _Site:
    site = watch._sites.get(key)
    if site is None:
        location_of = _lazy().location_of
        site = _Site(order=len(watch._sites), loss="backward", label="backward()", module=None,
                     location=location_of(frame.f_code.co_filename, frame.f_lineno), expression="")
        site.source = (None, None, frame.f_code.co_filename, None, frame.f_lineno)
        site.code = frame.f_code
        site.calls = n
        watch._sites[key] = site
    return site


def _walk_backward(watch: "Watch", tensors, frame, key, n: int, logs: set) -> None:
    import torch

    from .audit import handwritten

    if isinstance(tensors, torch.Tensor):
        tensors = (tensors,)
    if not isinstance(tensors, (tuple, list)):
        return
    found = []
    seen: list = []
    # a tensor subclass's __torch_function__ is user code: it must not run for the numel/grad_fn reads
    with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
        for t in tensors[:4]:
            if isinstance(t, torch.Tensor) and t.numel() == 1:
                found += [f for f in handwritten.walk(t, seen) if f.kind not in {g.kind for g in found}]
    if seen:
        logs.add(key)
    if not found:
        return
    site = _backward_site(watch, frame, key, n)
    site.label = "hand-written loss"
    for item, hint in handwritten.at_backward(found, frame, _lazy().location_of):
        if item.code in site.findings:
            continue
        site.findings[item.code] = [_hand_finding(item, hint, site.location), None, 1]


def _hand_finding(item, hint, location) -> Finding:
    """A hand-written-loss finding, with its registry entry's category and severity."""
    from .audit import handwritten

    entry = handwritten.BY_CODE[item.code]
    return Finding(code=item.code, category=entry.category, severity=entry.severity, title=hint.title,
                   message=hint.message, fix=hint.fix, location=location)


def walk_cell(watch: "Watch", tree, filename: str, namespace: dict) -> None:
    """At the end of a ``%%losscheck`` cell (the watch still running): the hand-written losses the cell
    assigned but never passed to backward() (``handwritten.at_cell_end``), one row per assignment line."""
    try:
        from .audit import handwritten

        skip = {code for site in watch._sites.values() if site.loss == "backward" for code in site.findings}
        location_of = _lazy().location_of
        for line, expression, item, hint in handwritten.at_cell_end(tree, filename, namespace, location_of, skip):
            key = ("cell end", filename, line)
            site = watch._sites.get(key)
            if site is None:
                site = _Site(order=len(watch._sites), loss="backward", label="hand-written loss", module=None,
                             location=location_of(filename, line), expression=expression, calls=1)
                site._call_done = True
                watch._sites[key] = site
            site.findings[item.code] = [_hand_finding(item, hint, site.location), None, 1]
    except Exception:
        if os.environ.get("NLLHINT_DEBUG"):
            raise


def watch(*, sample: int = DEFAULT_SAMPLE, values: bool = True, min_severity: str = "info") -> Watch:
    """Watch every loss call in a ``with`` block: ``with nllhint.watch() as report: ...``.

    sample        audit the first ``sample`` calls of each call site, then calls 16, 64, 256, ...
    values        allow bounded value reads (False: shapes, dtypes and grad_fn only; no device sync at all)
    min_severity  "info" (everything), "warning" or "error": findings below are left out of the report
    """
    return Watch(sample=sample, values=values, min_severity=min_severity)


# --- helpers -----------------------------------------------------------------------------------------------

def hide_wrapper_frames(tb) -> None:
    """Unlink the loss wrappers' frames from a traceback (for ``sys.excepthook``: Python has no
    ``__tracebackhide__``), so a script's traceback is the one it has without nllhint."""
    codes = {getattr(w, "__code__", None) for w in _PATCHES.wrappers.values()}
    while tb is not None:
        while tb.tb_next is not None and tb.tb_next.tb_frame.f_code in codes:
            tb.tb_next = tb.tb_next.tb_next
        tb = tb.tb_next


def target_out_of_range(name: str, args, kwargs):
    """The ``IndexError`` the CPU kernel would raise for a class index out of range, or None.

    On an accelerator the loss kernel asserts on the device instead, which kills the CUDA context; this
    check runs before the kernel on examined calls only: one reduction and one read (a synchronisation).
    CPU tensors raise an ordinary error by themselves and are not checked.
    """
    import torch

    bound = _bind(name, None, args, kwargs)
    target, scores = bound.get("target"), bound.get("input")
    if type(target) is not torch.Tensor or type(scores) is not torch.Tensor:
        return None  # subclasses may run user code on any op
    if (target.device.type == "cpu" and not _FORCE_DEVICE_PATH) or target.device.type == "meta":
        return None
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool or not target.numel():
        return None  # class probabilities, or nothing to check
    if scores.dim() == 0:
        return None
    classes = scores.shape[1] if scores.dim() >= 2 else scores.shape[0]
    ignore = bound.get("ignore_index", -100)
    with torch.no_grad(), torch._C.DisableTorchFunctionSubclass():
        labels = target.detach()
        if type(ignore) is int:
            labels = labels.masked_fill(labels == ignore, 0)
        low, high = torch.stack(torch.aminmax(labels)).tolist()  # the one read
    if 0 <= low and high < classes:
        return None
    error = IndexError(f"Target {high if high >= classes else low} is out of bounds.")
    stand_in = types.FunctionType(_stand_in(name), {"__nllhint_error__": error, "__builtins__": __builtins__}, name)
    return functools.partial(stand_in, **bound)


@functools.lru_cache(maxsize=8)
def _stand_in(name: str):
    """The code of a function that raises the error in its globals from a frame like the loss's own: same
    name, file and first line as ``torch.nn.functional.<name>``, the loss's parameters as its locals.
    So the traceback of a range error caught before the kernel reads as the CPU kernel's would, and the
    exception hints find the loss call (input, target, options) as for any loss error."""
    import torch.nn.functional as F

    original = _PATCHES.originals.get(name) or getattr(F, name)
    original = getattr(original, "__nllhint_original__", original)
    params = [p for p in _signature(name).parameters]
    source = f"def {name}({', '.join(params)}):\n    raise __nllhint_error__\n"
    space: dict = {}
    exec(compile(source, original.__code__.co_filename, "exec"), space)
    return space[name].__code__.replace(co_firstlineno=original.__code__.co_firstlineno - 1)


@functools.lru_cache(maxsize=64)
def _signature(name: str):
    import torch.nn.functional as F

    original = _PATCHES.originals.get(name) or getattr(F, name)
    return inspect.signature(getattr(original, "__nllhint_original__", original))


@functools.lru_cache(maxsize=64)
def _binder(name: str):
    """(positional names, keyword-only names, defaults) of a loss, for a fast bind of plain calls."""
    sig = _signature(name)
    positional = tuple(p.name for p in sig.parameters.values()
                       if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD))
    keyword = frozenset(p.name for p in sig.parameters.values() if p.kind == p.KEYWORD_ONLY)
    defaults = {p.name: p.default for p in sig.parameters.values() if p.default is not p.empty}
    simple = all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
                 for p in sig.parameters.values())
    return positional, keyword, defaults, simple


def _bind(name: str, original, args, kwargs) -> dict:
    """The call's arguments by parameter name, defaults filled in ({} when they do not bind)."""
    try:
        positional, keyword, defaults, simple = _binder(name)
        if simple and len(args) <= len(positional):
            bound = dict(defaults)
            bound.update(zip(positional, args))
            for key, value in kwargs.items():
                if key not in keyword and key not in positional:
                    return {}
                bound[key] = value
            return bound
        found = _signature(name).bind(*args, **kwargs)
    except (TypeError, ValueError, AttributeError):
        return {}
    found.apply_defaults()
    return dict(found.arguments)


def _functional_params(name: str) -> list[str]:
    try:
        sig = _signature(name)
    except (TypeError, ValueError, AttributeError):
        return []
    return [p.name for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _module_params(cls, name: str) -> list[str]:
    """The module's forward parameters, renamed to the functional's where they differ.

    Only the functional's tensor positions count as a match: PoissonNLLLoss.forward(log_input, target)
    takes the rate first, while the functional's ``log_input`` is an option further on."""
    from .source import positional_params

    forward = positional_params(cls.forward)
    loss = _functional_params(name)
    tensors = loss[:len(forward)]
    return [p if p in tensors or not loss else (loss[i] if i < len(loss) else p) for i, p in enumerate(forward)]


def _call_node(frame):
    """The AST node of the call running in ``frame`` and its ``executing.Source`` (both cached by
    executing per file), or ``(None, None)``. No frame is kept."""
    import ast

    try:
        import executing

        ex = executing.Source.executing(frame)
        node = ex.node
        while node is not None and not isinstance(node, ast.Call):
            node = getattr(node, "parent", None)
            if isinstance(node, ast.stmt):
                node = None
        return (node, ex.source) if node is not None else (None, None)
    except Exception:
        return None, None


def _describe_call(node, source, filename: str, params, lineno: int):
    """(the call as written, one line, or the source line; a source.UserCall for names and fixes)."""
    import linecache

    text = None
    call = None
    if node is not None:
        try:
            from .source import _segment, user_call

            source_text = source.text  # (ast.get_source_segment splits a whole file char by char)
            text = _segment(source_text, source_text.splitlines(keepends=True), node, 0)[0]
            if params is not None:
                call = user_call(node, source, filename, list(params))
        except Exception:
            pass
    if not text:
        text = linecache.getline(filename, lineno).strip() or "?"
    text = " ".join(text.split())
    if len(text) > 80:
        text = text[:77] + "..."
    return text, call


def _signature_of(tensors: dict, options: dict) -> tuple:
    """What the metadata-only audits depend on: shapes, dtypes, devices, grad_fn names and options."""
    parts = []
    for name, t in tensors.items():
        fn = t.grad_fn
        parts.append((name, tuple(t.shape), t.dtype, t.device, type(fn).__name__ if fn is not None else None))
    return tuple(parts), tuple(sorted((k, repr(v)) for k, v in options.items()))


def _why_unreadable(tensors: dict) -> str | None:
    for t in tensors.values():
        try:
            if t.device.type == "meta":
                return "meta tensors"
            name = type(t).__name__
            if name in ("FakeTensor", "FunctionalTensor"):
                return "traced tensors"
        except Exception:
            return "unreadable tensors"
    return None


def _evidence(call) -> tuple[str, ...]:
    """One line per main tensor of the call, from what is already known (no new value read)."""
    lines = []
    names = [n for n in ("input", "log_probs", "target", "targets") if call.has(n)]
    shown = [(call.name(n), n) for n in names]
    width = min(max((len(e) for e, _ in shown), default=0), 24)
    for expr, name in shown:
        cached = [f for (n, _), f in call._facts.items() if n == name]
        if cached:
            summary = cached[0].summary()
        else:
            shape = ", ".join(map(str, call.shape(name) or ()))
            summary = f"{call.dtype(name)}[{shape}]"
            origin = call.origin(name)
            if origin.known:
                summary += f" from {origin.words}"
        lines.append(f"{expr[:40]:<{width}}  {summary}")
    return tuple(lines)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


# --- rendering ---------------------------------------------------------------------------------------------

SEVERITY_STYLE = {"error": "bold red", "warning": "bold yellow", "info": "bold cyan"}


def _render(report: LossReport, *, color: bool, width: int, brief: bool) -> str:
    import io

    from rich.console import Console
    from rich.padding import Padding
    from rich.text import Text

    if os.environ.get("NO_COLOR"):
        color = False
    out = io.StringIO()
    console = Console(file=out, width=max(40, width), force_terminal=color, no_color=not color,
                      color_system="standard" if color else None, force_jupyter=False,
                      force_interactive=False, highlight=False, soft_wrap=False, emoji=False)
    sites = report.sites
    head = Text()
    head.append("nllhint losscheck: ", style="bold magenta")
    summary = report.summary()
    if sys.exc_info()[1] is not None:  # printed while the cell's exception propagates (%%losscheck)
        summary = _stopped_summary(summary, sites, sys.exc_info()[1])
    head.append(summary, style="bold" if report.findings else "")
    console.print(head)
    if not report.findings and not any(s.notes for s in sites):
        return _finish(out)
    for site in sites:
        row = Text()
        row.append(site.location, style="dim")
        row.append("  ")
        row.append(site.expression, style="bold")
        row.append(f"  {site.loss}, {_plural(site.calls, 'call')}", style="dim")
        if not site.findings:
            row.append("  ok", style="green")
        console.print(Padding(row, (0, 0, 0, 2)))
        for note in site.notes:
            console.print(Padding(Text(note, style="dim"), (0, 0, 0, 4)))
        for finding, first in zip(site.findings, site.first_seen):
            line = Text()
            line.append(f"{finding.severity} {finding.code}", style=SEVERITY_STYLE.get(finding.severity, "bold"))
            line.append(f" [{finding.category}] ", style="magenta")
            line.append(finding.title)
            console.print(Padding(line, (0, 0, 0, 4)))
            if not brief:
                when = (f" (first at call {first})" if first and first > 1
                        and f"call {first}" not in finding.title + finding.message else "")
                console.print(Padding(Text(finding.message + when), (0, 0, 0, 6)))
            if finding.fix:
                fix = Text("fix: ", style="dim")
                fix.append(finding.fix, style="green")
                console.print(Padding(fix, (0, 0, 0, 6)))
    return _finish(out)


def _stopped_summary(summary: str, sites, exc: BaseException) -> str:
    """Above the traceback of a cell that died in a loss call (or of a CUDA error), never "no problems
    found": the checks did not see the call that failed, and the hint under the traceback explains it."""
    from .rules.cuda import stopped_summary

    stopped = stopped_summary(summary, exc)
    if stopped != summary or not summary.endswith(", no problems found") or not any(s.raised for s in sites):
        return stopped
    head = summary[: -len(", no problems found")]
    return f"{head}; stopped at a loss error (explained under the traceback)"


def _finish(out) -> str:
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip("\n").splitlines())
