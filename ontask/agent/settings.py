"""The capture agent's settings on a user's desktop: the predictor it asks, its token, where it
keeps its last answer and which windows never leave the machine; read from the environment in
this one place, once per command, and handed down. `ontask agent correct` sends through the
feedback producer, with its Kafka settings (ontask.feedback.settings): the agent that only asks
loads no Kafka client."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ontask.agent.capture import DEFAULT_NEVER_CAPTURE, split_rules
from ontask.api.serving import PREDICT_TOKEN_ENV
from ontask.cli_inputs import http_url

# Environment variable -> field.
ENV = {
    "ONTASK_PREDICTOR": "predictor",
    PREDICT_TOKEN_ENV: "predict_token",
    "XDG_STATE_HOME": "state_home",
    "ONTASK_NEVER_CAPTURE": "never_capture",
    "ONTASK_ALSO_NEVER_CAPTURE": "also_never_capture",
}


class AgentSettings(BaseModel):
    """Settings of one `ontask agent` command."""

    model_config = ConfigDict(extra="forbid")

    predictor: str = Field("http://127.0.0.1:8080", min_length=1, description="Base URL of the student predictor.")
    predict_token: Optional[SecretStr] = Field(
        None, description="Bearer token of a predictor with spec.serving.tokenSecretRef (never printed)."
    )
    state_home: Path = Field(
        default_factory=lambda: Path.home() / ".local" / "state",
        description="The user's state folder (XDG); the agent keeps its last answer in ontask-agent/ there.",
    )
    never_capture: list[str] = Field(
        default_factory=lambda: list(DEFAULT_NEVER_CAPTURE),
        description="Windows that never leave the machine (ontask.agent.capture.Privacy): app names (WM_CLASS) "
        "and `title:REGEX` rules; by default the password managers. Set, it replaces them (comma-separated; "
        "`none` for none; a comma inside a `title:` regex goes in parentheses or after a backslash).",
    )
    also_never_capture: list[str] = Field(
        default_factory=list, description="Rules added to never_capture (comma-separated), keeping the defaults."
    )

    @field_validator("predictor")
    @classmethod
    def _an_http_url(cls, value: str) -> str:
        try:
            return http_url(value)
        except argparse.ArgumentTypeError as e:  # the same check as --predictor's
            raise ValueError(f"ONTASK_PREDICTOR: {e}") from None

    @field_validator("never_capture", "also_never_capture", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):  # from the environment
            return [] if value.strip().lower() == "none" else split_rules(value)
        return value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> "AgentSettings":
        """The settings in the environment; empty values count as unset."""
        return cls.model_validate({field: environ[var] for var, field in ENV.items() if environ.get(var)})

    def state_dir(self) -> Path:
        """Where the agent keeps its last answer (the user's own state, never the classifier's)."""
        return self.state_home / "ontask-agent"

    def never_capture_rules(self) -> list[str]:
        """The never-capture rules in force: the list, and the ones added to it."""
        return [*self.never_capture, *self.also_never_capture]

    def token(self) -> Optional[str]:
        return self.predict_token.get_secret_value() if self.predict_token else None
