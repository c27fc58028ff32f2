"""Building the grown real-screens set: the general set's scenes shot again on the looks of
`looks` (other window managers and themes, other screen sizes), one desktop per look, with the
same applications and the same agent code as the base set (`build`). The base set is left as it
is (its plan, cache and figures do not change); this one is cached beside it:
``$ONTASK_CACHE/real-screens-looks[-smoke]-<fingerprint>``, with

- ``screens.jsonl``: one row per screenshot, as the base set's, with its look (`look`, `wm`,
  `theme`, `size`, `scale`, `scheme`, and the look's split);
- ``manifest.jsonl``: its (screenshot, task) rows, the look in each row's meta;
- ``shots/<look>/<scene>.png``.

The focused window is drawn as its `LookShot.frame` says: by the window manager, by Chromium in
its own frame with its tab strip (the shot's page the first and active tab, other pages in the
tabs after it), or by the application (Evince's GTK header bar); each screen's `frame` says
which. Chromium is drawn at the look's scale and with its dark theme on a dark look. What it does
not do yet: a second header-bar application, an application drawing its own title bar without
tabs, and the scale and dark scheme inside the other applications (their window manager's frame
is dark where the look is)."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Optional

from ontask.realscreens.apps import PROGRAMS, AppDriver
from ontask.realscreens.build import (
    _build_lock,
    _capture,
    _rows,
    _url_of,
    cache_dir,
    screen_record,
    set_fingerprint,
)
from ontask.realscreens.desktop import VirtualDesktop, missing_programs
from ontask.realscreens.looks import Look, LookShot, plan_look_shots
from ontask.realscreens.pages import serve_pages
from ontask.realscreens.plan import task_by_id
from ontask.realscreens.wms import WINDOW_MANAGERS

# Bump when the way the looks' screens are made changes (beyond the base set's FORMAT_VERSION,
# which the fingerprint includes).
LOOKS_FORMAT_VERSION = "2"


def looks_fingerprint(seed: int = 0, smoke: bool = False) -> str:
    """The grown set's identity: the base set's fingerprint (its applications and plan), this
    module's format and the looks' plan (each look and the scenes dealt to it)."""
    plan = [
        (s.look.id, s.look.wm, s.look.theme, s.look.size, s.shot.id, s.frame, [t.title for t in s.tabs])
        for s in plan_look_shots(seed, smoke)
    ]
    h = hashlib.sha256(f"{LOOKS_FORMAT_VERSION}:{set_fingerprint(seed)}".encode())
    h.update(json.dumps(plan, separators=(",", ":")).encode())
    return h.hexdigest()[:12]


def _look_fields(look: Look) -> dict:
    return {
        "look": look.id,
        "wm": look.wm,
        "theme": look.theme,
        "size": list(look.size),
        "scale": look.scale,
        "scheme": look.scheme,
    }


def build_looks(
    out: Path,
    seed: int = 0,
    smoke: bool = False,
    per_look: Optional[int] = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Make the grown set (or its smoke part; `per_look` screens a look instead of the plan's) in
    `out`, through a temporary folder renamed at the end. Returns `out`."""
    planned = plan_look_shots(seed, smoke, per_look)
    programs = tuple(PROGRAMS) + tuple(sorted({WINDOW_MANAGERS[s.look.wm].program for s in planned}))
    missing = missing_programs(programs)
    if missing:
        raise RuntimeError(f"the grown real-screens set needs {', '.join(missing)}: run make system-deps")
    by_look: dict[Look, list[LookShot]] = defaultdict(list)
    for s in planned:
        by_look[s.look].append(s)
    tasks = task_by_id()
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    t0 = time.monotonic()
    rows: list[dict] = []
    screens: list[dict] = []
    home = Path(tempfile.gettempdir()) / "ontask-screens" / "maria"  # the base set's: titles show it
    served = (m for s in planned for m in (*s.shot.windows, *s.tabs))
    with serve_pages(served, tmp) as port, _build_lock():
        for look, shots in by_look.items():
            started = time.monotonic()
            (tmp / "shots" / look.id).mkdir(parents=True)
            with VirtualDesktop(*look.size, home=home, wm=look.wm, theme=look.theme) as desk:
                files = desk.home / "Documents"
                files.mkdir()
                driver = AppDriver(desk, files, port, fit_frames=True, scale=look.scale, scheme=look.scheme)
                for planned_shot in shots:
                    shot = planned_shot.shot
                    capture = _capture(driver, shot, log, frame=planned_shot.frame, tabs=planned_shot.tabs)
                    driver.close_all()
                    path = f"shots/{look.id}/{shot.id}.png"
                    capture.image.save(tmp / path, optimize=False, compress_level=3)
                    wins = capture.windows
                    windows = [{**w.evidence(), "url": _url_of(w, shot)} for w in wins]
                    focused = next((w for w in wins if w.focused), None)
                    app = focused.app if focused else ""
                    for r in _rows(shot, path, windows, app, tasks):
                        r["id"] = f"real-{look.id}-{shot.id}-{r['meta']['task_id']}"
                        r["meta"] |= _look_fields(look)
                        rows.append(r)
                    # A look shows only its own split's scenes: the shot's split is the look's.
                    record = screen_record(shot, path, windows, wins, app)
                    screens.append({**record, "frame": planned_shot.frame, **_look_fields(look)})
            log(f"[real-screens-looks] {look.id}: {len(shots)} screens in {time.monotonic() - started:.0f} s")
    (tmp / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp / "screens.jsonl").write_text("".join(json.dumps(s) + "\n" for s in screens))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    log(f"[real-screens-looks] {len(screens)} screenshots on {len(by_look)} looks in {time.monotonic() - t0:.0f} s")
    return out


def cached_looks_set(
    seed: int = 0, smoke: bool = False, rebuild: bool = False, log: Callable[[str], None] = print
) -> Path:
    """The grown set (or its smoke part) of this plan, built once per fingerprint and reused."""
    name = "real-screens-looks-smoke" if smoke else "real-screens-looks"
    out = cache_dir() / f"{name}-{looks_fingerprint(seed, smoke)}"
    if (out / "screens.jsonl").exists() and not rebuild:
        return out
    return build_looks(out, seed, smoke, log=log)
