"""The ``archdsl`` command: a thin layer over the Python API.

Exit codes: 0 clean (warnings allowed), 1 errors in a spec, 2 a usage mistake.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from archdsl import __version__, api, ir
from archdsl import errorcodes as codes
from archdsl.back.output import OutputError, write_output
from archdsl.diagnostics import Diagnostic, did_you_mean, render_json, render_one, render_text
from archdsl.elaboration.evaluation import evaluate_value
from archdsl.elaboration.limits import MAX_PARAMS
from archdsl.front.loader import load
from archdsl.front.parser import parse_expression
from archdsl.ir.values import EvalError, Value, show


class UsageError(Exception):
    """A mistake in the command line itself (exit code 2)."""


class SpecError(Exception):
    """The spec has errors, already shown; carries the exit code."""

    def __init__(self, code: int):
        super().__init__(code)
        self.code = code


def _parse_sets(pairs: Sequence[str]) -> dict[str, Value]:
    values: dict[str, Value] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--set takes NAME=VALUE, got {pair!r}")
        expr, errors = parse_expression(text, f"--set {name}")
        if expr is None:
            raise UsageError(f"--set {name}: {errors[0].message}")
        try:
            values[name] = evaluate_value(expr, {}, None)
        except EvalError as error:
            quoted = f"; a string is written in quotes: --set {name}='\"{text}\"'" if text.isidentifier() else ""
            raise UsageError(f"--set {name}: {error.diagnostic.message}{quoted}") from None
    return values


def _spec_files(paths: Sequence[str]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(path.rglob("*.arch"))
            if not found:
                raise UsageError(f"no .arch files in the folder {raw}")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {raw}")
    return files


def _emit_diagnostics(diagnostics: Sequence[Diagnostic], sources: dict[str, str]) -> None:
    if diagnostics:
        print(render_text(diagnostics, sources), file=sys.stderr)


def _policy(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``api.check`` that the warning and size options set."""
    warnings = {code.id for code in codes.ALL if code.severity is codes.Severity.WARNING}
    for option, given, allowed in (("--allow", args.allow, warnings), ("--deny", args.deny, {*warnings, "warnings"})):
        wrong = [code for code in given if code not in allowed]
        if wrong:
            raise UsageError(f"{option} takes warning codes ({', '.join(sorted(warnings))})"
                             f"{' or `warnings`' if option == '--deny' else ''}, got {', '.join(wrong)}")
    return {"allow": frozenset(args.allow), "deny": frozenset(args.deny), "max_params": args.max_params}


def cmd_check(args: argparse.Namespace) -> int:
    files = _spec_files(args.files)
    result = api.check(files, network=args.network, params=_parse_sets(args.set), **_policy(args))
    if args.format == "json":
        import json  # as every module only one command needs: each command's process imports what it uses

        print(json.dumps({
            "ok": result.ok,
            "networks": [{"name": n.name, "file": n.file, "input": list(n.input.shape),
                          "output": list(n.output.shape), "args": {k: _jsonable(v) for k, v in n.args}}
                         for n in result.networks],
            "diagnostics": json.loads(render_json(result.diagnostics)),
        }, indent=2))
        return _exit_code([d for d in result.diagnostics if d.is_error])
    _emit_diagnostics(result.diagnostics, result.sources)
    names = Counter(network.name for network in result.networks)
    for network in result.networks:
        warnings = result.warning_counts[id(network)]
        note = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
        where = f" in {network.file}" if names[network.name] > 1 else ""  # same name in several files
        print(f"{network.name}{where}: {network.input} -> {network.shown_output()}{note}")
    errors = [d for d in result.diagnostics if d.is_error]
    if errors:
        print(f"{len(errors)} error{'s' if len(errors) != 1 else ''}", file=sys.stderr)
    elif not result.networks:
        print("no networks found")
    return _exit_code(errors)


def _exit_code(errors: Sequence[Diagnostic]) -> int:
    """1 for errors in a spec; 2 when every error is about the command line (no source position)."""
    if not errors:
        return 0
    return 2 if all(d.span is None for d in errors) else 1


def _jsonable(value: Value) -> object:
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value if isinstance(value, (int, float, bool, str)) else show(value)


def cmd_list(args: argparse.Namespace) -> int:
    files = _spec_files(args.paths)
    rows: list[dict[str, Any]] = []
    failed: list[Diagnostic] = []
    for file in files:
        program = load([file])
        failed.extend(d for d in program.sink.items if d.is_error)
        file_key = str(file)
        for definition in program.networks_in(file_key):
            params = {p.name: (p.default.span.text(program.sources[file_key]) if p.default else None)
                      for p in definition.params}
            rows.append({"name": definition.name, "file": str(file), "line": definition.span.line,
                         "params": params})
        if failed:
            _emit_diagnostics(failed, program.sources)
            failed = []
            rows.append({"file": str(file), "error": True})
    ok = not any(r.get("error") for r in rows)
    rows = [r for r in rows if not r.get("error")]
    if args.format == "json":
        import json

        print(json.dumps(rows, indent=2))
    else:
        for row in rows:
            signature = ", ".join(name if d is None else f"{name}={d}" for name, d in row["params"].items())
            print(f"{row['name']}({signature})  {row['file']}:{row['line']}")
    return 0 if ok else 1


def _checked(args: argparse.Namespace) -> tuple[api.CheckResult, Path]:
    """The networks of the one spec a writing command works on; diagnostics shown, errors raised as exit codes."""
    spec = Path(args.file)
    if not spec.exists():
        raise UsageError(f"no such file: {args.file}")
    result = api.check([spec], network=args.network, params=_parse_sets(args.set),
                       input_shape=_input_shape(getattr(args, "input", None)), **_policy(args))
    _emit_diagnostics(result.diagnostics, result.sources)
    errors = [d for d in result.diagnostics if d.is_error]
    if errors:
        raise SpecError(_exit_code(errors))
    return result, spec


def _checked_network(args: argparse.Namespace) -> tuple[api.CheckResult, Path]:
    """As ``_checked``, for commands that work on exactly one network."""
    result, spec = _checked(args)
    if len(result.networks) != 1:
        names = ", ".join(n.name for n in result.networks) or "none"
        raise UsageError(f"{args.file} defines several networks ({names}); choose one with -n")
    return result, spec


def cmd_compile(args: argparse.Namespace) -> int:
    result, spec = _checked_network(args)
    network = result.networks[0]
    source = api.python_source(result, network, args.file, inference=args.inference)
    write_output(args.output, source, [spec, *result.sources])
    if args.output != "-":
        print(f"{network.name}: {network.input} -> {network.shown_output()} written to {args.output}")
    return 0


def _input_shape(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        shape = tuple(int(part) for part in text.replace("x", ",").split(","))
    except ValueError:
        raise UsageError(f"--input takes C,H,W (1 to 4 positive integers), got {text!r}") from None
    if not 1 <= len(shape) <= 4 or min(shape) < 1:
        raise UsageError(f"--input takes C,H,W (1 to 4 positive integers), got {text!r}")
    return shape


def cmd_report(args: argparse.Namespace) -> int:
    from archdsl.reports.report import build_report
    from archdsl.reports.report_format import FORMATS

    result, spec = _checked_network(args)
    network = result.networks[0]
    report = build_report(network)
    if args.verify:
        from archdsl.reports.verify import verify

        problems = verify(network, report)
        _emit_diagnostics(problems, result.sources)
        if problems:
            return 1
        print(f"verified: {report.params:,} parameters equal torch's, {report.flops:,} FLOPs equal fvcore's",
              file=sys.stderr)
    fmt = args.format or REPORT_SUFFIXES.get(Path(args.output).suffix.lower(), "text")
    write_output(args.output, FORMATS[fmt](report, args.depth), [spec, *result.sources])
    if args.output != "-":
        print(f"{network.name}: {fmt} report written to {args.output}")
    return 0


# The report's format where -o names a file and --format is not given.
REPORT_SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".json": "json", ".yaml": "yaml", ".yml": "yaml",
                   ".csv": "csv"}


def _count(text: str) -> int:
    """A positive whole number, written with digits (underscores allowed: 5_000_000_000)."""
    digits = text.replace("_", "")
    if not digits.isdigit() or int(digits) < 1:
        raise argparse.ArgumentTypeError(f"takes a positive whole number, got {text!r}")
    return int(digits)


def _depth(text: str) -> int:
    """A ``--depth`` value: a whole number of block levels, at least 1."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"takes a whole number of block levels, at least 1, got {text!r}")
    return int(text)


RENDER_FORMATS = {".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png", ".pdf": "pdf"}
NO_DOT = ("drawing {suffix} needs Graphviz's `dot` program, which is not installed: "
          "`apt-get install graphviz` (Debian, Ubuntu), `brew install graphviz` (macOS); "
          "or write the DOT text with -o {stem}.dot")


def _drawing(network: ir.Network, fmt: str, depth: int | None, direction: str = "TB") -> str | bytes:
    """The network drawn as DOT text, or as SVG/PNG/PDF bytes by Graphviz's dot program."""
    import graphviz

    from archdsl.reports.to_dot import to_graph

    graph = to_graph(network, depth, direction)
    if fmt == "dot":
        return graph.source
    try:
        return graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise MissingDot from None


class MissingDot(Exception):
    """Graphviz's dot program is not installed."""


def cmd_render(args: argparse.Namespace) -> int:
    result, spec = _checked_network(args)
    network = result.networks[0]
    target = args.output or f"{network.name}.svg"
    suffix = ".dot" if target == "-" else Path(target).suffix.lower()
    if suffix not in RENDER_FORMATS:
        raise UsageError(f"-o must be - (DOT text on standard output) or end in one of "
                         f"{', '.join(RENDER_FORMATS)}, got {target}")
    try:
        data = _drawing(network, RENDER_FORMATS[suffix], args.depth, args.direction)
    except MissingDot:
        raise UsageError(NO_DOT.format(suffix=suffix, stem=Path(target).stem)) from None
    write_output(target, data, [spec, *result.sources])
    if target != "-":
        print(f"{network.name}: drawn to {target}")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    """The main job: check, then write the PyTorch source, the diagram and the report of every network."""
    from archdsl.reports.report import build_report
    from archdsl.reports.report_format import human, to_markdown

    result, spec = _checked(args)
    folder = Path(args.output)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is a file; build writes into a folder")
    inputs: list[str | Path] = [spec, *result.sources]
    for network in result.networks:
        report = build_report(network)
        base = folder / network.name
        write_output(f"{base}.py", api.python_source(result, network, args.file), inputs)
        write_output(f"{base}.md", to_markdown(report, args.depth), inputs)
        written = [(f"{base}.py", "PyTorch module, imports only torch"), (f"{base}.md", "report")]
        try:
            write_output(f"{base}.svg", _drawing(network, "svg", args.depth), inputs)
            written.append((f"{base}.svg", f"diagram, blocks to depth {args.depth}"))
        except MissingDot:
            write_output(f"{base}.dot", _drawing(network, "dot", args.depth), inputs)
            written.append((f"{base}.dot", "diagram as DOT text (install Graphviz for SVG)"))
        print(f"{network.name}: {network.input} -> {network.shown_output()}, {human(report.params)} parameters, "
              f"{human(report.flops)} FLOPs")
        for path, what in written:
            print(f"  {path:<28} {what}")
    return 0


def cmd_layers(args: argparse.Namespace) -> int:
    from archdsl import catalog

    if args.name is None:
        print(catalog.listing())
        return 0
    found = {entry.name: entry for entry in catalog.entries()}
    if args.name not in found:
        hint = did_you_mean(args.name, found)
        raise UsageError(f"no layer, prelude block or combinator named {args.name}" + (f"; {hint}" if hint else ""))
    print(catalog.describe(found[args.name]))
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from archdsl.explanations import explain

    known = {code.id: code for code in codes.ALL}
    wanted = args.code.upper()
    if wanted not in known:
        hint = did_you_mean(wanted, known)
        raise UsageError(f"no diagnostic code {args.code}" + (f"; {hint}" if hint else "") +
                         f" (the codes: {', '.join(known)})")
    print(explain(wanted))
    return 0


def _network_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("file", metavar="FILE", help="the spec")
    command.add_argument("-n", "--network", help="the network (when the file has several)")
    command.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                         help="set a network parameter (repeatable)")
    _checking_options(command)


def _checking_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--allow", action="append", default=[], metavar="CODE",
                         help="do not show warnings of this code (repeatable); a spec line can say "
                              "`# archdsl: allow CODE`")
    command.add_argument("--deny", action="append", default=[], metavar="CODE",
                         help="make warnings of this code errors; `--deny warnings` makes every warning one")
    command.add_argument("--max-params", type=_count, default=MAX_PARAMS, metavar="N",
                         help=f"refuse networks of more parameters (default {MAX_PARAMS:,})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="archdsl", description="A language and compiler for CNN architectures.")
    parser.add_argument("--version", action="version", version=f"archdsl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    check = commands.add_parser("check", help="check specs: every shape, with all errors and warnings")
    check.add_argument("files", nargs="+", metavar="FILE", help="spec files or folders of them")
    check.add_argument("-n", "--network", help="check only this network")
    check.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                       help="set a network parameter (repeatable), e.g. --set classes=10")
    check.add_argument("--format", choices=("text", "json"), default="text")
    _checking_options(check)
    check.set_defaults(run=cmd_check)

    compile_ = commands.add_parser("compile", help="write the network as a self-contained PyTorch .py file")
    _network_options(compile_)
    compile_.add_argument("-o", "--output", required=True, metavar="OUT.py", help="where to write; - for stdout")
    compile_.add_argument("--inference", action="store_true",
                          help="add for_inference(model): batch norms folded into convolutions, for eval only")
    compile_.set_defaults(run=cmd_compile)

    report = commands.add_parser("report", help="parameters, FLOPs, activations and receptive field per layer")
    _network_options(report)
    report.add_argument("--input", metavar="C,H,W", help="another input size than the spec's")
    report.add_argument("--depth", type=_depth, metavar="N", help="show blocks nested at most N deep")
    report.add_argument("--format", choices=("text", "markdown", "json", "yaml", "csv"),
                        help="default: from the -o file's suffix (.md, .json, .yaml, .csv), else text")
    report.add_argument("--verify", action="store_true", help="check the counts against torch and fvcore")
    report.add_argument("-o", "--output", default="-", metavar="FILE", help="where to write (default: stdout)")
    report.set_defaults(run=cmd_report)

    render = commands.add_parser("render", help="draw the network with Graphviz (DOT, SVG, PNG or PDF)")
    _network_options(render)
    render.add_argument("-o", "--output", metavar="OUT",
                        help="OUT.svg, .png, .pdf or .dot, or - for DOT on stdout (default: NETWORK.svg)")
    render.add_argument("--depth", type=_depth, metavar="N", help="draw blocks nested deeper than N as single nodes")
    render.add_argument("--direction", choices=("TB", "LR"), default="TB", help="top to bottom or left to right")
    render.set_defaults(run=cmd_render)

    build = commands.add_parser("build", help="check, then write the .py module, the diagram and the report")
    _network_options(build)
    build.add_argument("-o", "--output", default="build", metavar="DIR", help="folder to write into (default: build)")
    build.add_argument("--depth", type=_depth, default=2, metavar="N",
                       help="depth of the diagram and report (default 2)")
    build.set_defaults(run=cmd_build)

    layers = commands.add_parser("layers", help="list the layers, prelude blocks and combinators, or explain one")
    layers.add_argument("name", nargs="?", metavar="NAME", help="a layer, block or combinator to describe")
    layers.set_defaults(run=cmd_layers)

    explain = commands.add_parser("explain", help="explain a diagnostic code, with a wrong and a fixed example")
    explain.add_argument("code", metavar="CODE", help="a code such as E201 or W302")
    explain.set_defaults(run=cmd_explain)

    listing = commands.add_parser("list", help="list the networks in files or folders")
    listing.add_argument("paths", nargs="+", metavar="PATH")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    listing.set_defaults(run=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.run(args))
        sys.stdout.flush()  # a reader that went away shows here, where it is handled, not at exit
        return code
    except BrokenPipeError:  # `archdsl check specs | head -1`: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        import signal

        return 128 + signal.SIGPIPE
    except (UsageError, OutputError) as error:
        print(f"archdsl: error: {error}", file=sys.stderr)
        return 2
    except SpecError as error:
        return error.code
    except KeyboardInterrupt:  # outputs are written whole or not at all (see output.py)
        print("archdsl: interrupted", file=sys.stderr)
        return 130
    except RecursionError:  # a last line of defence: limits should stop deep input earlier
        print(render_one(Diagnostic(codes.LIMIT, "the spec nests too deeply to process", None), {}), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
