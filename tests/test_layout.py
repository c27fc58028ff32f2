"""The code map holds: what serves and evaluates a model never reaches into the training loop."""

import ast

from tests.conftest import REPO


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_evaluation_reads_the_classifier_from_models_not_from_serving():
    offenders = {
        str(p.relative_to(REPO)): m
        for room in ("evaluation", "trainers", "judge", "models")
        for p in (REPO / "ontask" / room).rglob("*.py")
        for m in _imports(p)
        if m == "ontask.serving" or m.startswith("ontask.serving.")
    }
    assert offenders == {}


def test_serving_evaluation_and_the_judge_do_not_import_the_trainers():
    offenders = {
        str(p.relative_to(REPO)): m
        for room in ("serving", "evaluation", "judge")
        for p in (REPO / "ontask" / room).rglob("*.py")
        for m in _imports(p)
        if m == "ontask.trainers" or m.startswith("ontask.trainers.")
    }
    assert offenders == {}


def test_the_student_s_room_imports_none_of_the_rooms_built_on_it():
    above = ("ontask.evaluation", "ontask.serving", "ontask.trainers", "ontask.judge", "ontask.operator")
    offenders = {
        str(p.relative_to(REPO)): m
        for p in (REPO / "ontask" / "models").rglob("*.py")
        for m in _imports(p)
        if any(m == a or m.startswith(a + ".") for a in above)
    }
    assert offenders == {}


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


def test_the_readmes_layout_table_matches_the_tree():
    import re

    text = (REPO / "README.md").read_text()
    table = text[text.index("## Layout") :]
    listed = {m.rstrip("/") for m in re.findall(r"^\| `([^`]+)` \|", table, flags=re.M)}
    assert all((REPO / p).exists() for p in listed), sorted(p for p in listed if not (REPO / p).exists())
    rooms = {
        str(p.relative_to(REPO))
        for p in (REPO / "ontask").iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name != "__init__.py")
    }
    assert rooms - listed == set()


def test_the_capture_agent_does_not_import_the_real_screens_set():
    offenders = {
        str(p.relative_to(REPO)): m
        for p in (REPO / "ontask" / "agent").rglob("*.py")
        for m in _imports(p)
        if m == "ontask.realscreens" or m.startswith("ontask.realscreens.")
    }
    assert offenders == {}


def test_fonts_are_loaded_in_one_module():
    """ontask.fonts fails the same way everywhere; a second loader would fall back its own way."""
    loading = {
        str(p.relative_to(REPO))
        for p in (REPO / "ontask").rglob("*.py")
        if "truetype(" in p.read_text() or "load_default(" in p.read_text()
    }
    assert loading == {"ontask/fonts.py"}
