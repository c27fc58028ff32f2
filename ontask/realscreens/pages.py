"""What the real-screens set's applications show: web pages served over HTTPS under their real
host names, text files for the office suite and editors, PDFs for the viewer, a still for the
video player. A change here changes the screenshots: bump `build.FORMAT_VERSION`."""

from __future__ import annotations

import contextlib
import html
import http.server
import socketserver
import ssl
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterable, Iterator

from PIL import Image, ImageDraw

from ontask.fonts import font
from ontask.realscreens.tasks import CHAT, CODE, DOC, NOTE, PAGE, PDF, SHEET, Material


def page_html(m: Material) -> str:
    """A page or chat channel as the browser loads it."""
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


def url_of(m: Material) -> str:
    """Where the browser loads a page or chat channel."""
    return f"https://{m.host}{m.name}"


def document(m: Material, folder: Path) -> Path:
    """The file a document, sheet, code, note or PDF material opens from, written once in `folder`."""
    path = folder / m.name
    if path.exists():
        return path
    if m.kind == PDF:
        _write_pdf(m, path)
    elif m.kind in (DOC, NOTE):
        path.write_text("\n".join((m.title, *m.body)) + "\n")
    elif m.kind in (SHEET, CODE):
        path.write_text("\n".join(m.body) + "\n")
    else:
        raise ValueError(f"a {m.kind} material has no file")
    return path


def _write_pdf(m: Material, path: Path) -> None:
    page = Image.new("RGB", (850, 1100), "white")
    d = ImageDraw.Draw(page)
    d.text((70, 80), m.title, fill="black", font=font("sans", 30))
    for i, line in enumerate(m.body):
        d.text((70, 160 + 36 * i), line, fill="black", font=font("sans", 20))
    page.save(path, "PDF", title=m.title, resolution=100)


def video_frame(m: Material, folder: Path) -> Path:
    """A still from the video: what mpv shows of it."""
    frame = Image.new("RGB", (960, 540), (30, 40, 60))
    d = ImageDraw.Draw(frame)
    d.rectangle((0, 400, 960, 540), fill=(10, 10, 10))
    d.text((40, 440), m.title, fill="white", font=font("sans", 28))
    path = folder / f"{m.name}.png"
    folder.mkdir(parents=True, exist_ok=True)
    frame.save(path)
    return path


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


@contextlib.contextmanager
def serve_pages(materials: Iterable[Material], folder: Path) -> Iterator[int]:
    """Serve the pages and chat channels among `materials` over HTTPS on 127.0.0.1 (the browser
    maps every host name there); yields the port. The certificate is written in `folder`."""
    _Pages.pages = {m.host + m.name: page_html(m) for m in materials if m.kind in (PAGE, CHAT)}
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Pages)
    server.daemon_threads = True
    # HTTPS: many real hosts are HSTS-preloaded, so the browser refuses them over plain HTTP.
    server.socket = _tls_context(folder).wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
