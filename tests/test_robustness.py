"""No traceback and no hang for any input: each case here once crashed, hung or misreported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from torch import nn

import archdsl
from archdsl.api import python_source
from archdsl.elaboration.naming import module_attributes
from archdsl.reports.report import build_report

ROOT = Path(__file__).resolve().parent.parent


def _codes(source: str) -> list[str]:
    return [d.code.id for d in archdsl.check(source=source).diagnostics]


def test_a_long_else_if_chain_is_one_flat_statement() -> None:
    arms = "".join(f" else if k == {i} {{ conv({i}, 1) }}" for i in range(1, 2000))
    spec = f"network n(k=1500) {{ input [3, 8, 8]\n if k == 0 {{ relu }}{arms} else {{ identity }} }}"
    result = archdsl.check(source=spec)
    assert result.ok and result.networks[0].output.shape == (1500, 8, 8)
    assert archdsl.check(source=spec.replace("k=1500", "k=5000")).networks[0].output.shape == (3, 8, 8)


def test_many_small_networks_never_add_up_to_a_deep_expression() -> None:
    """Expression depth was kept by id() of parse nodes, which are freed and their ids reused."""
    spec = "\n".join(f"network n{i} {{ input [3, 8, 8]; relu }}" for i in range(400))
    assert _codes(spec) == []


def test_the_expression_depth_limit_still_holds() -> None:
    spec = "network n { input [3, 8, 8]; conv(" + "(" * 90 + "1" + " + 1)" * 90 + ", 1) }"
    assert _codes(spec) == []
    deep = "network n { input [3, 8, 8]; conv(" + "-" * 300 + "1, 1) }"
    assert _codes(deep) == ["E004"]


@pytest.mark.parametrize("join", ["concat { branch { linear(10) }; branch { linear(6) } }",
                                  "add { branch { linear(10) }; branch { identity } }",
                                  "residual { linear(10); relu }", "gate { linear(10); sigmoid }",
                                  "residual { linear(4); shortcut { linear(4) } }"])
def test_joins_of_flat_tensors_check_build_report_and_compile(join: str) -> None:
    spec = f"network n {{ input [3, 8, 8]; flatten; linear(10); {join} }}"
    result = archdsl.check(source=spec)
    assert result.ok, result.diagnostics
    network = result.networks[0]
    build_report(network)
    python_source(result, network, "flat.arch")
    out = archdsl.build(source=spec)(torch.zeros(2, 3, 8, 8))
    assert tuple(out.shape[1:]) == network.output.shape


def test_a_projected_shortcut_of_a_flat_tensor_says_what_to_write() -> None:
    result = archdsl.check(source="network n { input [10]; residual(shortcut=project) { linear(12) } }")
    assert [d.code.id for d in result.diagnostics] == ["E203"]
    assert result.diagnostics[0].help == "give the shortcut yourself: `shortcut { linear(12) }`"


def test_the_reserved_names_are_torchs_own(golden: Callable[[Path, str], None]) -> None:
    """The shipped list equals the installed torch's nn.Module attributes (check reads it without torch)."""
    found = {n for n in [*dir(nn.Module), *vars(nn.Module())] if not n.startswith("_")}
    path = ROOT / "archdsl" / "elaboration" / "module_attributes.txt"
    header = "".join(line + "\n" for line in path.read_text().splitlines() if line.startswith("#"))
    golden(path, header + "".join(f"{name}\n" for name in sorted(found)))
    assert module_attributes() == found


@pytest.mark.parametrize("label", sorted(module_attributes()))
def test_a_label_that_shadows_a_module_attribute_is_refused_at_check(label: str) -> None:
    assert _codes(f"network n {{ input [3, 8, 8]; {label}: conv(4, 1) }}") == ["E111"]


@pytest.mark.parametrize("label", ["plan", "output_shape", "layers", "blocks", "stem", "head", "features"])
def test_labels_that_torch_does_not_reserve_build(label: str) -> None:
    model = archdsl.build(source=f"network n {{ input [3, 8, 8]; {label}: conv(4, 1); relu }}")
    assert next(name for name, _ in model.named_children()) == label


def test_thousands_of_repeated_keywords_are_one_error() -> None:
    result = archdsl.check(source="network n { input [3, 8, 8]; conv(4, 1" + ", s=1" * 5000 + ") }")
    assert [d.message for d in result.diagnostics] == ["conv got `s` 5000 times"]
