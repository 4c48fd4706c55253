"""The Python API: load specs, check them, get checked networks. The CLI is a thin layer over this."""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from msgspec import Struct, field

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.diagnostics import ArchError, Diagnostic, WarningPolicy, did_you_mean
from archdsl.elaboration.checks import run_checks
from archdsl.elaboration.elaborate import Elaborator
from archdsl.elaboration.limits import MAX_PARAMS
from archdsl.front.loader import Program, load
from archdsl.front.syntax import Definition
from archdsl.ir.values import Value

if TYPE_CHECKING:
    from torch import nn


class CheckResult(Struct):
    networks: list[ir.Network] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    warning_counts: dict[int, int] = field(default_factory=dict)  # warnings of each network, by id
    programs: dict[int, Program] = field(default_factory=dict)  # the program of each network, by id
    params: dict[str, Value] = field(default_factory=dict)  # the network arguments given to check
    input_shape: tuple[int, ...] | None = None  # the input type given to check, if any

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def check(files: str | Path | Sequence[str | Path] = (), *, source: str | None = None, network: str | None = None,
          params: Mapping[str, Value] | None = None, input_shape: tuple[int, ...] | None = None,
          allow: Collection[str] = (), deny: Collection[str] = (), max_params: int = MAX_PARAMS) -> CheckResult:
    """Check every network of ``files`` (or of ``source`` text), or just the one named ``network``.

    Each file is a program of its own (with what it imports), so files checked together
    may define blocks of the same name. ``input_shape`` ([C, *spatial]) replaces the
    networks' own input types. ``allow`` drops warnings of those codes, ``deny`` makes
    them errors (``"warnings"``: all of them); ``max_params`` bounds a network's size. A network argument is
    a number, a bool, a string, or a tuple or list of them (a list is a tuple, as in a spec).
    """
    if isinstance(files, (str, Path)):  # one path, not a sequence of its characters
        files = [files]
    given = {name: _language_value(name, value) for name, value in (params or {}).items()}
    with _collecting_after():
        return _check(files, source, network, given, input_shape, allow, deny, max_params)


def _language_value(name: str, value: object) -> Value:
    """A network argument given from Python as a value of the language; TypeError where it is none."""
    if isinstance(value, (list, tuple)):
        return tuple(_language_value(name, item) for item in value)
    if isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"network argument `{name}` must be a number, a bool, a string, or a tuple or list of them; "
                    f"got {type(value).__name__}")


@contextmanager
def _collecting_after() -> Iterator[None]:
    """No garbage collection while checking: parsing and elaboration make millions of small objects that live
    until the check ends, and the cycle collector rescanned them again and again (at 4,000 blocks a check took
    1.13x the CPU time with it on, median of 6 interleaved). Collection resumes, as it was, when the check ends."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _check(files: Sequence[str | Path], source: str | None, network: str | None, params: Mapping[str, Value] | None,
           input_shape: tuple[int, ...] | None, allow: Collection[str], deny: Collection[str], max_params: int
           ) -> CheckResult:
    programs = [load([Path(f)]) for f in files] if source is None else [load(source=source)]
    result = CheckResult(params=dict(params or {}), input_shape=input_shape)
    selected = {id(p): _defined(p) for p in programs}
    if network is not None:
        selected = {key: [d for d in found if d.name == network] for key, found in selected.items()}
        if not any(selected.values()) and not any(p.sink.has_errors for p in programs):  # else it may be unread
            names = [d.name for p in programs for d in _defined(p)]
            hint = did_you_mean(network, names) or (
                "networks here: " + ", ".join(names) if names else "no networks are defined")
            result.diagnostics.append(Diagnostic(codes.UNKNOWN_NETWORK, f"no network named `{network}`", None, hint))
    for program in programs:
        result.sources.update(program.sources)
        sink = program.sink
        sink.policy = WarningPolicy(frozenset(allow), frozenset(deny), program.sources)
        if not sink.has_errors:
            for definition in selected[id(program)]:
                errors, warnings = sink.errors(), sink.warnings()
                elaborated = Elaborator(program, max_params).network(definition, params or {}, input_shape)
                if elaborated is not None:
                    sink.extend(run_checks(elaborated))
                if elaborated is not None and sink.errors() == errors:  # a denied warning fails it too
                    result.networks.append(elaborated)
                    result.programs[id(elaborated)] = program
                    result.warning_counts[id(elaborated)] = sink.warnings() - warnings
        shown = set(result.diagnostics)
        result.diagnostics.extend(d for d in sink.items if d not in shown)
    return result


def _defined(program: Program) -> list[Definition]:
    return [d for root in program.roots for d in program.networks_in(root)]


def load_network(path: str | Path | None = None, network: str | None = None, *, source: str | None = None,
                 input_shape: Sequence[int] | None = None, params: Mapping[str, Value] | None = None,
                 max_params: int = MAX_PARAMS, **more_params: Value) -> ir.Network:
    """The checked IR of one network of the spec file at ``path``, or of spec text given as ``source``.

    ``network`` names the one wanted where the spec has several; network parameters come
    as keywords (``classes=10``) or as the mapping ``params`` (for a parameter that has
    the name of one of these arguments); ``input_shape`` ([C, *spatial]) replaces the
    network's input type; ``max_params`` raises the bound on its parameters. Raises
    ArchError with every diagnostic when the spec has errors.
    """
    if (path is None) == (source is None):
        raise TypeError(f"give one spec, a path or source=TEXT; got {'neither' if path is None else 'both'}")
    given = {**more_params, **(params or {})}
    shape = tuple(input_shape) if input_shape is not None else None
    if path is not None and ("{" in str(path) or "\n" in str(path)) and not _exists(path):
        message = f"no spec file named {_shortened(str(path))}"
        raise ArchError([Diagnostic(codes.FILE_UNREADABLE, message, None, "pass spec text as source=TEXT")])
    key = (_resolved(path), source, network, repr(sorted(given.items())), shape, max_params)
    cached = _CHECKED.get(key)
    if cached is not None and all(_reads(file, text) for file, text in cached[0].items()):
        _CHECKED.move_to_end(key)
        return cached[1]
    result = check([path] if path is not None else (), source=source, network=network, params=given,
                   input_shape=shape, max_params=max_params)
    if not result.ok:
        raise ArchError(result.diagnostics, result.sources)
    if len(result.networks) != 1:
        names = ", ".join(n.name for n in result.networks) or "none"
        raise ArchError([Diagnostic(codes.UNKNOWN_NETWORK, f"expected one network, found {names}", None,
                                    "pass network=NAME")], result.sources)
    _CHECKED[key] = ({file: text for file, text in result.sources.items() if not file.startswith("<")},
                     result.networks[0])
    if len(_CHECKED) > CHECKED_KEPT:
        _CHECKED.popitem(last=False)
    return result.networks[0]


# The networks load_network checked last, by what it was given; each with the text of every file it read, so an
# edited spec or import (by content, not by time stamp) is checked again. Networks are immutable.
CHECKED_KEPT = 32
_CHECKED: OrderedDict[tuple[object, ...], tuple[dict[str, str], ir.Network]] = OrderedDict()


def _resolved(path: str | Path | None) -> str | None:
    return None if path is None else str(Path(path).resolve())


def _reads(file: str, text: str) -> bool:
    """Whether ``file`` still holds ``text``."""
    try:
        return Path(file).read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def _exists(path: str | Path) -> bool:
    """Whether a file is at ``path``; not where the text cannot be a path (too long a name)."""
    try:
        return Path(path).exists()
    except OSError:
        return False


def _shortened(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else text
    return repr(line if len(line) <= 40 else line[:40] + "...")


def build(path: str | Path | None = None, network: str | None = None, *, source: str | None = None,
          init: bool = True, input_shape: Sequence[int] | None = None, params: Mapping[str, Value] | None = None,
          max_params: int = MAX_PARAMS, weights: Mapping[str, Any] | str | Path | None = None,
          inference: bool = False, **more_params: Value) -> nn.Module:
    """The network of the spec at ``path`` (or of ``source`` text) as a ``torch.nn.Module``.

    Arguments as for ``load_network``. Weights start as the spec's ``init(...)`` says (by
    default as torchvision's VGG and MobileNet: He-normal convs, unit norms, normal(0, 0.01)
    linears); ``init=False`` keeps PyTorch's defaults. ``weights``, a state_dict or the path
    of one saved with ``torch.save`` (read with ``weights_only=True``), is then loaded
    strictly. ``inference=True`` gives the module for inference only (``runtime.for_inference``):
    in eval mode, each batch norm that follows a convolution folded into it, dropout gone,
    images laid out channels-last; the same outputs as eval mode, sooner. Do not train it.
    Raises ArchError when the spec has errors.
    """
    from archdsl.back.runtime import for_inference
    from archdsl.back.to_torch import build_module

    checked = load_network(path, network, source=source, input_shape=input_shape, params=params,
                           max_params=max_params, **more_params)
    module = build_module(checked, init=init)
    if weights is not None:
        _load(module, weights, checked.name)
    return for_inference(module) if inference else module


def _load(module: nn.Module, weights: Mapping[str, Any] | str | Path, network: str) -> None:
    """Loads ``weights`` strictly, or raises ValueError saying in a few lines which keys and shapes differ."""
    given = "the weights"
    if isinstance(weights, (str, Path)):
        import torch

        given = f"the weights in {weights}"
        weights = torch.load(weights, map_location="cpu", weights_only=True)
    if not isinstance(weights, Mapping):
        raise TypeError(f"{given} are a {type(weights).__name__}, not a state_dict")
    expected = module.state_dict()
    differences = {
        "missing": [key for key in expected if key not in weights],
        "not in the network": [key for key in weights if key not in expected],
        "of another shape": [f"{key} {list(getattr(weights[key], 'shape', []))}, not {list(value.shape)}"
                             for key, value in expected.items()
                             if key in weights and getattr(weights[key], "shape", None) != value.shape],
    }
    problems = [f"{len(keys)} {what}: " + ", ".join(keys[:3]) + (", ..." if len(keys) > 3 else "")
                for what, keys in differences.items() if keys]
    if problems:
        raise ValueError(f"{given} do not fit network `{network}`: " + "; ".join(problems) + ". Its keys are "
                         "archdsl.build(...).state_dict()'s; archdsl.back.weights maps torchvision's ConvNeXt and "
                         "LRASPP weights to them")
    module.load_state_dict(weights)


def python_source(result: CheckResult, network: ir.Network, spec_name: str, inference: bool = False) -> str:
    """The emitted Python file for one checked network of ``result``; ``inference``: with ``for_inference``."""
    from archdsl.back.to_python import python_source as emit
    from archdsl.elaboration.templates import templates

    program = result.programs[id(network)]
    return emit(templates(program, program.networks[network.name], dict(network.args)), network, spec_name,
                inference)
