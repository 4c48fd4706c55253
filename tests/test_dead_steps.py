"""Dead steps: steps whose output nothing reads are built (their weights load) but never run (W306)."""

from __future__ import annotations

import torch
from emitting import problems

import archdsl
from archdsl.reports.report import build_report
from archdsl.reports.verify import verify

RESTART = """
network restart {
    input [3, 8, 8]
    conv(4, 1); relu
    from(@in)
    conv(8, 1)
}
"""

BLOCK = """
block head(c) {
    a: conv(c, 3, p=1)
    relu
    conv(c, 1)
    output(@a)
}
network n {
    input [3, 8, 8]
    head(4)
    head(4)
}
"""


def _ran(model: torch.nn.Module, x: torch.Tensor) -> list[str]:
    ran: list[str] = []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Conv2d):
            module.register_forward_hook(lambda *_, name=name: ran.append(name))
    model(x)
    return ran


def test_a_step_nothing_reads_is_warned_built_and_never_run() -> None:
    result = archdsl.check(source=RESTART)
    assert [(d.code.id, d.span.line if d.span else 0) for d in result.diagnostics] == [("W306", 4)]
    model = archdsl.build(source=RESTART)
    assert "conv1.weight" in model.state_dict(), "its weights are there to load"
    assert _ran(model, torch.randn(1, 3, 8, 8)) == ["conv2"]
    x = torch.randn(2, 3, 8, 8)
    assert torch.equal(model(x), model.conv2(x))


def test_the_report_counts_what_runs_and_fvcore_agrees() -> None:
    network = archdsl.load_network(source=RESTART)
    report = build_report(network)
    assert report.flops == 8 * 3 * 8 * 8, "only conv2's multiply-adds"
    assert report.params == (3 * 4 + 4) + (3 * 8 + 8), "both convs' parameters"
    assert verify(network, report) == []


def test_a_block_giving_an_earlier_tensor_skips_the_steps_after_it() -> None:
    result = archdsl.check(source=BLOCK)
    assert [d.code.id for d in result.diagnostics] == ["W306"], "once per place, though called twice"
    model = archdsl.build(source=BLOCK)
    assert _ran(model, torch.randn(1, 3, 8, 8)) == ["head1.a", "head2.a"]
    assert verify(archdsl.load_network(source=BLOCK), build_report(archdsl.load_network(source=BLOCK))) == []


def test_the_emitted_class_builds_dead_steps_and_skips_them_alike() -> None:
    assert list(problems(RESTART)) == []
    assert list(problems(BLOCK)) == []
