"""The real-screens set: real applications on a real X11 desktop (Xvfb + openbox), driven
through the capture agent's own code, screenshotted with the evidence the agent reads.

For every scene of `ontask.agent.screens.plan_scenes` the builder opens each window in its real
application (Chromium on pages this module serves under real-looking host names, LibreOffice
Writer and Calc, vim in xterm, Mousepad, Evince, mpv, xboard, xmahjongg), places them, focuses
the last, and takes the screenshot and the EWMH evidence with `X11Desktop`. It writes a folder
that `ontask data prepare` turns into a dataset version:

- ``manifest.jsonl``: one row per (screenshot, task) with label, split, hard-case family and the
  windows as the agent read them (URLs added for browser windows, as a browser extension
  reports them);
- ``screens.jsonl``: one row per screenshot with every window's geometry: OCR ground truth;
- ``focus-music.jsonl``: rows in the manifest's format for a team's own policy
  (`screens.plan_policy_scenes`: its focus music in front of the task's work is on-task), labelled
  by that policy and kept apart: corrections and their evaluation, not bootstrap data;
- ``shots/<scene>.png``.

The folder is cached under ``$ONTASK_CACHE/real-screens-<hash of this code and the plan>``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import html
import http.server
import json
import os
import shutil
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from PIL import Image, ImageDraw, ImageFont

from ontask.agent.desktop import VirtualDesktop, missing_programs, stop_all
from ontask.agent.screens import (
    CHAT,
    CODE,
    DOC,
    GAME,
    NOTE,
    PAGE,
    PDF,
    SHEET,
    VIDEO,
    Material,
    Scene,
    plan_policy_scenes,
    plan_scenes,
    task_by_id,
)
from ontask.agent.x11 import X11Desktop, X11Window
from ontask.labels import OFF, ON

if TYPE_CHECKING:
    from ontask.data.dataset import Example

PROGRAMS = (
    "Xvfb",
    "openbox",
    "chromium",
    "soffice",
    "xterm",
    "vim",
    "mousepad",
    "evince",
    "mpv",
    "xboard",
    "xmahjongg",
)
# Bump when the way screens are made changes (applications, their settings, placement): the
# cached set is keyed by this and by the plan in screens.py.
FORMAT_VERSION = "2"
POLICY_MANIFEST = "focus-music.jsonl"  # rows labelled by a team's policy (screens.plan_policy_scenes)


def cache_dir() -> Path:
    return Path(os.environ.get("ONTASK_CACHE", Path.home() / ".cache" / "ontask"))


def set_fingerprint() -> str:
    """Changes whenever the plan (screens.py) or FORMAT_VERSION changes."""
    h = hashlib.sha256(FORMAT_VERSION.encode())
    h.update(resources.files("ontask.agent").joinpath("screens.py").read_bytes())
    return h.hexdigest()[:12]


# --- content: pages, documents, frames ---------------------------------------------------------


def _page_html(m: Material) -> str:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in m.body)
    if m.kind == CHAT:
        msgs = "".join(
            f"<div class=msg><b>{html.escape(line.split(':')[0])}</b>{html.escape(line[line.find(':') :])}</div>"
            for line in m.body
        )
        return (
            f"<html><head><title>{html.escape(m.title)} - Acme Chat</title><style>body{{margin:0;font:15px sans-serif;"
            f"display:flex}}nav{{background:#3f0e40;color:#ddd;width:200px;height:100vh;padding:12px}}"
            f"main{{padding:16px}}.msg{{margin:10px 0}}</style></head><body><nav>Acme<br><br># general<br>"
            f"{html.escape(m.title)}<br># random</nav><main><h2>{html.escape(m.title)}</h2>{msgs}</main></body></html>"
        )
    return (
        f"<html><head><title>{html.escape(m.title)}</title><style>body{{font:16px sans-serif;margin:0}}"
        f"header{{background:#24292f;color:white;padding:10px 20px}}article{{padding:20px;max-width:760px}}"
        f"</style></head><body><header>{html.escape(m.host)}</header><article><h1>{html.escape(m.title)}</h1>"
        f"{body}</article></body></html>"
    )


def _font(size: int) -> ImageFont.FreeTypeFont:
    for path in (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    ):
        if os.path.exists(path):
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def _write_pdf(m: Material, path: Path) -> None:
    page = Image.new("RGB", (850, 1100), "white")
    d = ImageDraw.Draw(page)
    d.text((70, 80), m.title, fill="black", font=_font(30))
    for i, line in enumerate(m.body):
        d.text((70, 160 + 36 * i), line, fill="black", font=_font(20))
    page.save(path, "PDF", title=m.title, resolution=100)


def _write_frame(m: Material, path: Path) -> None:
    """A still from the video: what mpv shows of it."""
    frame = Image.new("RGB", (960, 540), (30, 40, 60))
    d = ImageDraw.Draw(frame)
    d.rectangle((0, 400, 960, 540), fill=(10, 10, 10))
    d.text((40, 440), m.title, fill="white", font=_font(28))
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.save(path)


class _Pages(http.server.BaseHTTPRequestHandler):
    pages: dict[str, str] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        host = (self.headers.get("Host") or "").split(":")[0]
        page = self.pages.get(host + self.path.split("?")[0])
        data = (page or "<html><head><title>Not found</title></head><body>Not found</body></html>").encode()
        self.send_response(200 if page else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _tls_context(folder: Path) -> ssl.SSLContext:
    """A throwaway self-signed certificate (the browser runs with --ignore-certificate-errors)."""
    key, cert = folder / "tls.key", folder / "tls.crt"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=ontask",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


# --- driving the applications ------------------------------------------------------------------


class Builder:
    """Opens materials in their applications on one desktop, one scene at a time."""

    def __init__(self, desk: VirtualDesktop, files: Path, port: int):
        self.desk, self.files, self.port = desk, files, port
        self.x = X11Desktop(desk.display)
        self.procs: list[subprocess.Popen] = []
        self._chromium_profile = desk.home / "chromium"
        (self._chromium_profile / "Default").mkdir(parents=True, exist_ok=True)
        # The window manager draws the browser's title bar, as most Linux desktops configure it.
        (self._chromium_profile / "Default" / "Preferences").write_text(
            json.dumps({"browser": {"custom_chrome_frame": False}})
        )
        self._lo_profile = desk.home / "libreoffice"
        user = self._lo_profile / "user"
        user.mkdir(parents=True, exist_ok=True)
        (user / "registrymodifications.xcu").write_text(
            '<?xml version="1.0" encoding="UTF-8"?><oor:items xmlns:oor="http://openoffice.org/2001/registry" '
            'xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            '<item oor:path="/org.openoffice.Office.Common/Misc"><prop oor:name="ShowTipOfTheDay" oor:op="fuse">'
            "<value>false</value></prop></item>"
            '<item oor:path="/org.openoffice.Setup/Product"><prop oor:name="LastTimeWhatsNewShown" oor:op="fuse">'
            '<value>99999999</value></prop><prop oor:name="ooSetupLastVersion" oor:op="fuse"><value>7.4</value>'
            "</prop></item>"
            '<item oor:path="/org.openoffice.Setup/Office"><prop oor:name="FirstStartWizardCompleted" oor:op="fuse">'
            "<value>true</value></prop></item></oor:items>"
        )

    def _file(self, m: Material) -> Path:
        path = self.files / m.name
        if m.kind == PDF:
            if not path.exists():
                _write_pdf(m, path)
        elif m.kind in (DOC, SHEET, CODE, NOTE) and not path.exists():
            path.write_text("\n".join((m.title, "") if m.kind in (DOC, NOTE) else ()) + "\n".join(m.body) + "\n")
        return path

    def argv(self, m: Material) -> list[str]:
        """The command that opens a material in its real application."""
        if m.kind in (PAGE, CHAT):
            return [
                "chromium",
                "--no-sandbox",
                "--test-type",
                "--no-first-run",
                "--disable-gpu",
                "--no-default-browser-check",
                "--disable-features=Translate,MediaRouter,HttpsUpgrades,HttpsFirstBalancedModeAutoEnable",
                f"--user-data-dir={self._chromium_profile}",
                f"--host-resolver-rules=MAP * 127.0.0.1:{self.port}",
                "--ignore-certificate-errors",
                "--new-window",
                f"https://{m.host}{m.name}",
            ]
        lo = ["soffice", f"-env:UserInstallation=file://{self._lo_profile}", "--norestore", "--nologo"]
        if m.kind == DOC:
            return lo + ["--writer", str(self._file(m))]
        if m.kind == SHEET:
            return lo + ["--calc", "--infilter=CSV:44,34,UTF8", str(self._file(m))]
        if m.kind == CODE:
            return [
                "xterm",
                "-fa",
                "DejaVu Sans Mono",
                "-fs",
                "11",
                "-e",
                "vim",
                "-n",
                "-c",
                "set title",
                str(self._file(m)),
            ]
        if m.kind == NOTE:
            return ["mousepad", str(self._file(m))]
        if m.kind == PDF:
            return ["evince", str(self._file(m))]
        if m.kind == VIDEO:
            frame = self.files / f"{m.name}.png"
            _write_frame(m, frame)
            return [
                "mpv",
                "--force-window=yes",
                "--image-display-duration=inf",
                "--no-audio",
                "--osc=no",
                f"--force-media-title={m.title}",
                str(frame),
            ]
        if m.kind == GAME:
            return ["xboard", "-ncp"] if m.name == "xboard" else [m.name]  # -ncp: no chess engine to start
        raise ValueError(f"unknown material kind {m.kind}")

    def open(self, m: Material, timeout: float = 45.0) -> X11Window:
        """Start the material's application and wait for its new window (the title settled)."""
        before = {w.wid for w in self.x.windows()}
        self.procs.append(self.desk.spawn(self.argv(m), cwd=str(self.files)))
        deadline = time.monotonic() + timeout
        expect = expected_title_part(m)
        while time.monotonic() < deadline:
            new = [w for w in self.x.windows() if w.wid not in before and expect.lower() in w.title.lower()]
            if new:
                return new[-1]
            time.sleep(0.2)
        titles = [w.title for w in self.x.windows() if w.wid not in before]
        raise TimeoutError(
            f"{m.kind} {m.name}: no window titled with {expect!r} after {timeout:.0f} s (new windows: {titles})"
        )

    def close_all(self) -> None:
        for w in self.x.windows():
            self.x.close_window(w.wid)
        stop_all(self.procs)
        self.procs.clear()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(
            not w.app.startswith(("Chromium", "libreoffice", "soffice")) for w in self.x.windows()
        ):
            time.sleep(0.1)

    def place(self, wins: list[X11Window], layout: str) -> None:
        w, h = self.desk.size
        title = 20  # openbox's title bar: place frames so the client areas fit the screen
        if layout == "full":
            boxes = [(0, 0, w, h - title)] * len(wins)
        elif layout == "split":
            boxes = [(0, 0, w // 2, h - title), (w // 2, 0, w - w // 2, h - title)]
        else:
            boxes = [(0, 0, int(w * 0.72), int(h * 0.75)), (int(w * 0.25), int(h * 0.2), int(w * 0.72), int(h * 0.75))]
        for win, box in zip(wins, boxes[-len(wins) :]):
            self.x.move_resize(win.wid, *box)

    def shoot(self, scene: Scene) -> tuple[Image.Image, list[X11Window]]:
        wins = [self.open(m) for m in scene.windows]
        self.place(wins, scene.layout)
        for win in wins:
            self.x.activate(win.wid)
            time.sleep(0.3)
        time.sleep(1.2)  # let the applications repaint at their new sizes
        return self.x.screenshot(), [w for w in self.x.windows() if not w.minimised]


def expected_title_part(m: Material) -> str:
    """What the window title of a material contains once the application has loaded it."""
    if m.kind in (PAGE, CHAT, VIDEO, PDF):  # evince shows the PDF's title metadata
        return m.title
    if m.kind == GAME:
        return {"xboard": "xboard", "xmahjongg": "mahjongg"}.get(m.name, m.name)
    return m.name


# --- the set -----------------------------------------------------------------------------------


def _url_of(win: X11Window, scene: Scene) -> Optional[str]:
    for m in scene.windows:
        if m.kind in (PAGE, CHAT) and m.title in win.title:
            return f"https://{m.host}{m.name}"
    return None


def build(out: Path, seed: int = 0, limit: Optional[int] = None, log: Callable[[str], None] = print) -> Path:
    """Make the set in `out` (written to a temporary folder and renamed, so a half-built set is
    never taken for a whole one). Returns `out`."""
    missing = missing_programs(PROGRAMS)
    if missing:
        raise RuntimeError(f"the real-screens set needs {', '.join(missing)}: run make system-deps")
    general = plan_scenes(seed)
    scenes = general + plan_policy_scenes(seed)
    scenes = scenes[:limit] if limit else scenes
    policy_ids = {s.id for s in scenes[len(general) :]}
    tasks = task_by_id()
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "shots").mkdir(parents=True)
    _Pages.pages = {m.host + m.name: _page_html(m) for s in scenes for m in s.windows if m.kind in (PAGE, CHAT)}
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Pages)
    server.daemon_threads = True
    # HTTPS: many real hosts are HSTS-preloaded, so the browser refuses them over plain HTTP.
    server.socket = _tls_context(tmp).wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    t0 = time.monotonic()
    rows, screens, policy_rows = [], [], []
    try:
        # A fixed HOME: file paths show in titles (Mousepad), and OCR is measured on them.
        with _build_lock(), VirtualDesktop(home=Path(tempfile.gettempdir()) / "ontask-screens" / "maria") as desk:
            files = desk.home / "Documents"  # where a person keeps their files: titles show ~/Documents
            files.mkdir()
            builder = Builder(desk, files, server.server_address[1])
            for i, scene in enumerate(scenes):
                try:
                    image, wins = builder.shoot(scene)
                except TimeoutError as e:  # a slow start under load: once more from a clean desktop
                    log(f"[real-screens] {scene.id}: {e}; retrying")
                    builder.close_all()
                    image, wins = builder.shoot(scene)
                builder.close_all()
                shot = f"shots/{scene.id}.png"
                image.save(tmp / shot, optimize=False, compress_level=3)
                windows = [{**w.evidence(), "url": _url_of(w, scene)} for w in wins]
                focused = next((w for w in wins if w.focused), None)
                in_policy = scene.id in policy_ids
                if not in_policy:  # OCR ground truth covers the general set only
                    screens.append(
                        {
                            "image": shot,
                            "scene": scene.id,
                            "split": scene.split,
                            "layout": scene.layout,
                            "windows": [{**e, "geometry": list(w.geometry)} for e, w in zip(windows, wins)],
                            "focusedApp": focused.app if focused else "",
                            "focusedKind": scene.windows[-1].kind,
                        }
                    )
                pairs = ([(scene.on_task, ON)] if scene.on_task else []) + [(t, OFF) for t in scene.off_task]
                for task_id, label in pairs:
                    (policy_rows if in_policy else rows).append(
                        {
                            "image": shot,
                            "task": tasks[task_id].text,
                            "label": label,
                            "windows": windows,
                            "id": f"real-{scene.id}-{task_id}",
                            "split": scene.split,
                            "hardKind": scene.hard.get(task_id, ""),
                            "meta": {
                                "scene": scene.id,
                                "task_id": task_id,
                                "role": tasks[task_id].role,
                                "app": focused.app if focused else "",
                                "kind": scene.windows[-1].kind,
                                "layout": scene.layout,
                            },
                        }
                    )
                if (i + 1) % 10 == 0:
                    log(f"[real-screens] {i + 1}/{len(scenes)} screens, {time.monotonic() - t0:.0f} s")
    finally:
        server.shutdown()
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


@contextlib.contextmanager
def _build_lock():
    """One build at a time on a machine: they share the fixed HOME."""
    path = Path(tempfile.gettempdir()) / "ontask-screens.lock"
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def cached_set(seed: int = 0, rebuild: bool = False, log: Callable[[str], None] = print) -> Path:
    """The set for this code, built once per fingerprint and reused."""
    out = cache_dir() / f"real-screens-{set_fingerprint()}"
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
