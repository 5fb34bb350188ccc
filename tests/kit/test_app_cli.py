"""``facekit app`` and ``facekit embed``: Exercise 06's app on the command line, in this process.

Run on the reference solutions (``--target solutions``) and the stand-in weights, so only
the plumbing is tested: an image enrolled and presented again scores 1.0 and wins, files
land where asked with the right contents, errors are one line with the right exit code.
The hub settings and the stand-in cache are put back after each test.
"""

from __future__ import annotations

import importlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facekit import cli, data
from facekit.cli.testing import (  # noqa: F401 (hermetic: an autouse fixture)
    assert_one_line_error,
    assert_plain_80_columns,
    flat,
    hermetic,
    run_cli,
)

SOLUTIONS = ("--target", "solutions", "--weights", "standin")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> dict[str, Path]:
    """Self-made images: the sample face twice (mirrored), and two unrelated patterns."""
    folder = tmp_path_factory.mktemp("pictures")
    face = data.sample_face()
    rng = np.random.default_rng(3)
    images = {
        "alice1.png": face,
        "alice2.png": face.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "bob1.png": Image.fromarray(rng.integers(0, 256, (90, 120, 3), dtype=np.uint8)),
        "bob2.png": Image.fromarray(np.tile(np.linspace(0, 255, 160, dtype=np.uint8), (120, 1))).convert(
            "RGB"
        ),
    }
    paths = {}
    for name, image in images.items():
        image.save(folder / name)
        paths[name] = folder / name
    return paths


def ex06():
    from facekit import trees

    return trees.load_exercise("ex06_app", "solutions")


def ranking(out: str) -> list[tuple[str, float]]:
    return [(m[1], float(m[2])) for m in re.finditer(r"^\s+\d+\. (\S+)\s+(-?\d\.\d+)$", out, re.M)]


def test_help_lists_the_app_commands(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "app" in out and "embed" in out
    for action in ("register", "login", "identify"):
        with pytest.raises(SystemExit):
            cli.main(["app", action, "--help"])
        assert "--store" in capsys.readouterr().out


def test_login_takes_several_images_and_averages_them(capsys, pictures, monkeypatch):
    p = pictures
    assert run_cli(capsys, "app", "register", "alice", p["alice1.png"], *SOLUTIONS)[0] == 0
    ex, seen = ex06(), []
    real = ex.login

    def login(store, model, name, images, **kwargs):
        seen.append([str(i) for i in images])
        return real(store, model, name, images, **kwargs)

    monkeypatch.setattr(ex, "login", login)
    code, out, err = run_cli(capsys, "app", "login", "alice", p["alice1.png"], p["alice2.png"], *SOLUTIONS)
    assert seen == [[str(p["alice1.png"]), str(p["alice2.png"])]], f"login was given {seen}"
    assert code == 0 and "From 2 images, averaged into one embedding." in flat(out), out


def test_register_login_identify(capsys, pictures, tmp_path):
    p = pictures
    code, out, err = run_cli(capsys, "app", "register", "alice", p["alice1.png"], p["alice2.png"], *SOLUTIONS)
    assert (code, err) == (0, "")
    assert "Registered 'alice' from 2 images: one averaged embedding" in flat(out), out
    assert "(1 for 'alice'; 1 person in all)" in flat(out), out
    store = tmp_path / "facekit-faces.sqlite"
    assert store.is_file(), "the default store is facekit-faces.sqlite in the current folder"
    code, out, err = run_cli(capsys, *SOLUTIONS, "app", "register", "bob", p["bob1.png"], p["bob2.png"])
    assert code == 0 and "(1 for 'bob'; 2 people in all)" in flat(out), out
    code, out, err = run_cli(capsys, *SOLUTIONS, "app", "register", "bob", p["bob2.png"])
    assert code == 0 and "from 1 image:" in flat(out) and "(2 for 'bob'; 2 people in all)" in flat(out), out
    faces = ex06().open_store(store)
    assert sorted(r.name for r in faces.all()) == ["alice", "bob", "bob"], "one record per registration"

    # Alice's record is the average of alice1 and its mirror image, which the stand-in weights
    # see as the same picture (1 - cosine < 1e-6): presenting either scores 1.0 to 4 decimals.

    code, out, err = run_cli(
        capsys, "app", "login", "alice", p["alice2.png"], "--threshold", "0.999", *SOLUTIONS
    )
    assert code == 0 and re.search(r"^alice: yes \(best score 1\.0+ >= threshold 0\.999", out, re.M)
    assert "Stand-in weights" in out and "means nothing" in flat(out)
    assert f"store:   {tmp_path / 'facekit-faces.sqlite'}" in out, "the header says where the store is"
    # The store's absolute path is as long as pytest's tmp_path makes it; the rest must fit.
    assert_plain_80_columns(out.replace(str(tmp_path), "/tmp"))

    code, out, err = run_cli(capsys, "app", "login", "bob", p["alice1.png"], "--threshold", "1", *SOLUTIONS)
    assert code == 1, "no is exit 1"
    assert re.search(r"^bob: no \(best score 0\.\d+ < threshold 1\.0+\)", out, re.M)

    for presented, person in (("alice1.png", "alice"), ("bob2.png", "bob")):
        code, out, err = run_cli(capsys, "app", "identify", p[presented], *SOLUTIONS)
        assert code == 0
        found = ranking(out)
        assert [name for name, _ in found][0] == person and len(found) == 2
        assert found[0][1] == pytest.approx(1.0, abs=1e-4)
        assert "Stand-in weights" in out
        assert_plain_80_columns(out.replace(str(tmp_path), "/tmp"))
    code, out, err = run_cli(capsys, "app", "identify", p["bob1.png"], "-k", "1", *SOLUTIONS)
    assert code == 0 and [name for name, _ in ranking(out)] == ["bob"]


def test_a_json_store_by_its_suffix(capsys, pictures, tmp_path):
    store = tmp_path / "people" / "faces.json"
    code, out, err = run_cli(
        capsys, "app", "--store", store, "register", "alice", pictures["alice1.png"], *SOLUTIONS
    )
    assert code == 0, err
    assert json.loads(store.read_text())["format"] == "facekit-embeddings"
    code, out, err = run_cli(capsys, "app", "identify", pictures["alice1.png"], "--store", store, *SOLUTIONS)
    assert code == 0 and [name for name, _ in ranking(out)] == ["alice"]


def test_embed_a_folder_to_safetensors_and_npy(capsys, pictures, tmp_path):
    from safetensors import safe_open

    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    for name in ("alice1.png", "bob1.png"):
        (folder / name).write_bytes(pictures[name].read_bytes())
    (folder / "more" / "bob2.png").write_bytes(pictures["bob2.png"].read_bytes())
    (folder / "more" / "notes.txt").write_text("not an image\n")

    # Relative paths (the test runs in tmp_path), so the listed reasons fit 80 columns.
    code, out, err = run_cli(
        capsys, "embed", "photos", "--out", "faces.safetensors", "--batch-size", "2", *SOLUTIONS
    )
    assert (code, err) == (0, ""), "no progress bar when the output is not a terminal"
    assert "Embedded 3 images" in flat(out) and "3 x 320" in out
    assert "Skipped 1 file" in out and "more/notes.txt" in out
    assert "Stand-in weights" in out
    assert_plain_80_columns(out)
    with safe_open(tmp_path / "faces.safetensors", framework="pt") as f:
        assert json.loads(f.metadata()["names"]) == ["alice1.png", "bob1.png", "more/bob2.png"]
        assert tuple(f.get_tensor("embeddings").shape) == (3, 320)

    code, out, err = run_cli(capsys, *SOLUTIONS, "embed", "photos", "--out", "out/faces.npy")
    assert code == 0, err
    assert np.load(tmp_path / "out" / "faces.npy").shape == (3, 320)
    names = json.loads((tmp_path / "out" / "faces.names.json").read_text())
    assert names == ["alice1.png", "bob1.png", "more/bob2.png"]
    assert "faces.names.json" in flat(out)


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_embed_shows_a_progress_bar_on_a_terminal(capsys, pictures, tmp_path, monkeypatch):
    (tmp_path / "photos").mkdir()
    for name in ("alice1.png", "bob1.png", "bob2.png"):
        (tmp_path / "photos" / name).write_bytes(pictures[name].read_bytes())
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.delenv("TERM", raising=False)
    # Whatever HF_HUB_DISABLE_PROGRESS_BARS the run has (tests/kit/test_progressbar.py).
    monkeypatch.setattr(
        importlib.import_module("huggingface_hub.utils.tqdm"), "HF_HUB_DISABLE_PROGRESS_BARS", None
    )
    code, out, _ = run_cli(capsys, "embed", "photos", "--out", "faces.npy", "--batch-size", "2", *SOLUTIONS)
    assert code == 0
    shown = terminal.getvalue()
    # tqdm's meter (facekit/progressbar.py), one per batch: count, time so far < left, rate.
    meters = re.findall(
        r"embedding: +\d+%\|.*?\| (\d)/3 \[\d\d:\d\d<(?:\?|\d\d:\d\d), +(?:\?|[\d.]+)file/s\]", shown
    )
    assert meters == ["2", "3"], (
        f"embed with --batch-size 2 on 3 files: expected bars at 2/3 and 3/3; got {shown!r}"
    )
    assert re.search(r"\r +\r$", shown), f"the bar is erased before the summary; stderr ends {shown[-40:]!r}"
    assert "Embedded 3 images" in flat(out)


def test_login_of_someone_not_registered_is_one_line(capsys, pictures):
    assert run_cli(capsys, "app", "register", "alice", pictures["alice1.png"], *SOLUTIONS)[0] == 0
    code, out, err = run_cli(capsys, "app", "login", "mallory", pictures["alice1.png"], *SOLUTIONS)
    assert code == 3, "login: no answer (an unknown person) is exit 3; exit 1 is a no"
    assert_one_line_error(err, "mallory", "alice")


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["app", "login", "alice", "face.png", "--threshold", "1.5"], "--threshold"),
        (["app", "identify", "face.png", "-k", "0"], "-k"),
        (["embed", ".", "--out", "faces.pt"], ".safetensors or .npy"),
        (["embed", ".", "--out", "faces.npy", "--batch-size", "0"], "--batch-size"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(capsys, argv, needle):
    code, out, err = run_cli(capsys, *argv, *SOLUTIONS)
    assert code == 2
    assert_one_line_error(err, needle)


@pytest.mark.parametrize(
    "argv",
    [
        ["embed", "DIR", "--out", "faces.pt"],
        ["embed", "DIR", "--out", "faces.npy", "--batch-size", "0"],
        ["app", "identify", "face.png", "-k", "0"],
        ["app", "login", "alice", "face.png", "--threshold", "1.5"],
    ],
    ids=["--out", "--batch-size", "-k", "--threshold"],
)
def test_usage_errors_answer_before_torch_is_imported(argv):
    script = (
        "import sys; from facekit import cli; code = cli.main(sys.argv[1:]); "
        "print('torch imported:', 'torch' in sys.modules, 'code:', code)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, *argv, *SOLUTIONS],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(cli.__file__).parents[2],
    )
    assert "torch imported: False code: 2" in proc.stdout, proc.stdout + proc.stderr
    assert_one_line_error(proc.stderr, argv[-2])


@pytest.mark.parametrize("argv", [["app"], ["embed", "photos"]], ids=["no action", "no --out"])
def test_missing_arguments_are_argparse_errors(capsys, argv):
    with pytest.raises(SystemExit) as info:
        cli.main(argv)
    assert info.value.code == 2
    assert "required" in capsys.readouterr().err.strip().splitlines()[-1]


def test_missing_files_and_stores_are_one_line_and_create_nothing(capsys, pictures, tmp_path):
    code, out, err = run_cli(capsys, "app", "login", "alice", pictures["alice1.png"], *SOLUTIONS)
    assert code == 3, "login: no answer (no store) is exit 3; exit 1 is a no"
    assert_one_line_error(err, f"no store at {tmp_path / 'facekit-faces.sqlite'}", "register")
    assert not (tmp_path / "facekit-faces.sqlite").exists(), "login must not create an empty store"
    code, out, err = run_cli(capsys, "app", "register", "alice", "missing.png", *SOLUTIONS)
    assert code == 1
    assert_one_line_error(err, "missing.png")
    code, out, err = run_cli(capsys, "embed", "no-such-folder", "--out", "faces.npy", *SOLUTIONS)
    assert code == 1
    assert_one_line_error(err, "no-such-folder")
    code, out, err = run_cli(
        capsys, "app", "register", "alice", pictures["alice1.png"], "--store", "faces.txt", *SOLUTIONS
    )
    assert code == 1
    assert_one_line_error(err, "faces.txt", ".json", ".sqlite")


def test_an_unreadable_image_is_one_line_and_registers_nothing(capsys, pictures, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a jpeg")
    code, out, err = run_cli(capsys, "app", "register", "alice", pictures["alice1.png"], bad, *SOLUTIONS)
    assert code == 1
    assert_one_line_error(err, "bad.jpg")
    code, out, err = run_cli(capsys, "app", "identify", pictures["alice1.png"], *SOLUTIONS)
    assert code == 1 and "Nobody is registered" in flat(out)


def test_on_the_untouched_stubs_it_says_what_to_implement(capsys, pictures):
    code, out, err = run_cli(
        capsys,
        "app",
        "register",
        "alice",
        pictures["alice1.png"],
        "--target",
        "exercises",
        "--weights",
        "standin",
    )
    assert code == 1
    assert_one_line_error(err, "not implemented yet", "exercises/ex06_app/app.py", "facekit list")


def test_login_exit_codes_tell_yes_no_and_no_answer_apart(capsys, pictures, tmp_path):
    """Issue 20: `app login` exits 0 yes, 1 no, 2 a usage error, 3 when it cannot answer, so a
    script's `if facekit app login ...` never reads a missing file as a no."""
    p = pictures
    assert run_cli(capsys, "app", "register", "alice", p["alice1.png"], *SOLUTIONS)[0] == 0
    cases = {
        "yes": (["alice", p["alice1.png"]], 0),
        "no": (["alice", p["bob1.png"], "--threshold", "1"], 1),
        "a missing image": (["alice", "missing.png"], 3),
        "an unknown person": (["zed", p["alice1.png"]], 3),
        "a missing store": (["alice", p["alice1.png"], "--store", "other.sqlite"], 3),
        "a threshold out of range": (["alice", p["alice1.png"], "--threshold", "2"], 2),
    }
    for what, (argv, expected) in cases.items():
        code, out, err = run_cli(capsys, "app", "login", *argv, *SOLUTIONS)
        assert code == expected, f"app login with {what} ({argv}): exit {code}, expected {expected}; {err}"
    code, out, err = run_cli(
        capsys, "app", "login", "alice", p["alice1.png"], "--target", "exercises", "--weights", "standin"
    )
    assert code == 3, f"app login on the stubs: exit {code}, expected 3 (no answer); {err}"
    assert_one_line_error(err, "not implemented yet")
    help_text = subprocess.run(
        [sys.executable, "-m", "facekit", "app", "login", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "3 no answer" in flat(help_text), "the exit codes are documented in app login --help"


def test_a_threshold_below_0_is_warned_about(capsys, pictures, tmp_path):
    """Issue 20: a facekit-app.toml in the current folder with threshold = -1 accepted nearly
    anyone, silently."""
    assert run_cli(capsys, "app", "register", "alice", pictures["alice1.png"], *SOLUTIONS)[0] == 0
    (tmp_path / "facekit-app.toml").write_text("[app]\nthreshold = -1\n")
    code, out, err = run_cli(capsys, "app", "login", "alice", pictures["bob1.png"], *SOLUTIONS)
    assert "threshold -1.0000" in out
    assert "The login threshold is -1: below 0" in flat(out), f"no warning for threshold -1:\n{out}"
    code, out, err = run_cli(
        capsys, "app", "login", "alice", pictures["bob1.png"], "--threshold", "0.2", *SOLUTIONS
    )
    assert "below 0" not in out, "an option above 0 beats the file, and is not warned about"
