"""The code map holds. Every room (a package or a top-level module of ontask/) imports only the
rooms its row in MAY_IMPORT names, read from every file's imports (lazy ones included); the rows
make no loop, so no import runs back up; and a room that appears without a row fails here
before anyone builds on it. The rest: one module for each thing spelled once."""

import ast

from tests.conftest import REPO

# Each room and the rooms it may import (its own modules aside), lowest first. A package's command
# line (`<package>/cli.py`) is part of its package; `cli` is the `ontask` command over them all.
ROWS = {
    "labels": "",
    "store_paths": "",
    "fonts": "",
    "images": "",
    "store": "",
    "cli_inputs": "",
    "lazy_names": "",
    "api": "labels store_paths",
    "verify": "labels",
    "prompt": "verify",
    "models": "images labels prompt store verify",
    "judge": "api images labels lazy_names models prompt store verify",
    "rewards": "api labels verify",
    "data": "api cli_inputs fonts images judge labels models prompt store store_paths verify",
    "evaluation": "api cli_inputs data labels models store store_paths verify",
    "feedback": "api cli_inputs data evaluation images labels lazy_names store store_paths verify",
    "serving": "api cli_inputs feedback images judge labels models store store_paths verify",
    "agent": "api cli_inputs feedback labels",
    "realscreens": "agent cli_inputs data fonts labels store store_paths",
    "interop": "api cli_inputs data prompt rewards store verify",
    "trainers": "api cli_inputs data evaluation images interop labels models rewards store store_paths verify",
    "operator": "api cli_inputs evaluation feedback store store_paths",
    "demo": "api data evaluation feedback images labels models operator store store_paths",
    "cli": "agent api data feedback fonts models realscreens store",
    "cli_reference": "cli",
    "docs_pages": "api cli_reference interop",
}
MAY_IMPORT = {room: set(rooms.split()) for room, rooms in ROWS.items()}

# Rooms kept apart even through others: what serves and evaluates a model never reaches into the
# training loop, nor evaluation into serving (both read the classifier from models); the
# student's room reaches none of the rooms built on it; the capture agent ships without the
# real-screens set.
NEVER_REACHES: dict[str, set[str]] = {
    "serving": {"trainers"},
    "evaluation": {"serving", "trainers"},
    "judge": {"serving", "trainers"},
    "trainers": {"serving"},
    "models": {"evaluation", "serving", "trainers", "judge", "operator"},
    "agent": {"realscreens"},
}


def _rooms_on_disk() -> set[str]:
    return {
        p.stem
        for p in (REPO / "ontask").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name != "__init__.py")
    }


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            if node.module == "ontask":  # `from ontask import data` names a room
                yield from (f"ontask.{a.name}" for a in node.names)


def _room_of(module: str):
    """The room an import names (None: outside ontask, or the package's own attributes such as
    `__version__`)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "ontask" and len(parts) > 1 and not parts[1].startswith("_") else None


def _reach(room: str) -> set[str]:
    seen, todo = set(), list(MAY_IMPORT[room])
    while todo:
        r = todo.pop()
        if r not in seen:
            seen.add(r)
            todo.extend(MAY_IMPORT[r])
    return seen


def test_every_room_has_a_row():
    assert _rooms_on_disk() - set(MAY_IMPORT) == set()


def test_the_rows_name_only_rooms():
    assert {r for row in MAY_IMPORT.values() for r in row} - set(MAY_IMPORT) == set()


def test_no_room_reaches_back_to_itself():
    assert {room for room in MAY_IMPORT if room in _reach(room)} == set()


def test_every_import_goes_down_the_table():
    offenders = {}
    for p in sorted((REPO / "ontask").rglob("*.py")):
        rel = p.relative_to(REPO / "ontask")
        room = rel.parts[0].removesuffix(".py")  # ontask/__init__.py: a room of its own, with no row
        for m in _imports(p):
            target = _room_of(m)
            if target not in (None, room) and target not in MAY_IMPORT.get(room, ()):
                offenders.setdefault(f"ontask/{rel}", []).append(m)
    assert offenders == {}


def test_rooms_kept_apart_stay_apart_through_any_other():
    assert {room: _reach(room) & apart for room, apart in NEVER_REACHES.items() if _reach(room) & apart} == {}


def test_the_labels_are_spelled_in_one_module():
    import io
    import tokenize

    spelled = {
        str(p.relative_to(REPO))
        for p in (REPO / "ontask").rglob("*.py")
        for t in tokenize.generate_tokens(io.StringIO(p.read_text()).readline)
        if t.type == tokenize.STRING and t.string.strip("\"'") in ("on-task", "off-task")
    }
    assert spelled == {"ontask/labels.py"}


def test_nothing_outside_the_tests_imports_them():
    offenders = {
        str(p.relative_to(REPO)): m
        for room in ("ontask", "benchmarks", "scripts", "realservers")
        for p in (REPO / room).rglob("*.py")
        for m in _imports(p)
        if m == "tests" or m.startswith("tests.")
    }
    assert offenders == {}


def test_store_keys_are_made_in_one_module():
    """Code builds store keys only through ontask.store_paths (prose in docstrings and help may
    name them)."""
    import io
    import re
    import tokenize

    key = re.compile(
        r"^f?[\"'].*(classifiers/|datasets/|(?<!/v[12])/models/\{|/metrics/|/evaluations/|"
        r"/checkpoints/|feedback/(state|screenshots|cycles))"
    )
    found = {}
    for p in (REPO / "ontask").rglob("*.py"):
        if p.name == "store_paths.py":
            continue
        toks = list(tokenize.generate_tokens(io.StringIO(p.read_text()).readline))
        for i, t in enumerate(toks):
            # f-strings tokenize as FSTRING_START... on 3.12; on 3.11 they are STRING tokens.
            if t.type == tokenize.STRING and key.search(t.string) and not t.string.startswith(('"""', "'''")):
                if "<" not in t.string:  # "classifiers/<c>/..." is prose for a reader
                    found.setdefault(str(p.relative_to(REPO)), []).append(t.string)
    assert found == {}


def test_the_layout_pages_table_matches_the_tree():
    import re

    table = (REPO / "docs" / "layout.md").read_text()
    listed = {m.rstrip("/") for m in re.findall(r"^\| `([^`]+)` \|", table, flags=re.M)}
    assert all((REPO / p).exists() for p in listed), sorted(p for p in listed if not (REPO / p).exists())
    rooms = {
        str(p.relative_to(REPO))
        for p in (REPO / "ontask").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name != "__init__.py")
    }
    assert rooms - listed == set()


def test_fonts_are_loaded_in_one_module():
    """ontask.fonts fails the same way everywhere; a second loader would fall back its own way."""
    loading = {
        str(p.relative_to(REPO))
        for p in (REPO / "ontask").rglob("*.py")
        if "truetype(" in p.read_text() or "load_default(" in p.read_text()
    }
    assert loading == {"ontask/fonts.py"}
