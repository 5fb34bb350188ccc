"""The documentation site (mkdocs.yml, docs/) builds strictly and offline, and its generated
parts say what the kit does: every command and option of the parser, every exercise's README,
and `facekit check`'s output as a fresh run prints it."""

from __future__ import annotations

import argparse
import html as html_lib
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from browser import headless_chromium

from facekit import course
from facekit.cli import parser as cli_parser

ROOT = course.repo_root()
KIT = course.load()


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """``mkdocs build --strict`` into a temporary folder: a broken link or anchor, a page missing
    from the nav, a missing snippet or a reference table out of step fails it."""
    pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]' (the dev extra has it)")
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    warnings = [
        line for line in (proc.stdout + proc.stderr).splitlines() if "WARNING" in line or "Error" in line
    ]
    assert proc.returncode == 0, "mkdocs build --strict failed:\n" + "\n".join(
        warnings or [proc.stderr[-3000:]]
    )
    return out


def page(site: Path, path: str) -> str:
    # The offline plugin turns directory URLs off: pages are files, as file:// needs.
    return (site / f"{path}.html").read_text(encoding="utf-8")


def test_the_built_site_fetches_nothing_from_the_network(site):
    remote = re.compile(
        r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["']?(?:https?:)?//""", re.IGNORECASE
    )
    found = {}
    for html in site.rglob("*.html"):
        hits = remote.findall(html.read_text(encoding="utf-8"))
        if hits:
            found[str(html.relative_to(site))] = hits[:3]
    assert not found, f"pages that load something from the network (offline classrooms cannot): {found}"
    for css in site.rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        assert "fonts.googleapis" not in text and "@import url(http" not in text, f"{css.name} fetches fonts"


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        o
        for a in parser._actions
        if a.help != argparse.SUPPRESS and not isinstance(a, argparse._HelpAction)
        for o in a.option_strings
    ]


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next((dict(a.choices) for a in parser._actions if isinstance(a, argparse._SubParsersAction)), {})


def _sections(html: str) -> dict[str, str]:
    """Each h2/h3 of a page: its id -> its HTML up to the next h2/h3."""
    heads = list(re.finditer(r'<h[23] id="([^"]+)"', html))
    return {
        m.group(1): html[m.start() : (heads[i + 1].start() if i + 1 < len(heads) else len(html))]
        for i, m in enumerate(heads)
    }


def test_the_command_reference_has_every_command_and_option_of_the_parser(site):
    sections = _sections(page(site, "reference/cli"))
    commands = _subparsers(cli_parser.build())
    assert [c.name for c in cli_parser.COMMANDS] == list(commands)
    for name, sub in commands.items():
        for title, parser in [
            (f"facekit {name}", sub),
            *((f"facekit {name} {a}", p) for a, p in _subparsers(sub).items()),
        ]:
            anchor = title.replace(" ", "-")
            assert anchor in sections, f"reference/cli has no section {title!r} (id {anchor})"
            section = sections[anchor]
            text = " ".join(html_lib.unescape(re.sub(r"<[^>]+>", "", section)).split())
            for option in _options(parser):
                assert f"<code>{option}</code>" in section, f"reference/cli, {title}: no {option}"
            for action in parser._actions:
                if (
                    action.help
                    and action.help != argparse.SUPPRESS
                    and not isinstance(action, argparse._HelpAction)
                ):
                    help_text = " ".join(action.help.replace("`", "").split())
                    assert help_text in text, f"reference/cli, {title}: no help {help_text!r}"


def test_each_exercise_readme_is_a_page_with_its_links_pointing_into_the_site(site):
    for exercise in KIT.exercises:
        html = page(site, f"exercises/{exercise.id}")
        readme = (ROOT / exercise.readme).read_text(encoding="utf-8")
        heading = next(line[2:].strip() for line in readme.splitlines() if line.startswith("# "))
        first_words = re.sub(r"[`*]", "", heading)[:30]
        assert first_words in html.replace("&amp;", "&"), (
            f"the page of {exercise.id} lacks its README's title"
        )
        if "../../CHEATSHEET.md" in readme:
            assert 'href="../students/cheatsheet.html' in html, f"{exercise.id}: its CHEATSHEET link"


def _load(name: str, path: Path) -> ModuleType:
    """The script at ``path`` (not a package module) imported as ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, f"{path} cannot be imported"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _screenshots():
    return _load("docs_screenshots", ROOT / "docs" / "screenshots.py")


def test_the_check_output_the_site_shows_is_what_facekit_check_prints(tmp_path):
    """docs/assets/check-output.txt (and check.png, drawn from the same run) came from a real
    `facekit check`; a fresh run on the same scratch kit prints the same, timings aside."""
    screenshots = _screenshots()
    shown = (ROOT / "docs" / "assets" / "check-output.txt").read_text(encoding="utf-8")
    fresh = screenshots.plain(screenshots.check_output(tmp_path))
    want, got = screenshots.without_timings(shown).rstrip(), screenshots.without_timings(fresh).rstrip()
    assert got == want, (
        "docs/assets/check-output.txt is not what `facekit check` prints now: run "
        f"`python docs/screenshots.py check`.\n--- in the site:\n{want}\n--- now:\n{got}"
    )


def test_links_of_an_included_readme_point_at_pages_assets_or_name_the_kits_file():
    pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]' (the dev extra has it)")
    hooks = _load("docs_hooks", ROOT / "docs" / "hooks.py")
    pages = hooks.included_pages()
    source = KIT.exercises[2].readme  # exercises/ex03_similarity/README.md
    page, other = pages[source], KIT.exercises[1]
    assets: dict[str, str] = {}
    text = (
        "[sheet](../../CHEATSHEET.md#tensors) [prev](../ex02_embeddings/README.md) "
        "[code](similarity.py) [web](https://example.org/a.md) [here](#top) "
        "![face](../../facekit/data/astronaut_face.jpg)"
    )
    got = hooks.rewrite_links(text, source, page, pages, assets)
    assert "[sheet](../students/cheatsheet.md#tensors)" in got, got
    assert f"[prev]({other.id}.md)" in got, got
    assert f"code (`{KIT.exercises[2].stub}`)" in got, got
    assert "[web](https://example.org/a.md)" in got and "[here](#top)" in got, got
    assert "![face](../assets/kit/facekit/data/astronaut_face.jpg)" in got, got
    assert assets == {"facekit/data/astronaut_face.jpg": "assets/kit/facekit/data/astronaut_face.jpg"}
    with pytest.raises(ValueError, match="not in the kit"):
        hooks.rewrite_links("[gone](nothere.py)", source, page, pages, {})


def test_the_built_site_searches_from_disk_in_chromium_without_console_errors(site, tmp_path):
    """Opened as files (file://), as on a classroom machine with no server: the search finds the
    class report's page, through the offline plugin's worker shim that the site carries."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = headless_chromium(tmp_path / "profile", "1280,900", console_log=True)
    try:
        driver.get((site / "index.html").as_uri())
        driver.execute_script("document.querySelector('label[for=__search]').click()")
        driver.find_element(By.CSS_SELECTOR, "input.md-search__input").send_keys("report.html")
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item"))
        titles = [
            e.text.split("\n")[0] for e in driver.find_elements(By.CSS_SELECTOR, ".md-search-result__item")
        ]
        assert any("class report" in t for t in titles), f"searching report.html found {titles}"
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
        assert not errors, f"console messages on the site opened from disk: {errors}"
    finally:
        driver.quit()
