"""Writing a report as text, markdown, JSON, YAML or CSV.

JSON and YAML share one schema (``as_dict``), documented in the README.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from archdsl.reports.report import Report, Row

TEXT_WIDTH = 100


def human(value: float) -> str:
    """12345678 -> 12.35M, as torchinfo and fvcore print counts."""
    for unit, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(value) >= size:
            return f"{value / size:.2f}{unit}"
    return f"{value:g}"


def _shape(values: tuple[float, ...]) -> str:
    return "x".join(map(str, values))


def as_dict(report: Report, depth: int | None = None) -> dict[str, Any]:
    return {
        "network": report.network,
        "input": list(report.input),
        "output": list(report.output),  # the first output's
        "outputs": [{"name": name, "shape": list(shape), "training_only": train_only}
                    for name, shape, train_only in report.each_output],
        "totals": {
            "params": report.params,
            "trainable_params": report.params,
            "inference_params": report.fused_params,
            "folded_norms": report.folded_norms,
            "buffers": report.buffers,
            "flops": report.flops,
            "all_ops": report.all_ops,
            "activations": report.activations,
            "activation_bytes": report.activation_bytes,
        },
        "flops_by_operator": report.flops_by_operator,
        "layers": [_row_dict(r) for r in report.at_depth(depth)],
    }


def _row_dict(row: Row) -> dict[str, Any]:
    return {
        "name": row.name, "kind": row.kind, "type": "layer" if row.is_layer else "block", "detail": row.detail,
        "depth": row.depth, "output": list(row.output), "params": row.params, "buffers": row.buffers,
        "flops": row.flops, "all_ops": row.all_ops, "activations": row.activations,
        "receptive_field": list(row.receptive_field), "jump": list(row.jump),
    }


def _table(report: Report, depth: int | None) -> tuple[list[str], list[list[str]]]:
    header = ["layer", "kind", "output", "params", "FLOPs", "RF", "jump"]
    rows = []
    parents: list[str] = []  # the path of the row above at each depth: a row shows its name below its parent's
    for row in report.at_depth(depth):
        del parents[row.depth - 1:]
        parent = parents[-1] + "." if parents else ""
        parents.append(row.name)
        kind = f"{row.kind} {row.detail}".strip()
        rf = _shape(row.receptive_field) if len(set(row.receptive_field)) > 1 else str(row.receptive_field[0]) \
            if row.receptive_field else "-"
        jump = _shape(row.jump) if len(set(row.jump)) > 1 else str(row.jump[0]) if row.jump else "-"
        own = row.name[len(parent):] if row.name.startswith(parent) else row.name.rsplit(".", 1)[-1]
        rows.append(["  " * (row.depth - 1) + own, kind, _shape(row.output),  # `inner_blocks.0`: a loop's
                     human(row.params) if row.params else "-", human(row.flops) if row.flops else "-", rf, jump])
    return header, rows


def _totals(report: Report) -> list[tuple[str, str]]:
    return [
        ("input", _shape(report.input)),
        ("output", report.outputs or _shape(report.output)),
        ("parameters", f"{report.params:,} ({human(report.params)}), all trainable"),
        ("for inference", f"{report.fused_params:,} parameters, {_folds(report.folded_norms)} folded into the "
                          "convolutions before them"),
        ("buffers", f"{report.buffers:,}"),
        ("FLOPs (fvcore)", f"{report.flops:,} ({human(report.flops)}), one multiply-add = one flop"),
        ("all operations", f"{report.all_ops:,} ({human(report.all_ops)}), with the element-wise work fvcore skips"),
        ("activations", f"{report.activations:,} elements, {human(report.activation_bytes)}B per sample (float32)"),
    ]


def _folds(count: int) -> str:
    return {0: "no batch norm", 1: "1 batch norm"}.get(count, f"{count} batch norms")


def to_text(report: Report, depth: int | None = None) -> str:
    header, rows = _table(report, depth)
    widths = [max(map(len, column)) for column in zip(header, *rows, strict=True)]
    budget = TEXT_WIDTH - sum(widths[2:]) - 2 * (len(header) - 1)
    widths[0] = min(widths[0], max(12, budget // 2))
    widths[1] = min(widths[1], max(12, budget - widths[0]))

    template = "  ".join([f"{{:<{w}}}" for w in widths[:3]] + [f"{{:>{w}}}" for w in widths[3:]])

    def line(cells: list[str]) -> str:
        fitted = [c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(cells, widths, strict=True)]
        return template.format(*fitted).rstrip()

    rule = "-" * min(TEXT_WIDTH, sum(widths) + 2 * (len(widths) - 1))
    lines = [f"{report.network}", rule, line(header), rule, *(line(r) for r in rows), rule]
    lines += [f"{name + ':':<16}{value}" for name, value in _totals(report)]
    lines += ["FLOPs by operator: " + ", ".join(f"{k} {human(v)}" for k, v in report.flops_by_operator.items())]
    return "\n".join(lines) + "\n"


def to_markdown(report: Report, depth: int | None = None) -> str:
    header, rows = _table(report, depth)
    lines = [f"### {report.network}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] * 3 + ["---:"] * 4) + "|"]
    lines += ["| " + " | ".join(_markdown_cell(c) for c in row) + " |" for row in rows]
    lines += ["", *(f"- **{name}**: {value}" for name, value in _totals(report))]
    return "\n".join(lines) + "\n"


def _markdown_cell(cell: str) -> str:
    """Pipes escaped; leading indentation kept (markdown would drop plain spaces)."""
    text = cell.lstrip(" ")
    return "&nbsp;" * (len(cell) - len(text)) + text.replace("|", "\\|")


def to_json(report: Report, depth: int | None = None) -> str:
    import json  # each format imports what it writes with: the text report needs none of them

    return json.dumps(as_dict(report, depth), indent=2) + "\n"


def to_yaml(report: Report, depth: int | None = None) -> str:
    import yaml

    return yaml.safe_dump(as_dict(report, depth), sort_keys=False)


def to_csv(report: Report, depth: int | None = None) -> str:
    import csv
    import io

    buffer = io.StringIO()
    columns = ["name", "kind", "type", "detail", "depth", "output", "params", "buffers", "flops", "all_ops",
               "activations", "receptive_field", "jump"]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in report.at_depth(depth):
        record = _row_dict(row)
        for key in ("output", "receptive_field", "jump"):
            record[key] = _shape(tuple(record[key]))
        writer.writerow(record)
    return buffer.getvalue()


FORMATS: dict[str, Callable[[Report, int | None], str]] = {
    "text": to_text, "markdown": to_markdown, "json": to_json, "yaml": to_yaml, "csv": to_csv,
}
