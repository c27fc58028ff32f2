"""Synthetic screens, datasets, customer data preparation and variants."""

import io
import json
import random
import subprocess
import sys
import uuid

import pytest
from PIL import Image, ImageChops

from ontask.data import example_at, generate, make_variants, prepare, read_version, render, write_version
from ontask.data.catalog import ALL_KINDS, TASKS_BY_ID
from ontask.data.dataset import DatasetError, list_versions, row_meta, row_windows
from ontask.data.labels import label_scene
from ontask.data.scene import Scene, new_scene
from ontask.images import ImageRejected, decode_image
from ontask.store import LocalStore, S3Store
from tests.conftest import REPO, bomb_png

TOPIC_FOR = {
    "editor": "payments",
    "terminal": "payments",
    "docs": "testing",
    "spreadsheet": "revenue",
    "document": "onboarding",
    "email": "refunds",
    "chat": "lunch",
    "issues": "auth",
    "video": "cats",
    "social": "celebrity",
    "shop": "gadgets",
    "game": "gaming",
    "design": "landing-page",
    "crm": "leads",
    "music": "focus-music",
}


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_app_kind_renders_with_its_title_and_url(kind):
    rng = random.Random(3)
    scene = new_scene(rng, [(kind, TOPIC_FOR[kind], False)], layout="single")
    img = render(scene)
    assert img.size == (scene.width, scene.height)
    w = scene.focused
    body = img.crop((w.box[0] + 2, w.box[1] + 80, w.box[2] - 2, w.box[3] - 2))
    # A body is drawn, not left blank: many distinct colours.
    assert len(set(body.resize((200, 120)).get_flattened_data())) > 20
    assert w.title_bar in scene.visible_text()
    if w.browser:
        assert w.url and w.url.startswith("https://") and w.url in scene.visible_text()


def test_app_kinds_look_different_from_each_other():
    rng = random.Random(5)
    thumbs = {}
    for kind in ("editor", "terminal", "spreadsheet", "video", "game", "chat"):
        scene = new_scene(rng, [(kind, TOPIC_FOR[kind], False)], layout="single")
        thumbs[kind] = render(scene).resize((64, 40)).convert("L")
    kinds = list(thumbs)
    for i, a in enumerate(kinds):
        for b in kinds[i + 1 :]:
            diff = ImageChops.difference(thumbs[a], thumbs[b])
            assert sum(diff.get_flattened_data()) / (64 * 40) > 8, (a, b)


def test_rendering_in_worker_processes_gives_the_same_rows_in_order():
    def rows(workers):
        return [(e.id, e.task, e.label, e.split, e.image.tobytes()) for e in generate(64, 9, True, workers=workers)]

    assert rows(2) == rows(1)


def test_rendering_is_deterministic_for_a_seed():
    a, b = example_at(11, 5), example_at(11, 5)
    assert a.image.tobytes() == b.image.tobytes()
    assert (a.task, a.label, a.windows) == (b.task, b.label, b.windows)
    assert example_at(12, 5).image.tobytes() != a.image.tobytes()


def test_scene_round_trips_through_its_dict():
    ex = example_at(0, 3)
    scene = Scene.from_dict(json.loads(json.dumps(ex.meta["scene"])))
    assert render(scene).tobytes() == ex.image.tobytes()


def test_generated_set_covers_roles_kinds_and_hard_cases():
    examples = list(generate(120, seed=1))
    roles = {ex.meta["role"] for ex in examples}
    assert len(roles) >= 8
    labels = [ex.label for ex in examples]
    assert 0.3 < labels.count("on-task") / len(labels) < 0.7
    assert sum(ex.hard for ex in examples) >= 30
    assert all(ex.reason for ex in examples)
    kinds = {next(w for w in ex.meta["scene"]["windows"] if w["focused"])["kind"] for ex in examples}
    assert len(kinds) >= 12


# --- variants ------------------------------------------------------------------------------------


def test_variants_keep_or_flip_labels_as_recorded():
    parent = example_at(2, 8)
    variants = make_variants(parent, 40, seed=1)
    assert len(variants) == 40
    flips = [v for v in variants if v.meta["flips_label"]]
    keeps = [v for v in variants if not v.meta["flips_label"]]
    assert flips and keeps
    for v in variants:
        assert v.meta["parent"] == parent.id and v.meta["ops"]
        assert v.label == (
            parent.label if not v.meta["flips_label"] else ("off-task" if parent.label == "on-task" else "on-task")
        )
        if "scene" in v.meta:  # scene edits and other tasks: the rule agrees with the recorded label
            assert label_scene(Scene.from_dict(v.meta["scene"]), TASKS_BY_ID[v.meta["task_id"]]).label == v.label
        assert v.split == parent.split  # no leak of a corrected example across splits
    ops = {op.split(":")[0] for v in variants for op in v.meta["ops"]}
    assert {"paraphrase", "counterfactual"} <= ops
    assert ops & {"crop", "rescale", "colour", "jpeg", "invert-theme"}
    assert ops & {"move-windows", "retitle-focused"}


def test_variants_of_a_generic_title_row_keep_the_generic_title():
    """What made it a correction (the title names nothing; the page decides) survives its variants."""
    from ontask.data.generate import family_examples
    from ontask.data.scene import GENERIC_TITLES

    parent = family_examples("generic-title", 2, seed=3)[1]  # the off-task side: right tool, another task
    edited = [v for v in make_variants(parent, 30, seed=2) if "scene" in v.meta]
    assert {op.split(":")[0] for v in edited for op in v.meta["ops"]} >= {"retitle-focused", "counterfactual"}
    for v in edited:
        focused = Scene.from_dict(v.meta["scene"]).focused
        if focused.kind == "document":
            assert focused.title in GENERIC_TITLES and focused.heading, v.meta["ops"]


def test_variants_of_a_customer_screenshot_keep_its_label_or_take_a_task_nothing_on_it_serves():
    parent = example_at(4, 0)
    assert parent.label == "on-task"
    parent.meta = {}  # a real screenshot: no scene to edit
    variants = make_variants(parent, 12)
    assert all(v.windows == parent.windows for v in variants)
    others = [v for v in variants if v.meta["ops"] == ["other-task"]]
    assert others and len(others) < len(variants)
    shown = " ".join(f"{w['app']} {w['title']} {w['url'] or ''}" for w in parent.windows).lower()
    for v in variants:
        if v in others:  # same pixels, a task sharing no word with any window: off-task for any team
            assert v.label == "off-task" and v.meta["flips_label"] and v.task != parent.task
            assert v.image is parent.image
            assert not any(w in shown.split() for w in v.task.lower().split() if len(w) > 3)
        else:
            assert v.label == parent.label and not v.meta["flips_label"]


# --- datasets in the real S3 and in a folder ---------------------------------------------------------


@pytest.fixture(params=["s3", "local"])
def store(request, tmp_path):
    if request.param == "s3":
        s3_config = request.getfixturevalue("s3_config")
        return S3Store(s3_config, f"ds-{uuid.uuid4().hex[:8]}", prefix="team-a")
    return LocalStore(tmp_path / "store")


def test_dataset_round_trip_and_versions_never_overwrite(store):
    examples = list(generate(12, seed=3))
    m1 = write_version(store, "screens", examples, "ontask/synthetic", {"test": True})
    m2 = write_version(store, "screens", examples[:5], "ontask/synthetic", {"test": True}, parent="v1")
    assert (m1["version"], m2["version"]) == ("v1", "v2")
    assert list_versions(store, "screens") == [1, 2]
    ds = read_version(store, "screens", "v1")
    assert len(ds.rows) == 12 and read_version(store, "screens").version == "v2"
    for ex, row in zip(examples, ds.rows):
        # verl layout
        assert set(row) == {"data_source", "prompt", "images", "ability", "reward_model", "extra_info"}
        assert row["prompt"][0]["content"].startswith("<image>Windows:\n")
        assert f"Task: {ex.task}\n" in row["prompt"][0]["content"]
        assert row["reward_model"]["ground_truth"] == ex.label
        assert row["extra_info"]["id"] == ex.id and row["extra_info"]["label_source"] == "rule"
        assert row_windows(row) == ex.windows
        assert row_meta(row)["scene"] == json.loads(json.dumps(ex.meta["scene"]))
        assert ds.image(row).tobytes() == ex.image.tobytes()
    assert m1["splits"]["train"] + m1["splits"].get("val", 0) == 12
    assert len(m1["images"]) == 12


def test_tampered_dataset_is_refused(tmp_path):
    store = LocalStore(tmp_path)
    write_version(store, "screens", list(generate(3)), "ontask/synthetic", {})
    path = tmp_path / "datasets" / "screens" / "v1" / "data.parquet"
    path.write_bytes(path.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(DatasetError, match="does not match its manifest hash"):
        read_version(store, "screens", "v1")


# --- customer data: prepare and bad input -----------------------------------------------------------


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_prepare_a_folder_of_20_images(tmp_path):
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(20):
        (folder / f"shot-{i:02d}.png").write_bytes(_png(example_at(9, i).image))
    store = LocalStore(tmp_path / "store")
    result = prepare(folder, store, "customer", task="Answer customer tickets about refunds")
    assert result.rejected == []
    assert result.manifest["rows"] == 20 and result.unlabeled == 20
    ds = read_version(store, "customer")
    assert {r["extra_info"]["label_source"] for r in ds.rows} == {"unlabeled"}
    files = {row_meta(r)["file"]: r for r in ds.rows}
    assert ds.image(files["shot-03.png"]).tobytes() == example_at(9, 3).image.tobytes()


def test_prepare_rejects_bad_items_by_name_and_keeps_the_rest(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    good = _png(example_at(1, 0).image)
    (folder / "good-1.png").write_bytes(good)
    (folder / "good-2.png").write_bytes(_png(example_at(1, 1).image))
    (folder / "notes.png").write_bytes(b"this is a text file, not a picture")
    (folder / "truncated.png").write_bytes(good[: len(good) // 2])
    (folder / "bomb.png").write_bytes(bomb_png(20000, 20000))
    (folder / "empty-task.png").write_bytes(good)
    lines = [
        {
            "image": "good-1.png",
            "task": "Fix the login bug",
            "label": "on-task",
            "windows": [{"app": "Visual Studio Code", "title": "auth.go - Visual Studio Code", "focused": True}],
        },
        {"image": "good-2.png", "task": "Answer refund tickets", "label": "off-task"},
        {"image": "notes.png", "task": "Answer refund tickets"},
        {"image": "truncated.png", "task": "Answer refund tickets"},
        {"image": "bomb.png", "task": "Answer refund tickets"},
        {"image": "empty-task.png", "task": "   "},
        {"image": "good-1.png", "task": "Answer refund tickets", "label": "maybe"},
        {"image": "../outside.png", "task": "Answer refund tickets"},
        {"image": str(tmp_path / "outside.png"), "task": "Answer refund tickets"},
    ]
    (tmp_path / "outside.png").write_bytes(good)  # readable, but not the manifest's to give
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken json\n")
    store = LocalStore(tmp_path / "store")
    result = prepare(folder, store, "batch")
    reasons = {r["file"]: r["reason"] for r in result.rejected}
    assert result.manifest["rows"] == 2
    assert "notes.png: not an image" in reasons["notes.png"]
    assert "truncated.png: broken or truncated" in reasons["truncated.png"]
    assert reasons["bomb.png"].startswith("bomb.png: ") and "pixels" in reasons["bomb.png"]
    assert "exceeds" in reasons["bomb.png"]
    assert "empty-task.png: empty task description" in reasons["empty-task.png"]
    assert "label 'maybe' is not on-task or off-task" in reasons["good-1.png"]
    assert any("line 10: invalid JSON" in r for r in reasons.values())
    assert "../outside.png: outside the manifest's folder" in reasons["../outside.png"]
    assert "outside the manifest's folder" in reasons[str(tmp_path / "outside.png")]
    ds = read_version(store, "batch")
    assert {r["extra_info"]["label_source"] for r in ds.rows} == {"manifest"}
    assert row_windows(ds.rows[0])[0]["app"] == "Visual Studio Code"
    assert ds.manifest["rejected"] == result.rejected


def test_prepare_gives_each_on_task_row_an_off_task_twin_on_its_own_pixels(tmp_path):
    from ontask.verify.relevance import relevance

    folder = tmp_path / "desk"
    folder.mkdir()
    code = _png(example_at(1, 0).image)
    (folder / "code.png").write_bytes(code)
    (folder / "game.png").write_bytes(_png(example_at(1, 1).image))
    vim = [{"app": "vim", "title": "parse.py (~/src/etl) - VIM", "focused": True}]
    lines = [
        {
            "image": "code.png",
            "task": "Fix the date parsing bug in parse.py",
            "label": "on-task",
            "windows": vim,
            "split": "val",
            "meta": {"scene": "etl-desk"},
        },  # a real set names its scenes
        {
            "image": "game.png",
            "task": "Fix the date parsing bug in parse.py",
            "label": "off-task",
            "windows": [{"app": "Steam", "title": "Chess", "focused": True}],
        },
    ]
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    store = LocalStore(tmp_path / "store")
    result = prepare(folder, store, "desk", other_task_twins=True)
    assert result.twins == 1 and result.manifest["rows"] == 3
    ds = read_version(store, "desk")
    [twin] = [r for r in ds.rows if r["extra_info"]["label_source"] == "manifest+other-task"]
    task = twin["extra_info"]["task"]
    assert twin["reward_model"]["ground_truth"] == "off-task" and twin["extra_info"]["split"] == "val"
    assert relevance(task, "vim parse.py (~/src/etl) - VIM", {})[0] == 0.0, task
    assert ds.image(twin).tobytes() == decode_image(code, "code.png").tobytes()
    # Without the option, the customer's rows are written as they are.
    assert prepare(folder, store, "plain").manifest["rows"] == 2


def test_a_header_claiming_400_megapixels_is_refused_before_any_pixel_is_read():
    from ontask.images import check_image

    for check in (check_image, decode_image):
        with pytest.raises(ImageRejected, match="shot.png: "):
            check(bomb_png(20000, 20000), "shot.png")


def test_decode_image_limits():
    with pytest.raises(ImageRejected, match="shot.png: empty file"):
        decode_image(b"", "shot.png")
    with pytest.raises(ImageRejected, match="bytes exceeds the limit"):
        from ontask.images import ImageLimits

        decode_image(b"x" * 100, "big.png", ImageLimits(max_bytes=10))


def test_cli_generate_with_preview_and_prepare(tmp_path):
    sheet = tmp_path / "sheet.png"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ontask.cli",
            "data",
            "generate",
            "--n",
            "30",
            "--seed",
            "2",
            "--out",
            str(tmp_path / "store"),
            "--preview",
            str(sheet),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "wrote" in out.stdout and "30 rows" in out.stdout
    img = Image.open(sheet)
    assert img.width > 2000 and img.height > 1000
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "junk.png").write_bytes(b"junk")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "ontask.cli",
            "data",
            "prepare",
            str(folder),
            "--task",
            "x",
            "--out",
            str(tmp_path / "store"),
            "--name",
            "junk",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode != 0
    assert "no usable rows" in out.stderr and "junk.png" in out.stderr


def test_the_spec_s_validation_share_holds_out_that_share_of_a_prepared_folder(tmp_path):
    """spec.data.validationShare reaches the data Job (`ontask data prepare --config`): a bigger
    share only moves rows from train to val, and each on-task row's twin stays in its split."""
    folder = tmp_path / "desk"
    folder.mkdir()
    vim = [{"app": "vim", "title": "parse.py (~/src/etl) - VIM", "focused": True}]
    lines = []
    for i in range(80):
        (folder / f"s{i}.png").write_bytes(_png(example_at(3, i).image))
        lines.append(
            {"image": f"s{i}.png", "task": "Fix the date parsing bug in parse.py", "label": "on-task", "windows": vim}
        )
    (folder / "manifest.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    splits = {}
    for share in (None, 0.45):
        config = tmp_path / f"spec-{share}.yaml"
        data = {"source": str(folder)} | ({"validationShare": share} if share else {})
        config.write_text(json.dumps({"student": {"model": "x"}, "data": data}))
        out = subprocess.run(
            [sys.executable, "-m", "ontask.cli", "data", "prepare", str(folder), "--config", str(config)]
            + ["--out", str(tmp_path / "store"), "--name", f"desk-{share or 0}"],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
        rows = read_version(LocalStore(tmp_path / "store"), f"desk-{share or 0}").rows
        assert len(rows) == 160  # each row and its other-task twin (otherTaskTwins is on by default)
        by_file: dict[str, set] = {}
        for r in rows:
            parent = r["extra_info"]["id"].removesuffix("~other-task")
            by_file.setdefault(parent, set()).add(r["extra_info"]["split"])
        assert all(len(s) == 1 for s in by_file.values()), "a twin left its parent's split"
        splits[share] = {f for f, s in by_file.items() if s == {"val"}}
    assert 6 <= len(splits[None]) <= 26 and 26 <= len(splits[0.45]) <= 46, {k: len(v) for k, v in splits.items()}
    assert splits[None] < splits[0.45]
