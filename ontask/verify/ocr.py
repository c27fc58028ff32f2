"""Reading window titles and URL bars from pixels, for screenshots that arrive without window
metadata. Tesseract (Debian's tessdata) through the tesserocr binding: a layout pass finds
text lines, then each candidate line is cropped, cleaned of coloured marks (traffic lights,
icons), upscaled and read as a single line. Results are cached by the crop's content, so a
repeated region costs no second recognition.

A screenshot is read within bounds, so that no image holds a predictor: one larger than
MAX_OCR_PIXELS is reduced by a whole factor first, and reading stops at the time budget
(OCR_BUDGET_S) with what it has read by then; `TitleReader.read` says which happened."""

from __future__ import annotations

import copy
import glob
import hashlib
import math
import os
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Optional

import numpy as np
from PIL import Image

from ontask.verify.generic import says_little
from ontask.verify.titlebars import INK, MIN_HEIGHT, Band, find_bands, grey, ink_clusters

EDGE = 6  # grey-level step that marks a window border in the rows around a text line
URL_RE = re.compile(r"\b(?:https?://)?(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/[^\s]*)?", re.IGNORECASE)


_LONE_BAR = re.compile(r"(?<=\w )\|(?= - )")
_EDGE_JUNK = re.compile(r"^(?:(?:[^\w\s#(\[]+|e{1,3}|o{1,3}|@+)\s+)+|(?:\s+(?:[^\w\s)\]?!.]+|[oOxX0]))+$")


JUNK_CONFIDENCE = 60  # tesseract's word confidence under which a short word at a line's end is a mark
GUESSED = 40  # a word's confidence under which tesseract all but guessed it
JUNK_LENGTH = 3  # characters: a window icon or button read as letters ("B®", "f@", "7", "Ox")


def _without_edge_marks(words: list[str], confidences: list[int]) -> list[str]:
    """The words of a line without the short, doubtful ones at either end: a window icon or a
    button read as letters. A word tesseract is sure of stays, however short ("a", "vi").

    Example:
        >>> _without_edge_marks(["f@", "Football", "highlights", "-", "mpv", "7", "Ox"], [24, 90, 93, 90, 89, 0, 0])
        ['Football', 'highlights', '-', 'mpv']
        >>> _without_edge_marks(["vi", "-", "notes"], [91, 90, 20])
        ['vi', '-', 'notes']
        >>> _without_edge_marks(["cv_backend_candidate.", "pdf"], [50, 50])
        ['cv_backend_candidate.', 'pdf']
    """
    if len(words) != len(confidences):
        return words

    def mark(i: int) -> bool:
        # A short word with a mark in it ("B®", "f@"), or one tesseract all but guessed ("Ox"); a
        # word of letters it half trusts stays (a file's "pdf" cut off at its dot).
        word, sure = words[i], confidences[i]
        return len(word) <= JUNK_LENGTH and sure < JUNK_CONFIDENCE and (not word.isalnum() or sure < GUESSED)

    start, end = 0, len(words)
    while start < end - 1 and mark(start):
        start += 1
    while end - 1 > start and mark(end - 1):
        end -= 1
    return words[start:end]


def _sureness(words: list[str], confidences: list[int]) -> float:
    """tesseract's confidence in a line (0-100): its words' confidences weighted by their
    lengths, so that one long word of icons read as letters ("BIU-i/Ar®-SESI7H415", 0) outweighs
    the short ones it read surely ("%", "00").

    >>> _sureness(["report.odt", "-", "Writer"], [90, 92, 95])
    91.9
    >>> _sureness(["BIU-i/Ar®-SESI7H415", "%", "00"], [0, 83, 80])
    11.0
    """
    if len(words) != len(confidences) or not words:
        return float(np.mean(confidences)) if confidences else 0.0
    return round(float(np.average(confidences, weights=[len(w) for w in words])), 1)


def _normalise(text: str) -> str:
    """URLs hold no spaces: remove the ones OCR puts around '.', '/' and ':'. Elsewhere drop the
    marks window buttons leave at a line's ends ("eee", "—", "|", "O X")."""
    if text.lower().startswith(("http", "www.")) or "://" in text:
        return re.sub(r"\s+", "", text)
    # A lone "|" right before a " - " separator is the letter I ("World War I - Wikipedia"): a
    # separator never precedes another.
    return _LONE_BAR.sub("I", _EDGE_JUNK.sub("", text).strip())


def _grow_to_ink(gray: np.ndarray, box: tuple[int, int, int, int], gap: int = 18) -> tuple[int, int, int, int]:
    """Widen a line's box over ink that continues it within `gap` pixels: the layout pass
    sometimes cuts a title short ("and meiosis" for "Mitosis and meiosis"). Ink is measured
    against the background colour of the row just above the text, so distant window buttons
    stay outside."""
    h, w = gray.shape
    x0, y0, x1, y1 = box
    band = gray[y0:y1, :]
    background = int(np.median(gray[max(0, y0), x0:x1])) if x1 > x0 else int(gray[y0, x0])
    ink = (np.abs(band - background) > 40).any(axis=0)
    # Ink must sit on the same background: stop at window edges (the row above changes colour).
    same_bg = np.abs(gray[max(0, y0), :] - background) <= 6
    left = x0
    while left > 0:
        window = ink[max(0, left - gap) : left]
        hits = np.nonzero(window)[0]
        if len(hits) == 0 or not same_bg[max(0, left - gap) : left].all():
            break
        left = max(0, left - gap) + int(hits[0])
    right = x1
    while right < w:
        window = ink[right : min(w, right + gap)]
        hits = np.nonzero(window)[0]
        if len(hits) == 0 or not same_bg[right : min(w, right + gap)].all():
            break
        right = right + int(hits[-1]) + 1
    return (max(0, left - 3), y0, min(w, right + 3), y1)


def _split_at_edges(gray: np.ndarray, b: dict) -> list[tuple[int, int, int, int]]:
    """Split a text line where the background just above and below it changes abruptly: the
    layout pass sometimes joins the titles of two windows that touch."""
    h, w = gray.shape
    x0, x1 = max(0, b["x"] - 3), min(w, b["x"] + b["w"] + 3)
    y0, y1 = max(0, b["y"] - 3), min(h, b["y"] + b["h"] + 3)
    above, below = gray[max(0, y0 - 1), x0:x1], gray[min(h - 1, y1), x0:x1]
    edges = np.nonzero((np.abs(np.diff(above)) > EDGE) & (np.abs(np.diff(below)) > EDGE))[0]
    cuts = [x0] + [x0 + int(e) + 1 for e in edges] + [x1]
    return [_grow_to_ink(gray, (a, y0, c, y1)) for a, c in zip(cuts, cuts[1:]) if c - a >= 30]


def _squeezed(text: str) -> str:
    # An underscore counts as a space: tesseract reads a thin one as a gap between words, and the
    # verifier splits words on both alike (ontask.verify.relevance.words).
    return "".join(text.lower().replace("_", " ").split())


def same_title(read: str, truth: str) -> bool:
    """Whether a title read from pixels is the window's title, case, whitespace and underscores
    aside.

    Example:
        >>> same_title("report.pdf — Q3  Sales", "Report. pdf — q3 sales")
        True
        >>> same_title("webhook handler.py - VIM", "webhook_handler.py - VIM")
        True
    """
    return _squeezed(read) == _squeezed(truth)


ELLIPSES = ("\u2026", "...")  # what a window manager or a browser's tab draws where it cut a title
MIN_KEPT = 8  # characters a truncated title must keep to name its window
CLOSE_PER = 20  # characters of a title per OCR slip (a letter wrong, missing or extra) still "close"


def title_match(read: str, truth: str) -> Optional[str]:
    """How a title read from pixels matches the window's title: "exact" (same_title), "truncated"
    (the bar showed an ellipsis where it cut the title, at its end, start or middle, and what it
    kept, at least MIN_KEPT characters, is the title's start and end), "close" (either, up to
    OCR's slips: one character in CLOSE_PER), or None.

    Example:
        >>> title_match("Quarterly report - LibreOffice Writer", "Quarterly report - LibreOffice Writer")
        'exact'
        >>> title_match("Quarterly report - Libre...", "Quarterly report - LibreOffice Writer")
        'truncated'
        >>> title_match("Quarterly\u2026Writer", "Quarterly report - LibreOffice Writer")
        'truncated'
        >>> title_match("Quarterly pl...", "Quarterly report - LibreOffice Writer") is None
        True
        >>> title_match("Qua...", "Quarterly report") is None  # too little kept to name a window
        True
        >>> title_match("cv_backend_candi... — CV: Jana Nov...", "cv_backend_candidate.pdf — CV: Jana Novak")
        'truncated'
        >>> title_match("cv_backend_candi... — CV: Jane...", "cv_backend_candidate.pdf — CV: Jana Novak") is None
        True
        >>> title_match("wwl_causes_essay.txt - LibreOffice Writer", "ww1_causes_essay.txt - LibreOffice Writer")
        'close'
        >>> title_match("Backend engineer candic…", "Backend engineer candidates - Greenhouse - Chromium")
        'close'
        >>> title_match("budget_notes.txt - LibreOffice Writer", "ww1_essay.txt - LibreOffice Writer") is None
        True
        >>> title_match("Mall", "Mail") is None, title_match("report_v1.odt", "report_v2.odt") is None
        (True, True)
    """
    if same_title(read, truth):
        return "exact"
    r, t = _squeezed(read), _squeezed(truth)
    for ellipsis in ELLIPSES:
        if ellipsis not in r:
            continue
        # What the bar kept, in order: its first piece the title's start, its last the title's
        # end unless the bar ends in an ellipsis too ("cv_backend_candi... — CV: Jana Nov...").
        pieces = [p.strip(".\u2026") for p in r.split(ellipsis)]
        kept = sum(map(len, pieces))
        if kept < MIN_KEPT or kept >= len(t) or not t.startswith(pieces[0]):
            continue
        at, open_end = len(pieces[0]), r.endswith(ellipsis)
        for piece in pieces[1:-1] + ([pieces[-1]] if open_end else []):
            found = t.find(piece, at)
            if found < 0:
                break
            at = found + len(piece)
        else:
            if open_end or (t.endswith(pieces[-1]) and len(t) - len(pieces[-1]) >= at):
                return "truncated"
    return "close" if _close(r, t) else None


def _close(read: str, truth: str) -> bool:
    """Whether a squeezed reading is the squeezed title up to OCR's slips: at most one character
    in CLOSE_PER wrong, missing or extra ("wwl" for "ww1", a stray mark before a path), and for a
    reading cut with an ellipsis at its end, what it kept against the title's start (the letter
    the ellipsis touches is often misread: "candic…" for "candid…")."""
    for ellipsis in ELLIPSES:
        if read.endswith(ellipsis) and ellipsis not in read[: -len(ellipsis)]:
            kept = read[: -len(ellipsis)].rstrip(".\u2026")
            if len(kept) < MIN_KEPT or len(kept) >= len(truth):
                return False
            allowed = len(kept) // CLOSE_PER
            return min(_edits(kept, truth[: len(kept) + d]) for d in (-1, 0, 1)) <= allowed
    # No slip in a title under CLOSE_PER characters: "Mail" and "Mall", "Terminal" and
    # "Terminal 2" are other windows.
    return _edits(read, truth) <= len(truth) // CLOSE_PER


def _edits(a: str, b: str) -> int:
    """Levenshtein distance: the characters to change, add or remove to turn a into b.

    >>> _edits("wwlcauses", "ww1causes"), _edits("a/tmp/x", "/tmp/x"), _edits("kitten", "sitting")
    (1, 1, 3)
    """
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (ca != cb))
    return row[-1]


class OcrUnavailable(RuntimeError):
    """tesseract's English data is not installed."""


def tessdata_path() -> str:
    """Debian's tessdata folder (package tesseract-ocr-eng), or $TESSDATA_PREFIX."""
    env = os.environ.get("TESSDATA_PREFIX")
    candidates = ([env] if env else []) + sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"), reverse=True)
    for c in candidates:
        if c and os.path.exists(os.path.join(c, "eng.traineddata")):
            return c
    raise OcrUnavailable("tesseract English data not found: install tesseract-ocr-eng (make system-deps)")


@dataclass(frozen=True)
class TextLine:
    text: str
    box: tuple[int, int, int, int]
    confidence: float = 100.0  # tesseract's mean word confidence, 0-100


# A 4K screen is read whole; a larger screenshot is reduced first: the band search and
# tesseract's layout pass grow with the pixels (a blank 40 Mpx image took 32 s, measured).
MAX_OCR_PIXELS = 3840 * 2160
# How long one screenshot may keep a reader (a predictor's request waits on it); past it, the
# windows read so far are the answer. A dense 4K screen of text took 5 minutes without it; a
# synthetic 1600x900 screen read line by line took 5 s on two busy cores (load 7), 0.3 s is
# typical of a real one (bench_ocr).
OCR_BUDGET_S = 10.0
# The text-line layout pass takes a screenshot up to about 1920x1200 whole, a larger one in
# strips of about as many pixels (see TitleReader._layout_lines).
LAYOUT_STRIP_PIXELS = 2_400_000
LAYOUT_OVERLAP = 48  # rows: more than a UI text line's height (lines() keeps those of 7 to 40)


@dataclass(frozen=True)
class Reading:
    """What OCR made of one screenshot, and within which bounds."""

    windows: list[dict]
    pixels: int  # the pixels read: the screenshot's, after any reduction
    reduced_by: int  # the whole factor each side was divided by (1: read as sent)
    complete: bool  # False: the time budget ran out first, and `windows` is what was read by then


class _Budget:
    """A deadline, and whether anything stopped at it."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds
        self.ran_out = False

    def spent(self) -> bool:
        self.ran_out = self.ran_out or time.monotonic() >= self.deadline
        return self.ran_out


def bounded(image: Image.Image, max_pixels: int) -> tuple[Image.Image, int]:
    """The image reduced by the smallest whole factor that brings it to at most `max_pixels`
    (a box filter: fast, and UI text keeps its strokes), and the factor.

    >>> bounded(Image.new("RGB", (8000, 5000)), 3840 * 2160)[0].size
    (2667, 1667)
    """
    w, h = image.size
    if w * h <= max_pixels:
        return image, 1
    factor = math.ceil(math.sqrt(w * h / max_pixels))
    while -(-w // factor) * -(-h // factor) > max_pixels:  # reduce() keeps the partial last block
        factor += 1
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    return image.reduce(factor), factor


class TitleReader:
    """Reads text lines, window titles ("<document> - <app>") and URLs from a screenshot."""

    def __init__(
        self,
        upscale: float = 3.0,
        cache_size: int = 4096,
        max_pixels: int = MAX_OCR_PIXELS,
        budget_s: float = OCR_BUDGET_S,
    ):
        from tesserocr import PSM, PyTessBaseAPI

        path = tessdata_path()
        self._layout = PyTessBaseAPI(path=path, psm=PSM.SPARSE_TEXT)
        self._line = PyTessBaseAPI(path=path, psm=PSM.SINGLE_LINE)
        self.upscale, self.max_pixels, self.budget_s = upscale, max_pixels, budget_s
        self._cache: OrderedDict[str, tuple[str, float]] = OrderedDict()  # line crop -> text, confidence
        self._images: OrderedDict[str, tuple] = OrderedDict()  # whole screenshot -> its lines, or its windows
        self._cache_size = cache_size
        self._lock = threading.Lock()  # tesseract handles are not thread-safe
        self.recognitions = 0

    def _prepare(self, crop: Image.Image) -> Image.Image:
        rgb = np.asarray(crop.convert("RGB")).astype(np.int16)
        gray = np.asarray(crop.convert("L")).copy()
        # Saturated marks (window buttons, app icons) read as junk letters: paint them over.
        gray[(rgb.max(2) - rgb.min(2)) > 60] = int(np.median(gray))
        img = Image.fromarray(gray).resize(
            (max(1, int(gray.shape[1] * self.upscale)), max(1, int(gray.shape[0] * self.upscale))),
            Image.Resampling.LANCZOS,
        )
        arr = np.asarray(img)
        if arr.mean() < 128:  # tesseract reads dark text on a light ground best
            arr = 255 - arr
        threshold = (int(arr.max()) + int(arr.min())) // 2
        return Image.fromarray(np.where(arr > threshold, 255, 0).astype(np.uint8))

    def lines(self, image: Image.Image, budget: Optional[_Budget] = None) -> list[TextLine]:
        """Every text line of UI-text height, read one by one (those read before the budget, if
        given, ran out)."""
        image_key = hashlib.sha1(image.tobytes() + str(image.size).encode()).hexdigest()
        with self._lock:
            if image_key in self._images:
                self._images.move_to_end(image_key)
                return list(self._images[image_key])
        out = []
        with self._lock:
            gray_image = image.convert("L")
            boxes = self._layout_lines(gray_image, budget)
            gray = np.asarray(gray_image).astype(np.int16)
            segments = []
            for b in boxes:
                if b["h"] < 7 or b["h"] > 40 or b["w"] < 30:
                    continue
                segments += _split_at_edges(gray, b)
            for box in segments:
                if budget is not None and budget.spent():
                    break
                crop = image.crop(box)
                key = hashlib.sha1(crop.tobytes() + str(crop.size).encode()).hexdigest()
                known = self._cache.get(key)
                if known is None:
                    self._line.SetImage(self._prepare(crop))
                    text = self._line.GetUTF8Text().strip()
                    known = (text, _sureness(text.split(), self._line.AllWordConfidences()))
                    self.recognitions += 1
                    self._cache[key] = known
                    while len(self._cache) > self._cache_size:
                        self._cache.popitem(last=False)
                else:
                    self._cache.move_to_end(key)
                text = known[0]
                if text:
                    out.append(TextLine(_normalise(text), box, known[1]))
            if budget is None or not budget.ran_out:  # a partial reading is not the image's
                self._images[image_key] = tuple(out)
                while len(self._images) > 256:
                    self._images.popitem(last=False)
        return out

    def _layout_lines(self, gray: Image.Image, budget: Optional[_Budget]) -> list[dict]:
        """tesseract's text-line boxes. One layout pass cannot be stopped, and its time grows with
        the text on the screen, so a screenshot over LAYOUT_STRIP_PIXELS is laid out in strips
        of rows, the budget checked between them. Each strip reaches LAYOUT_OVERLAP rows above and
        below its own, and keeps the lines that start in its own rows: a line (at most 40 rows
        high) is whole in the strip that keeps it, and kept once."""
        from tesserocr import RIL

        w, h = gray.size
        if w * h <= LAYOUT_STRIP_PIXELS:
            self._layout.SetImage(gray)
            return [b for _, b, _, _ in self._layout.GetComponentImages(RIL.TEXTLINE, True)]
        rows = max(LAYOUT_OVERLAP, LAYOUT_STRIP_PIXELS // w)
        boxes = []
        for top in range(0, h, rows):
            if budget is not None and budget.spent():
                break
            above = max(0, top - LAYOUT_OVERLAP)
            self._layout.SetImage(gray.crop((0, above, w, min(h, top + rows + LAYOUT_OVERLAP))))
            for _, b, _, _ in self._layout.GetComponentImages(RIL.TEXTLINE, True):
                if top <= above + b["y"] < top + rows:
                    boxes.append({**b, "y": above + b["y"]})
        return boxes

    def read_header(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> tuple[str, float]:
        """A GTK-style header bar's title: one line, or a title over a subtitle, which such apps
        name their window as "<subtitle> — <title>"; with tesseract's confidence in its least sure line."""
        x0, y0, x1, y1 = box
        lines = [self.read_band_sure(rgb, (x0, a, x1, b)) for a, b in _text_rows(rgb[y0:y1, x0:x1], y0)]
        lines = [line for line in lines if line[0]]
        if len(lines) == 2:
            return f"{lines[1][0]} — {lines[0][0]}", min(lines[0][1], lines[1][1])
        return lines[0] if len(lines) == 1 else ("", 0.0)

    def read_band(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> str:
        """One line of text in a band (x0, y0, x1, y1), read as a single line: dark text on a
        light ground whatever the theme paints, upscaled, binarised; cached by content."""
        return self.read_band_sure(rgb, box)[0]

    def read_band_sure(self, rgb: np.ndarray, box: tuple[int, int, int, int]) -> tuple[str, float]:
        """`read_band`'s text with tesseract's mean confidence in its words (0-100): text it reads
        surely is text; a toolbar's icons read as letters come out doubtful."""
        x0, y0, x1, y1 = box
        crop = rgb[y0:y1, x0:x1]
        key = hashlib.sha1(crop.tobytes() + str(crop.shape).encode()).hexdigest()
        with self._lock:
            known = self._cache.get(key)
            if known is not None:
                self._cache.move_to_end(key)
                return known
            gray = crop.astype(np.float32).sum(axis=2) / 3
            background = float(np.median(gray))
            ink = np.abs(gray - background) > INK
            light_text = bool(ink.any()) and float(gray[ink].mean()) > background
            level = float(np.percentile(gray, 99 if light_text else 1))
            if abs(level - background) < 1:
                return "", 0.0
            # Background to white, ink to black, whichever way round the theme paints them.
            norm = np.clip((gray - level) / (background - level), 0.0, 1.0) * 255
            img = Image.fromarray(norm.astype(np.uint8))
            binary = img.resize(
                (max(1, int(img.width * BAND_UPSCALE)), max(1, int(img.height * BAND_UPSCALE))),
                Image.Resampling.LANCZOS,
            )
            # A white margin: tesseract misreads letters that touch the image's edge.
            framed = Image.new("L", (binary.width + 20, binary.height + 20), 255)
            framed.paste(binary, (10, 10))
            self._line.SetImage(framed)
            words, confidences = self._line.GetUTF8Text().split(), self._line.AllWordConfidences()
            kept = _without_edge_marks(words, confidences)
            if len(words) == len(confidences) and kept:
                start = next(i for i in range(len(words)) if words[i : i + len(kept)] == kept)
                sure = _sureness(kept, confidences[start : start + len(kept)])
            else:
                sure = _sureness(words, confidences)
            known = (_normalise(" ".join(kept)), sure)
            self.recognitions += 1
            self._cache[key] = known
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
            return known

    def windows(self, image: Image.Image, known_apps: Optional[set[str]] = None) -> list[dict]:
        """Window evidence read from pixels: one window per title bar (see `titlebars`), the
        focused one on top of the others (a bar drawn whole over another window's body) or else the
        bar painted to stand out, with its confidence in `_focus_confidence`, and
        the URL read from the field just below a browser's title. Falls back to the text lines'
        "<document> - <app>" pattern when the screen has no title bar. Within the reader's
        bounds: see `read`."""
        return self.read(image, known_apps).windows

    def read(
        self, image: Image.Image, known_apps: Optional[set[str]] = None, deadline: Optional[float] = None
    ) -> Reading:
        """`windows`, and the bounds they were read within: a screenshot over `max_pixels` is
        reduced first, and reading stops once `budget_s` has passed, or at `deadline`
        (time.monotonic()) when that comes first: a batch's screenshots share one budget (the
        windows read by then, perhaps none, marked incomplete). Boxes and sizes are the reduced
        image's."""
        if not image.width or not image.height:
            return Reading([], 0, 1, True)
        budget = _Budget(self.budget_s if deadline is None else min(self.budget_s, deadline - time.monotonic()))
        image, factor = bounded(image, self.max_pixels)
        pixels = image.width * image.height
        # Converted once, and hashed in place (no copy of its bytes): a 1440p screenshot is 11 MB.
        rgb = np.ascontiguousarray(np.asarray(image.convert("RGB")))
        image_key = "windows:" + hashlib.sha1(memoryview(rgb).cast("B")).hexdigest() + str(rgb.shape)
        with self._lock:
            if image_key in self._images:
                self._images.move_to_end(image_key)
                return Reading(copy.deepcopy(list(self._images[image_key])), pixels, factor, True)
        found = self._read_windows(image, rgb, known_apps, budget)
        if not budget.ran_out:  # a partial reading is not the image's: the next try may finish
            with self._lock:
                self._images[image_key] = tuple(copy.deepcopy(found))
                while len(self._images) > 256:
                    self._images.popitem(last=False)
        return Reading(found, pixels, factor, not budget.ran_out)

    def _read_windows(
        self, image: Image.Image, rgb: np.ndarray, known_apps: Optional[set[str]], budget: _Budget
    ) -> list[dict]:
        windows, urls, strips, taskbars, plain = [], [], [], [], []
        bands = find_bands(rgb)
        for bar in bands:
            if budget.spent():
                break
            if _in_taskbar(bar.y0, bar.y1, rgb.shape[0]):
                taskbars.append(bar)
                continue
            if bar.buttons and (tab := tab_strip(rgb, bar)) is not None:
                box, strip = tab
                strips.append(strip)
                # A window manager's bar of the strip's colour right over it makes one band with it:
                # the window's title is the bar's.
                above = replace(bar, y1=strip.y0)
                text, sure = self._bar_text(rgb, above) if above.height >= MIN_HEIGHT else ("", 0.0)
                if not _is_a_title(text):
                    window = self._tab_window(rgb, box, strip, url=None)
                    windows += [window] if window is not None else []
                    continue
                bar = above
            elif bar.height > MAX_BAR_HEIGHT and (box := _header_title_box(rgb, bar)) is not None:
                text, sure = self.read_header(rgb, _below_cut_text(rgb, box))
                if sum(ch.isalpha() for ch in text) < 3:  # a zoom field or a page counter, not a title
                    continue
            elif bar.height > MAX_BAR_HEIGHT and not bar.buttons:
                continue
            elif bar.buttons:
                text, sure = self._bar_text(rgb, bar)
                if not text:
                    continue
            else:
                plain.append(bar)
                continue
            if (url := _address(text)) is not None:
                urls.append((bar, url))  # a browser's address field, not a window
            elif _is_a_title(text) and _sure_enough(text, sure) and not _hangs_below(bar, bands):
                windows.append(_titled(text, bar))
        # A browser framed by the window manager has its tab strip right under its title bar: one
        # window, the title bar's.
        bars = [w["_bar"] for w in windows if not w.get("_tab")]
        windows = [w for w in windows if not (w.get("_tab") and _right_under_a_bar(w["_bar"], bars))]
        own_frames = []
        for field, url in urls:  # each address field belongs to the nearest title bar above it
            above = [
                w
                for w in windows
                if 0 <= field.y0 - w["_bar"].y1 <= 120 and w["_bar"].x0 - 2 <= field.x0 and field.x1 <= w["_bar"].x1 + 2
            ]
            if above:
                min(above, key=lambda w: field.y0 - w["_bar"].y1)["url"] = url
            elif not budget.spent() and (tab := browser_tab(rgb, field)) is not None:
                # No bar above: a browser drawing its own frame, its strip not found as a band, or
                # a title bar joined to the strip in a band too tall to be one: its title wins.
                window = self._tab_window(rgb, *tab, url=url)
                over = _bar_over(rgb, tab[1])
                title = self._bar_text(rgb, over)[0] if over is not None else ""
                if window is not None and " - " in title and _is_a_title(title):
                    window.update(title=title, app=title.rsplit(" - ", 1)[1].strip())
                own_frames.append(window)
        windows += [w for w in own_frames if w is not None]
        strips += [w["_bar"] for w in own_frames if w is not None]
        # A band in a browser's toolbar (its "Sign in" pill, an extension's button) or in its tab
        # strip (the other tabs, apart from the active one, which is the toolbar's colour) is not a window.
        windows = [w for w in windows if w.get("_tab") or not _in_a_browsers_frame(w["_bar"], strips)]
        if not windows and not budget.spent():
            plain = [bar for bar in plain if not _in_a_browsers_frame(bar, strips)]
            windows = self._plain_bar_windows(rgb, plain, bands, budget)
        if not windows:
            return [] if budget.spent() else self._windows_from_lines(image, known_apps, budget)
        focused = self._focus(rgb, windows, taskbars)
        if says_little(focused["title"], focused["app"]) and not budget.spent():
            # The title names no document: the page's own text near its top says what it is.
            text = self.page_text(image, _page_box(focused["_bar"], image.size), focused["title"], budget)
            if text:
                focused["pageText"] = text
        for w in windows:
            w.pop("_bar")
            w.pop("_tab", None)
        # Bottom to top as the window manager stacks them: the focused window last.
        return sorted(windows, key=lambda w: w["focused"])

    def _focus(self, rgb: np.ndarray, windows: list[dict], taskbars: list[Band]) -> dict:
        """Mark the focused window among those read (each with its `_bar`), with the confidence
        of that choice, and return it. The focused window is on top: a window with another's bar
        drawn whole over its body is under that one, whatever its bar's paint says. Among the
        others, the most salient bar; bars painted alike let a taskbar that names one of them
        decide. Only a bar that names a window ("<document> - <app>", a header bar's title and
        subtitle, a browser's tab) covers another: a toolbar's band lies in its own window's body."""
        named = [o for o in windows if o.get("_tab") or re.search(r" [-\u2014] ", o["title"])]
        reach = rgb.shape[0] // 2  # how far below its bar a window's body surely reaches
        uncovered = [w for w in windows if not any(_drawn_over(o["_bar"], w["_bar"], reach) for o in named)]
        ranked = sorted(windows, key=lambda w: (w in uncovered, w["_bar"].salience()), reverse=True)
        margin = ranked[0]["_bar"].salience() - ranked[1]["_bar"].salience() if len(ranked) > 1 else 40.0
        if len(uncovered) < len(windows) and margin < 0:
            margin = STACKED_MARGIN  # on top of another, though its paint is the duller: the stacking decided
        elif margin < TIED_MARGIN and (named_there := self._named_in_taskbar(rgb, taskbars, uncovered)) is not None:
            # A GTK app's header bars may not show the focus at all; blackbox's taskbar shows the
            # focused window's title alone.
            ranked.remove(named_there)
            ranked.insert(0, named_there)
            margin = STACKED_MARGIN
        ranked[0]["focused"] = True
        ranked[0]["_focus_confidence"] = round(1.0 / (1.0 + math.exp(-(margin - 5.0) / 8.0)), 3)
        return ranked[0]

    def page_text(
        self, image: Image.Image, box: tuple[int, int, int, int], skip: str = "", budget: Optional[_Budget] = None
    ) -> str:
        """The first lines of text in a window's page near its top (box: x0, y0, x1, y1 of the
        screenshot), such as a heading or a chat channel's name: what tesseract reads surely,
        without the window's menu bar, its address field or a line that repeats `skip` (its title);
        at most PAGE_TEXT_LINES lines, joined with " / "."""
        x0, y0, x1, y1 = box
        if x1 - x0 < 30 or y1 - y0 < 10:
            return ""
        kept: list[str] = []
        for line in sorted(self.lines(image.crop(box), budget), key=lambda ln: (ln.box[1], ln.box[0])):
            text = line.text.strip()
            if (
                sum(ch.isalpha() for ch in text) < 3
                or line.confidence < TITLE_CONFIDENCE
                or not _is_a_title(text)
                or _address(text) is not None
                or (skip and same_title(text, skip))
            ):
                continue
            kept.append(text)
            if len(kept) == PAGE_TEXT_LINES:
                break
        return " / ".join(kept)[:PAGE_TEXT_CHARS]

    def _plain_bar_windows(self, rgb: np.ndarray, plain: list[Band], bands: list[Band], budget: _Budget) -> list[dict]:
        """Windows from the bands with no buttons found at their ends (a thin bar whose buttons
        sit in boxes of their own, as some xfwm4 themes draw them), the most salient first: only
        text that names a document and its application ("<document> - <app>") counts. Cheaper
        than reading the whole screen, which is what is left when none is found."""
        windows = []
        for bar in sorted(plain, key=lambda b: b.salience(), reverse=True)[:MAX_PLAIN_BARS]:
            if budget.spent():
                break
            text, sure = self._bar_text(rgb, bar)
            if " - " in text and _is_a_title(text) and sure >= TITLE_CONFIDENCE and not _hangs_below(bar, bands):
                windows.append(_titled(text, bar))
        return windows

    def _named_in_taskbar(self, rgb: np.ndarray, taskbars: list[Band], windows: list[dict]) -> Optional[dict]:
        """The one window whose title a taskbar shows, or None (no taskbar, or one that lists
        several of the windows, as most do)."""
        shown = _squeezed(" ".join(self.read_band(rgb, (b.x0, b.y0, b.x1, b.y1)) for b in taskbars))
        named = [
            w for w in windows if len(title := _squeezed(w["title"]).rstrip(".\u2026")) >= MIN_KEPT and title in shown
        ]
        return named[0] if len(named) == 1 else None

    def _bar_text(self, rgb: np.ndarray, bar: Band) -> tuple[str, float]:
        """The text of a title bar, without the icon and buttons ("" when it has none), and
        tesseract's confidence in it."""
        box = _title_box(rgb, bar)
        return self.read_band_sure(rgb, _below_cut_text(rgb, box)) if box is not None else ("", 0.0)

    def _tab_window(
        self, rgb: np.ndarray, box: tuple[int, int, int, int], strip: Band, url: Optional[str]
    ) -> Optional[dict]:
        """A browser window that draws its own frame (Chromium's default: a tab strip, no title
        bar): its active tab's text as the title, cut with an ellipsis (a tab shows the page's
        title, never the window's whole one, which names the browser too), its strip as its bar
        (for the focus, and the address field below it)."""
        text = self.read_band(rgb, box)
        if sum(ch.isalpha() for ch in text) < 2:
            return None
        title = text.rstrip(".\u2026 ") + ELLIPSES[0]
        return {"app": "", "title": title, "url": url, "focused": False, "_bar": strip, "_tab": True}

    def _windows_from_lines(
        self, image: Image.Image, known_apps: Optional[set[str]] = None, budget: Optional[_Budget] = None
    ) -> list[dict]:
        """Titles ending in " - <app>" among the text lines, each with the nearest URL below it;
        the widest title is taken as the focused window."""
        found = [ln for ln in self.lines(image, budget) if not _in_taskbar(ln.box[1], ln.box[3], image.height)]
        titles = [
            ln
            for ln in found
            if " - " in ln.text
            and _sure_enough(ln.text, ln.confidence)
            and (not known_apps or ln.text.rsplit(" - ", 1)[1] in known_apps)
        ]
        urls = [ln for ln in found if URL_RE.fullmatch(ln.text.strip()) and "." in ln.text]
        windows = []
        for t in titles:
            below = [u for u in urls if 0 < u.box[1] - t.box[1] < 120 and u.box[0] < t.box[2] and u.box[2] > t.box[0]]
            url = min(below, key=lambda u: u.box[1] - t.box[1]).text if below else None
            windows.append(
                {
                    "app": t.text.rsplit(" - ", 1)[1],
                    "title": t.text,
                    "url": url,
                    "focused": False,
                    "_width": t.box[2] - t.box[0],
                }
            )
        if windows:
            max(windows, key=lambda w: w["_width"])["focused"] = True
        for w in windows:
            w.pop("_width")
        return windows


# Menu bars ("File Edit View ... Help", after an app name on a global menu bar) and OCR of
# graphics (a letter five times in a row) are not titles.
_NOT_A_TITLE = re.compile(
    r"^\W*(\w+\s+)?(file|edit|view)\b.*\b(edit|view|insert|help|tools|format|window)\b|(\w)\4{4,}", re.IGNORECASE
)
_ZOOM_AT_END = re.compile(r"\s\d{2,3}%$")
_COUNTS = re.compile(r"^\W*[\d,]+ words?, [\d,]+ characters?\W*$", re.IGNORECASE)  # an editor's word count


def _is_a_ruler(text: str) -> bool:
    """A row of labels one or two characters long (a spreadsheet's column letters "A B C ... AA AB",
    a ruler's figures, a toolbar's icons read as letters "ws c D"), not a title: a title has a word.

    >>> _is_a_ruler("A B Cc D E F G H i J K L AA AB"), _is_a_ruler("ws c D"), _is_a_ruler("A B testing - Writer")
    (True, True, False)
    """
    tokens = text.split()
    if not any(sum(ch.isalnum() for ch in t) >= 3 for t in tokens):
        return True
    return len(tokens) >= 6 and sum(len(t) <= 2 for t in tokens) >= 0.7 * len(tokens)


def _is_a_title(text: str) -> bool:
    """Whether the text of a bar can be a window's title: not a menu bar, a status bar ("Sheet 1 of
    1 | Default | English (USA) | ..."), a row of labels or OCR of graphics.

    >>> _is_a_title("q3_report.odt - LibreOffice Writer"), _is_a_title("File Edit View Insert Help")
    (True, False)
    """
    return not (_NOT_A_TITLE.search(text) or _is_status_bar(text) or _is_a_ruler(text) or text.count("|") >= 3)


_APP_NAME = re.compile(r"[A-Za-z][A-Za-z]{2,}(?: [A-Za-z]{2,}){0,2}")


def _sure_enough(text: str, sure: float) -> bool:
    """Whether a bar's text is surely text, not a toolbar's icons read as letters: tesseract is
    sure of it, or it ends in an application's name (a long path tesseract doubts, "/tmp/.../
    checklist.txt - Mousepad", is still a title).

    >>> _sure_enough("/tmp/maria/onboarding_checklist.txt - Mousepad", 36.0)
    True
    >>> _sure_enough("Del X¥ DH - 4A - + Sor", 30.0)
    False
    """
    return sure >= TITLE_CONFIDENCE or (" - " in text and bool(_APP_NAME.fullmatch(text.rsplit(" - ", 1)[1].strip())))


def _is_status_bar(text: str) -> bool:
    """A document's status bar: many fields ending in the zoom level ("Page 1 of 1 | 14 words |
    English (USA) | 100%"). A title that ends in a percentage is short ("Transmission 45%",
    "photo.jpg - Image Viewer 100%").

    >>> _is_status_bar("Page 1 of 1 14 words, 87 characters English (USA) 100%"), _is_status_bar("Transmission 45%")
    (True, False)
    >>> _is_status_bar("11 words, 59 characters"), _is_status_bar("Essay: 300 words - Writer")  # an editor's counts
    (True, False)
    """
    return bool(_ZOOM_AT_END.search(text)) and len(text.split()) >= 6 or bool(_COUNTS.search(text))


# UI text is 9-12 px high; twice that suits tesseract's LSTM best (3x loses underscores, measured
# on the real-screens set).
BAND_UPSCALE = 2.0
TITLE_CONFIDENCE = 50.0  # tesseract's mean word confidence under which a bar's text is a toolbar's icons
MAX_BAR_HEIGHT = 40  # a title bar, a tab strip or an address field; taller bands are toolbars


def _hangs_below(bar: Band, bands: list[Band]) -> bool:
    """Whether `bar` starts where a wider band inside a window ends, within its width: a browser's
    toolbar button or a document's toolbar under its tab strip or menu bar, not a window's title
    bar (which starts where its window does). A band at the screen's top edge (a desktop's top
    panel) does not count: a window placed right under it starts where it ends.

    >>> tabs, pill = Band(245, 292, 485, 1867, 200, 10, True), Band(291, 325, 1626, 1821, 220, 40, True)
    >>> _hangs_below(pill, [tabs, pill]), _hangs_below(pill, [Band(0, 291, 0, 1920, 40, 0, True), pill])
    (True, False)
    """
    return any(
        other.y0 > 2
        and abs(other.y1 - bar.y0) <= 2
        and other.x0 <= bar.x0 + 2
        and bar.x1 - 2 <= other.x1
        and other.width >= bar.width + 16
        for other in bands
        if other is not bar
    )


def _bar_over(rgb: np.ndarray, strip: Band) -> Optional[Band]:
    """The rows right over a tab strip in one colour (their median within 10 grey levels of the
    row just over the strip), up to twice the strip's height: a title bar there, or None when
    they are fewer than a bar's height."""
    top = max(0, strip.y0 - 2 * strip.height)
    rows = np.median(grey(rgb[top : strip.y0, strip.x0 : strip.x1]), axis=1)
    if not len(rows):
        return None
    y = len(rows) - 1
    while y > 0 and abs(rows[y - 1] - rows[-1]) <= 10:
        y -= 1
    return (
        Band(top + y, strip.y0, strip.x0, strip.x1, float(rows[-1]), 0.0, True) if len(rows) - y >= MIN_HEIGHT else None
    )


PAGE_DEPTH = 12  # bar heights under a window's bar where its page's heading lies
PAGE_TEXT_LINES = 2  # lines of a page's text kept as evidence
PAGE_TEXT_CHARS = 200
MAX_PLAIN_BARS = 6  # bands without buttons read when no bar with buttons names a window
TIED_MARGIN = 2.0  # salience: bars painted this alike do not show which window has the focus
STACKED_MARGIN = 13.0  # the focus's confidence where stacking chose it: 0.73, short of a clear paint's


def _drawn_over(top: Band, under: Band, reach: int) -> bool:
    """Whether the bar `top` lies over the body of the window whose bar is `under`: more than 20
    px and at most `reach` below that bar, starting inside its width (20 px in from its left end,
    100 px short of its right), where `under`'s window would show if it were on top; since `top`
    was found whole, its window is the one on top there."""
    return under.y1 + 20 < top.y0 <= under.y1 + reach and under.x0 + 20 <= top.x0 < under.x1 - 100


def _just_below(band: Band, above: Band, gap: int, slack: int) -> bool:
    """Whether `band` starts at most `gap` px below `above` ends, within its width (`slack` px each side)."""
    return 0 <= band.y0 - above.y1 <= gap and above.x0 - slack <= band.x0 and band.x1 <= above.x1 + slack


def _in_a_toolbar(bar: Band, strips: list[Band]) -> bool:
    """Whether a band lies in the toolbar right under a browser's tab strip (as tall as the strip)."""
    return any(_just_below(bar, strip, strip.height, 2) for strip in strips)


def _address(text: str) -> Optional[str]:
    """The address a browser's address field shows ("https://...", "Not secure ...", "www...",
    or a bare host and path), or None for any other text.

    >>> _address("Not secure https://acme.io/x"), _address("acme.io/x"), _address("report.txt - Writer")
    ('acme.io/x', 'acme.io/x', None)
    """
    compact = text.replace(" ", "")
    url = URL_RE.search(compact)
    if url and ("://" in compact or compact.lower().startswith(("notsecure", "www.")) or url.group(0) == compact):
        return url.group(0)
    return None


def _titled(text: str, bar: Band) -> dict:
    """A window read from its bar's text: "<document> - <app>" names its application."""
    app = text.rsplit(" - ", 1)[1].strip() if " - " in text else ""
    return {"app": app, "title": text, "url": None, "focused": False, "_bar": bar}


def _page_box(bar: Band, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """Where a window's page text is read: under its bar, across it, PAGE_DEPTH bar heights down."""
    return (bar.x0, bar.y1, bar.x1, min(size[1], bar.y1 + PAGE_DEPTH * bar.height))


def _in_a_browsers_frame(bar: Band, strips: list[Band]) -> bool:
    """Whether a band lies in a browser's tab strip or in the toolbar under it."""
    return _in_a_toolbar(bar, strips) or _in_a_strip(bar, strips)


def _in_a_strip(bar: Band, strips: list[Band]) -> bool:
    """Whether a band lies in a browser's tab strip, its rows and columns within the strip's."""
    return any(
        strip.y0 - 4 <= (bar.y0 + bar.y1) / 2 <= strip.y1 + 4 and strip.x0 - 8 <= bar.x0 and bar.x1 <= strip.x1 + 8
        for strip in strips
    )


def _right_under_a_bar(strip: Band, bars: list[Band]) -> bool:
    """Whether a tab strip starts right where a title bar over the same window ends."""
    return any(_just_below(strip, bar, 8, 8) for bar in bars)


def _in_taskbar(y0: int, y1: int, height: int) -> bool:
    """Whether a bar (or a line of text) from y0 to y1 lies where a taskbar does, in the lower half
    of a screen with no room below it for a window: a taskbar's entries show the windows' titles
    again, the focused one highlighted, and are not title bars.

    >>> _in_taskbar(1054, 1078, 1080), _in_taskbar(0, 20, 60), _in_taskbar(500, 520, 1080)
    (True, False, False)
    """
    return y0 > height / 2 and y1 > height - max(24, 2 * (y1 - y0))


def _text_rows(crop: np.ndarray, top: int) -> list[tuple[int, int]]:
    """Rows (absolute y) of each line of ink in a crop, split at ink-free rows."""
    gray = grey(crop)
    rows = (np.abs(gray - np.median(gray)) > INK).any(axis=1)
    out, start = [], None
    for i, r in enumerate(list(rows) + [False]):
        if r and start is None:
            start = i
        elif not r and start is not None:
            if i - start >= 5:
                out.append((top + max(0, start - 2), top + min(len(rows), i + 2)))
            start = None
    return out


def _below_cut_text(rgb: np.ndarray, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """The box taken down to where its text ends, when the band ended inside it: a band's rows are
    followed through a text gap of TEXT_GAP rows, and text drawn at 2x is taller than that (an
    address field's descenders, "wikipedia.org" read as "wikioedia.ora"). Text ends at the first
    row without ink, or at a row mostly of ink (something else below), within the box's height.

    >>> screen = np.full((60, 100, 3), 200, np.uint8)
    >>> screen[10:38, 20:80:3] = 20   # text whose lower rows run past the band (y 0 to 30)
    >>> _below_cut_text(screen, (10, 0, 90, 30))
    (10, 0, 90, 38)
    >>> _below_cut_text(screen, (10, 0, 90, 40))  # a band that holds its text whole is left as it is
    (10, 0, 90, 40)
    """
    x0, y0, x1, y1 = box
    if y1 <= y0 or x1 <= x0:
        return box
    gray = grey(rgb[y0 : min(rgb.shape[0], y1 + (y1 - y0)), x0:x1])
    background = float(np.median(gray[: y1 - y0]))
    ink = (np.abs(gray - background) > INK).mean(axis=1)
    y = y1 - y0
    if not ink[y - 1]:
        return box
    while y < len(ink) and 0 < ink[y] < 0.5:
        y += 1
    return (x0, y0, x1, y0 + y)


def _header_title_box(rgb: np.ndarray, bar: Band) -> Optional[tuple[int, int, int, int]]:
    """A header bar's title: the ink with two lines (a title over a subtitle), else the ink centred
    in the bar; either way with buttons on both sides of it."""
    clusters = ink_clusters(rgb, bar, gap=12)
    if len(clusters) < 3:
        return None
    inner = clusters[1:-1]
    two_lines = [c for c in inner if len(_text_rows(rgb[bar.y0 : bar.y1, c[0] : c[1]], bar.y0)) == 2]
    if two_lines:
        a, b = max(two_lines, key=lambda c: c[1] - c[0])
    else:
        centre = (bar.x0 + bar.x1) / 2
        a, b = min(inner, key=lambda c: abs((c[0] + c[1]) / 2 - centre))
        if abs((a + b) / 2 - centre) > 0.1 * bar.width:
            return None
    return (max(bar.x0, a - 4), bar.y0, min(bar.x1, b + 4), bar.y1)


def _title_box(rgb: np.ndarray, bar: Band) -> Optional[tuple[int, int, int, int]]:
    """The title's box in a bar: the ink without the window icon at the left end and the buttons
    at the right end (small clusters that touch the ends)."""
    clusters = ink_clusters(rgb, bar)
    h = bar.height
    band = grey(rgb[bar.y0 : bar.y1])
    ink = np.abs(band - np.median(band[:, bar.x0 : bar.x1], axis=1, keepdims=True)) > INK

    def button_shaped(cluster: tuple[int, int]) -> bool:
        # A button's glyph is about as wide as it is high; a word, however short ("vim", "htop"),
        # is two or more times wider than high.
        rows = np.nonzero(ink[:, cluster[0] : cluster[1]].any(axis=1))[0]
        return len(rows) > 0 and cluster[1] - cluster[0] <= 1.5 * (rows[-1] - rows[0] + 1)

    # Buttons (or traffic lights) at either end, and a window icon: small clusters touching an end,
    # and any button set a little apart from them (some xfwm4 themes do).
    if clusters and clusters[-1][1] > bar.x1 - 40 and clusters[-1][1] - clusters[-1][0] <= 5 * h:
        edge = clusters.pop()[0]
        while len(clusters) > 1 and button_shaped(clusters[-1]) and edge - clusters[-1][1] <= 3 * h:
            edge = clusters.pop()[0]
    if clusters and clusters[0][0] < bar.x0 + 40 and clusters[0][1] - clusters[0][0] <= 5 * h:
        edge = clusters.pop(0)[1]
        while len(clusters) > 1 and button_shaped(clusters[0]) and clusters[0][0] - edge <= 3 * h:
            edge = clusters.pop(0)[1]
    if not clusters:
        return None
    return (max(bar.x0, clusters[0][0] - 4), bar.y0, min(bar.x1, clusters[-1][1] + 4), bar.y1)


MIN_STRIP_WIDTH = 10  # a tab strip's width in its heights, at the least
TOOLBAR_MATCH = 6  # grey levels: the toolbar's colour, antialiasing aside


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Start and end (exclusive) of each run of True in a 1-D mask."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.nonzero(np.diff(padded.astype(np.int8)))[0]
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _active_tab(
    rgb: np.ndarray, x0: int, x1: int, top: int, edge: int, toolbar: float, h: int
) -> Optional[tuple[tuple[int, int, int, int], Band]]:
    """The active tab in a browser's tab strip: rows `top` to `edge` (the toolbar's first row) of
    columns x0 to x1, the toolbar of grey level `toolbar`. The active tab is drawn in the
    toolbar's colour, joined to it; the strip and the other tabs in the frame's. Returns the tab's
    text box and the strip as a `Band` (its colour and ink as find_bands measures a title bar's,
    for the focus), or None when no tab of at least 2h pixels is in the toolbar's colour."""
    if edge - top < 6 or x1 - x0 < 4 * h:
        return None
    g = grey(rgb[top:edge, x0:x1])
    is_toolbar = np.abs(g - toolbar) <= TOOLBAR_MATCH
    probe = len(g) - 2
    tabs = [(a, b) for a, b in _runs(is_toolbar[probe]) if b - a >= 2 * h]
    others = ~is_toolbar[probe]
    if not tabs or not others.any():
        return None
    a, b = max(tabs, key=lambda t: t[1] - t[0])
    frame_grey = float(np.median(g[probe][others]))
    if abs(frame_grey - toolbar) <= TOOLBAR_MATCH:
        return None
    is_frame = np.abs(g[:, a:b] - frame_grey) <= TOOLBAR_MATCH
    y = probe
    while y > 0 and is_frame[y - 1].mean() < 0.5:  # up the tab to the strip's colour above it
        y -= 1
    if y == 0 or not 0.5 * h <= len(g) - y <= 3 * h:
        return None  # a tab rises from the toolbar into the strip, under its top: not a field beside the toolbar
    text = np.abs(g[y:, a:b] - toolbar) > INK
    cols = _runs(text.any(axis=0))
    # The favicon at the tab's left and the close mark at its right: glyphs about as wide as high.
    rows = max(1, int(text.any(axis=1).sum()))
    while len(cols) > 1 and cols[0][0] < 2 * rows and cols[0][1] - cols[0][0] <= rows:
        cols.pop(0)
    close = None
    while len(cols) > 1 and (b - a) - cols[-1][1] < 2 * rows and cols[-1][1] - cols[-1][0] <= rows:
        close = cols.pop()[0]
    if not cols:
        return None
    end = cols[-1][1] + 4
    if close is not None and close - cols[-1][1] < rows:
        # The title runs into the close mark: the tab cut it and faded its last letters out, which
        # OCR misreads ("Wikipec" for "Wikiped"); read it up to where the fade starts.
        end = max(cols[0][1], cols[-1][1] - rows)
    box = (x0 + a + max(0, cols[0][0] - 4), top + y, x0 + a + min(b - a, end), edge)
    strip = rgb[top + y : edge, x0:x1]
    deviation = np.abs(g[y:] - frame_grey)
    colours = strip[deviation <= TOOLBAR_MATCH]
    if not colours.size:  # no pixel of the frame's colour: the median fell between two colours
        return None
    saturation = float(np.median(colours.max(axis=1).astype(np.int16) - colours.min(axis=1)))
    deviation[:, a:b] = 0  # the active tab is the toolbar's colour, not ink
    ink = deviation[deviation > INK]
    contrast = float(np.percentile(ink, 90)) if ink.size else 0.0
    return box, Band(top + y, edge, x0, x1, frame_grey, saturation, True, contrast)


def tab_strip(rgb: np.ndarray, bar: Band) -> Optional[tuple[tuple[int, int, int, int], Band]]:
    """Whether a band is a browser's tab strip (the browser drawing its own frame, Chromium's
    default) rather than a title bar: a toolbar right below it, in one colour across it, whose
    colour one tab of the band's lowest rows shares (the active tab, joined to the toolbar). A
    window manager's bar is one colour to its bottom row. The active tab's text box, or None.

    Example:
        >>> screen = np.full((120, 600, 3), 200, np.uint8)  # the frame, grey
        >>> screen[40:90] = 250                             # the toolbar ...
        >>> screen[8:40, 20:220] = 250                      # ... and the active tab joined to it
        >>> screen[18:30, 60:180:3] = 40                    # the tab's title
        >>> screen[18:30, 300:420:3] = 90                   # another tab's title
        >>> box, strip = tab_strip(screen, Band(4, 40, 0, 600, 200.0, 0.0, True))
        >>> box, (strip.y0, strip.y1)
        ((56, 8, 182, 40), (8, 40))
        >>> tab_strip(screen, Band(4, 40, 0, 200, 200.0, 0.0, True)) is None  # too narrow: a pill
        True
    """
    below = grey(rgb[bar.y1 + 2 : bar.y1 + 6, bar.x0 : bar.x1])
    if len(below) < 4 or bar.width < MIN_STRIP_WIDTH * min(bar.height, 24):
        return None  # a strip spans its window: a narrower band is a pill in a toolbar ("Not secure")
    toolbar = float(np.median(below))
    if (np.abs(below - toolbar) <= TOOLBAR_MATCH).mean() < 0.6:
        return None
    return _active_tab(rgb, bar.x0, bar.x1, bar.y0, bar.y1, toolbar, min(bar.height, 24))


def browser_tab(rgb: np.ndarray, field: Band) -> Optional[tuple[tuple[int, int, int, int], Band]]:
    """The active tab's text box and the tab strip above a browser's address field, when no band
    was found for the strip (a strip drawn at 2x is taller than a title bar): the toolbar's top
    is where its colour stops across the window. None when the pixels above the field are not a
    toolbar under a tab strip.

    Example:
        >>> screen = np.full((120, 600, 3), 200, np.uint8)  # the frame, grey
        >>> screen[40:90] = 250                             # the toolbar ...
        >>> screen[8:40, 20:220] = 250                      # ... and the active tab joined to it
        >>> screen[18:30, 60:180:3] = 40                    # the tab's title
        >>> screen[55:75, 100:500] = 235                    # the address field
        >>> box, strip = browser_tab(screen, Band(55, 75, 100, 500, 235.0, 0.0, False))
        >>> box, (strip.y0, strip.y1, strip.x0, strip.x1)
        ((56, 8, 182, 40), (8, 40, 0, 600))
    """
    h = field.height
    top = max(0, field.y0 - 4 * h - 8)
    g = grey(rgb[top : field.y0])
    below = field.y0 - top - 2  # a row of the toolbar just above the field
    if below < 4:
        return None
    toolbar = float(np.median(g[below, field.x0 : field.x1]))
    row = np.abs(g[below] - toolbar) <= TOOLBAR_MATCH
    span = next(((a, b) for a, b in _runs(row) if a <= field.x0 and field.x1 <= b), None)
    if span is None:
        return None
    x0, x1 = span
    share = (np.abs(g[:, x0:x1] - toolbar) <= TOOLBAR_MATCH).mean(axis=1)
    edge = next((y for y in range(below, -1, -1) if share[y] < 0.6), None)  # the toolbar's top
    if edge is None or edge < 4:
        return None
    return _active_tab(rgb, x0, x1, top, top + edge + 1, toolbar, h)
