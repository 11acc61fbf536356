"""The front page stays short and every page stands on its own: no link to a file the repository
lacks, no citation of files a user of the repository does not have."""

import re

from helpers import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_the_readme_is_a_front_page():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 150, len(lines)


def test_every_relative_link_resolves():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            if not (page.parent / target).resolve().exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, broken


def test_no_page_cites_files_the_repository_lacks():
    for page in PAGES:
        text = page.read_text()
        for name in ("DESIGN.md", "reference/paper.md", "STYLE.md"):
            assert name not in text, f"{page.relative_to(REPO)} cites {name}"


def test_source_paths_named_in_the_docs_exist():
    missing = []
    for page in PAGES:
        for path in re.findall(r"`((?:src|stages|tests)/[\w/.]+\.py)`", page.read_text()):
            if not (REPO / path).exists():
                missing.append(f"{page.relative_to(REPO)}: {path}")
    assert not missing, missing
