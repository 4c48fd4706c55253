"""Spec text never becomes code: emitted files run nothing but class definitions, whatever the spec says.

Every place a string or a name can stand in a spec gets hostile text; each spec is
compiled, and every emitted file is imported (and its network built and run) in one
subprocess under an audit hook that ends the process at the first ``open``, ``exec``
or ``compile`` of foreign code, ``os.system`` or process start.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archdsl.back.codewriter import docstring_body
from archdsl.cli import main

# Text that ends a string literal of each kind and runs code after it, or breaks a line.
PAYLOADS = [
    '"""+str(open("pwned","w"))+"""',
    "'''+str(open('pwned','w'))+'''",
    '"+str(open("pwned","w"))+"',
    "\\n__import__('os').system('touch pwned')  # ",
    '\\\\"""+str(open("pwned","w"))+"""\\\\',
    '\t__import__("os").system("touch pwned")\x00',  # a tab and a NUL in the spec's text
    "ends in a quote\\\"",
]


def _spec_literal(text: str) -> str:
    """``text`` (already spelled with spec escapes) inside single quotes, its single quotes escaped."""
    return "'" + text.replace("'", "\\'") + "'"


def _specs() -> dict[str, tuple[str, list[str]]]:
    """Spec name -> (text, extra command-line arguments), one spec per place a payload can stand."""
    specs: dict[str, tuple[str, list[str]]] = {}
    for number, payload in enumerate(PAYLOADS):
        value = _spec_literal(payload)
        specs[f"block_default_{number}"] = (f"""
# a comment: {payload}
block b(m={value}) {{
    if m == {value} {{ relu }} else {{ identity }}
    residual(when=m != {value} + "x") {{ conv(in.c, 1) }}
}}
network n {{ input [3, 8, 8]; conv(4, 1); b(); b(m="other") }}
""", [])
        specs[f"network_default_{number}"] = (f"""
network n(m={value}, flag=true) {{
    input [3, 8, 8]
    conv(len(m), 1)
    if m == {value} and flag {{ relu }} else {{ identity }}
}}
""", [])
        specs[f"set_value_{number}"] = (specs[f"network_default_{number}"][0], ["--set", f"m={value}"])
    # Names the emitted code or Python itself gives a meaning to.
    specs["names"] = ("""
block open(exec=1, eval=2, compile=3, print=4) { conv(in.c + exec + eval + compile + print, 1) }
block torch(nn=1, F=2, self=3, x=4, super=5) { system: conv(in.c * nn, 1); popen: relu }
network init_weights(open=1, exec=2, os=3, sys=4, subprocess=5) {
    input [3, 8, 8]
    print: open(exec=open); exec: torch(nn=exec); getattr: conv(os + sys + subprocess, 1)
}
""", [])
    return specs


def test_hostile_text_in_every_place_runs_nothing(tmp_path: Path) -> None:
    emitted = []
    hostile_folder = tmp_path / '"""+str(open("pwned","w"))+"""'  # in the emitted docstring through the file name
    hostile_folder.mkdir()
    for name, (text, extra) in _specs().items():
        spec = hostile_folder / f'{name}"""+str(open("pwned","w"))+""".arch'
        spec.write_text(text)
        out = tmp_path / f"{name}.py"
        assert main(["compile", str(spec), "-o", str(out), *extra]) == 0, name
        emitted.append(out)
    importer = tmp_path / "importer.py"
    importer.write_text(IMPORTER)
    run = subprocess.run([sys.executable, str(importer), *map(str, emitted)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.split() == ["built"] * len(emitted)
    assert not list(tmp_path.rglob("pwned")) and not Path("pwned").exists()


def test_the_audit_hook_catches_an_emitted_file_that_runs_code(tmp_path: Path) -> None:
    """The harness above can fail: a file that opens one at import is stopped."""
    bad = tmp_path / "bad.py"
    bad.write_text('import torch\nfrom torch import nn\nopen("pwned", "w")\n\n\nclass N(nn.Module):\n    pass\n')
    importer = tmp_path / "importer.py"
    importer.write_text(IMPORTER)
    run = subprocess.run([sys.executable, str(importer), str(bad)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 97 and "open" in run.stderr, run.stdout + run.stderr
    assert not (tmp_path / "pwned").exists()


# Runs in a subprocess: torch is imported first (its own imports open files); then, under the
# hook, each emitted file is executed, its network class (the last class) built and run.
IMPORTER = '''
import os
import sys

import torch
import torch.nn.functional  # noqa: F401  (what an emitted file imports)
from torch import nn

paths = sys.argv[1:]
codes = [compile(open(path).read(), path, "exec") for path in paths]
ours = {id(code) for code in codes}
FORBIDDEN = ("open", "exec", "compile", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
             "os.startfile", "subprocess.Popen", "ctypes.dlopen", "socket.connect", "shutil.rmtree", "os.remove")


def hook(event, args):
    if event == "exec" and args and id(args[0]) in ours:
        return
    if event in FORBIDDEN:
        sys.stderr.write(f"forbidden: {event} {args!r:.200}\\n")
        sys.stderr.flush()
        os._exit(97)


sys.addaudithook(hook)
for path, code in zip(paths, codes):
    namespace = {"__name__": "emitted"}
    exec(code, namespace)
    network = [value for value in namespace.values() if isinstance(value, type) and issubclass(value, nn.Module)][-1]
    with torch.no_grad():
        network()(torch.zeros(1, 3, 8, 8))
    print("built")
'''


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text())
def test_any_text_survives_a_docstring_unchanged(text: str) -> None:
    body = docstring_body(text)
    assert ast.literal_eval(f'"""{body}"""') == text
    assert all(line.isprintable() for line in body.split("\n"))


@pytest.mark.parametrize("text", ['"', '""', '"""', 'a"""b', '\\', '\\"""', "\x00", "\r\n", "\u2028"])
def test_edge_cases_of_a_docstring(text: str) -> None:
    assert ast.literal_eval(f'"""{docstring_body(text)}"""') == text
