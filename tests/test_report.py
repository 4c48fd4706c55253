"""The static report against torch and fvcore, hand-computed receptive fields, and the formats."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import msgspec
import pytest
import torch
import yaml
from emitting import LIGHTER

import archdsl
from archdsl.back.to_torch import build_module
from archdsl.ir.layers import LAYERS
from archdsl.reports.report import build_report
from archdsl.reports.report_format import FORMATS, as_dict, human
from archdsl.reports.verify import verify

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted([*ROOT.glob("specs/*.arch"), *ROOT.glob("examples/*.arch"), *ROOT.glob("tests/specs/*.arch")])


def _cases() -> list[tuple[Path, str]]:
    return [(path, n.name) for path in SPECS for n in archdsl.check([path]).networks]


def _fvcore(network: archdsl.ir.Network):  # type: ignore[name-defined, no-untyped-def]
    from fvcore.nn import FlopCountAnalysis

    counter = FlopCountAnalysis(build_module(network, init=False).eval(), torch.zeros(1, *network.input.shape))
    counter.unsupported_ops_warnings(False)
    counter.uncalled_modules_warnings(False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        counter.total()
    return counter


@pytest.mark.slow
@pytest.mark.parametrize(("path", "name"), _cases(), ids=lambda c: c.name if isinstance(c, Path) else c)
def test_totals_operators_and_every_row_equal_torch_and_fvcore(path: Path, name: str) -> None:
    network = archdsl.load_network(path, name, params=LIGHTER.get(name))
    report = build_report(network)
    model = build_module(network, init=False)
    assert report.params == sum(p.numel() for p in model.parameters())
    assert report.buffers == sum(b.numel() for b in model.buffers())
    counter = _fvcore(network)
    assert report.flops == counter.total()
    assert report.flops_by_operator == dict(counter.by_operator())
    by_module = counter.by_module()
    assert {r.name: r.flops for r in report.rows} == {r.name: by_module.get(r.name, 0) for r in report.rows}
    modules = dict(model.named_modules())
    assert all(r.name in modules for r in report.rows), "row names are the built module's paths"


def _fields(spec: str) -> list[tuple[str, tuple[float, ...], tuple[float, ...]]]:
    report = build_report(archdsl.load_network(source=spec))
    return [(r.name, r.receptive_field, r.jump) for r in report.rows]


def test_receptive_field_of_a_strided_dilated_stack() -> None:
    rows = _fields("""network n {
        input [1, 64, 64]
        conv(4, 3, p=1)            # r 3, j 1
        conv(4, 3, s=2, p=1)       # r 5, j 2
        conv(4, 3, p=2, d=2)       # effective 5: r 5 + 4*2 = 13, j 2
        maxpool(2)                 # r 13 + 1*2 = 15, j 4
        conv(4, (3, 1), p=(1, 0))  # r 15 + 2*4 = 23 along height, 15 along width
    }""")
    assert rows == [
        ("conv1", (3, 3), (1, 1)),
        ("conv2", (5, 5), (2, 2)),
        ("conv3", (13, 13), (2, 2)),
        ("maxpool1", (15, 15), (4, 4)),
        ("conv4", (23, 15), (4, 4)),
    ]


def test_receptive_field_of_an_inception_block_is_its_widest_branch() -> None:
    rows = dict((name, rf) for name, rf, _ in _fields("""
    block three(c) {
        concat {
            branch { conv(c, 1) }                              # r 1
            branch { conv(c, 1); conv(c, 3, p=1) }             # r 3
            branch { maxpool(3, s=1, p=1); conv(c, 5, p=2) }   # r 3 + 4 = 7
        }
    }
    network n { input [3, 32, 32]; conv(8, 3, s=2, p=1); three(4) }"""))
    # After the stem (r 3, j 2): widest branch 7 -> 3 + (7 - 1) * 2 = 15.
    assert rows["three1"] == (15, 15)
    assert rows["three1.conv1"] == (3, 3) and rows["three1.conv3"] == (7, 7) and rows["three1.conv4"] == (15, 15)


SCHEMA_TOTALS = {"params", "trainable_params", "inference_params", "folded_norms", "buffers", "flops", "all_ops",
                 "activations", "activation_bytes"}
SCHEMA_ROW = {"name": str, "kind": str, "type": str, "detail": str, "depth": int, "output": list, "params": int,
              "buffers": int, "flops": int, "all_ops": int, "activations": int, "receptive_field": list,
              "jump": list}


@pytest.mark.parametrize("path", sorted(ROOT.glob("specs/*.arch")), ids=lambda p: p.stem)
def test_json_report_of_every_zoo_spec_follows_the_schema(path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "archdsl", "report", str(path), "--format", "json"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert set(data) == {"network", "input", "output", "outputs", "totals", "flops_by_operator", "layers"}
    assert data["outputs"][0]["shape"] == data["output"]
    assert set(data["totals"]) == SCHEMA_TOTALS and all(isinstance(v, int) for v in data["totals"].values())
    assert data["layers"], "a network has layers"
    for row in data["layers"]:
        assert {k: type(v) for k, v in row.items()} == SCHEMA_ROW
    assert sum(r["params"] for r in data["layers"] if r["depth"] == 1) == data["totals"]["params"]


def test_json_report_gives_every_output() -> None:
    run = subprocess.run([sys.executable, "-m", "archdsl", "report", str(ROOT / "specs" / "googlenet_aux.arch"),
                          "--format", "json"], capture_output=True, text=True)
    assert json.loads(run.stdout)["outputs"] == [
        {"name": "logits", "shape": [1000], "training_only": False},
        {"name": "aux_logits2", "shape": [1000], "training_only": True},
        {"name": "aux_logits1", "shape": [1000], "training_only": True}]


def test_yaml_and_json_carry_the_same_data() -> None:
    report = build_report(archdsl.load_network(ROOT / "specs" / "resnet50.arch"))
    assert yaml.safe_load(FORMATS["yaml"](report, 2)) == json.loads(FORMATS["json"](report, 2)) == as_dict(report, 2)


def test_text_table_fits_100_columns_and_depth_groups_blocks() -> None:
    report = build_report(archdsl.load_network(ROOT / "specs" / "densenet121.arch"))
    text = FORMATS["text"](report, None)
    assert max(len(line) for line in text.splitlines()) <= 100
    shallow = FORMATS["text"](report, 1)
    assert "denseblock1" not in shallow and "features" in shallow
    assert "denseblock1" in FORMATS["text"](report, 2)
    assert "7,978,856 (7.98M)" in shallow and "2,865,546,752 (2.87G)" in shallow
    csv_lines = FORMATS["csv"](report, 1).splitlines()
    assert csv_lines[0].startswith("name,kind,type") and len(csv_lines) == 1 + len(report.at_depth(1))
    assert "| features | seq |" in FORMATS["markdown"](report, 1)


def test_human_units() -> None:
    assert [human(v) for v in (999, 1500, 25_557_032, 4_111_512_576)] == ["999", "1.50K", "25.56M", "4.11G"]


def test_verify_names_the_layer_where_counts_part(monkeypatch: pytest.MonkeyPatch) -> None:
    network = archdsl.load_network(ROOT / "tests" / "specs" / "kitchen_sink.arch", "signal")
    assert verify(network, build_report(network)) == []
    wrong = msgspec.structs.replace(LAYERS["linear"], flops=lambda a, t, o: ("linear", 1))
    monkeypatch.setitem(LAYERS, "linear", wrong)
    problems = verify(network, build_report(network))
    assert [p.code.id for p in problems] == ["E401"]
    assert "first at `linear1`: 1 against 64" in problems[0].message


def test_report_command_verifies_and_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "report.md"
    run = subprocess.run([sys.executable, "-m", "archdsl", "report", str(ROOT / "specs" / "googlenet.arch"),
                          "--verify", "--depth", "1", "--format", "markdown", "-o", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "verified: 6,624,904 parameters equal torch's, 1,504,878,688 FLOPs equal fvcore's" in run.stderr
    assert "Warning:" not in run.stderr, "fvcore's import would print torch.jit's deprecation warning"
    assert "| inception3a | inception |" in out.read_text()
    smaller = subprocess.run([sys.executable, "-m", "archdsl", "report", str(ROOT / "specs" / "resnet50.arch"),
                              "--input", "3,64,64", "--format", "json"], capture_output=True, text=True)
    assert json.loads(smaller.stdout)["layers"][-2]["output"] == [2048]


@pytest.mark.parametrize(("suffix", "fmt"), [(".json", "json"), (".yaml", "yaml"), (".csv", "csv"), (".md", "markdown"),
                                             (".txt", "text")])
def test_report_format_follows_the_output_suffix_unless_given(suffix: str, fmt: str, tmp_path: Path) -> None:
    from archdsl.reports.report_format import FORMATS

    spec = ROOT / "specs" / "lenet5.arch"
    out = tmp_path / f"report{suffix}"
    run = subprocess.run([sys.executable, "-m", "archdsl", "report", str(spec), "-o", str(out)], capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    report = build_report(archdsl.load_network(spec))
    assert out.read_text() == FORMATS[fmt](report, None)
    subprocess.run([sys.executable, "-m", "archdsl", "report", str(spec), "-o", str(out), "--format", "csv"],
                   check=True)
    assert out.read_text() == FORMATS["csv"](report, None)


@pytest.mark.parametrize("command", ["report", "render", "build"])
def test_depth_below_one_is_a_usage_error(command: str, tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "archdsl", command, str(ROOT / "specs" / "lenet5.arch"), "--depth", "0",
                          "-o", str(tmp_path / "out")], capture_output=True, text=True)
    assert run.returncode == 2 and "--depth: takes a whole number of block levels, at least 1" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_input_of_another_rank_is_a_usage_error() -> None:
    """--input 64,64 on a 2-D network used to make it a 1-D one without a word."""
    run = subprocess.run([sys.executable, "-m", "archdsl", "report", str(ROOT / "specs" / "resnet18.arch"),
                          "--input", "64,64"], capture_output=True, text=True)
    assert run.returncode == 2 and run.stdout == ""
    assert "the input given, [64, 64], has 2 sizes; network `resnet18` takes 3" in run.stderr
    assert "help: give C, H, W" in run.stderr
