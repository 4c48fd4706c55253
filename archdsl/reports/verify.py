"""``report --verify``: our static counts against torch's and fvcore's on the built module."""

from __future__ import annotations

import warnings

import torch

from archdsl import errorcodes as codes
from archdsl import ir
from archdsl.back.to_torch import build_module
from archdsl.diagnostics import Diagnostic
from archdsl.reports.report import Report


def verify(network: ir.Network, report: Report) -> list[Diagnostic]:
    """Empty when parameters and FLOPs agree, else an error naming the first layer where they part."""
    with warnings.catch_warnings():  # fvcore uses torch.jit, which warns of its own deprecation
        warnings.simplefilter("ignore", FutureWarning)
        from fvcore.nn import FlopCountAnalysis

    model = build_module(network, init=False).eval()
    problems = []
    measured_params = sum(p.numel() for p in model.parameters())
    if measured_params != report.params:
        problems.append(f"parameters: archdsl counts {report.params:,}, torch {measured_params:,}")
    counter = FlopCountAnalysis(model, torch.zeros(1, *network.input.shape))
    counter.unsupported_ops_warnings(False)
    counter.uncalled_modules_warnings(False)
    with warnings.catch_warnings():  # and traces with it
        warnings.simplefilter("ignore")
        total = counter.total()
    if total != report.flops:
        by_module = counter.by_module()
        first = next((r for r in report.rows if r.is_layer and by_module.get(r.name, 0) != r.flops), None)
        where = f"; first at `{first.name}`: {first.flops:,} against {by_module.get(first.name, 0):,}" if first else ""
        problems.append(f"FLOPs: archdsl counts {report.flops:,}, fvcore {total:,}{where}")
    node = network.root
    return [Diagnostic(codes.COUNT_MISMATCH, f"{network.name}: {p}", node.span,
                       "please report this: the layer registry and the built module disagree") for p in problems]
