"""Pillow renderer of desktop scenes: wallpaper, taskbar or dock with a clock, windows with
title bars, browser chrome (tabs and URL bar), app bodies for every app kind, notifications.

Deterministic: the same scene renders to the same pixels (all randomness comes from the
scene's and each window's seed)."""

from __future__ import annotations

import random

from PIL import Image, ImageDraw, ImageFont

from ontask.data.catalog import TOPICS
from ontask.data.scene import Scene, WindowSpec, bar_heights
from ontask.fonts import font

PALETTES = {
    "light": dict(
        bg=(246, 247, 249),
        fg=(30, 32, 36),
        muted=(110, 116, 126),
        bar=(232, 234, 238),
        title=(222, 225, 230),
        title_fg=(20, 22, 26),
        border=(170, 175, 185),
        accent=(37, 99, 235),
        panel=(255, 255, 255),
        line=(220, 223, 228),
    ),
    "dark": dict(
        bg=(32, 34, 40),
        fg=(225, 228, 232),
        muted=(150, 156, 166),
        bar=(24, 26, 30),
        title=(48, 51, 58),
        title_fg=(235, 237, 240),
        border=(70, 74, 84),
        accent=(96, 165, 250),
        panel=(40, 43, 50),
        line=(60, 64, 72),
    ),
}

APP_COLORS = {
    "editor": (0, 122, 204),
    "terminal": (40, 40, 40),
    "docs": (255, 149, 0),
    "spreadsheet": (16, 124, 65),
    "document": (43, 87, 154),
    "email": (0, 114, 198),
    "chat": (74, 21, 75),
    "issues": (36, 41, 47),
    "video": (230, 33, 23),
    "social": (29, 155, 240),
    "shop": (255, 153, 0),
    "game": (120, 60, 200),
    "design": (162, 89, 255),
    "crm": (0, 161, 224),
    "music": (30, 215, 96),
}


def render(scene: Scene) -> Image.Image:
    """The screenshot of a scene, as an RGB image of scene.width x scene.height."""
    img = Image.new("RGB", (scene.width, scene.height))
    draw = ImageDraw.Draw(img)
    pal = PALETTES[scene.theme]
    _wallpaper(img, scene)
    for w in scene.windows:
        # Each window is drawn on a copy and pasted back within its box, so bodies never
        # spill outside their frame.
        layer = img.copy()
        _window(layer, ImageDraw.Draw(layer), scene, w, pal)
        x0, y0, x1, y1 = w.box
        shadow = 6 if scene.layout != "split" and (x1 - x0) < scene.width else 0
        img.paste(layer.crop((x0, y0, x1 + 1 + shadow, y1 + 1 + shadow)), (x0, y0))
    _bars(draw, scene, pal)
    if scene.notification:
        _notification(draw, scene, pal)
    return img


def _s(scene: Scene, px: float) -> int:
    return max(1, int(round(px * scene.scale)))


def _wallpaper(img: Image.Image, scene: Scene) -> None:
    rng = random.Random(scene.seed)
    top = (rng.randint(20, 90), rng.randint(40, 110), rng.randint(90, 170))
    bottom = (rng.randint(90, 180), rng.randint(40, 120), rng.randint(60, 150))
    draw = ImageDraw.Draw(img)
    for y in range(0, scene.height, 4):
        t = y / scene.height
        c = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom))
        draw.rectangle((0, y, scene.width, y + 4), fill=c)


def _bars(draw: ImageDraw.ImageDraw, scene: Scene, pal: dict) -> None:
    top, bottom = bar_heights(scene.dock, scene.height, scene.scale)
    f = font("ui", _s(scene, 13))
    if scene.dock == "dock":
        draw.rectangle((0, 0, scene.width, top), fill=pal["bar"])
        draw.text(
            (_s(scene, 12), top // 2),
            f"\u25cf  {scene.focused.app}   File   Edit   View   Window   Help",
            font=f,
            fill=pal["fg"],
            anchor="lm",
        )
        draw.text(
            (scene.width - _s(scene, 12), top // 2), f"Thu 26 Nov  {scene.clock}", font=f, fill=pal["fg"], anchor="rm"
        )
        n = len(scene.windows) + 4
        size = _s(scene, 40)
        x0 = scene.width // 2 - n * (size + 8) // 2
        y0 = scene.height - bottom + (bottom - size) // 2
        draw.rounded_rectangle(
            (x0 - 10, y0 - 6, x0 + n * (size + 8) + 2, y0 + size + 6),
            radius=_s(scene, 14),
            fill=tuple(min(255, c + 10) for c in pal["bar"]),
        )
        kinds = [w.kind for w in scene.windows] + ["docs", "email", "chat", "terminal"]
        for i, kind in enumerate(kinds[:n]):
            x = x0 + i * (size + 8)
            draw.rounded_rectangle((x, y0, x + size, y0 + size), radius=_s(scene, 9), fill=APP_COLORS[kind])
    else:
        y = scene.height - bottom
        draw.rectangle((0, y, scene.width, scene.height), fill=pal["bar"])
        draw.rounded_rectangle((_s(scene, 6), y + 5, _s(scene, 80), scene.height - 5), radius=4, fill=pal["accent"])
        draw.text((_s(scene, 43), y + bottom // 2), "Start", font=f, fill=(255, 255, 255), anchor="mm")
        x = _s(scene, 90)
        for w in scene.windows:
            width = _s(scene, 170)
            fill = pal["title"] if not w.focused else tuple(min(255, c + 25) for c in pal["title"])
            draw.rectangle((x, y + 4, x + width, scene.height - 4), fill=fill)
            draw.rectangle((x + 6, y + 10, x + 20, scene.height - 10), fill=APP_COLORS[w.kind])
            draw.text((x + 26, y + bottom // 2), _fit(w.app, f, width - 30), font=f, fill=pal["fg"], anchor="lm")
            x += width + 4
        draw.text((scene.width - _s(scene, 12), y + bottom // 2), scene.clock, font=f, fill=pal["fg"], anchor="rm")


def _fit(text: str, f: ImageFont.FreeTypeFont, width: int) -> str:
    if f.getlength(text) <= width:
        return text
    while text and f.getlength(text + "...") > width:
        text = text[:-1]
    return text + "..."


def _window(img: Image.Image, draw: ImageDraw.ImageDraw, scene: Scene, w: WindowSpec, pal: dict) -> None:
    x0, y0, x1, y1 = w.box
    if scene.layout != "split" and (x1 - x0) < scene.width:
        draw.rectangle((x0 + 6, y0 + 6, x1 + 6, y1 + 6), fill=(0, 0, 0))  # shadow
    draw.rectangle((x0, y0, x1, y1), fill=pal["panel"], outline=pal["border"])
    th = _s(scene, 30)
    title_fill = pal["title"] if w.focused else pal["bar"]
    draw.rectangle((x0, y0, x1, y0 + th), fill=title_fill)
    f = font("sans", _s(scene, 14))  # DejaVu, as desktop title bars use: wide enough that "rn" is not "m"
    buttons = _s(scene, 70)
    if scene.dock == "dock":  # traffic lights on the left
        for i, c in enumerate(((255, 95, 87), (255, 189, 46), (39, 201, 63))):
            cx = x0 + _s(scene, 14) + i * _s(scene, 20)
            draw.ellipse((cx - 6, y0 + th // 2 - 6, cx + 6, y0 + th // 2 + 6), fill=c)
        draw.text(
            ((x0 + x1) // 2, y0 + th // 2),
            _fit(w.title_bar, f, x1 - x0 - 2 * buttons),
            font=f,
            fill=pal["title_fg"],
            anchor="mm",
        )
    else:
        draw.text(
            (x0 + _s(scene, 10), y0 + th // 2),
            _fit(w.title_bar, f, x1 - x0 - buttons - 20),
            font=f,
            fill=pal["title_fg"],
            anchor="lm",
        )
        for i, sym in enumerate(("\u2013", "\u25a1", "\u2715")):
            cx = x1 - _s(scene, 16) - (2 - i) * _s(scene, 24)
            draw.text((cx, y0 + th // 2), sym, font=f, fill=pal["title_fg"], anchor="mm")
    top = y0 + th
    if w.browser:
        top = _browser_chrome(draw, scene, w, pal, top)
    body = (x0 + 1, top, x1 - 1, y1 - 1)
    BODIES.get(w.kind, _body_text)(img, ImageDraw.Draw(img), scene, w, pal, body)


def _browser_chrome(draw: ImageDraw.ImageDraw, scene: Scene, w: WindowSpec, pal: dict, top: int) -> int:
    x0, _, x1, _ = w.box
    tab_h, url_h = _s(scene, 28), _s(scene, 34)
    f = font("ui", _s(scene, 12))
    draw.rectangle((x0 + 1, top, x1 - 1, top + tab_h), fill=pal["bar"])
    tab_w = min(_s(scene, 220), (x1 - x0) // 3)
    draw.rounded_rectangle((x0 + 8, top + 4, x0 + 8 + tab_w, top + tab_h + 4), radius=6, fill=pal["panel"])
    draw.text((x0 + 18, top + tab_h // 2 + 2), _fit(w.title, f, tab_w - 20), font=f, fill=pal["fg"], anchor="lm")
    other = "New Tab" if w.seed % 2 else "Inbox (3)"
    draw.text(
        (x0 + 24 + tab_w, top + tab_h // 2 + 2), _fit(other, f, tab_w - 20), font=f, fill=pal["muted"], anchor="lm"
    )
    top += tab_h
    draw.rectangle((x0 + 1, top, x1 - 1, top + url_h), fill=pal["panel"])
    fu = font("sans", _s(scene, 14))
    draw.text(
        (x0 + 14, top + url_h // 2),
        "\u2190  \u2192  \u21bb",
        font=font("sans", _s(scene, 14)),
        fill=pal["muted"],
        anchor="lm",
    )
    bar_x = x0 + _s(scene, 90)
    draw.rounded_rectangle(
        (bar_x, top + 5, x1 - 14, top + url_h - 5), radius=_s(scene, 12), fill=pal["bg"], outline=pal["line"]
    )
    draw.text(
        (bar_x + 14, top + url_h // 2), _fit(w.url or "", fu, x1 - bar_x - 40), font=fu, fill=pal["fg"], anchor="lm"
    )
    draw.line((x0 + 1, top + url_h, x1 - 1, top + url_h), fill=pal["line"])
    return top + url_h + 1


# --- app bodies --------------------------------------------------------------------------------


def _lines(w: WindowSpec, n: int) -> list[str]:
    rng = random.Random(w.seed)
    t = TOPICS[w.topic]
    filler = (
        "Lorem ipsum dolor sit amet",
        "see the notes below",
        "updated 2 hours ago",
        "as discussed yesterday",
        "TODO: review",
        "next steps",
        "approved",
        "pending",
    )
    return [rng.choice(t.lines) if rng.random() < 0.6 else rng.choice(filler) for _ in range(n)]


def _body_text(img, draw, scene, w, pal, body, serif=False, code: str = ""):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=pal["panel"])
    margin = max(_s(scene, 30), (x1 - x0) // 8)
    f_h = font("bold", _s(scene, 22))
    f = font("serif" if serif else "sans", _s(scene, 14))
    heading = w.heading or w.title
    draw.text((x0 + margin, y0 + _s(scene, 24)), _fit(heading, f_h, x1 - x0 - 2 * margin), font=f_h, fill=pal["fg"])
    y = y0 + _s(scene, 64)
    fm = font("mono", _s(scene, 13))
    for i, line in enumerate(_lines(w, 40)):
        if y > y1 - _s(scene, 20):
            break
        if code and i == 4:  # a code sample in the flow of the text, as documentation pages have
            draw.rectangle((x0 + margin - 10, y, x1 - margin + 10, y + _s(scene, 44)), fill=(40, 44, 52))
            draw.text(
                (x0 + margin, y + _s(scene, 13)), _fit(code, fm, x1 - x0 - 2 * margin), font=fm, fill=(171, 178, 191)
            )
            y += _s(scene, 56)
        draw.text((x0 + margin, y), _fit(line, f, x1 - x0 - 2 * margin), font=f, fill=pal["fg"])
        y += _s(scene, 24)


def _body_document(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=pal["bar"])
    tool = font("ui", _s(scene, 12))
    draw.rectangle((x0, y0, x1, y0 + _s(scene, 30)), fill=pal["panel"])
    draw.text(
        (x0 + 10, y0 + _s(scene, 15)),
        "File  Edit  Insert  Format   |  Normal text  |  B  I  U  |  \u2261",
        font=tool,
        fill=pal["muted"],
        anchor="lm",
    )
    page = (
        (x0 + x1) // 2 - min(_s(scene, 330), (x1 - x0) // 2 - 20),
        y0 + _s(scene, 44),
        (x0 + x1) // 2 + min(_s(scene, 330), (x1 - x0) // 2 - 20),
        y1 + 40,
    )
    draw.rectangle(page, fill=(255, 255, 255), outline=pal["line"])
    light = dict(pal, panel=(255, 255, 255), fg=(30, 30, 30))
    _body_text(img, draw, scene, w, light, (page[0], page[1], page[2], y1), serif=True)


def _body_editor(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    dark = (30, 30, 30) if scene.theme == "dark" else (250, 250, 250)
    draw.rectangle(body, fill=dark)
    side = min(_s(scene, 200), (x1 - x0) // 4)
    draw.rectangle((x0, y0, x0 + side, y1), fill=(37, 37, 38) if scene.theme == "dark" else (236, 236, 236))
    fs = font("ui", _s(scene, 12))
    rng = random.Random(w.seed)
    files = [w.title if "." in w.title else "main.py", "README.md", "tests/", "setup.cfg", "requirements.txt"]
    for i, name in enumerate(files):
        draw.text((x0 + 12, y0 + 12 + i * _s(scene, 22)), name, font=fs, fill=pal["muted"] if i else pal["accent"])
    fm = font("mono", _s(scene, 13))
    keywords = {"def", "return", "import", "func", "assert", "if", "class", "for", "in"}
    code = [
        "import pytest",
        "",
        *[ln for ln in TOPICS[w.topic].lines],
        "",
        "def test_case():",
        "    result = run()",
        "    assert result.ok",
        "",
        "class Handler:",
        "    def handle(self, event):",
        "        return self.retry(event)",
    ]
    y, n = y0 + 10, 1
    while y < y1 - _s(scene, 18):
        line = code[(n - 1) % len(code)] if n <= len(code) else ("    " * rng.randint(0, 2) + rng.choice(code))
        draw.text((x0 + side + 10, y), f"{n:>3}", font=fm, fill=(120, 120, 120))
        x = x0 + side + _s(scene, 50)
        for tok in line.split(" "):
            color = (
                (197, 134, 192)
                if tok in keywords
                else (
                    (206, 145, 120)
                    if tok.startswith(("'", '"'))
                    else ((212, 212, 212) if scene.theme == "dark" else (30, 30, 30))
                )
            )
            draw.text((x, y), tok, font=fm, fill=color)
            x += fm.getlength(tok + " ")
        y += _s(scene, 19)
        n += 1
    draw.rectangle((x0, y1 - _s(scene, 20), x1, y1), fill=(0, 122, 204))
    draw.text(
        (x0 + 8, y1 - _s(scene, 10)), "main  \u2713  Python 3.11  UTF-8", font=fs, fill=(255, 255, 255), anchor="lm"
    )


def _body_terminal(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(18, 18, 20))
    fm = font("mono", _s(scene, 13))
    t = TOPICS[w.topic]
    lines = [
        f"user@laptop:~/{t.slug}$ git status",
        "On branch main",
        f"user@laptop:~/{t.slug}$ pytest -q",
        *t.lines,
        "==== 1 failed, 41 passed in 3.2s ====",
        f"user@laptop:~/{t.slug}$ ls",
        "src  tests  docs",
        f"user@laptop:~/{t.slug}$ \u2588",
    ]
    y = y0 + 8
    for line in lines * 3:
        if y > y1 - _s(scene, 18):
            break
        color = (255, 95, 87) if "fail" in line.lower() else ((120, 220, 120) if "$" in line else (220, 220, 220))
        draw.text((x0 + 10, y), _fit(line, fm, x1 - x0 - 20), font=fm, fill=color)
        y += _s(scene, 19)


def _body_spreadsheet(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(255, 255, 255))
    f = font("ui", _s(scene, 12))
    draw.rectangle((x0, y0, x1, y0 + _s(scene, 26)), fill=(240, 240, 240))
    draw.text((x0 + 8, y0 + _s(scene, 13)), "fx  =SUM(B2:B9)", font=f, fill=(60, 60, 60), anchor="lm")
    rng = random.Random(w.seed)
    cw, rh = _s(scene, 96), _s(scene, 22)
    top = y0 + _s(scene, 26)
    header = ["Region", "Q1", "Q2", "Q3", "Q4", "Total", "Growth", "Notes"]
    cols = (x1 - x0 - 40) // cw + 1
    for c in range(cols):
        x = x0 + 40 + c * cw
        draw.rectangle((x, top, x + cw, top + rh), fill=(230, 230, 230), outline=(200, 200, 200))
        draw.text((x + cw // 2, top + rh // 2), chr(65 + c % 26), font=f, fill=(80, 80, 80), anchor="mm")
    regions = ["EMEA", "APAC", "NA", "LATAM", "Total", *[ln.split(" ")[0] for ln in TOPICS[w.topic].lines]]
    r = 0
    y = top + rh
    while y < y1 - rh:
        draw.rectangle((x0, y, x0 + 40, y + rh), fill=(230, 230, 230), outline=(200, 200, 200))
        draw.text((x0 + 20, y + rh // 2), str(r + 1), font=f, fill=(80, 80, 80), anchor="mm")
        for c in range(cols):
            x = x0 + 40 + c * cw
            draw.rectangle((x, y, x + cw, y + rh), outline=(215, 215, 215))
            if r == 0:
                text = header[c % len(header)]
            elif c == 0:
                text = regions[(r - 1) % len(regions)]
            else:
                text = f"{rng.uniform(0.1, 9.9):.2f}M" if c < 6 else f"{rng.randint(-5, 30)}%"
            draw.text((x + 4, y + rh // 2), _fit(text, f, cw - 8), font=f, fill=(20, 20, 20), anchor="lm")
        y += rh
        r += 1


def _list_detail(img, draw, scene, w, pal, body, items, detail_title, colors=False):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=pal["panel"])
    side = min(_s(scene, 320), (x1 - x0) // 2)
    f, fb = font("ui", _s(scene, 13)), font("bold", _s(scene, 13))
    y = y0
    for i, (head, sub) in enumerate(items):
        if y > y1 - _s(scene, 50):
            break
        if i == 0:
            draw.rectangle((x0, y, x0 + side, y + _s(scene, 52)), fill=pal["title"])
        draw.text((x0 + 12, y + 8), _fit(head, fb, side - 24), font=fb, fill=pal["fg"])
        draw.text((x0 + 12, y + _s(scene, 28)), _fit(sub, f, side - 24), font=f, fill=pal["muted"])
        draw.line((x0, y + _s(scene, 52), x0 + side, y + _s(scene, 52)), fill=pal["line"])
        y += _s(scene, 53)
    draw.line((x0 + side, y0, x0 + side, y1), fill=pal["line"])
    _body_text(img, draw, scene, WindowSpec(**{**w.__dict__, "title": detail_title}), pal, (x0 + side + 1, y0, x1, y1))


def _body_email(img, draw, scene, w, pal, body):
    t = TOPICS[w.topic]
    rng = random.Random(w.seed)
    people = ["Dana Smith", "Alex Kim", "Priya Patel", "Sam Lee", "Jordan Fox", "Chen Wei"]
    items = [(rng.choice(people), title) for title in (*t.titles, "Weekly digest", "Re: meeting notes", "Invoice")]
    _list_detail(img, draw, scene, w, pal, body, items, f"Re: {w.title}")


def _body_issues(img, draw, scene, w, pal, body):
    t = TOPICS[w.topic]
    items = [(f"#{1000 + i * 7} {title}", "open \u00b7 assigned to you") for i, title in enumerate(t.titles * 3)]
    _list_detail(img, draw, scene, w, pal, body, items, w.title)


def _body_crm(img, draw, scene, w, pal, body):
    t = TOPICS[w.topic]
    items = [(line.split(" - ")[0][:40], "Opportunity \u00b7 Stage: Qualified") for line in (*t.lines, *t.titles)]
    _list_detail(img, draw, scene, w, pal, body, items, w.title)


def _body_chat(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=pal["panel"])
    side = min(_s(scene, 220), (x1 - x0) // 3)
    draw.rectangle((x0, y0, x0 + side, y1), fill=(63, 14, 64))
    f, fb = font("ui", _s(scene, 13)), font("bold", _s(scene, 13))
    t = TOPICS[w.topic]
    for i, ch in enumerate(["# general", f"# {t.slug}", "# random", "# announcements", "Dana Smith", "Alex Kim"]):
        draw.text((x0 + 14, y0 + 14 + i * _s(scene, 24)), ch, font=fb if i == 1 else f, fill=(230, 220, 230))
    draw.text((x0 + side + 16, y0 + 12), f"# {t.slug}", font=font("bold", _s(scene, 16)), fill=pal["fg"])
    rng = random.Random(w.seed)
    y = y0 + _s(scene, 48)
    people = ["Dana Smith", "Alex Kim", "Priya Patel", "Sam Lee"]
    for line in _lines(w, 12):
        if y > y1 - _s(scene, 90):
            break
        who = rng.choice(people)
        draw.rounded_rectangle(
            (x0 + side + 12, y, x0 + side + 40, y + 28), radius=6, fill=APP_COLORS[rng.choice(list(APP_COLORS))]
        )
        draw.text((x0 + side + 50, y), f"{who}  {rng.randint(9, 17)}:{rng.randint(10, 59)}", font=fb, fill=pal["fg"])
        draw.text((x0 + side + 50, y + _s(scene, 18)), _fit(line, f, x1 - x0 - side - 70), font=f, fill=pal["fg"])
        y += _s(scene, 50)
    draw.rounded_rectangle((x0 + side + 12, y1 - _s(scene, 48), x1 - 12, y1 - 10), radius=8, outline=pal["line"])
    draw.text((x0 + side + 24, y1 - _s(scene, 29)), f"Message #{t.slug}", font=f, fill=pal["muted"], anchor="lm")


def _body_video(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(15, 15, 15) if scene.theme == "dark" else (249, 249, 249))
    pw = int((x1 - x0) * 0.68)
    ph = min(int(pw * 9 / 16), y1 - y0 - _s(scene, 90))
    px, py = x0 + 20, y0 + 16
    rng = random.Random(w.seed)
    frame = Image.new("RGB", (max(pw, 1), max(ph, 1)), (0, 0, 0))
    fd = ImageDraw.Draw(frame)
    for i in range(6):
        c = tuple(rng.randint(30, 220) for _ in range(3))
        ex, ey = rng.randint(-50, pw), rng.randint(-50, ph)
        fd.ellipse((ex, ey, ex + rng.randint(40, pw // 2 + 60), ey + rng.randint(40, ph // 2 + 60)), fill=c)
    if w.tutorial:
        fd.rectangle((0, 0, pw, ph), fill=(250, 250, 250))
        fd.text((30, 30), w.title.replace(" - tutorial", ""), font=font("bold", _s(scene, 20)), fill=(20, 20, 20))
        for i, line in enumerate(TOPICS[w.topic].lines):
            fd.text((30, 80 + i * _s(scene, 26)), f"\u2022 {line}", font=font("mono", _s(scene, 14)), fill=(40, 40, 40))
    img.paste(frame, (px, py))
    draw.polygon(
        (
            (px + pw // 2 - 20, py + ph // 2 - 24),
            (px + pw // 2 - 20, py + ph // 2 + 24),
            (px + pw // 2 + 24, py + ph // 2),
        ),
        fill=(255, 255, 255),
    )
    draw.rectangle((px, py + ph - 6, px + pw, py + ph), fill=(90, 90, 90))
    draw.rectangle((px, py + ph - 6, px + int(pw * (rng.random() * 0.8 + 0.1)), py + ph), fill=(230, 33, 23))
    draw.text(
        (px, py + ph + 12),
        _fit(w.title, font("bold", _s(scene, 18)), pw),
        font=font("bold", _s(scene, 18)),
        fill=pal["fg"],
    )
    draw.text(
        (px, py + ph + _s(scene, 40)),
        f"{rng.randint(10, 999)}K views \u00b7 {rng.randint(1, 11)} months ago",
        font=font("ui", _s(scene, 13)),
        fill=pal["muted"],
    )
    sx = px + pw + 16
    for i in range(6):
        ty = py + i * _s(scene, 90)
        if ty > y1 - _s(scene, 80) or sx > x1 - 60:
            break
        draw.rectangle(
            (sx, ty, sx + min(_s(scene, 150), x1 - sx - 10), ty + _s(scene, 80)),
            fill=tuple(rng.randint(40, 200) for _ in range(3)),
        )


def _body_social(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=pal["bg"])
    cw = min(_s(scene, 560), x1 - x0 - 40)
    cx = (x0 + x1) // 2 - cw // 2
    rng = random.Random(w.seed)
    f, fb = font("ui", _s(scene, 14)), font("bold", _s(scene, 14))
    y = y0 + 12
    for line in _lines(w, 8):
        if y > y1 - 60:
            break
        h = _s(scene, 230)
        draw.rounded_rectangle((cx, y, cx + cw, y + h), radius=10, fill=pal["panel"], outline=pal["line"])
        draw.ellipse((cx + 12, y + 12, cx + 48, y + 48), fill=APP_COLORS["social"])
        draw.text(
            (cx + 58, y + 14),
            f"@{rng.choice(['memequeen', 'dailyfun', 'sportsfan', 'trendwatch'])}",
            font=fb,
            fill=pal["fg"],
        )
        draw.text((cx + 58, y + 34), _fit(line, f, cw - 70), font=f, fill=pal["fg"])
        draw.rectangle((cx + 12, y + 60, cx + cw - 12, y + h - 36), fill=tuple(rng.randint(60, 220) for _ in range(3)))
        draw.text(
            (cx + 12, y + h - 28),
            f"\u2665 {rng.randint(1, 99)}K   \u21bb {rng.randint(1, 9)}K   \u2709",
            font=f,
            fill=pal["muted"],
        )
        y += h + 12


def _body_music(img, draw, scene, w, pal, body):
    """A music player: cover art, a track list, the play bar."""
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(18, 18, 18))
    rng = random.Random(w.seed)
    art = min(_s(scene, 200), (x1 - x0) // 3, (y1 - y0) // 2)
    c = tuple(rng.randint(40, 200) for _ in range(3))
    draw.rectangle((x0 + 24, y0 + 24, x0 + 24 + art, y0 + 24 + art), fill=c)
    draw.ellipse(
        (x0 + 24 + art // 4, y0 + 24 + art // 4, x0 + 24 + 3 * art // 4, y0 + 24 + 3 * art // 4),
        fill=tuple(255 - v for v in c),
    )
    fb, f = font("bold", _s(scene, 26)), font("ui", _s(scene, 14))
    draw.text((x0 + 48 + art, y0 + 24 + art // 2), _fit(w.title, fb, x1 - x0 - art - 70), font=fb, fill=(255, 255, 255))
    y = y0 + 48 + art
    tracks = list(TOPICS[w.topic].lines) * 2
    rng.shuffle(tracks)
    for i, line in enumerate(tracks):
        if y > y1 - _s(scene, 90):
            break
        draw.text((x0 + 28, y), f"{i + 1}", font=f, fill=(170, 170, 170))
        draw.text((x0 + 64, y), _fit(line, f, x1 - x0 - 100), font=f, fill=(30, 215, 96) if i == 0 else (235, 235, 235))
        y += _s(scene, 30)
    bar = y1 - _s(scene, 50)
    draw.rectangle((x0, bar, x1, y1), fill=(40, 40, 40))
    mid = (x0 + x1) // 2
    draw.ellipse((mid - 16, bar + 9, mid + 16, bar + 41), fill=(255, 255, 255))
    draw.rectangle((mid - 200, bar + 44, mid + 200, bar + 47), fill=(90, 90, 90))
    draw.rectangle((mid - 200, bar + 44, mid - 200 + rng.randint(20, 380), bar + 47), fill=(30, 215, 96))


def _body_shop(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(255, 255, 255))
    draw.rectangle((x0, y0, x1, y0 + _s(scene, 44)), fill=(19, 25, 33))
    f, fb = font("ui", _s(scene, 13)), font("bold", _s(scene, 14))
    draw.rounded_rectangle((x0 + 120, y0 + 8, x1 - 160, y0 + _s(scene, 36)), radius=4, fill=(255, 255, 255))
    draw.text((x0 + 130, y0 + _s(scene, 22)), w.title, font=f, fill=(20, 20, 20), anchor="lm")
    draw.text((x1 - 20, y0 + _s(scene, 22)), "Cart (2)", font=fb, fill=(255, 255, 255), anchor="rm")
    rng = random.Random(w.seed)
    t = TOPICS[w.topic]
    card_w, card_h = _s(scene, 200), _s(scene, 260)
    cols = max(1, (x1 - x0 - 20) // (card_w + 16))
    for i in range(12):
        r, c = divmod(i, cols)
        cx, cy = x0 + 16 + c * (card_w + 16), y0 + _s(scene, 60) + r * (card_h + 16)
        if cy + card_h > y1:
            break
        draw.rectangle((cx, cy, cx + card_w, cy + card_h), outline=(225, 225, 225))
        draw.rectangle(
            (cx + 10, cy + 10, cx + card_w - 10, cy + card_h - 100), fill=tuple(rng.randint(150, 240) for _ in range(3))
        )
        name = t.lines[i % len(t.lines)].split(" - ")[0]
        draw.text((cx + 10, cy + card_h - 90), _fit(name, f, card_w - 20), font=f, fill=(20, 20, 20))
        draw.text(
            (cx + 10, cy + card_h - 66), f"${rng.randint(5, 300)}.{rng.randint(0, 99):02d}", font=fb, fill=(177, 39, 4)
        )
        draw.rounded_rectangle(
            (cx + 10, cy + card_h - 40, cx + card_w - 10, cy + card_h - 12), radius=12, fill=(255, 216, 20)
        )
        draw.text((cx + card_w // 2, cy + card_h - 26), "Add to cart", font=f, fill=(20, 20, 20), anchor="mm")


def _body_game(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    rng = random.Random(w.seed)
    draw.rectangle(body, fill=(20, 24, 48))
    for _ in range(60):
        x, y = rng.randint(x0, x1), rng.randint(y0, y1)
        draw.point((x, y), fill=(255, 255, 255))
    ground = y1 - (y1 - y0) // 5
    draw.rectangle((x0, ground, x1, y1), fill=(60, 40, 30))
    for _ in range(8):
        px = rng.randint(x0, max(x0 + 1, x1 - 120))
        draw.rectangle((px, ground - rng.randint(20, 120), px + rng.randint(40, 120), ground), fill=(90, 70, 60))
    hx = (x0 + x1) // 2
    draw.ellipse((hx - 18, ground - 60, hx + 18, ground - 24), fill=(240, 240, 240))
    draw.rectangle((hx - 12, ground - 26, hx + 12, ground), fill=(30, 30, 30))
    f = font("bold", _s(scene, 16))
    draw.text((x0 + 16, y0 + 12), "HP \u25c6\u25c6\u25c6\u25c6\u25c7   GEO 1240", font=f, fill=(240, 240, 240))
    draw.text((x1 - 16, y0 + 12), "LEVEL 12", font=f, fill=(255, 215, 0), anchor="ra")


def _body_design(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(44, 44, 44))
    f = font("ui", _s(scene, 12))
    side = min(_s(scene, 200), (x1 - x0) // 4)
    draw.rectangle((x0, y0, x0 + side, y1), fill=(56, 56, 56))
    draw.rectangle((x1 - side, y0, x1, y1), fill=(56, 56, 56))
    for i, layer in enumerate(["Frame: " + w.title, "Hero", "Headline", "CTA button", "Image", "Nav bar"]):
        draw.text((x0 + 12, y0 + 12 + i * _s(scene, 22)), _fit(layer, f, side - 20), font=f, fill=(220, 220, 220))
    for i, prop in enumerate(["W 1440  H 900", "X 0  Y 0", "Fill #FFFFFF", "Radius 8", "Auto layout"]):
        draw.text((x1 - side + 12, y0 + 12 + i * _s(scene, 22)), prop, font=f, fill=(200, 200, 200))
    cx0, cy0, cx1, cy1 = x0 + side + 30, y0 + 30, x1 - side - 30, y1 - 30
    draw.rectangle((cx0, cy0, cx1, cy1), fill=(255, 255, 255))
    draw.rectangle((cx0, cy0, cx1, cy0 + 40), fill=(240, 240, 245))
    draw.text(
        (cx0 + 20, cy0 + 60),
        _fit(TOPICS[w.topic].lines[0], font("bold", _s(scene, 20)), cx1 - cx0 - 40),
        font=font("bold", _s(scene, 20)),
        fill=(20, 20, 20),
    )
    draw.rounded_rectangle((cx0 + 20, cy0 + 110, cx0 + 160, cy0 + 150), radius=8, fill=(162, 89, 255))
    draw.rectangle((cx0 + (cx1 - cx0) // 2, cy0 + 60, cx1 - 20, cy1 - 20), fill=(220, 225, 240), outline=(24, 160, 251))


def _body_docs(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=pal["panel"])
    side = min(_s(scene, 220), (x1 - x0) // 4)
    draw.rectangle((x0, y0, x0 + side, y1), fill=pal["bg"])
    f = font("ui", _s(scene, 13))
    t = TOPICS[w.topic]
    for i, item in enumerate(["Getting started", "Tutorial", *t.titles, "API reference", "FAQ"]):
        draw.text(
            (x0 + 14, y0 + 16 + i * _s(scene, 24)),
            _fit(item, f, side - 20),
            font=f,
            fill=pal["accent"] if item == w.title else pal["muted"],
        )
    _body_text(img, draw, scene, w, pal, (x0 + side + 1, y0, x1, y1), code=t.lines[-1])


BODIES = {
    "editor": _body_editor,
    "terminal": _body_terminal,
    "docs": _body_docs,
    "spreadsheet": _body_spreadsheet,
    "document": _body_document,
    "email": _body_email,
    "chat": _body_chat,
    "issues": _body_issues,
    "video": _body_video,
    "social": _body_social,
    "shop": _body_shop,
    "game": _body_game,
    "design": _body_design,
    "crm": _body_crm,
    "music": _body_music,
}


def _notification(draw: ImageDraw.ImageDraw, scene: Scene, pal: dict) -> None:
    n = scene.notification
    assert n is not None
    w, h = _s(scene, 360), _s(scene, 78)
    top, _ = bar_heights(scene.dock, scene.height, scene.scale)
    x1, y0 = scene.width - 16, top + 16
    draw.rounded_rectangle((x1 - w, y0, x1, y0 + h), radius=10, fill=pal["panel"], outline=pal["border"])
    draw.rounded_rectangle((x1 - w + 12, y0 + 14, x1 - w + 44, y0 + 46), radius=6, fill=APP_COLORS["chat"])
    draw.text((x1 - w + 56, y0 + 12), n.app, font=font("bold", _s(scene, 13)), fill=pal["fg"])
    draw.text(
        (x1 - w + 56, y0 + 36),
        _fit(n.text, font("ui", _s(scene, 13)), w - 70),
        font=font("ui", _s(scene, 13)),
        fill=pal["fg"],
    )
