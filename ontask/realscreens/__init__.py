"""The real-screens set: real applications under Xvfb, driven through the capture agent's desktop
code, screenshotted with ground truth. `tasks` (the data), `plan` (the shots), `pages` (what the
applications show), `desktop` and `apps` (the desktop and its applications), `build` (the set
and its cache), `cli` (`ontask data real-screens`)."""

from ontask.realscreens.build import POLICY_MANIFEST, cached_set, examples, set_fingerprint

__all__ = ["POLICY_MANIFEST", "cached_set", "examples", "set_fingerprint"]
