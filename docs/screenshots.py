"""Make the site's pictures from real runs: ``python docs/screenshots.py [check] [report]``.

- ``check``: ``facekit check ex03_similarity`` as a student sees it, run for real in a scratch
  copy of the kit whose Exercises 01-02 are done and whose Exercise 03 has a catalogued mistake
  planted (course/ex03_similarity/mistakes.toml), in a pseudo-terminal so that it is in
  colour. Writes docs/assets/check-output.txt (the text, which the Students pages include and
  tests/kit/test_docs_site.py compares with a fresh run) and docs/assets/check.png (the terminal,
  drawn by headless Chromium from that text's colours).
- ``report``: ``facekit grade`` of a small class made from the reference (complete, untouched,
  half done, catalogued mistakes planted, one that hangs), then report.html drawn by Chromium:
  docs/assets/class-report.png.

Needs the [dev] extra, Chromium and chromedriver. Run it after changing what these show.
"""

from __future__ import annotations

import html
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "docs" / "assets"
sys.path.insert(0, str(ROOT))

from facekit import course, mistakes, release

CHECKED = "ex03_similarity"
PLANTED = "strictly-greater"  # the catalogued mistake planted for the check picture
SHOWN_ROOT = "~/face-embeddings-kit"  # the scratch kit's path, as a student's clone would be
_ANSI = re.compile(r"\x1b\[([0-9;]*)m")
_COLOURS = {"31": "#ff6b6b", "32": "#6bd968", "33": "#f0c674", "36": "#66d9e8"}


def scratch_kit(where: Path) -> Path:
    """A copy of the kit (no solutions/, no git): Exercises 01-02 done, 03 with the mistake."""
    kit = where / "kit"
    kit.mkdir()
    for name in ("conftest.py", "pyproject.toml", "facekit", "exercises", "tests"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, kit / name, ignore=shutil.ignore_patterns("__pycache__", ".facekit"))
        else:
            shutil.copy2(source, kit / name)
    exercises = {e.id: e for e in course.load(ROOT / "exercises" / "course.toml").exercises}
    for exercise in exercises.values():  # the catalogues as a student's release has them
        target = mistakes.catalogue_path(kit, exercise.id)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            release.student_catalogue(mistakes.catalogue_path(ROOT, exercise.id)), encoding="utf-8"
        )
    for done in ("ex01_images", "ex02_embeddings"):
        shutil.copy2(ROOT / exercises[done].reference, kit / exercises[done].stub)
    exercise = exercises[CHECKED]
    (mistake,) = [m for m in mistakes.load(ROOT, exercise) if m.id == PLANTED]
    source = (ROOT / exercise.reference).read_text(encoding="utf-8")
    (kit / exercise.stub).write_text(mistakes.patched(source, mistake), encoding="utf-8")
    return kit


def run_in_terminal(argv: list[str], env: dict, timeout: float = 600) -> str:
    """``argv``'s output as a terminal of 80 columns receives it (colours included)."""
    main, child = pty.openpty()
    os.set_blocking(main, False)
    proc = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=child, stderr=child, env=env, close_fds=True
    )
    os.close(child)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], timeout)
        if not ready:
            proc.kill()
            raise TimeoutError(f"{argv} printed nothing for {timeout:g} s")
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait()
    os.close(main)
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def check_output(where: Path) -> str:
    """`facekit check` on the scratch kit, with colours, its path shown as a student's clone."""
    kit = scratch_kit(where)
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "80",
        "LINES": "40",
        "TERM": "xterm-256color",
        "KIT_STANDIN_CACHE": str(where / "standin"),
        "PYTHONPATH": str(kit),
    }
    for name in ("NO_COLOR", "KIT_TARGET", "KIT_WEIGHTS"):
        env.pop(name, None)
    env["FACEKIT_NO_WORKER"] = "1"  # a cold run: no background worker left behind in the scratch kit
    # Built beforehand: a student sees "Building the stand-in weights once" only on the first run.
    subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import sys; from pathlib import Path; from facekit import standin; "
                "standin.build_cache(Path(sys.argv[1]))"
            ),
            env["KIT_STANDIN_CACHE"],
        ],
        env=env,
        check=True,
    )
    text = run_in_terminal([sys.executable, "-m", "facekit", "--root", str(kit), "check", CHECKED], env)
    return shown(text).replace(str(kit), SHOWN_ROOT)


def shown(text: str) -> str:
    """What stays on a terminal: a line rewritten in place (a status line) as its last version."""
    return "\n".join(line.split("\r")[-1].replace("\x1b[K", "") for line in text.split("\n"))


def plain(text: str) -> str:
    return _ANSI.sub("", text)


def without_timings(text: str) -> str:
    """What a fresh run must reproduce: the text less its seconds ("in 3.2 s")."""
    return re.sub(r"\d+(\.\d+)? ?s\b", "N s", plain(text))


def terminal_html(text: str) -> str:
    """ANSI-coloured ``text`` as a dark terminal window."""
    out, open_spans = [], 0
    position = 0
    for match in _ANSI.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        position = match.end()
        for code in (match.group(1) or "0").split(";"):
            if code in ("0", ""):
                out.append("</span>" * open_spans)
                open_spans = 0
            elif code == "1":
                out.append('<span style="font-weight:bold">')
                open_spans += 1
            elif code == "2":
                out.append('<span style="opacity:.65">')
                open_spans += 1
            elif code in _COLOURS:
                out.append(f'<span style="color:{_COLOURS[code]}">')
                open_spans += 1
    out.append(html.escape(text[position:]) + "</span>" * open_spans)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
        "body{margin:0;background:#fff;padding:16px}"
        ".win{background:#1e1f22;border-radius:8px;box-shadow:0 2px 10px #0004;display:inline-block}"
        ".bar{height:26px;background:#2d2f33;border-radius:8px 8px 0 0;padding-left:12px}"
        ".bar i{display:inline-block;width:12px;height:12px;border-radius:6px;margin:7px 4px 0 0}"
        "pre{margin:0;padding:12px 16px;color:#e6e6e6;font:14px/1.45 'DejaVu Sans Mono',monospace;"
        "white-space:pre}</style></head><body><div class='win'><div class='bar'>"
        "<i style='background:#ff5f57'></i><i style='background:#febc2e'></i><i style='background:#28c840'></i>"
        f"</div><pre>{''.join(out).rstrip()}</pre></div></body></html>"
    )


def screenshot(page: Path, png: Path, width: int, selector: str | None = None) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By

    options = Options()
    options.binary_location = shutil.which("chromium")
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        f"--window-size={width},900",
        "--force-device-scale-factor=1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        driver.get(page.as_uri())
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, height + 140)  # the window's frame is not page
        if selector:
            driver.find_element(By.CSS_SELECTOR, selector).screenshot(str(png))
        else:
            driver.save_screenshot(str(png))
    finally:
        driver.quit()


def make_check(where: Path) -> None:
    text = check_output(where)
    ASSETS.mkdir(parents=True, exist_ok=True)
    (ASSETS / "check-output.txt").write_text(plain(text).rstrip() + "\n", encoding="utf-8")
    page = where / "check.html"
    page.write_text(terminal_html(text), encoding="utf-8")
    screenshot(page, ASSETS / "check.png", 900, ".win")


def make_report(where: Path) -> None:
    kit = course.load(ROOT / "exercises" / "course.toml")
    subs = where / "subs"
    subs.mkdir()
    reference = {e.stub: (ROOT / e.reference).read_bytes() for e in kit.exercises}
    stubs = {e.stub: (ROOT / e.stub).read_bytes() for e in kit.exercises}

    def zipped(name, files):
        with zipfile.ZipFile(subs / f"{name}.zip", "w") as archive:
            for path, content in files.items():
                archive.writestr(path, content)

    def with_mistake(exercise_id, mistake_id, files):
        exercise = next(e for e in kit.exercises if e.id == exercise_id)
        (mistake,) = [m for m in mistakes.load(ROOT, exercise) if m.id == mistake_id]
        source = (ROOT / mistake.file).read_text(encoding="utf-8")
        return {**files, exercise.stub: mistakes.patched(source, mistake).encode()}

    first_three = {**stubs, **{e.stub: reference[e.stub] for e in kit.exercises[:3]}}
    zipped("ana", reference)
    zipped("ben", reference)
    zipped("chloe", with_mistake("ex03_similarity", "strictly-greater", reference))
    zipped("dmitri", with_mistake("ex03_similarity", "strictly-greater", first_three))
    zipped("emma", with_mistake("ex01_images", "bilinear", reference))
    zipped("farid", first_three)
    zipped("grace", stubs)
    zipped("hiro", {**reference, kit.exercises[3].stub: b"import time\nwhile True:\n    time.sleep(1)\n"})
    out = where / "grades"
    subprocess.run(
        [sys.executable, "-m", "facekit", "grade", str(subs), "--out", str(out), "--timeout", "60"],
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    shutil.copy2(out / "report.html", ASSETS / "class-report.html")
    screenshot(out / "report.html", ASSETS / "class-report.png", 1000)


if __name__ == "__main__":
    wanted = sys.argv[1:] or ["check", "report"]
    with tempfile.TemporaryDirectory() as scratch:
        for name in wanted:
            folder = Path(scratch) / name
            folder.mkdir()
            {"check": make_check, "report": make_report}[name](folder)
            print(f"made {name}")
