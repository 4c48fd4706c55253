"""Every diagnostic code has a bad example in examples/errors/ whose full `archdsl check` output is a golden file.

The golden files hold what the real command prints (run in a subprocess from the repository root with
relative paths, so they do not depend on the machine); the JSON comparison runs the CLI in-process.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import archdsl
from archdsl import cli, errorcodes
from archdsl.diagnostics import render_text

ROOT = Path(__file__).resolve().parent.parent
ERRORS = ROOT / "examples" / "errors"
EXAMPLES = sorted(ERRORS.glob("*.arch"))
# Codes no example can show, and why; the test below fails once one of them gets an example or stops existing.
NOT_SHOWN = {"E401": "raised only by `report --verify` when archdsl's counts differ from torch's or fvcore's"}
# Codes about the command line rather than a spec: exit code 2.
USAGE = {"E110"}
STARTS_WITH_LOCATION = re.compile(r"^\S+:\d+:\d+:")
LOCATED = re.compile(r"^(?P<file>\S+):(?P<line>\d+):(?P<column>\d+): "
                     r"(?P<severity>error|warning)\[(?P<code>[EW]\d{3})\]: (?P<message>.+)$")
UNLOCATED = re.compile(r"^archdsl: (?P<severity>error|warning)\[(?P<code>[EW]\d{3})\]: (?P<message>.+)$")
NOTE = re.compile(r"^  note: in block `(?P<block>\w+)` called at (?P<file>\S+):(?P<line>\d+):(?P<column>\d+)$")


def code_of(path: Path) -> str | None:
    """The code an example is named after (``E201_output_too_small.arch``), or None (``many_errors.arch``)."""
    match = re.match(r"[EW]\d{3}_", path.name)
    return path.name[:4] if match else None


def extra_args(path: Path) -> list[str]:
    """Command-line arguments an example needs, from a first line ``# args: ...``."""
    first = path.read_text().splitlines()[0]
    return first.removeprefix("# args:").split() if first.startswith("# args:") else []


@functools.cache
def check_output(path: Path) -> tuple[str, str, int]:
    """(stderr, stdout, exit code) of the real `archdsl check` on one example, run once per session."""
    run = subprocess.run([sys.executable, "-m", "archdsl", "check", str(path.relative_to(ROOT)), *extra_args(path)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    return run.stderr, run.stdout, run.returncode


def check_json(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict, int]:
    monkeypatch.chdir(ROOT)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(["check", str(path.relative_to(ROOT)), *extra_args(path), "--format", "json"])
    assert err.getvalue() == ""
    return json.loads(out.getvalue()), status


def parse_text(stderr: str) -> list[dict[str, object]]:
    """The diagnostics of a text report, as the fields --format json gives them."""
    found: list[dict[str, object]] = []
    lines = stderr.splitlines()
    for index, line in enumerate(lines):
        head = LOCATED.match(line) or UNLOCATED.match(line)
        if head:
            fields = head.groupdict()
            located = "file" in fields
            found.append({
                "file": fields.get("file"), "severity": fields["severity"], "code": fields["code"],
                "message": fields["message"], "help": None, "trace": [],
                "line": int(fields["line"]) if located else None,
                "column": int(fields["column"]) if located else None,
                "width": lines[index + 2].count("^") + lines[index + 2].count("~") if located else None,
            })
        elif line.startswith("  help: "):
            found[-1]["help"] = line.removeprefix("  help: ")
        elif note := NOTE.match(line):
            frame = note.groupdict()
            trace = found[-1]["trace"]
            assert isinstance(trace, list)
            trace.insert(0, {**frame, "line": int(frame["line"]), "column": int(frame["column"])})
    return found


def test_every_code_has_an_example_and_every_example_a_code() -> None:
    shown = {code_of(p) for p in EXAMPLES} - {None}
    every = {code.id for code in errorcodes.ALL}
    assert shown - every == set(), "examples named after codes that do not exist"
    assert every - shown - set(NOT_SHOWN) == set(), "codes without an example in examples/errors/"
    assert shown & set(NOT_SHOWN) == set(), "an example exists for a code listed as not shown: drop it from NOT_SHOWN"
    assert set(NOT_SHOWN) <= every


def test_every_example_has_a_golden_file_and_says_what_is_wrong() -> None:
    assert {p.stem for p in ERRORS.glob("*.expected")} == {p.stem for p in EXAMPLES}
    for path in EXAMPLES:
        comment = next(line for line in path.read_text().splitlines() if not line.startswith("# args:"))
        assert comment.startswith("# "), f"{path.name} does not open with a comment saying what is wrong"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_output_equals_the_golden_file(path: Path, golden: Callable[[Path, str], None]) -> None:
    stderr, stdout, status = check_output(path)
    golden(path.with_suffix(".expected"), f"{stderr}{stdout}exit: {status}\n")
    assert "Traceback" not in stderr + stdout


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_the_example_shows_its_code_with_the_right_exit_status(path: Path) -> None:
    stderr, _, status = check_output(path)
    code = code_of(path) or "E"
    severity = "warning" if code.startswith("W") else "error"
    if code_of(path):
        assert f"{severity}[{code}]: " in stderr
    assert status == (0 if severity == "warning" else 2 if code in USAGE else 1)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_each_located_diagnostic_quotes_its_line_and_underlines_its_column(path: Path) -> None:
    lines = check_output(path)[0].splitlines()
    for index, line in enumerate(lines):
        if not STARTS_WITH_LOCATION.match(line):
            continue
        head = LOCATED.match(line)
        assert head, f"not `file:line:col: severity[CODE]: message`: {line}"
        number, column = int(head["line"]), int(head["column"])
        source = (ROOT / head["file"]).read_text().splitlines()[number - 1]
        assert lines[index + 1] == f"{number} | {source}"
        gutter = " " * len(str(number)) + " | "
        assert re.fullmatch(re.escape(gutter) + " " * (column - 1) + r"\^~*", lines[index + 2]), lines[index + 2]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_each_note_points_at_the_call_of_its_block(path: Path) -> None:
    for line in check_output(path)[0].splitlines():
        if note := NOTE.match(line):
            source = (ROOT / note["file"]).read_text().splitlines()[int(note["line"]) - 1]
            assert re.match(rf"{note['block']}\b", source[int(note["column"]) - 1:]), line


def underline_width(diagnostic: dict) -> int | None:
    """How wide the text underlines a JSON diagnostic's span: to its end, or to the end of a first line."""
    if diagnostic["line"] is None:
        return None
    if diagnostic["end_line"] == diagnostic["line"]:
        return max(1, diagnostic["end_column"] - diagnostic["column"])
    first = (ROOT / diagnostic["file"]).read_text().splitlines()[diagnostic["line"] - 1]
    return len(first) + 1 - diagnostic["column"]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_json_lists_the_same_diagnostics_as_the_text(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stderr, _, status = check_output(path)
    data, json_status = check_json(path, monkeypatch)
    listed = [{key: d[key] for key in ("file", "severity", "code", "message", "help", "trace", "line", "column")}
              | {"width": underline_width(d)} for d in data["diagnostics"]]
    assert listed == parse_text(stderr)
    assert listed, "an example with no diagnostics"
    assert json_status == status
    assert data["ok"] == (status == 0)


def test_one_run_reports_every_error_of_a_file() -> None:
    stderr, _, _ = check_output(ERRORS / "many_errors.arch")
    assert re.findall(r"error\[(E\d+)\]", stderr) == ["E202", "E101", "E103", "E206"]
    assert stderr.endswith("\n4 errors\n")


def test_arguments_of_the_wrong_type_are_reported_after_a_shape_error() -> None:
    """An error leaves the tensor's type unknown; later layers' argument types are still checked."""
    result = archdsl.check(source="network m {\n  input [3, 32, 32]\n  conv(16, 3.5)\n  conv(16, 3, bias=1)\n"
                                  "  conv(8, (3, 3, 3))\n  maxpool(0)\n  maxpool((2, 0.5))\n  linear(10)\n}\n")
    assert [(d.code.id, d.span.line if d.span else 0) for d in result.diagnostics] == [
        ("E105", 3), ("E105", 4), ("E105", 6), ("E105", 7)]
    assert result.diagnostics[2].message == ("maxpool `k` must be an integer of at least 1, or a tuple of them "
                                             "(one per spatial axis), got 0")


def test_pytorch_and_keras_names_get_archdsl_names_as_hints() -> None:
    result = archdsl.check(source="network n {\n    input [3, 32, 32]\n    conv(16, 3, stride=2, padding=1)\n"
                                  "    BatchNorm2d\n    max_pool2d(2)\n    GlobalAveragePooling\n    fc(10)\n}\n")
    assert [d.help for d in result.diagnostics] == [f"did you mean `{name}`?"
                                                     for name in ["s", "p", "bn", "maxpool", "gap", "linear"]]


@pytest.mark.parametrize(("join", "odd"), [("concat", 1), ("add", 1)])
def test_a_join_error_points_at_the_branch_that_differs_from_the_others(join: str, odd: int) -> None:
    result = archdsl.check(source=f"network n {{\n  input [8, 16, 16]\n  {join} {{\n    branch {{ conv(8, 3, s=2) }}\n"
                                  "    branch { conv(8, 1) }\n    branch { identity }\n  }\n}\n")
    [error] = [d for d in result.diagnostics if d.is_error]
    assert error.code.id == "E205" and error.span is not None and (error.span.line, error.span.col) == (4, 5)
    assert error.help is not None and error.help.startswith(f"branch {odd} gives [8, 7, 7];")


def test_whole_network_warnings_inside_blocks_name_the_call_too() -> None:
    """W302 and W304 come from checks over the finished network; they carry the block trace as W301 does."""
    result = archdsl.check(source="block down(w) {\n  maxpool(2)\n  conv(w, 3, p=1); bn\n}\n"
                                  "block mix {\n  add { branch { conv(8, 3, s=2, p=1) }; branch { conv(8, 9) } }\n}\n"
                                  "network n {\n  input [3, 64, 64]\n  down(16)\n  down(32)\n  mix\n}\n")
    calls = [(d.code.id, tuple((f.block, f.call.line) for f in d.trace), d.count) for d in result.diagnostics]
    assert calls == [("W302", (("down", 10),), 2), ("W304", (("mix", 12),), 1)], "once per place, with a count"


def test_a_long_line_is_shown_as_a_window_around_the_mistake() -> None:
    text = "network n { input [3, 8, 8]; " + "relu; " * 100 + "conv(4, 99); " + "relu; " * 100 + "}\n"
    result = archdsl.check(source=text)
    quoted, caret = render_text(result.diagnostics, result.sources).splitlines()[1:3]
    assert quoted.startswith("1 | ...") and quoted.endswith("...") and len(quoted) < 140
    column = caret.index("^")
    assert quoted[column:column + 11] == "conv(4, 99)" and caret[column:] == "^" + "~" * 10


def test_a_file_that_ends_early_points_at_the_brace_left_open() -> None:
    result = archdsl.check(source='network n {\n    input [3, 8, 8]\n    seq { relu  # {\n    upsample(2, mode="{")\n')
    [diagnostic] = result.diagnostics
    assert diagnostic.message == "this `{` is not closed: the file ends first"
    assert diagnostic.span is not None and (diagnostic.span.line, diagnostic.span.col) == (3, 9)
    [cut] = archdsl.check(source="network n {\n    input [3, 8, 8]\n    conv(16,").diagnostics
    assert cut.message.startswith("unexpected end of file; expected ")
    [before_next] = archdsl.check(source="block a {\n    relu\n\nnetwork n {\n    input [3, 8, 8]\n}\n").diagnostics
    assert before_next.message == "this `{` is not closed: line 4 begins another definition"
    assert before_next.span is not None and (before_next.span.line, before_next.span.col) == (1, 9)


def test_an_error_inside_a_block_names_the_call_that_expanded_it() -> None:
    stderr, _, _ = check_output(ERRORS / "E201_inside_a_block.arch")
    assert ("E201_inside_a_block.arch:5:5: error[E201]: conv output height is -1" in stderr
            and "  note: in block `down` called at examples/errors/E201_inside_a_block.arch:11:5\n" in stderr)


@pytest.mark.parametrize(("source", "lines"), [
    ("block a {\n    conv(8, 3 3)\n}\nblock b {\n    relu(\n}\nnetwork n {\n    input [3, 8, 8]; a; b\n}\n", [2, 5]),
    ("block a {\n    conv(8, 3)\nnetwork n {\n    input [3, 8, 8]; a\n}\n", [1]),  # a missing `}`
    ("block a { relu }\nnetwork n {\n    input [3, 8, 8] a\n    conv(8 3)\n}\n", [3]),  # one per definition
    ("network n { input [3, 8, 8]; } }\nnetwork m { input [3, 8, 8] ) }\n", [1, 2]),
])
def test_syntax_errors_are_reported_once_per_definition(source: str, lines: list[int]) -> None:
    result = archdsl.check(source=source)
    assert [(d.code.id, d.span.line) for d in result.diagnostics if d.span] == [("E001", line) for line in lines]


def _shown(source: str, **options: object) -> list[tuple[str, int, str]]:
    result = archdsl.check(source=source, **options)  # type: ignore[arg-type]
    return [(d.code.id, d.span.line if d.span else 0, d.message) for d in result.diagnostics]


def test_an_unknown_name_with_a_body_is_an_unknown_combinator_with_a_suggestion() -> None:
    [diagnostic] = archdsl.check(source="network n { input [3, 8, 8]; concatt { branch { conv(8, 1) } } }").diagnostics
    assert (diagnostic.code.id, diagnostic.message, diagnostic.help) == (
        "E101", "unknown combinator `concatt`", "did you mean `concat`?")


def test_reserved_words_that_cannot_start_a_call_may_name_steps() -> None:
    source = "network n { input [3, 8, 8]; block: seq { conv(8, 1) }; network: relu; input: relu; true: relu }"
    model = archdsl.build(source=source)
    assert [name for name, _ in model.named_children()] == ["block", "network", "input", "true"]
    [diagnostic] = archdsl.check(source="network n { input [3, 8, 8]; for: relu }").diagnostics
    assert diagnostic.help is not None and diagnostic.help.startswith("`for` is a reserved word")


@pytest.mark.parametrize(("source", "word"), [
    ("block f(a, for) { relu }\n", "for"),  # a parameter
    ("network n(block=2) { input [3, 8, 8]; relu }", "block"),
    ("network n { input [3, 8, 8]; conv(8, 3, in=1) }", "in"),  # a keyword argument (`in` is an expression)
    ("network n { input [3, 8, 8]; conv(8, 3, else=1) }", "else"),
    ("network n { input [3, 8, 8]; conv(8, 3, p=(1).if) }", "if"),  # an attribute
    ("network n { input [3, 8, 8]; for input in [1] { relu } }", "input"),  # a loop's name
])
def test_a_reserved_word_is_no_name_anywhere(source: str, word: str) -> None:
    [diagnostic] = archdsl.check(source=source).diagnostics
    assert (diagnostic.code.id, diagnostic.help) == ("E001", f"`{word}` is a reserved word and cannot be a name")


def test_a_syntax_error_does_not_make_a_chosen_network_unknown(tmp_path: Path) -> None:
    spec = tmp_path / "two.arch"
    spec.write_text("network good { input [3]; linear(2) }\nnetwork bad { input [3] linear(2) }\n")
    assert [d.code.id for d in archdsl.check([spec], network="bad").diagnostics] == ["E001"]


def test_a_missing_brace_is_found_by_the_indentation() -> None:
    source = "network n {\n    input [3, 8, 8]\n    residual {\n        conv(3, 3, p=1)\n    relu\n}\n"
    [diagnostic] = archdsl.check(source=source).diagnostics
    assert diagnostic.message == "this `{` is not closed: the file ends first"
    assert diagnostic.span is not None and (diagnostic.span.line, diagnostic.span.col) == (3, 14)


def test_a_missing_bracket_is_pointed_at_not_the_next_line() -> None:
    [diagnostic] = archdsl.check(source="network n {\n    input [3, 32, 32\n    conv(8, 3)\n}\n").diagnostics
    assert diagnostic.message == "this `[` is not closed"
    assert diagnostic.span is not None and (diagnostic.span.line, diagnostic.span.col) == (2, 11)
    assert diagnostic.help is not None and "line 3 was read as part of it" in diagnostic.help
    # A list that spans lines and misses a comma is not a missing bracket.
    [comma] = archdsl.check(source="network n(w=[1,\n 2\n 3]) {\n    input [3, 8, 8]\n}\n").diagnostics
    assert comma.message.startswith("unexpected `3`")


def test_later_independent_errors_are_still_reported() -> None:
    source = ("network n {\n input [3, 8, 8]\n residual { conv(4, 1) }\n conv(8, 3, groups=3)\n"
              " concat { branch { conv(4, 1) }; branch { conv(4, 3) } }\n conv(8, 3, groups=3)\n"
              " gate { conv(5, 1) }\n linear(10)\n conv(3, 3)\n}\n")
    assert [(code, line) for code, line, _ in _shown(source)] == [
        ("E203", 3), ("E202", 4), ("E205", 5), ("E202", 6), ("E204", 7), ("E206", 8), ("E207", 9)]


@pytest.mark.parametrize("call", ["conv_bn_relu(8, (1, 7))", "sepconv(8, k=(3, 5))", "spatial_attention(k=(7, 3))"])
def test_prelude_blocks_take_kernels_per_axis(call: str) -> None:
    network = archdsl.load_network(source=f"network n {{ input [4, 16, 16]; {call} }}")
    assert network.output.spatial == (16, 16)


def test_the_stride_warning_is_the_same_for_a_written_and_a_projected_shortcut() -> None:
    written = "network n { input [8, 16, 16]; residual { conv(16, 3, s=2, p=1); shortcut { conv(16, 1, s=2) } } }"
    projected = "network n { input [8, 16, 16]; residual(shortcut=project) { conv(16, 3, s=2, p=1) } }"
    assert _shown(written) == _shown(projected) == []
    assert [code for code, _, _ in _shown("network n { input [8, 16, 16]; conv(16, 1, s=4) }")] == []
    assert [code for code, _, _ in _shown("network n { input [8, 16, 16]; conv(16, 2, s=3) }")] == ["W301"]


def test_a_warning_in_a_loop_is_shown_once_with_a_count() -> None:
    result = archdsl.check(source="network n { input [3, 32, 32]\n for w in [8, 16, 32] { conv(w, 3, p=1); bn } }")
    [warning] = result.diagnostics
    assert (warning.code.id, warning.count) == ("W302", 3)
    assert "note: 3 times at this place" in render_text(result.diagnostics, result.sources)
    assert result.warning_counts[id(result.networks[0])] == 3


def test_warnings_are_allowed_denied_and_silenced_on_their_line() -> None:
    source = "network n { input [3, 32, 32]\n conv(8, 3, p=1); bn\n maxpool(3, s=2) }"
    assert [code for code, _, _ in _shown(source)] == ["W301", "W302"]
    assert [code for code, _, _ in _shown(source, allow=["W302"])] == ["W301"]
    denied = archdsl.check(source=source, deny=["warnings"])
    assert not denied.ok and not denied.networks
    assert [(d.code.id, d.is_error) for d in denied.diagnostics] == [("W301", True), ("W302", True)]
    assert _shown(source.replace("bn\n", "bn  # archdsl: allow W302, W303\n"), deny=["W301"])[0][0] == "W301"
    silenced = source.replace("bn\n", "bn  # archdsl: allow W302\n").replace("s=2) }", "s=2)  # archdsl: allow W301\n}")
    assert _shown(silenced) == []
    in_a_string = 'network n { input [3, 32, 32]\n conv(8, 3, p=1); bn; dropout(len("# archdsl: allow W302") / 100) }'
    assert [code for code, _, _ in _shown(in_a_string)] == ["W302"]


def test_an_error_shown_once_still_fails_every_network_that_makes_it() -> None:
    """The sink shows a repeated error once; the second network that makes it is refused all the same."""
    source = ("block x(w) {\n    if in { maxpool(2) } else { identity }\n}\n"
              "network a { input [1, 8]; x(4) }\nnetwork b { input [2, 8]; x(2) }\n")
    result = archdsl.check(source=source)
    assert [d.code.id for d in result.diagnostics] == ["E105"] and result.networks == []
    denied = "block b { conv(8, 3, p=1); bn }\nnetwork one { input [3, 8, 8]; b }\nnetwork two { input [3, 8, 8]; b }\n"
    assert archdsl.check(source=denied, deny=["W302"]).networks == []


@pytest.mark.parametrize("source", ["networkn { input [3, 8]; relu }", "blockb { relu }", 'importx "a.arch"'])
def test_a_keyword_glued_to_a_name_is_a_name(source: str) -> None:
    """`networkn` is one word wherever it stands (it once read as `network n` at the start of a file)."""
    [diagnostic] = archdsl.check(source=source).diagnostics
    assert diagnostic.code.id == "E001" and diagnostic.message.startswith(f"unexpected `{source.split()[0]}`")


def test_a_signature_hint_shows_each_default_as_written() -> None:
    source = ("block f(a, s=1, mid=\n        a // 2) { conv(a, 3) }\n"
              "network n { input [3, 8, 8]; f(4, t=2); dropout(q=0.1); upsample(z=2) }")
    assert [d.help for d in archdsl.check(source=source).diagnostics] == [
        "the signature is f(a, s=1, mid=a // 2)",  # the definition's text, on one line
        "the signature is dropout(p=0.5)",
        "the signature is upsample(scale=2, size=…, mode=\"nearest\", align_corners=false)",  # `…`: no default
    ]


def test_the_whole_network_warnings_wait_for_its_errors_to_be_fixed() -> None:
    """As the README says: W302, W304 and W306 look at the whole network, found once it has no error."""
    fixed = (ROOT / "examples" / "warnings.arch").read_text().replace(
        "    concat {", "    a: conv(32, 1); conv(8, 1); from(@a)  # W306: nothing reads conv(8, 1)\n    concat {")
    broken = fixed.replace("    concat {", "    flatten; linear(4); conv(8, 1)\n    concat {")  # conv on a flat tensor
    assert sorted(d.code.id for d in archdsl.check(source=fixed).diagnostics) == [
        "W301", "W302", "W303", "W304", "W306"]
    found = [d.code.id for d in archdsl.check(source=broken).diagnostics]
    assert sorted(found) == ["E207", "W301", "W303"]


def test_a_line_that_ends_too_soon_says_so() -> None:
    [diagnostic] = archdsl.check(source="block b(c)\n{ relu }\n").diagnostics
    assert (str(diagnostic.span), diagnostic.message) == ("<string>:1:11", "unexpected end of line; expected `{`")


def test_an_error_repeated_at_one_place_is_shown_once_and_counted() -> None:
    """As warnings are: each pass of the loop calls the block and meets the same mistake."""
    source = ("block b(c) {\n    conv(c, 3, p=1, q=1)\n}\n"
              "network n {\n    input [3, 4, 4]\n    for w in [1, 2, 3] { b(8) }\n}\n")
    result = archdsl.check(source=source)
    [error] = result.diagnostics
    assert (error.code.id, error.count, str(error.span)) == ("E103", 3, "<string>:2:21")
    assert "  note: 3 times at this place (each pass of a loop or call of a block); the first is shown" in (
        render_text(result.diagnostics, result.sources))
