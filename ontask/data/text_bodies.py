"""The bodies of windows that are mostly text: pages (`body_text`, the fallback of every kind),
documents, the code editor, the terminal, the spreadsheet, docs pages, lists with a detail
(email, issues, CRM) and chat."""

from __future__ import annotations

import random

from ontask.data.catalog import TOPICS
from ontask.data.drawing import APP_COLORS, fit_text, scaled, topic_lines
from ontask.data.scene import WindowSpec
from ontask.fonts import font


def body_text(img, draw, scene, w, pal, body, serif=False, code: str = ""):
    """A page of text: the window's heading, then lines about its topic (serif on a document's
    page; `code`, a code sample in the flow of the text, as docs pages have)."""
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=pal["panel"])
    margin = max(scaled(scene, 30), (x1 - x0) // 8)
    f_h = font("bold", scaled(scene, 22))
    f = font("serif" if serif else "sans", scaled(scene, 14))
    heading = w.heading or w.title
    draw.text(
        (x0 + margin, y0 + scaled(scene, 24)), fit_text(heading, f_h, x1 - x0 - 2 * margin), font=f_h, fill=pal["fg"]
    )
    y = y0 + scaled(scene, 64)
    fm = font("mono", scaled(scene, 13))
    for i, line in enumerate(topic_lines(w, 40)):
        if y > y1 - scaled(scene, 20):
            break
        if code and i == 4:  # a code sample in the flow of the text, as documentation pages have
            draw.rectangle((x0 + margin - 10, y, x1 - margin + 10, y + scaled(scene, 44)), fill=(40, 44, 52))
            draw.text(
                (x0 + margin, y + scaled(scene, 13)),
                fit_text(code, fm, x1 - x0 - 2 * margin),
                font=fm,
                fill=(171, 178, 191),
            )
            y += scaled(scene, 56)
        draw.text((x0 + margin, y), fit_text(line, f, x1 - x0 - 2 * margin), font=f, fill=pal["fg"])
        y += scaled(scene, 24)


def _body_document(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=pal["bar"])
    tool = font("ui", scaled(scene, 12))
    draw.rectangle((x0, y0, x1, y0 + scaled(scene, 30)), fill=pal["panel"])
    draw.text(
        (x0 + 10, y0 + scaled(scene, 15)),
        "File  Edit  Insert  Format   |  Normal text  |  B  I  U  |  \u2261",
        font=tool,
        fill=pal["muted"],
        anchor="lm",
    )
    page = (
        (x0 + x1) // 2 - min(scaled(scene, 330), (x1 - x0) // 2 - 20),
        y0 + scaled(scene, 44),
        (x0 + x1) // 2 + min(scaled(scene, 330), (x1 - x0) // 2 - 20),
        y1 + 40,
    )
    draw.rectangle(page, fill=(255, 255, 255), outline=pal["line"])
    light = dict(pal, panel=(255, 255, 255), fg=(30, 30, 30))
    body_text(img, draw, scene, w, light, (page[0], page[1], page[2], y1), serif=True)


def _body_editor(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    dark = (30, 30, 30) if scene.theme == "dark" else (250, 250, 250)
    draw.rectangle(body, fill=dark)
    side = min(scaled(scene, 200), (x1 - x0) // 4)
    draw.rectangle((x0, y0, x0 + side, y1), fill=(37, 37, 38) if scene.theme == "dark" else (236, 236, 236))
    fs = font("ui", scaled(scene, 12))
    rng = random.Random(w.seed)
    files = [w.title if "." in w.title else "main.py", "README.md", "tests/", "setup.cfg", "requirements.txt"]
    for i, name in enumerate(files):
        draw.text((x0 + 12, y0 + 12 + i * scaled(scene, 22)), name, font=fs, fill=pal["muted"] if i else pal["accent"])
    fm = font("mono", scaled(scene, 13))
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
    while y < y1 - scaled(scene, 18):
        line = code[(n - 1) % len(code)] if n <= len(code) else ("    " * rng.randint(0, 2) + rng.choice(code))
        draw.text((x0 + side + 10, y), f"{n:>3}", font=fm, fill=(120, 120, 120))
        x = x0 + side + scaled(scene, 50)
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
        y += scaled(scene, 19)
        n += 1
    draw.rectangle((x0, y1 - scaled(scene, 20), x1, y1), fill=(0, 122, 204))
    draw.text(
        (x0 + 8, y1 - scaled(scene, 10)), "main  \u2713  Python 3.11  UTF-8", font=fs, fill=(255, 255, 255), anchor="lm"
    )


def _body_terminal(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(18, 18, 20))
    fm = font("mono", scaled(scene, 13))
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
        if y > y1 - scaled(scene, 18):
            break
        color = (255, 95, 87) if "fail" in line.lower() else ((120, 220, 120) if "$" in line else (220, 220, 220))
        draw.text((x0 + 10, y), fit_text(line, fm, x1 - x0 - 20), font=fm, fill=color)
        y += scaled(scene, 19)


def _body_spreadsheet(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=(255, 255, 255))
    f = font("ui", scaled(scene, 12))
    draw.rectangle((x0, y0, x1, y0 + scaled(scene, 26)), fill=(240, 240, 240))
    draw.text((x0 + 8, y0 + scaled(scene, 13)), "fx  =SUM(B2:B9)", font=f, fill=(60, 60, 60), anchor="lm")
    rng = random.Random(w.seed)
    cw, rh = scaled(scene, 96), scaled(scene, 22)
    top = y0 + scaled(scene, 26)
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
            draw.text((x + 4, y + rh // 2), fit_text(text, f, cw - 8), font=f, fill=(20, 20, 20), anchor="lm")
        y += rh
        r += 1


def _list_detail(img, draw, scene, w, pal, body, items, detail_title, colors=False):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=pal["panel"])
    side = min(scaled(scene, 320), (x1 - x0) // 2)
    f, fb = font("ui", scaled(scene, 13)), font("bold", scaled(scene, 13))
    y = y0
    for i, (head, sub) in enumerate(items):
        if y > y1 - scaled(scene, 50):
            break
        if i == 0:
            draw.rectangle((x0, y, x0 + side, y + scaled(scene, 52)), fill=pal["title"])
        draw.text((x0 + 12, y + 8), fit_text(head, fb, side - 24), font=fb, fill=pal["fg"])
        draw.text((x0 + 12, y + scaled(scene, 28)), fit_text(sub, f, side - 24), font=f, fill=pal["muted"])
        draw.line((x0, y + scaled(scene, 52), x0 + side, y + scaled(scene, 52)), fill=pal["line"])
        y += scaled(scene, 53)
    draw.line((x0 + side, y0, x0 + side, y1), fill=pal["line"])
    body_text(img, draw, scene, WindowSpec(**{**w.__dict__, "title": detail_title}), pal, (x0 + side + 1, y0, x1, y1))


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
    side = min(scaled(scene, 220), (x1 - x0) // 3)
    draw.rectangle((x0, y0, x0 + side, y1), fill=(63, 14, 64))
    f, fb = font("ui", scaled(scene, 13)), font("bold", scaled(scene, 13))
    t = TOPICS[w.topic]
    for i, ch in enumerate(["# general", f"# {t.slug}", "# random", "# announcements", "Dana Smith", "Alex Kim"]):
        draw.text((x0 + 14, y0 + 14 + i * scaled(scene, 24)), ch, font=fb if i == 1 else f, fill=(230, 220, 230))
    draw.text((x0 + side + 16, y0 + 12), f"# {t.slug}", font=font("bold", scaled(scene, 16)), fill=pal["fg"])
    rng = random.Random(w.seed)
    y = y0 + scaled(scene, 48)
    people = ["Dana Smith", "Alex Kim", "Priya Patel", "Sam Lee"]
    for line in topic_lines(w, 12):
        if y > y1 - scaled(scene, 90):
            break
        who = rng.choice(people)
        draw.rounded_rectangle(
            (x0 + side + 12, y, x0 + side + 40, y + 28), radius=6, fill=APP_COLORS[rng.choice(list(APP_COLORS))]
        )
        draw.text((x0 + side + 50, y), f"{who}  {rng.randint(9, 17)}:{rng.randint(10, 59)}", font=fb, fill=pal["fg"])
        draw.text(
            (x0 + side + 50, y + scaled(scene, 18)), fit_text(line, f, x1 - x0 - side - 70), font=f, fill=pal["fg"]
        )
        y += scaled(scene, 50)
    draw.rounded_rectangle((x0 + side + 12, y1 - scaled(scene, 48), x1 - 12, y1 - 10), radius=8, outline=pal["line"])
    draw.text((x0 + side + 24, y1 - scaled(scene, 29)), f"Message #{t.slug}", font=f, fill=pal["muted"], anchor="lm")


def _body_docs(img, draw, scene, w, pal, body):
    x0, y0, x1, y1 = body
    draw.rectangle(body, fill=pal["panel"])
    side = min(scaled(scene, 220), (x1 - x0) // 4)
    draw.rectangle((x0, y0, x0 + side, y1), fill=pal["bg"])
    f = font("ui", scaled(scene, 13))
    t = TOPICS[w.topic]
    for i, item in enumerate(["Getting started", "Tutorial", *t.titles, "API reference", "FAQ"]):
        draw.text(
            (x0 + 14, y0 + 16 + i * scaled(scene, 24)),
            fit_text(item, f, side - 20),
            font=f,
            fill=pal["accent"] if item == w.title else pal["muted"],
        )
    body_text(img, draw, scene, w, pal, (x0 + side + 1, y0, x1, y1), code=t.lines[-1])


TEXT_BODIES = {
    "editor": _body_editor,
    "terminal": _body_terminal,
    "docs": _body_docs,
    "spreadsheet": _body_spreadsheet,
    "document": _body_document,
    "email": _body_email,
    "chat": _body_chat,
    "issues": _body_issues,
    "crm": _body_crm,
}
