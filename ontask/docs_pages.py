"""The parts of the docs/ pages that come from code: the TaskClassifier reference (from the api
models), the verl key mapping (from the interop table) and the CLI reference (from the argparse
parsers). Each sits in its page between `<!-- NAME:start -->` and `<!-- NAME:end -->`; the prose
around it is written by hand.

`python -m ontask.docs_pages` (`make docs`) writes them; with `--check` it fails on a page whose
generated part differs from what the code makes now.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

DOCS = Path(__file__).resolve().parents[1] / "docs"
REGENERATE = "make docs"


def _spec_reference() -> str:
    from ontask.api.crd import reference_markdown

    return reference_markdown()


def _verl_mapping() -> str:
    from ontask.interop.verl_config import mapping_markdown

    return mapping_markdown()


def _cli_reference() -> str:
    from ontask.cli_reference import reference_markdown

    return reference_markdown()


# (page under docs/, part name) -> what writes the part.
PARTS: dict[tuple[str, str], Callable[[], str]] = {
    ("reference.md", "spec-reference"): _spec_reference,
    ("verl.md", "verl-mapping"): _verl_mapping,
    ("cli.md", "cli-reference"): _cli_reference,
}


def markers(part: str) -> tuple[str, str]:
    """The lines that open and close a generated part in its page."""
    return f"<!-- {part}:start -->\n", f"<!-- {part}:end -->"


def documented(text: str, part: str) -> str:
    """The generated part `part` as the page `text` holds it now.

    >>> documented("a\\n<!-- t:start -->\\n| x |\\n<!-- t:end -->\\nb", "t")
    '| x |\\n'
    """
    start, end = markers(part)
    if start not in text or end not in text:
        raise ValueError(f"no {start.strip()} ... {end} markers")
    return text[text.index(start) + len(start) : text.index(end)]


def splice(text: str, part: str, body: str) -> str:
    """`text` with the generated part `part` replaced by `body`."""
    start, _ = markers(part)
    old = documented(text, part)
    at = text.index(start) + len(start)
    return text[:at] + body.rstrip("\n") + "\n" + text[at + len(old) :]


def stale(docs: Path = DOCS) -> list[str]:
    """'page: part' for every generated part that differs from what the code makes now."""
    found = []
    for (page, part), make in PARTS.items():
        text = (docs / page).read_text()
        if documented(text, part) != make().rstrip("\n") + "\n":
            found.append(f"{page}: {part}")
    return found


def main(argv: list[str] | None = None) -> int:
    """Write the generated parts into their pages, or with --check fail when one is stale."""
    argv = sys.argv[1:] if argv is None else argv
    if "--check" in argv:
        out_of_date = stale()
        for what in out_of_date:
            print(f"docs/{what} is out of date: run `{REGENERATE}`", file=sys.stderr)
        return 1 if out_of_date else 0
    for (page, part), make in PARTS.items():
        path = DOCS / page
        text = path.read_text()
        new = splice(text, part, make())
        if new != text:
            path.write_text(new)
            print(f"wrote {path} ({part})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
