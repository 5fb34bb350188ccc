"""The synthetic class of tests/kit/synthetic_class.py graded gives what tests/kit/golden/ holds.

The golden files were written by the grader before its records were typed (issue 16, finding
5): every output that does not depend on the machine or the clock (grades.csv, grades.json,
each feedback, the LMS exports, similar.csv, the printed summary, Gradescope's results.json)
must stay the same, byte for byte. After a deliberate change to the kit's tests or to what
grading writes, write them again: ``python tests/kit/synthetic_class.py --write``.
"""

from __future__ import annotations

import difflib

import synthetic_class  # tests/kit/synthetic_class.py


def test_the_synthetic_class_is_graded_as_the_golden_files_say(tmp_path):
    out, printed = synthetic_class.grade_class(tmp_path)
    got = synthetic_class.normalised(out, printed)
    golden = synthetic_class.read_golden()
    assert sorted(got) == sorted(golden), (
        f"grading the synthetic class wrote {sorted(got)}; tests/kit/golden/ holds {sorted(golden)}"
    )
    for name in golden:
        if got[name] != golden[name]:
            diff = "".join(
                difflib.unified_diff(
                    golden[name].splitlines(True), got[name].splitlines(True), f"golden/{name}", "graded"
                )
            )
            raise AssertionError(
                f"grading the synthetic class: {name} differs from tests/kit/golden/{name} "
                f"(a deliberate change? python tests/kit/synthetic_class.py --write):\n{diff[:6000]}"
            )
