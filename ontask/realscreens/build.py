"""Building the real-screens set: every shot of `plan` taken with real applications on a real X11
desktop (`apps`, `desktop`), driven through the capture agent's own code, with the evidence the
agent reads. It writes a folder that `ontask data prepare` turns into a dataset version:

- ``manifest.jsonl``: one row per (screenshot, task) with label, split, hard-case family and the
  windows as the agent read them (URLs added for browser windows, as a browser extension
  reports them);
- ``screens.jsonl``: one row per screenshot with every window's geometry: OCR ground truth;
- ``focus-music.jsonl``: rows in the manifest's format for a team's own policy
  (`plan.plan_policy_shots`: its focus music in front of the task's work is on-task), labelled
  by that policy and kept apart: corrections and their evaluation, not bootstrap data;
- ``shots/<shot id>.png``.

The folder is cached under ``$ONTASK_CACHE/real-screens-<set_fingerprint()>``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

from PIL import Image

from ontask.agent.desktop import DesktopWindow
from ontask.labels import OFF, ON
from ontask.realscreens.apps import PROGRAMS, AppDriver, Capture
from ontask.realscreens.desktop import VirtualDesktop, missing_programs
from ontask.realscreens.pages import serve_pages, url_of
from ontask.realscreens.plan import Shot, plan_json, plan_policy_shots, plan_shots, task_by_id
from ontask.realscreens.repaint import unpainted
from ontask.realscreens.tasks import CHAT, PAGE, RealTask

if TYPE_CHECKING:
    from ontask.data.dataset import Example

# Bump when the way screens are made changes (applications, their settings, placement, the pages
# and documents they show): the cached set is keyed by this and by the plan.
FORMAT_VERSION = "4"
POLICY_MANIFEST = "focus-music.jsonl"  # rows labelled by a team's policy (plan.plan_policy_shots)


def cache_dir() -> Path:
    """Where built sets are kept: $ONTASK_CACHE, else ~/.cache/ontask."""
    return Path(os.environ.get("ONTASK_CACHE", Path.home() / ".cache" / "ontask"))


def set_fingerprint(seed: int = 0) -> str:
    """The set's identity: a hash of FORMAT_VERSION and the plan's canonical JSON (tasks and shots),
    so it changes with the plan and not when code only moves or is reformatted."""
    h = hashlib.sha256(FORMAT_VERSION.encode())
    h.update(plan_json(seed).encode())
    return h.hexdigest()[:12]


def _url_of(win: DesktopWindow, shot: Shot) -> Optional[str]:
    for m in shot.windows:
        if m.kind in (PAGE, CHAT) and m.title in win.title:
            return url_of(m)
    return None


def _rows(shot: Shot, image: str, windows: list[dict[str, Any]], app: str, tasks: dict[str, RealTask]) -> list[dict]:
    """The manifest rows of one screenshot: the task it serves (if any) and those it does not."""
    pairs = ([(shot.on_task, ON)] if shot.on_task else []) + [(t, OFF) for t in shot.off_task]
    return [
        {
            "image": image,
            "task": tasks[task_id].text,
            "label": label,
            "windows": windows,
            "id": f"real-{shot.id}-{task_id}",
            "split": shot.split,
            "hardKind": shot.hard.get(task_id, ""),
            "meta": {
                "scene": shot.id,
                "task_id": task_id,
                "role": tasks[task_id].role,
                "app": app,
                "kind": shot.windows[-1].kind,
                "layout": shot.layout,
            },
        }
        for task_id, label in pairs
    ]


def screen_record(
    shot: Shot, image: str, windows: list[dict[str, Any]], wins: list[DesktopWindow], app: str
) -> dict[str, Any]:
    """One screenshot's row of ``screens.jsonl``: its windows as the agent read them, each with
    its geometry (OCR ground truth)."""
    return {
        "image": image,
        "scene": shot.id,
        "split": shot.split,
        "layout": shot.layout,
        "windows": [{**e, "geometry": list(w.geometry)} for e, w in zip(windows, wins)],
        "focusedApp": app,
        "focusedKind": shot.windows[-1].kind,
    }


def build(out: Path, seed: int = 0, limit: Optional[int] = None, log: Callable[[str], None] = print) -> Path:
    """Make the set in `out` (written to a temporary folder and renamed, so a half-built set is
    never taken for a whole one). Returns `out`."""
    missing = missing_programs(PROGRAMS)
    if missing:
        raise RuntimeError(f"the real-screens set needs {', '.join(missing)}: run make system-deps")
    general = plan_shots(seed)
    shots = general + plan_policy_shots(seed)
    shots = shots[:limit] if limit else shots
    policy_ids = {s.id for s in shots[len(general) :]}
    tasks = task_by_id()
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "shots").mkdir(parents=True)
    t0 = time.monotonic()
    rows: list[dict] = []
    screens: list[dict] = []
    policy_rows: list[dict] = []
    # A fixed HOME: file paths show in titles (Mousepad), and OCR is measured on them.
    home = Path(tempfile.gettempdir()) / "ontask-screens" / "maria"
    with (
        serve_pages((m for s in shots for m in s.windows), tmp) as port,
        _build_lock(),
        VirtualDesktop(home=home) as desk,
    ):
        files = desk.home / "Documents"  # where a person keeps their files: titles show ~/Documents
        files.mkdir()
        driver = AppDriver(desk, files, port)
        waits: list[tuple[float, str]] = []
        for i, shot in enumerate(shots):
            capture = _capture(driver, shot, log)
            driver.close_all()
            waits.append((capture.waited, shot.id))
            image, wins = capture.image, capture.windows
            path = f"shots/{shot.id}.png"
            image.save(tmp / path, optimize=False, compress_level=3)
            windows = [{**w.evidence(), "url": _url_of(w, shot)} for w in wins]
            focused = next((w for w in wins if w.focused), None)
            app = focused.app if focused else ""
            if shot.id in policy_ids:
                policy_rows += _rows(shot, path, windows, app, tasks)
            else:  # OCR ground truth covers the general set only
                rows += _rows(shot, path, windows, app, tasks)
                screens.append(screen_record(shot, path, windows, wins, app))
            if (i + 1) % 10 == 0 or i + 1 == len(shots):
                longest, slowest = max(waits[-10:])
                log(
                    f"[real-screens] {i + 1}/{len(shots)} screens, {time.monotonic() - t0:.0f} s; drawing took "
                    f"{min(waits[-10:])[0]:.1f}-{longest:.1f} s ({slowest} the longest)"
                )
    (tmp / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp / "screens.jsonl").write_text("".join(json.dumps(s) + "\n" for s in screens))
    (tmp / POLICY_MANIFEST).write_text("".join(json.dumps(r) + "\n" for r in policy_rows))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    log(
        f"[real-screens] {len(screens)} screenshots, {len(rows)} rows (and {len(policy_rows)} rows of a team's "
        f"policy) in {time.monotonic() - t0:.0f} s: {out}"
    )
    return out


class NotDrawn(RuntimeError):
    """A window of a screenshot was still unpainted (`repaint.unpainted`)."""


def _capture(driver: AppDriver, shot: Shot, log: Callable[[str], None], **frame: Any) -> Capture:
    """The shot's screenshot, taken once more from a clean desktop when an application was slow to
    start or left a window unpainted (a loaded machine); a second failure names the shot. `frame`:
    how its focused window is drawn (`AppDriver.shoot`)."""
    try:
        return _drawn_shot(driver, shot, log, frame)
    except (TimeoutError, NotDrawn) as e:
        log(f"[real-screens] {shot.id}: {e}; retrying")
        driver.close_all()
    try:
        return _drawn_shot(driver, shot, log, frame)
    except (TimeoutError, NotDrawn) as e:
        raise RuntimeError(f"real-screens shot {shot.id} failed twice: {e}") from e


def _drawn_shot(driver: AppDriver, shot: Shot, log: Callable[[str], None], frame: dict) -> Capture:
    capture = driver.shoot(shot, **frame)
    if not capture.still:
        log(f"[real-screens] {shot.id}: the desktop was still busy after {capture.waited:.0f} s")
    blank = unpainted(capture.image, [(w.app, w.geometry) for w in capture.windows])
    if blank:
        apps = ", ".join(capture.windows[k].app for k in blank)
        raise NotDrawn(f"{apps} window not drawn {capture.waited:.1f} s after it was placed")
    return capture


@contextlib.contextmanager
def _build_lock() -> Iterator[None]:
    """One build at a time on a machine: they share the fixed HOME."""
    path = Path(tempfile.gettempdir()) / "ontask-screens.lock"
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cached_set(seed: int = 0, rebuild: bool = False, log: Callable[[str], None] = print) -> Path:
    """The set of this plan and FORMAT_VERSION, built once per fingerprint and reused."""
    out = cache_dir() / f"real-screens-{set_fingerprint(seed)}"
    if (out / "manifest.jsonl").exists() and not rebuild:
        return out
    return build(out, seed, log=log)


def examples(folder: Path, manifest: str = "manifest.jsonl") -> list[Example]:
    """A built set's rows as `Example`s (the screenshot loaded), from its manifest or from
    POLICY_MANIFEST."""
    from ontask.data.dataset import Example

    out = []
    for line in (folder / manifest).read_text().splitlines():
        r = json.loads(line)
        with Image.open(folder / r["image"]) as im:
            image = im.convert("RGB")
        out.append(
            Example(
                id=r["id"],
                image=image,
                task=r["task"],
                label=r["label"],
                label_source="ground-truth",
                windows=r["windows"],
                split=r["split"],
                hard_kind=r.get("hardKind") or None,
                meta=r.get("meta", {}),
            )
        )
    return out
