"""Every assertion of the exercise tests says which function, which input and what differs.

A bare ``assert x == y`` shows a beginner only pytest's rewrite of the expression (``assert
(torch.float64 == torch.float32)``), and a plain ``pytest.raises`` only "DID NOT RAISE": neither
names the function or the input. The exercise tests use an ``assert ..., "message"`` and
facekit.testing.raises(expected, "call(input)") instead. ALLOWED lists the justified exceptions,
each with its reason; an entry that no longer matches anything is reported as stale.
"""

from __future__ import annotations

import ast

import pytest

from facekit import course

pytestmark = pytest.mark.kit

ROOT = course.repo_root()
TEST_FILES = sorted(e.tests for e in course.load().exercises)

# (test file, enclosing function, the statement's source as ast.unparse gives it): why it may stay.
ALLOWED: dict[tuple[str, str, str], str] = {}


def _unmessaged(source: str) -> list[tuple[str, int, str, str]]:
    """(enclosing function, line, kind, statement) of each bare assert and plain pytest.raises."""
    found = []

    def visit(node, function: str):
        for child in ast.iter_child_nodes(node):
            name = child.name if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else function
            if isinstance(child, ast.Assert) and child.msg is None:
                found.append((name, child.lineno, "an assert without a message", ast.unparse(child)))
            elif (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and child.func.attr == "raises"
                and isinstance(child.func.value, ast.Name)
                and child.func.value.id == "pytest"
            ):
                found.append(
                    (
                        name,
                        child.lineno,
                        "a plain pytest.raises (use facekit.testing.raises)",
                        ast.unparse(child),
                    )
                )
            visit(child, name)

    visit(ast.parse(source), "<module>")
    return found


def test_the_check_finds_bare_asserts_and_plain_raises():
    source = (
        'def test_a(ex):\n    assert ex.f() == 1\n    assert ex.g(), "g() must be true"\n'
        "    with pytest.raises(ValueError):\n        ex.h()\n"
    )
    assert [(f, line, kind.split()[1]) for f, line, kind, _ in _unmessaged(source)] == [
        ("test_a", 2, "assert"),
        ("test_a", 4, "plain"),
    ]


@pytest.mark.parametrize("test_file", TEST_FILES)
def test_every_assertion_says_what_differs(test_file):
    found = _unmessaged((ROOT / test_file).read_text(encoding="utf-8"))
    bad = [
        f"{test_file}:{line} in {function}: {kind}: {statement}"
        for function, line, kind, statement in found
        if (test_file, function, statement) not in ALLOWED
    ]
    assert not bad, (
        "a failure must name the function, the input and what differs; these do not:\n" + "\n".join(bad)
    )


def test_no_allowed_entry_is_stale():
    present = {
        (f, function, statement)
        for f in TEST_FILES
        for function, _, _, statement in _unmessaged((ROOT / f).read_text(encoding="utf-8"))
    }
    stale = [key for key in ALLOWED if key not in present]
    assert not stale, f"ALLOWED entries that match nothing any more (remove them): {stale}"
