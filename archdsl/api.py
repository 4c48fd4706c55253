"""The Python API: load specs, check them, get checked networks. The CLI is a thin layer over this."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.checks import run_checks
from archdsl.diagnostics import ArchError, Diagnostic, did_you_mean
from archdsl.elaborate import Elaborator
from archdsl.loader import Program, load
from archdsl.syntax import Definition
from archdsl.values import Value

if TYPE_CHECKING:
    from torch import nn


@dataclass
class CheckResult:
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


def check(files: Sequence[str | Path] = (), *, source: str | None = None, network: str | None = None,
          params: Mapping[str, Value] | None = None, input_shape: tuple[int, ...] | None = None) -> CheckResult:
    """Check every network of ``files`` (or of ``source`` text), or just the one named ``network``.

    Each file is a program of its own (with what it imports), so files checked together
    may define blocks of the same name. ``input_shape`` ([C, *spatial]) replaces the
    networks' own input types.
    """
    programs = [load([Path(f)]) for f in files] if source is None else [load(source=source)]
    result = CheckResult(params=dict(params or {}), input_shape=input_shape)
    selected = {id(p): _defined(p) for p in programs}
    if network is not None:
        selected = {key: [d for d in found if d.name == network] for key, found in selected.items()}
        if not any(selected.values()):
            names = [d.name for p in programs for d in _defined(p)]
            hint = did_you_mean(network, names) or (
                "networks here: " + ", ".join(names) if names else "no networks are defined")
            result.diagnostics.append(Diagnostic(codes.UNKNOWN_NETWORK, f"no network named `{network}`", None, hint))
    for program in programs:
        result.sources.update(program.sources)
        if not program.sink.has_errors:
            for definition in selected[id(program)]:
                before = len(program.sink.items)
                elaborated = Elaborator(program).network(definition, params or {}, input_shape)
                if elaborated is not None:
                    program.sink.extend(run_checks(elaborated))
                    result.networks.append(elaborated)
                    result.programs[id(elaborated)] = program
                    result.warning_counts[id(elaborated)] = len(program.sink.items) - before
        result.diagnostics.extend(d for d in program.sink.items if d not in result.diagnostics)
    return result


def _defined(program: Program) -> list[Definition]:
    return [d for root in program.roots for d in program.networks_in(root)]


def load_network(spec: str | Path, network: str | None = None, **params: Value) -> ir.Network:
    """The checked IR of one network from a spec file path or spec text; raises ArchError on errors.

    With several networks in the spec, ``network`` names the one wanted.
    """
    is_path = isinstance(spec, Path) or (not spec.lstrip().startswith(("network", "block", "import", "#"))
                                         and "\n" not in spec)
    result = check([spec] if is_path else (), source=None if is_path else str(spec), network=network,
                   params=params)
    if not result.ok:
        raise ArchError(result.diagnostics, result.sources)
    if len(result.networks) != 1:
        names = ", ".join(n.name for n in result.networks) or "none"
        raise ArchError([Diagnostic(codes.UNKNOWN_NETWORK, f"expected one network, found {names}", None,
                                    "pass network=NAME")], result.sources)
    return result.networks[0]


def build(spec: str | Path, network: str | None = None, *, init: bool = True, **params: Value) -> nn.Module:
    """The network of ``spec`` (a path or spec text) as a ``torch.nn.Module``; raises ArchError on errors.

    Weights are initialised as torchvision's VGG and MobileNet are (He-normal convs, unit norms, normal(0, 0.01)
    linears); ``init=False`` keeps PyTorch's defaults.
    """
    from archdsl.to_torch import build_module

    return build_module(load_network(spec, network, **params), init=init)


def python_source(result: CheckResult, network: ir.Network, spec_name: str) -> str:
    """The emitted Python file for one checked network of ``result``."""
    from archdsl.honoured import fixed_parameters
    from archdsl.to_python import python_source as emit

    program = result.programs[id(network)]
    fixed = fixed_parameters(program, network, result.params, result.input_shape)
    return emit(network, list(program.networks[network.name].params), program.blocks, spec_name,
                given=result.params, fixed=fixed)
