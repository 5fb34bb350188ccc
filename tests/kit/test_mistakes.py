"""The catalogue of typical mistakes (course/<id>/mistakes.toml): its data and matcher
(facekit/mistakes.py) and its runner (facekit/harness/catalogue_run.py, as `facekit verify
--only mistakes` runs it)."""

from __future__ import annotations

import re
import shutil

import pytest

from facekit import course, mistakes, verify
from facekit.harness import catalogue_run, failure
from facekit.harness.record import Outcome, RunRecord, TestResult

pytestmark = pytest.mark.kit

ROOT = course.repo_root()
MANIFEST = course.load()


def _mistake(**fields) -> mistakes.Mistake:
    base = dict(
        id="m",
        says="a student's words",
        find="x = 1",
        replace="x = 2",
        test="test_a",
        words=("f", "differs"),
        file="solutions/ex.py",
    )
    return mistakes.Mistake(**{**base, **fields})


def _record(tests: dict) -> RunRecord:
    """A finished run with these outcomes and failure messages."""
    return RunRecord({n: TestResult(Outcome(t["outcome"]), message=t["message"]) for n, t in tests.items()})


def test_every_exercise_meets_the_courses_policy_on_mistakes():
    """The numbers are the manifest's [course.policy] (15 each, 90 in all), which `facekit
    verify --only policy` checks too."""
    policy = MANIFEST.policy
    assert policy.min_mistakes > 0 and policy.min_mistakes_total > 0, f"a policy that asks nothing: {policy}"
    counts = {e.id: len(mistakes.load(ROOT, e)) for e in MANIFEST.exercises}
    least, total = policy.min_mistakes, policy.min_mistakes_total
    assert all(n >= least for n in counts.values()), f"fewer than {least} mistakes: {counts}"
    assert sum(counts.values()) >= total, f"{sum(counts.values())} mistakes in all (< {total}): {counts}"


@pytest.mark.parametrize("exercise", [e.id for e in MANIFEST.exercises])
def test_every_patch_applies_once_and_names_a_test_of_its_exercise(exercise):
    entry = MANIFEST.get(exercise)
    tests = (ROOT / entry.tests).read_text(encoding="utf-8")
    for m in mistakes.load(ROOT, entry):
        mistakes.patched((ROOT / m.file).read_text(encoding="utf-8"), m)  # raises if stale
        name = m.test.split("::")[-1].split("[")[0]
        assert f"def {name}(" in tests, f"{exercise} mistake {m.id}: no test {name} in {entry.tests}"
        assert m.words and all(w.strip() for w in m.words), f"{exercise} mistake {m.id}: no words"


def _kit_with_policy(tmp_path, policy: str):
    """The manifest (its [course.policy] replaced by ``policy``) and the catalogues, in a copy."""
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises")
    shutil.copytree(ROOT / course.META_DIR, tmp_path / course.META_DIR)
    manifest = tmp_path / "exercises" / "course.toml"
    text = manifest.read_text(encoding="utf-8")
    start = text.index("[course.policy]")
    end = text.index("[[exercise]]")
    manifest.write_text(text[:start] + policy + "\n\n" + text[end:], encoding="utf-8")
    return manifest


def test_verify_checks_the_manifests_policy(tmp_path, weights_in_use):
    """`facekit verify --only policy` reads the numbers from the manifest: raise them above the
    catalogue and it fails, naming the count, the rule and where it is written."""
    from facekit import verify

    counts = {e.id: len(mistakes.load(ROOT, e)) for e in MANIFEST.exercises}
    first = MANIFEST.exercises[0].id
    _kit_with_policy(tmp_path, f"[course.policy]\nmin_mistakes = {counts[first] + 1}")
    findings = {f.exercise: f for f in verify.verify(tmp_path, [first], weights_in_use, checks=("policy",))}
    assert not findings[first].ok, findings
    assert f"{counts[first]} catalogued mistakes" in findings[first].detail, findings[first].detail
    assert f"at least {counts[first] + 1} (min_mistakes)" in findings[first].detail, findings[first].detail

    _kit_with_policy(tmp_path / "all", f"[course.policy]\nmin_mistakes_total = {sum(counts.values()) + 1}")
    findings = {
        f.exercise: f for f in verify.verify(tmp_path / "all", None, weights_in_use, checks=("policy",))
    }
    assert all(not f.ok and "min_mistakes_total" in f.detail for f in findings.values()), findings

    _kit_with_policy(tmp_path / "met", "[course.policy]\nmin_mistakes = 1\nmin_mistakes_total = 1")
    met = verify.verify(tmp_path / "met", None, weights_in_use, checks=("policy",))
    assert [f.exercise for f in met if not f.ok] == [], met


@pytest.mark.parametrize(
    "policy, error",
    [
        ("[course.policy]\nmin_mistake = 3", "unknown key 'min_mistake'"),
        ("[course.policy]\nmin_mistakes = -1", "min_mistakes must be a whole number >= 0; got -1"),
        ('[course.policy]\nmin_mistakes = "15"', "min_mistakes must be a whole number >= 0; got '15'"),
        ("[course.policy]\nmin_mistakes_total = true", "min_mistakes_total must be a whole number"),
    ],
    ids=["unknown-key", "negative", "string", "bool"],
)
def test_a_policy_with_a_wrong_key_or_value_is_a_manifest_error(tmp_path, policy, error):
    manifest = _kit_with_policy(tmp_path, policy)
    with pytest.raises(course.ManifestError, match=re.escape(error)):
        course.load(manifest)


def test_a_patch_must_match_exactly_once():
    assert mistakes.patched("a\nx = 1\n", _mistake()) == "a\nx = 2\n"
    with pytest.raises(mistakes.CatalogueError, match="does not occur"):
        mistakes.patched("y = 1\n", _mistake())
    with pytest.raises(mistakes.CatalogueError, match="occurs 2 times"):
        mistakes.patched("x = 1\nx = 1\n", _mistake())


def test_first_message_drops_pytests_explanation():
    assert failure.first_message("f(x): shape differs\nassert (2,) == (3,)") == "f(x): shape differs"
    assert failure.first_message("assert 2 == 1\n +  where 2 = f()") == ""
    assert (
        failure.first_message("Tensor-likes are not close!\n\nMismatched")
        == "Tensor-likes are not close!\n\nMismatched"
    )


@pytest.mark.parametrize(
    "tests, ok, why",
    [
        ({"t::test_a": {"outcome": "passed", "message": ""}}, False, "survives"),
        ({"t::test_a": {"outcome": "failed", "message": "assert 2 == 1"}}, False, "lacks"),
        ({"t::test_a": {"outcome": "failed", "message": "F(x): the values DIFFERS"}}, True, "caught"),
        ({}, False, "no test matched"),
    ],
    ids=["survives", "lacks-words", "caught", "no-test"],
)
def test_judge(tests, ok, why):
    caught, detail, _ = mistakes.judge(_mistake(), _record(tests))
    assert caught is ok and why in detail, detail


def test_runner_reports_a_survivor_a_stale_patch_and_a_catch(tmp_path, weights_in_use):
    # A copy of the kit with a catalogue of three for Exercise 03, run as `verify` runs it.
    for name in ("conftest.py", "pyproject.toml", "facekit", "exercises", "solutions", "tests"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, tmp_path / name)
    mistakes.catalogue_path(tmp_path, "ex03_similarity").parent.mkdir(parents=True)
    mistakes.catalogue_path(tmp_path, "ex03_similarity").write_text(
        """
[[mistake]]
id = "caught"
says = "A match is a score above the threshold"
find = "    return score >= threshold"
replace = "    return score > threshold"
test = "test_is_match_at_and_around_the_threshold"
words = ["is_match", "equal to the threshold"]

[[mistake]]
id = "harmless"
says = "I reworded a comment"
find = "# Written so that NaN fails too: every comparison with NaN is False."
replace = "# NaN fails this comparison."
test = "test_is_match_at_and_around_the_threshold"
words = ["is_match"]

[[mistake]]
id = "stale"
says = "a patch against code that moved on"
find = "this text is not in the reference"
replace = "anything"
test = "test_is_match_at_and_around_the_threshold"
words = ["is_match"]
""",
        encoding="utf-8",
    )
    result = catalogue_run.run(tmp_path, ["ex03_similarity"], weights_in_use)["ex03_similarity"]
    finding = verify.mistake_finding("ex03_similarity", result)
    assert finding.check == "mistakes" and not finding.ok, finding
    outcomes = {o["mistake"]: o for o in result["outcomes"]}
    assert outcomes["caught"]["ok"], outcomes["caught"]
    assert not outcomes["harmless"]["ok"] and "survives" in outcomes["harmless"]["detail"]
    assert not outcomes["stale"]["ok"] and "does not apply" in outcomes["stale"]["detail"]


@pytest.fixture(scope="module")
def catalogue_findings(request, weights_in_use) -> dict[str, verify.Finding]:
    """The catalogues of the exercises whose test below this run selected (all of them in CI):
    `facekit verify --only mistakes`, in one subprocess, its forks side by side on the cores."""
    selected = [
        item.callspec.params["exercise"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_every_catalogued_mistake_is_caught_with_its_words"
    ]
    return {f.exercise: f for f in verify.mistake_findings(ROOT, selected, weights_in_use)}


@pytest.mark.parametrize("exercise", [e.id for e in MANIFEST.exercises])
def test_every_catalogued_mistake_is_caught_with_its_words(exercise, catalogue_findings):
    finding = catalogue_findings[exercise]
    assert finding.ok, f"{exercise}: {finding.detail}"


def test_confusions_name_a_failure_with_another_mistakes_signature():
    tests = "t"
    planted = _mistake(id="x", test="test_a", words=("f", "reversed"))
    other = _mistake(id="y", test="test_a", words=("f", "differs"))
    elsewhere = _mistake(id="z", test="test_b", words=("f",))
    catalogue = [planted, other, elsewhere]

    def run(**messages):
        return _record(
            {
                f"t::{name}": {"outcome": "failed" if m else "passed", "message": m}
                for name, m in messages.items()
            }
        )

    assert mistakes.confusions(planted, run(test_a="f: reversed", test_b=""), catalogue, tests) == []
    # Another entry's signature on the planted mistake's own test, or on any other test.
    found = mistakes.confusions(planted, run(test_a="f differs", test_b="f: no"), catalogue, tests)
    assert (
        len(found) == 2
        and "test_a fails with the signature of y" in found[0]
        and "test_b fails with the signature of z" in found[1]
    ), found
    # Matching both: a mislabel unless the two declare that they share the signature.
    both = run(test_a="f differs: reversed", test_b="")
    assert mistakes.confusions(planted, both, catalogue, tests), "shared, but not declared"
    sharing = mistakes.Mistake(**{**planted.__dict__, "shares": ("y",)})
    assert mistakes.confusions(sharing, both, [sharing, other, elsewhere], tests) == []
    # A patch that makes the other mistake as well: its failures name a mistake the code has.
    including = mistakes.Mistake(**{**planted.__dict__, "includes": ("z",)})
    assert mistakes.confusions(including, run(test_a="f: reversed", test_b="f"), catalogue, tests) == []


def test_shares_and_includes_must_name_other_mistakes(tmp_path):
    exercise = MANIFEST.exercises[0]
    mistakes.catalogue_path(tmp_path, exercise.id).parent.mkdir(parents=True)
    entry = 'id = "{id}"\nsays = "s"\nfind = "x"\nreplace = "y"\ntest = "test_a"\nwords = ["f"]\n'
    path = mistakes.catalogue_path(tmp_path, exercise.id)
    path.write_text("[[mistake]]\n" + entry.format(id="a") + 'includes = ["nope"]\n')
    with pytest.raises(mistakes.CatalogueError, match="nope"):
        mistakes.load(tmp_path, exercise)
    path.write_text(
        "[[mistake]]\n" + entry.format(id="a") + 'shares = ["b"]\n\n[[mistake]]\n' + entry.format(id="b")
    )
    assert [m.shares for m in mistakes.load(tmp_path, exercise)] == [("b",), ()]


@pytest.mark.parametrize("file", ["../outside.py", "/etc/passwd", "solutions/../../x.py", 3])
def test_a_mistakes_file_must_be_inside_the_kit(tmp_path, file):
    """Its file is read from the kit and written over a scratch copy: a path that leaves the kit
    is a catalogue error, before anything is read or written."""
    exercise = MANIFEST.exercises[0]
    path = mistakes.catalogue_path(tmp_path, exercise.id)
    path.parent.mkdir(parents=True)
    value = f"{file!r}".replace("'", '"')
    path.write_text(
        f'[[mistake]]\nid = "a"\nsays = "s"\nfind = "x"\nreplace = "y"\ntest = "test_a"\nwords = ["f"]\nfile = {value}\n'
    )
    with pytest.raises(mistakes.CatalogueError, match="file must be a path inside the kit"):
        mistakes.load(tmp_path, exercise)


def test_no_signature_matches_a_failure_of_the_untouched_stubs(stub_run):
    """A student who has not started sees no "looks like" line: no catalogued signature matches
    any failure of the stubs (nor one of a test that stops at another function's stub)."""
    found = []
    for exercise in MANIFEST.exercises:
        catalogue = mistakes.load(ROOT, exercise)
        for nodeid, result in stub_run.only(exercise.tests).tests.items():
            if result.failed:
                message = result.message or result.error or ""
                found += [
                    f"{nodeid}: {m.id}" for m in mistakes.matching(catalogue, exercise.tests, nodeid, message)
                ]
    assert not found, f"catalogued signatures that match a failure of the untouched stubs: {found}"
