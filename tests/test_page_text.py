"""Evidence when a title says little ("Untitled 1", "New Tab", an app's name): the page's own text
near its top, read by OCR, reaches the verifier and the prompt, marked as such."""

from __future__ import annotations

import asyncio
import base64
import io

import pytest
from PIL import Image, ImageDraw

from ontask.fonts import font

WRITER = {"app": "LibreOffice Writer", "title": "Untitled 1 - LibreOffice Writer", "url": None, "focused": True}


def _screen(title: str = WRITER["title"], heading: str = "Quarterly churn report") -> Image.Image:
    """A window with a saturated title bar (the focused one), a menu bar and a page whose first
    line is a heading."""
    img = Image.new("RGB", (900, 500), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.rectangle((10, 20, 890, 43), fill=(60, 110, 190))
    draw.text((450, 32), title, fill=(255, 255, 255), font=font("bold", 13), anchor="mm")
    for x in (14, 840, 858, 876):  # the icon; minimise, maximise, close
        draw.rectangle((x, 27, x + 9, 36), fill=(255, 255, 255))
    draw.text(
        (20, 56), "File   Edit   View   Insert   Format   Help", fill=(30, 30, 30), font=font("ui", 13), anchor="lm"
    )
    draw.text((60, 130), heading, fill=(20, 20, 20), font=font("bold", 24), anchor="lm")
    draw.text((60, 170), "Cohorts by signup month, first draft.", fill=(40, 40, 40), font=font("ui", 14), anchor="lm")
    return img


def test_titles_that_say_little_are_told_from_titles_that_name_a_document():
    from ontask.verify.generic import says_little

    assert says_little("Untitled 1 - LibreOffice Writer") and says_little("New Tab - Chromium")
    assert says_little("Acme Chat", app="Acme Chat") and says_little("")
    assert not says_little("q3_report.odt - LibreOffice Writer")
    assert not says_little("#support-refunds - Acme Chat - Chromium", app="Chromium")


def test_ocr_reads_the_page_text_of_a_focused_window_whose_title_says_little():
    from ontask.verify.ocr import TitleReader

    [window] = TitleReader().windows(_screen())
    assert window["focused"] and window["title"] == WRITER["title"]
    assert window["pageText"].startswith("Quarterly churn report")
    assert "File" not in window["pageText"]  # the menu bar is not the page
    [named] = TitleReader().windows(_screen(title="churn_report.odt - LibreOffice Writer"))
    assert "pageText" not in named  # a title that names its document is evidence enough


def test_the_verifier_uses_the_page_text_and_says_it_was_read_by_ocr():
    from ontask.verify import builtin_verifier_config, score_windows

    cfg = builtin_verifier_config()
    task = "Write the quarterly churn report"
    blind, _ = score_windows(task, [WRITER], cfg)
    seen, evidence = score_windows(task, [dict(WRITER, pageText="Quarterly churn report")], cfg)
    assert seen > blind
    assert {"rule": "page-text", "text": "read by OCR near the page's top: Quarterly churn report"} in evidence


def test_the_prompt_marks_the_page_text_as_read_by_ocr():
    from ontask.prompt import evidence_text
    from ontask.verify import builtin_verifier_config

    text = evidence_text(
        [dict(WRITER, pageText="Quarterly churn report")], "Write the churn report", builtin_verifier_config()
    )
    assert "[page text read by OCR: Quarterly churn report] (task words: churn, report)" in text
    assert text.endswith("Task words in: the focused window")


def test_the_wire_carries_page_text_within_bounds():
    from pydantic import ValidationError

    from ontask.api import WindowInfo

    assert WindowInfo.model_validate(dict(WRITER, pageText="Quarterly churn report")).wire()["pageText"] == (
        "Quarterly churn report"
    )
    with pytest.raises(ValidationError, match="pageText"):
        WindowInfo.model_validate(dict(WRITER, pageText="x" * 513))


def test_the_predictor_reads_the_page_when_the_agents_focused_title_says_little():
    """A request with the agent's windows: the focused one titled "Untitled 1" gets the page's
    text from the screenshot before the model and the verifier see it, its JPEG decoded whole
    (though the model would take it smaller); a named one does not, and a page text the client
    sent itself is dropped (only this server's OCR sets what the prompt calls read by OCR)."""
    from ontask.serving.predictor import ScreenshotPredictor

    seen: list[tuple[tuple[int, int], list[dict]]] = []

    class Recording(ScreenshotPredictor):
        def score(self, rows):
            seen.extend((r.image.size, r.windows) for r in rows)
            return [0.5] * len(rows)

    def request(title: str, fmt: str = "PNG", **extra) -> dict:
        buf = io.BytesIO()
        _screen(title=title).save(buf, format=fmt)
        image = base64.b64encode(buf.getvalue()).decode()
        windows = [dict(WRITER, title=title, **extra)]
        return {"instances": [{"image": image, "task": "Write the churn report", "windows": windows}]}

    predictor = Recording("s", "v1")
    predictor.model_size = lambda w, h: (w // 4, h // 4)  # a model that reads a quarter-size image
    named = "churn_report.odt - LibreOffice Writer"

    async def main():  # one event loop, as a server has: the micro-batcher lives in it
        await predictor.predict(request(WRITER["title"]))
        await predictor.predict(request(named, pageText="forged by the client"))
        await predictor.predict(request(WRITER["title"], "JPEG"))
        await predictor.predict(request(named, "JPEG"))

    asyncio.run(main())
    assert seen[0][1][0]["pageText"].startswith("Quarterly churn report")
    assert "pageText" not in seen[1][1][0]
    assert seen[2][0] == (900, 500) and seen[3][0] == (225, 125)  # decoded whole only to be read


def test_page_text_leaves_out_an_address_and_the_title_again():
    from ontask.verify.ocr import TitleReader

    img = _screen(heading="Refund policy")
    draw = ImageDraw.Draw(img)
    draw.rectangle((20, 50, 880, 64), fill=(255, 255, 255))  # no menu bar: a page's first lines
    draw.text((60, 80), "help.acme.io/policies/refunds", fill=(30, 30, 30), font=font("ui", 14), anchor="lm")
    draw.text((60, 100), "Untitled 1 - LibreOffice Writer", fill=(30, 30, 30), font=font("ui", 14), anchor="lm")
    [window] = TitleReader().windows(img)
    first, second = window["pageText"].split(" / ")
    assert first == "Refund policy" and second.startswith("Cohorts by signup month")
