"""Titles that say little: "Untitled 1 - LibreOffice Writer", "New Tab - Chromium", a chat app's
window titled with the app's name alone. Such a window's title carries no word of the task, so
the verifier and the prompt also read the page's own text near its top (a heading, a channel
name), read by OCR and marked as such (`ontask.verify.ocr.TitleReader.page_text`)."""

from __future__ import annotations

import re

# What an application names a window before it names its document, or a page with no title.
_PLACEHOLDER = re.compile(
    r"^(untitled( document| spreadsheet| presentation)?|new (tab|window|document|file|page|incognito tab)"
    r"|document\s?\d+|book\s?\d+|blank page|about:blank|home|inbox|start page|loading)(\s*\d+)?$",
    re.IGNORECASE,
)
# Browsers and their usual suffixes: a page title "<page> - Google Chrome" says as much as <page>.
_BROWSERS = {"chromium", "google chrome", "chrome", "mozilla firefox", "firefox", "microsoft edge", "brave", "opera"}


def _parts(title: str) -> list[str]:
    """A title's parts between its separators, without the marks around them: an unsaved file's
    star, a bullet, the ellipsis where a tab or a bar cut the title ("New Tab…")."""
    marks = " *\u2022.\u2026"
    return [p.strip(marks) for p in re.split(r"\s+[-\u2014|]\s+", title) if p.strip(marks)]


def says_little(title: str, app: str = "") -> bool:
    """Whether a window's title names nothing beyond its application: empty, a placeholder
    ("Untitled", "New Tab"), or the application's (or a browser's) name alone.

    Example:
        >>> says_little("Untitled 1 - LibreOffice Writer"), says_little("New Tab - Chromium")
        (True, True)
        >>> says_little("Acme Chat", app="Acme Chat"), says_little("Slack - Acme Corp - Slack", app="Slack")
        (True, False)
        >>> says_little("q3_report.odt - LibreOffice Writer"), says_little("Untitled budget plan - Writer")
        (False, False)
        >>> says_little("New Tab\u2026"), says_little("Loading...")  # as a tab or a bar cuts them
        (True, True)
    """
    names = _BROWSERS | ({app.lower()} if app else set())
    parts = _parts(title)
    if parts and " - " in title:
        parts = parts[:-1]  # "<document> - <application>": the last part names the application
    meaningful = [p for p in parts if p.lower() not in names and not _PLACEHOLDER.match(p)]
    return not meaningful


def needs_page_text(windows: list[dict]) -> bool:
    """Whether the focused window's title says little and no page text came with it. An empty
    title is one the capture agent withheld (its privacy settings): its page is not read either.

    >>> needs_page_text([{"title": "Untitled 1 - Writer", "focused": True}])
    True
    >>> needs_page_text([{"title": "", "focused": True}])
    False
    """
    focused = next((w for w in windows if w.get("focused")), None)
    return (
        focused is not None
        and bool((focused.get("title") or "").strip())
        and not focused.get("pageText")
        and says_little(focused.get("title") or "", focused.get("app") or "")
    )


def with_page_text(windows: list[dict], read: list[dict]) -> list[dict]:
    """The capture agent's windows with the page text OCR read for the focused window (`read`,
    the windows `TitleReader.windows` found in the same screenshot) when its title says little.

    Example:
        >>> agent = [{"app": "Chromium", "title": "New Tab - Chromium", "focused": True}]
        >>> with_page_text(agent, [{"title": "New Tab…", "focused": True, "pageText": "Refund policy"}])[0]["pageText"]
        'Refund policy'
        >>> two = [{"title": "Untitled 1 - Writer", "focused": True, "pageText": "Menu"}, {"title": "Untitled 2"}]
        >>> "pageText" in with_page_text(agent, two)[0]  # which of the two the agent's is, OCR cannot tell
        False
    """
    seen = next((w for w in read if w.get("focused") and w.get("pageText")), None)
    if seen is None or not needs_page_text(windows):
        return windows
    focused = next(w for w in windows if w.get("focused"))
    # The same window, or the text is another page's: its title read as the agent's (cut or not),
    # or both titles say little and no other window OCR read says as little.
    from ontask.verify.ocr import title_match

    alike = [w for w in read if says_little(w.get("title") or "", w.get("app") or "")]
    same = title_match(seen["title"], focused.get("title") or "") is not None or alike == [seen]
    if not same:
        return windows
    return [dict(w, pageText=seen["pageText"]) if w is focused else w for w in windows]
