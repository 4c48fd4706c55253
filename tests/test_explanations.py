"""`archdsl explain`'s texts: one per registered code, and every wrong example gives its code, every fix clears it.

Examples are checked from files in a temporary folder, so imports resolve there and nothing else is read.
Three codes are checked their own way: E003's examples are two files, written side by side; E110's are
commands, run as `archdsl.check(path, network=...)`; E401 cannot come from a spec (it reports a bug in
archdsl's counts), so its examples are text and only their presence is checked.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

import archdsl
from archdsl import errorcodes
from archdsl.explanations import EXPLANATIONS, WIDTH, Explanation, explain

ROOT = Path(__file__).resolve().parent.parent
IDS = [code.id for code in errorcodes.ALL]
SPEC_CODES = [i for i in IDS if i not in {"E110", "E401"}]
FILE_HEADER = re.compile(r"^# file (\S+)\n", re.M)


def test_every_code_has_an_explanation_and_every_explanation_a_code() -> None:
    assert sorted(EXPLANATIONS) == sorted(IDS)
    assert all(isinstance(e, Explanation) for e in EXPLANATIONS.values())


def _files(spec: str) -> dict[str, str]:
    """The files of an example: `# file NAME` sections, or one file `spec.arch`; the first is the one checked."""
    parts = FILE_HEADER.split(spec)
    if len(parts) == 1:
        return {"spec.arch": spec}
    assert not parts[0].strip(), "text before the first `# file` line"
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _codes(spec: str, folder: Path) -> tuple[list[str], bool]:
    """The codes checking the example gives (from every file of it), and whether it checked without errors."""
    folder.mkdir()
    paths = []
    for name, text in _files(spec).items():
        path = folder / name
        path.write_text(text)
        paths.append(path)
    result = archdsl.check(paths)
    return [d.code.id for d in result.diagnostics], result.ok


@pytest.mark.parametrize("code_id", SPEC_CODES)
def test_the_wrong_example_gives_only_its_code(code_id: str, tmp_path: Path) -> None:
    found, ok = _codes(EXPLANATIONS[code_id].wrong, tmp_path / "wrong")
    assert found and set(found) == {code_id}, found
    assert ok == code_id.startswith("W")  # a warning's example has no error


@pytest.mark.parametrize("code_id", SPEC_CODES)
def test_the_fixed_example_checks_clean(code_id: str, tmp_path: Path) -> None:
    found, ok = _codes(EXPLANATIONS[code_id].fixed, tmp_path / "fixed")
    assert ok and not found, found


def test_the_import_cycle_example_is_two_files() -> None:
    assert list(_files(EXPLANATIONS["E003"].wrong)) == ["net.arch", "blocks.arch"]
    assert list(_files(EXPLANATIONS["E003"].fixed)) == ["net.arch", "blocks.arch"]


def _command(text: str) -> tuple[Path, str]:
    words = shlex.split(text)
    assert words[:2] == ["archdsl", "check"] and words[3] == "-n" and len(words) == 5, words
    return ROOT / words[2], words[4]


def test_the_unknown_network_examples_are_commands() -> None:
    path, name = _command(EXPLANATIONS["E110"].wrong)
    wrong = archdsl.check([path], network=name)
    assert [d.code.id for d in wrong.diagnostics] == ["E110"]
    path, name = _command(EXPLANATIONS["E110"].fixed)
    fixed = archdsl.check([path], network=name)
    assert fixed.ok and not fixed.diagnostics and [n.name for n in fixed.networks] == [name]


def test_the_count_mismatch_example_is_text() -> None:
    entry = EXPLANATIONS["E401"]
    assert "--verify" in entry.wrong and "E401" in entry.wrong and entry.fixed.strip()


@pytest.mark.parametrize("code", errorcodes.ALL, ids=IDS)
def test_explain_shows_title_text_and_both_examples(code: errorcodes.Code) -> None:
    shown = explain(code.id)
    lines = shown.split("\n")
    assert lines[0] == f"{code.id}: {code.title}" and lines[1] == ""
    entry = EXPLANATIONS[code.id]
    wrong, fixed = shown.index("\nWrong:\n"), shown.index("\nFixed:\n")
    assert wrong < fixed
    for example, start, end in ((entry.wrong, wrong, fixed), (entry.fixed, fixed, len(shown))):
        block = shown[start:end].split("\n", 2)[2]  # after the heading
        assert [line.removeprefix("    ") for line in block.strip("\n").split("\n")] == example.strip("\n").split("\n")
    explanation = shown[len(lines[0]) + 2:wrong].strip("\n").split("\n")
    assert 4 <= len(explanation) <= 12, len(explanation)
    assert all(len(line) <= WIDTH for line in lines), [line for line in lines if len(line) > WIDTH]


def test_explain_refuses_an_unknown_code() -> None:
    with pytest.raises(KeyError):
        explain("E999")
