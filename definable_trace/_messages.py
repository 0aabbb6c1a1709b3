"""The conversation data model: `Message`, its per-message `Metrics`, and media references.

Everything else flows through these types: the agent builds them, the tracer writes them into
spans, the loader rebuilds them from spans, and the CLI renders them. They are pydantic models
so that a history goes to and from JSON through one adapter (`MESSAGES_ADAPTER`), and every
field has a default so that files written by older versions still load.
"""

from __future__ import annotations

import math
import secrets
import time
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

Role = Literal["system", "user", "assistant", "tool"]

__all__ = [
    "MESSAGES_ADAPTER",
    "Audio",
    "File",
    "Image",
    "Media",
    "Message",
    "Metrics",
    "Role",
    "Video",
    "seconds_kept",
]


def _new_id() -> str:
    """16 lowercase hex digits (64 random bits), the form of a span id. Not a 128-bit uuid: a
    message's id is written in every later span's meta list of its conversation, so its length
    is paid again and again, and 64 bits is ample for ids that only need to be unique within
    a session (a collision is unlikely below billions of messages). Ids users give are kept."""
    return secrets.token_hex(8)


def _now() -> int:
    return int(time.time())


class Metrics(BaseModel):
    """Token usage and timing of one message (or, summed, of one run).

    Token counts are those the provider reported for the model call that produced the message;
    `duration` and `time_to_first_token` are seconds measured around that call, kept to the
    microsecond (`_to_microseconds`).
    """

    # Assignments are validated too: the model layer sets the times on a made `Metrics`.
    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    duration: float | None = None
    time_to_first_token: float | None = None

    @field_validator("duration", "time_to_first_token")
    @classmethod
    def _to_microseconds(cls, value: float | None) -> float | None:
        """Seconds rounded to 6 decimals where they are set (construction and assignment).

        `perf_counter` differences carry 17 significant digits, ten of them below any
        meaningful precision; every later span's meta list repeats each answer's times, so a
        trace holds `0.277036` instead of `0.27703584499977296` (about 20 bytes per answer per
        list). The value in memory is the rounded one, so what a trace holds reads back equal.
        A time that is not a finite number (`NaN`, `Infinity` in a damaged trace) is no
        measurement: None, as when none was taken (NaN would also make a message unequal to
        itself, and every sum of durations NaN).
        """
        return seconds_kept(value)

    def __add__(self, other: Metrics) -> Metrics:
        """Sum two metrics: counts add up, durations add up, the first token time is the first."""
        return Metrics(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cache_read_tokens=self.cache_read_tokens + other.cache_read_tokens,
            cache_write_tokens=self.cache_write_tokens + other.cache_write_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            duration=_add_optional(self.duration, other.duration),
            time_to_first_token=(
                self.time_to_first_token
                if self.time_to_first_token is not None
                else other.time_to_first_token
            ),
        )


def _add_optional(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return a + b


class Media(BaseModel):
    """A reference to a media attachment: by URL, by local path, by provider file id, or inline.

    Exactly one of `url`, `filepath`, `file_id` or `content` is normally set. Inline `content`
    is raw bytes; it is base64-encoded in JSON and in traces.
    """

    model_config = ConfigDict(extra="ignore", ser_json_bytes="base64", val_json_bytes="base64")

    url: str | None = None
    filepath: str | None = None
    file_id: str | None = None
    content: bytes | None = None
    mime_type: str | None = None
    id: str | None = None


class Image(Media):
    """An image; `detail` is OpenAI's `low`/`high`/`auto` hint."""

    kind: Literal["image"] = "image"
    detail: str | None = None


class Audio(Media):
    """An audio clip; `format` is e.g. `wav` or `mp3` (OpenAI's `input_audio.format`)."""

    kind: Literal["audio"] = "audio"
    format: str | None = None


class Video(Media):
    """A video reference. Recorded in traces; OpenAI chat models do not accept video input."""

    kind: Literal["video"] = "video"


class File(Media):
    """A document (PDF, text, ...), sent to OpenAI as a `file` content part."""

    kind: Literal["file"] = "file"
    filename: str | None = None


class Message(BaseModel):
    """One message of a conversation, in the shape of the definable framework.

    `tool_calls` are OpenAI-style dicts (`{"id", "type": "function", "function": {"name",
    "arguments"}}`) so a history can be sent to any chat.completions endpoint unchanged.
    `metrics` is set on assistant messages (the usage of the model call that produced them).
    """

    model_config = ConfigDict(extra="ignore")

    role: Role
    content: str | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    images: list[Image] | None = None
    audio: list[Audio] | None = None
    videos: list[Video] | None = None
    files: list[File] | None = None
    reasoning_content: str | None = None
    metrics: Metrics | None = None
    id: str = Field(default_factory=_new_id)
    created_at: int = Field(default_factory=_now)

    def media(self) -> list[Media]:
        """All attachments of the message, in a stable order (images, audio, videos, files)."""
        return [
            *(self.images or ()),
            *(self.audio or ()),
            *(self.videos or ()),
            *(self.files or ()),
        ]


MESSAGES_ADAPTER: TypeAdapter[list[Message]] = TypeAdapter(list[Message])
"""The one way a history goes to and from JSON (`dump_json` / `validate_json`)."""


def seconds_kept(value: float | None) -> float | None:
    """A time in seconds as `Metrics` keeps it (`Metrics._to_microseconds`): rounded to the
    microsecond, None for none and for what is not a finite number. Also read by the loader's
    listing, which sums times without a `Metrics` per call and must keep the same values."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, 6)
