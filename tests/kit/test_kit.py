"""The kit as shipped: every stub fails for the right reason, the trees mirror each other."""

from __future__ import annotations

import pytest

from facekit import course, progress, verify
from facekit.harness import run as harness_run

ROOT = course.repo_root()
EXERCISES = course.load().exercises
IDS = [e.id for e in EXERCISES]


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_manifest_names_existing_files(exercise):
    finding = verify.file_findings(ROOT, exercise)
    assert finding.ok, finding.detail


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_nothing_is_left_of_facekit_new_placeholders(exercise):
    from facekit import scaffold

    left = scaffold.placeholders(ROOT, exercise)
    assert not left, f"{exercise.id}: left to write ({scaffold.PLACEHOLDER}): {', '.join(left)}"


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_stub_fails_every_test_with_its_not_implemented_error(stub_run, exercise):
    finding = verify.stub_findings(stub_run, exercise)
    assert finding.ok, finding.detail


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_stub_and_reference_expose_the_same_api(apis, exercise):
    finding = verify.mirror_findings(apis, exercise)
    assert finding.ok, finding.detail


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_stub_signatures_and_docstrings_are_the_references(exercise):
    """One source: the reference's heads, as `facekit new EXERCISE --sync` copies them."""
    from facekit import scaffold

    reference = (ROOT / exercise.reference).read_text(encoding="utf-8")
    stub = (ROOT / exercise.stub).read_text(encoding="utf-8")
    differ = scaffold.stub_differences(reference, stub)
    assert not differ, (
        f"{exercise.stub}: the signature or docstring of {', '.join(differ)} is not "
        f"{exercise.reference}'s: edit the reference, then `facekit new {exercise.id} --sync`"
    )


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_reference_passes_its_tests(kit_target, exercise):
    if kit_target == "solutions":
        pytest.skip("this run already tests the reference solutions (--target solutions)")
    run = harness_run.run_tests(ROOT, "solutions", [exercise.tests])
    finding = verify.reference_findings(run, exercise)
    assert finding.ok, finding.detail


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_every_test_declares_one_manifest_function(stub_run, exercise):
    """Per-function counts sum to the exercise's total: every test is marked, and marked right."""
    result = progress.exercise_result(stub_run, exercise)
    assert result.total, f"no tests of {exercise.id} ran"
    undeclared = [n for n, r in result.tests.items() if r.function not in exercise.functions]
    assert not undeclared, (
        f"{exercise.id}: tests without a @pytest.mark.function of its own: {undeclared[:3]}"
    )
    assert sum(f.total for f in result.functions) == result.total
    untested = [f.name for f in result.functions if f.total == 0]
    assert not untested, f"{exercise.id}: no test declares {untested}"


def _module_imports(package_root) -> dict[str, set[str]]:
    """facekit's modules and the facekit modules each imports at module level (not in functions)."""
    import ast

    modules = {}
    for path in sorted(package_root.rglob("*.py")):
        parts = path.relative_to(package_root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = (path, path.name == "__init__.py")
    graph = {}
    for name, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        statements = list(tree.body)
        for node in tree.body:  # `if TYPE_CHECKING:` / try blocks at module level count too
            if isinstance(node, (ast.If, ast.Try)):
                statements += node.body + getattr(node, "orelse", [])
        found = set()
        for node in statements:
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    package = name if is_package else name.rpartition(".")[0]
                    for _ in range(node.level - 1):
                        package = package.rpartition(".")[0]
                    base = f"{package}.{base}" if base else package
                if base not in modules:
                    continue
                for alias in node.names:
                    child = f"{base}.{alias.name}"
                    found.add(child if child in modules else base)
        graph[name] = found - {name}
    return graph


def test_no_import_cycles_in_facekit():
    graph = _module_imports(ROOT / "facekit")
    assert "facekit.cli" in graph and "facekit.cli.check" in graph, "the scan finds the modules"
    seen: set[str] = set()
    stack: list[str] = []

    def visit(module):
        if module in stack:
            cycle = stack[stack.index(module) :] + [module]
            raise AssertionError("import cycle at module level: " + " -> ".join(cycle))
        if module in seen:
            return
        stack.append(module)
        for imported in sorted(graph.get(module, ())):
            visit(imported)
        stack.pop()
        seen.add(module)

    for module in sorted(graph):
        visit(module)


@pytest.mark.parametrize("exercise", EXERCISES, ids=IDS)
def test_every_function_has_a_nudge_then_a_near_answer(exercise):
    """`facekit hint EX FUNCTION` goes from a nudge to a near-answer: at least two hints each."""
    thin = {
        f: len(exercise.hints.get(f, ())) for f in exercise.functions if len(exercise.hints.get(f, ())) < 2
    }
    assert not thin, f"{exercise.id}: functions with fewer than two hints in exercises/course.toml: {thin}"
