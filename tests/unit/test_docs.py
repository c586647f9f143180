"""README stays a user's guide: its sections and commands are there, and every relative
link in README.md and docs/ points at a file (and heading) that exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")  # the target of a Markdown link
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but '-' and '_' dropped,
    spaces to '-'."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {_anchor(m) for m in re.findall(r"^#+ (.+)$", text, re.M)}


def _links(page: Path) -> list[str]:
    """Relative link targets outside code blocks (URLs and bare anchors aside)."""
    text = FENCE.sub("", page.read_text())
    return [t for t in LINK.findall(text) if not re.match(r"[a-z]+:", t)]


def _broken(page: Path) -> list[str]:
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading #{anchor}")
    return broken


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    assert _broken(page) == []


def test_broken_links_are_caught(tmp_path):
    (tmp_path / "there.md").write_text("# A heading: with `code`\n")
    page = tmp_path / "page.md"
    page.write_text("[ok](there.md#a-heading-with-code) [gone](missing.md) "
                    "[bad](there.md#nope) [web](https://example.com)\n"
                    "```\n[in code](nowhere.md)\n```\n")
    assert _broken(page) == ["missing.md: no such file", "there.md#nope: no heading #nope"]


def test_readme_is_a_users_guide():
    text = README.read_text()
    headings = set(re.findall(r"^## (.+)$", text, re.M))
    assert {"Your own data", "Serving"} <= headings
    for command in ("make test", "make demo"):  # .ci/run calls `make test`
        assert re.search(rf"^{command}\b", text, re.M), command
    assert "](docs/" in text


def test_every_docs_page_is_linked_from_readme_and_index():
    readme = set(_links(README))
    index = set(_links(DOCS / "README.md"))
    for page in sorted(DOCS.glob("*.md")):
        if page.name == "README.md":
            continue
        assert f"docs/{page.name}" in readme, page.name
        assert page.name in index, page.name
