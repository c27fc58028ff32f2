"""The README is a map and the pages under docs/ hold the reference: the parts that come from code
are what the code makes now, every relative link leads somewhere, and every `ontask` command the
pages show is one the command line takes."""

import re
import shlex

import pytest

from ontask import docs_pages
from tests.conftest import REPO

PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", flags=re.M | re.S)


@pytest.mark.parametrize("page, part", list(docs_pages.PARTS), ids=[f"{p}:{n}" for p, n in docs_pages.PARTS])
def test_the_generated_parts_are_what_the_code_makes(page, part):
    text = (REPO / "docs" / page).read_text()
    made = docs_pages.PARTS[(page, part)]()
    assert docs_pages.documented(text, part) == made.rstrip("\n") + "\n", (
        f"docs/{page}'s {part} is stale: run `{docs_pages.REGENERATE}`"
    )


def test_a_stale_part_is_named_until_the_code_writes_it(tmp_path):
    for page, _ in docs_pages.PARTS:
        (tmp_path / page).write_text((REPO / "docs" / page).read_text())
    page = tmp_path / "reference.md"
    page.write_text(docs_pages.splice(page.read_text(), "spec-reference", "| field |\n"))
    assert docs_pages.stale(tmp_path) == ["reference.md: spec-reference"]
    reference = docs_pages.PARTS[("reference.md", "spec-reference")]()
    page.write_text(docs_pages.splice(page.read_text(), "spec-reference", reference))
    assert docs_pages.stale(tmp_path) == []


def test_the_readme_stays_a_map():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 260, f"README.md has {len(lines)} lines: move reference material to docs/"


def test_the_readme_gives_the_test_command_ci_runs():
    """.ci/run runs exactly the test command the README gives."""
    ci = [line for line in (REPO / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    readme_commands = [line.split("#")[0].strip() for block in _code_blocks(REPO / "README.md", "sh") for line in block]
    assert ci[-1] == "make test" and "make test" in readme_commands


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path) -> set[str]:
    seen: dict[str, int] = {}
    anchors = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        if m := re.match(r"^#{1,6} (.+)$", line):
            slug = _slug(m.group(1))
            anchors.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
            seen[slug] = seen.get(slug, 0) + 1
    return anchors


def _links(path) -> list[str]:
    text = re.sub(r"`[^`\n]*`", "", FENCE.sub("", path.read_text()))
    return re.findall(r"\]\(([^)\s]+)\)", text)


@pytest.mark.parametrize("path", PAGES, ids=[str(p.relative_to(REPO)) for p in PAGES])
def test_every_relative_link_leads_to_a_file_and_its_anchor(path):
    broken = []
    for link in _links(path):
        if re.match(r"^[a-z]+:", link):  # https:, mailto:: not this repository's
            continue
        target, _, anchor = link.partition("#")
        file = (path.parent / target).resolve() if target else path
        if not file.exists():
            broken.append(f"{link}: no file {target}")
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(f"{link}: no heading #{anchor} in {file.relative_to(REPO)}")
    assert broken == []


def _code_blocks(path, language: str) -> list[list[str]]:
    """The lines of each fenced block of `language`, continuation lines joined."""
    blocks = re.findall(rf"^```{language}\n(.*?)^```", path.read_text(), flags=re.M | re.S)
    return [block.replace("\\\n", " ").splitlines() for block in blocks]


def _known_options(words: list[str]) -> tuple[str, set[str]]:
    """The command path `words` names (as far as the parsers know it) and the options it takes."""
    import argparse

    from ontask.cli import build_parser

    parser = build_parser(words[0] if words else None)
    path = ["ontask"]
    for word in words:
        sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        if sub is None or word not in sub.choices:
            break
        parser, path = sub.choices[word], [*path, word]
    return " ".join(path), {s for a in parser._actions for s in a.option_strings}


def test_the_commands_the_pages_show_take_the_options_they_show():
    unknown = []
    for page in PAGES:
        for block in _code_blocks(page, "sh"):
            for line in block:
                line = re.sub(r"\s#\s.*$", "", line).strip()
                if not line.startswith("ontask "):
                    continue
                words = shlex.split(line.split("|")[0].split(">")[0])[1:]
                command, options = _known_options([w for w in words if not w.startswith(("-", "["))])
                for word in words:
                    flag = word.strip("[]").split("=")[0]
                    if flag.startswith("--") and flag not in options:
                        unknown.append(f"{page.name}: {command} {flag}")
    assert unknown == []
