"""The Python back end against ``archdsl.build`` on generated specs (issue 10, item 4).

``specgen`` writes specs that check clean: blocks taking parameters (tuples among them, defaults
that read ``in``), ``if`` / ``when`` on parameters and on ``in``, ``for`` / ``repeat``, every
combinator, named and unnamed steps. Each is compiled, run in a fresh namespace and compared
with ``archdsl.build`` at the compiled arguments and with each network parameter at another
value: the same state_dict keys and shapes and the same outputs for the same weights, or a
``ValueError`` naming the parameter where the checker refuses the value.
``benchmarks/emitted_differential.py`` runs the same comparison on many more specs.
"""

from __future__ import annotations

import os
import random

import specgen
from emitting import problems
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

# 200 a run keeps the suite under ten minutes; the benchmark runs tens of thousands (ARCHDSL_EMITTED_CASES).
CASES = int(os.environ.get("ARCHDSL_EMITTED_CASES", "200"))


@settings(max_examples=CASES, deadline=None, derandomize=True, database=None, phases=[Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.integers(0, 2**63))
def test_emitted_python_equals_build_on_generated_specs(seed: int) -> None:
    text = specgen.network_spec(random.Random(seed))
    assert list(problems(text, values=1)) == [], text
