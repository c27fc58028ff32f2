"""Window evidence: what the capture agent knows of the screen from the operating system,
carried by predictor requests, corrections and dataset rows alike."""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from ontask.api.wire import Model


class WindowInfo(Model):
    """One window as the capture agent knows it from the operating system (ActivityWatch-style)."""

    app: str = Field(
        "", max_length=256, description="Application name, e.g. 'Firefox'; empty when the agent does not know it."
    )
    title: str = Field("", max_length=1024, description="Window title as shown in its title bar.")
    url: Optional[str] = Field(None, max_length=4096, description="Page URL for browser windows.")
    focused: bool = Field(False, description="Whether this window has the keyboard focus.")
    page_text: Optional[str] = Field(
        None,
        max_length=512,
        description="Text near the top of the window's page (a heading, a channel name) read from the screenshot by "
        "OCR where the title says little ('Untitled 1', 'New Tab', an app's name alone); set by the predictor, "
        "marked as read by OCR in the prompt and the verifier's evidence.",
    )
