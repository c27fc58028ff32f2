"""OCR within bounds, for a request that comes without windows: a huge screenshot is reduced
before tesseract or the band search sees it, and a screen that takes long to read stops at the
time budget with what was read, saying so."""

from __future__ import annotations

import time

import pytest
from PIL import Image, ImageDraw

import ontask.verify.ocr as ocr
from ontask.data.generate import example_at
from ontask.verify import Verifier, builtin_verifier_config
from ontask.verify.ocr import TitleReader


class SeenSizes:
    """Stands in front of a tesseract handle: records the size of every image it is given."""

    def __init__(self, api, sizes: list[tuple[int, int]]):
        self.api, self.sizes = api, sizes

    def SetImage(self, image):  # noqa: N802 - tesserocr's name
        self.sizes.append(image.size)
        return self.api.SetImage(image)

    def __getattr__(self, name):
        return getattr(self.api, name)


def test_a_40_megapixel_screenshot_is_reduced_before_anything_reads_it(monkeypatch):
    reader = TitleReader(max_pixels=1_000_000)
    seen: list[tuple[int, int]] = []
    reader._layout, reader._line = SeenSizes(reader._layout, seen), SeenSizes(reader._line, seen)
    searched = []
    find_bands = ocr.find_bands
    monkeypatch.setattr(ocr, "find_bands", lambda rgb: searched.append(rgb.shape[:2]) or find_bands(rgb))

    t0 = time.monotonic()
    reading = reader.read(Image.new("RGB", (8000, 5000), (255, 255, 255)))
    elapsed = time.monotonic() - t0

    assert reading.reduced_by == 7 and reading.pixels == 1143 * 715 <= 1_000_000
    assert searched == [(715, 1143)] and seen and all(w * h <= 1_000_000 for w, h in seen)
    assert reading.complete and reading.windows == []
    assert elapsed < reader.budget_s
    # The default bound: a 4K screen is read whole, anything larger reduced to at most as many pixels.
    assert ocr.bounded(Image.new("L", (3840, 2160)), ocr.MAX_OCR_PIXELS)[1] == 1
    reduced, factor = ocr.bounded(Image.new("L", (8000, 5000)), ocr.MAX_OCR_PIXELS)
    assert factor == 3 and reduced.width * reduced.height <= ocr.MAX_OCR_PIXELS


def _dense_text(width: int, height: int) -> Image.Image:
    """A screen full of "<document> - <app>" lines and no title bar: every line is read alone."""
    image = Image.new("RGB", (width, height), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    for y in range(8, height - 16, 20):
        draw.text((12, y), f"Quarterly report {y} draft notes - Editor", fill=(20, 20, 20))
    return image


def test_a_screen_that_takes_long_to_read_stops_at_the_budget_and_says_so():
    image = _dense_text(1280, 1600)  # about 80 lines: 2 s to read whole on one core
    reader = TitleReader(budget_s=0.25)
    t0 = time.monotonic()
    reading = reader.read(image)
    elapsed = time.monotonic() - t0
    # What cannot stop midway, timed alone: the layout pass over the screen.
    t0 = time.monotonic()
    lines = TitleReader()._layout_lines(image.convert("L"), None)
    layout = time.monotonic() - t0

    assert not reading.complete
    assert reader.recognitions < len(lines) // 2  # it stopped: most lines were never read
    assert elapsed < reader.budget_s + 2 * layout + 1.0
    assert reader.read(image).complete is False  # an unfinished reading is not cached as the image's


@pytest.mark.parametrize("budget, source", [(0.0, "ocr-partial"), (60.0, "ocr")])
def test_the_verifier_says_whether_ocr_finished(budget, source):
    ex = example_at(21, 0)
    verdict = Verifier(builtin_verifier_config(), ocr=TitleReader(budget_s=budget)).verify(ex.task, image=ex.image)
    assert verdict.source == source
    assert (verdict.windows == []) == (budget == 0.0)


def test_a_batch_of_screens_without_windows_shares_one_budget():
    """Eight screenshots without windows in one batch answer within one budget, not eight: the
    rows read after it ran out say ocr-partial."""
    from ontask.serving.predictor import Row, ScreenshotPredictor

    class Constant(ScreenshotPredictor):
        def load(self):
            self.ready = True

        def score(self, rows):
            return [0.5] * len(rows)

    rows = [Row(None, _dense_text(1280, 1600 + 20 * i), None, None) for i in range(8)]
    alone = TitleReader(budget_s=1.0)  # what one budget reads of such a screen
    assert not alone.read(rows[0].image).complete and alone.recognitions > 0

    reader = TitleReader(budget_s=1.0)
    Constant("constant", "v1", ocr=reader)._score_batch(rows)

    assert [r.evidence for r in rows] == ["ocr-partial"] * 8
    # The batch read about what one screen reads in one budget; a budget each would read 8 times as much.
    assert reader.recognitions < 2 * alone.recognitions + 2
