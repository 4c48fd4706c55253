"""The Python API: a str or Path is a path, spec text comes through source=, parameters and input shapes."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest
import torch

import archdsl
from archdsl import ArchError

SPEC = "network n(classes=10) { input [3, 32, 32]; conv(8, 3, p=1); gap; flatten; linear(classes) }\n"


@pytest.mark.parametrize("relative", ["networks/x.arch", "blocks_x.arch", "import.arch", "# notes.arch",
                                      "network.arch"])
def test_a_path_is_a_path_whatever_its_name_starts_with(relative: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / relative).write_text(SPEC)
    monkeypatch.chdir(tmp_path)
    assert archdsl.load_network(relative).output.shape == (10,)
    assert archdsl.load_network(Path(relative)).name == "n"
    assert isinstance(archdsl.build(relative), torch.nn.Module)
    for one in (relative, Path(relative)):  # check takes one path as well as a list (a str was its characters)
        assert [n.name for n in archdsl.check(one).networks] == ["n"]


def test_spec_text_comes_through_source() -> None:
    model = archdsl.build(source=SPEC, classes=3)
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 3)


def test_spec_text_given_as_a_path_is_told_where_it_belongs() -> None:
    with pytest.raises(ArchError) as raised:
        archdsl.build(SPEC)
    [problem] = raised.value.diagnostics
    assert problem.code.id == "E002" and problem.help == "pass spec text as source=TEXT"
    with pytest.raises(ArchError):  # longer than a file name may be: still told, never an OSError
        archdsl.build(SPEC + "#" * 300)


def test_a_path_and_source_together_are_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"^give one spec, a path or source=TEXT; got both$"):
        archdsl.build("x.arch", source=SPEC)
    with pytest.raises(TypeError, match=r"^give one spec, a path or source=TEXT; got neither$"):  # not "load_network"
        archdsl.build()


def test_input_shape_replaces_the_specs_input() -> None:
    model = archdsl.build(source=SPEC, input_shape=(3, 64, 48))
    assert model(torch.zeros(1, 3, 64, 48)).shape == (1, 10)
    assert archdsl.load_network(source=SPEC, input_shape=[3, 16, 16]).input.shape == (3, 16, 16)


def test_parameters_by_keyword_or_by_mapping_for_names_the_api_uses() -> None:
    spec = "network n(init=4, source=2) { input [3, 8, 8]; conv(init * source, 1) }"
    assert archdsl.load_network(source=spec, params={"init": 5, "source": 3}).output.shape == (15, 8, 8)
    assert archdsl.build(source=spec, init=False, params={"init": 1})(torch.zeros(1, 3, 8, 8)).shape == (1, 2, 8, 8)


STAGES = """
network n(depths=[1, 2]) {
    input [3, 8, 8]
    for i in range(len(depths)) { repeat(depths[i]) { conv(4, 3, p=1) } }
}
"""


def test_a_list_argument_is_a_tuple_as_in_a_spec() -> None:
    given = archdsl.load_network(source=STAGES, depths=[2, 1, 1])
    assert given == archdsl.load_network(source=STAGES, depths=(2, 1, 1))
    assert len(given.root.children) == 4


@pytest.mark.parametrize("value", [{"a": 1}, None, [1, object()]])
def test_an_argument_that_is_no_value_of_the_language_is_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="network argument `depths` must be a number"):
        archdsl.check(source=STAGES, params={"depths": value})


def test_network_selects_one_of_several(tmp_path: Path) -> None:
    spec = tmp_path / "two.arch"
    spec.write_text(SPEC + SPEC.replace("network n", "network m").replace("linear(classes)", "linear(2)"))
    assert archdsl.load_network(spec, network="m").output.shape == (2,)
    with pytest.raises(ArchError, match="expected one network, found n, m"):
        archdsl.load_network(spec)


def test_check_leaves_garbage_collection_as_it_found_it() -> None:
    """Collection pauses while a check runs (a speed measure, benchmarks/check_speed.py), and resumes after."""
    assert gc.isenabled()
    archdsl.check(source=SPEC)
    assert gc.isenabled()
    gc.disable()
    try:
        archdsl.check(source="network broken {")
        assert not gc.isenabled(), "a caller's choice stands"
    finally:
        gc.enable()


def test_a_second_load_of_the_same_spec_and_arguments_reuses_the_checked_network(tmp_path: Path) -> None:
    spec = tmp_path / "net.arch"
    spec.write_text(SPEC)
    first = archdsl.load_network(spec, classes=5)
    assert archdsl.load_network(str(spec), classes=5) is first  # the same file, by another spelling
    assert archdsl.load_network(spec, classes=6) is not first
    assert archdsl.load_network(source=SPEC, classes=5) is not first
    assert archdsl.load_network(source=SPEC) is archdsl.load_network(source=SPEC)


def test_an_edited_spec_or_import_is_checked_again_whatever_its_time_stamp(tmp_path: Path) -> None:
    blocks, spec = tmp_path / "blocks.arch", tmp_path / "net.arch"
    blocks.write_text("block body { conv(8, 3, p=1) }\n")
    spec.write_text('import "blocks.arch"\nnetwork n { input [3, 8, 8]; body; gap; flatten; linear(2) }\n')
    assert archdsl.load_network(spec).root.children[0].output.channels == 8
    stamp = blocks.stat().st_mtime_ns
    blocks.write_text("block body { conv(9, 3, p=1) }\n")
    os.utime(blocks, ns=(stamp, stamp))  # the same time stamp: only the content tells
    assert archdsl.load_network(spec).root.children[0].output.channels == 9
    spec.write_text(spec.read_text().replace("linear(2)", "linear(3)"))
    assert archdsl.load_network(spec).output.shape == (3,)
