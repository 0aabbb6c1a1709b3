"""Flattened message attributes (`prefix.{i}.field`, nested `….{j}.…`) back into lists.

OpenLLMetry before 0.55 and OpenInference cannot put a list of objects in one attribute, so
they spread each message over many keys. `unflatten` gathers them by index; the two conventions
then name the fields differently (see `_openllmetry`, `_openinference`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import orjson

from .._messages import Image, Message
from .._semconv import ToolCallPart, compact_json
from ._calls import Memo
from ._records import SpanRecord

__all__ = [
    "content_parts",
    "message_of",
    "span_field",
    "span_messages",
    "tool_call",
    "unflatten",
]


def unflatten(attributes: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    """`{prefix}{i}.{rest}` keys as a list (by i) of `{rest: value}` dicts."""
    found: dict[int, dict[str, Any]] = {}
    n = len(prefix)
    for key, value in attributes.items():
        if not key.startswith(prefix):
            continue
        index, _, rest = key[n:].partition(".")
        if index.isdigit() and rest:
            found.setdefault(int(index), {})[rest] = value
    return [found[i] for i in sorted(found)]


_Plan = tuple[tuple[tuple[str, str], ...], ...]


def _planner(prefix: str) -> Callable[[SpanRecord], _Plan]:
    def plan(span: SpanRecord) -> _Plan:
        """Per index (in order), the (rest, name) pairs in the order of the names: what
        `unflatten` would put in that index's dict. Raises where `unflatten` raises.
        (tests/test_loading_foreign_speed.py checks it gives what `unflatten` gives.)"""
        found: dict[int, list[tuple[str, str]]] = {}
        n = len(prefix)
        for key in span.attribute_names:
            if not key.startswith(prefix):
                continue
            index, _, rest = key[n:].partition(".")
            if index.isdigit() and rest:
                found.setdefault(int(index), []).append((rest, key))
        return tuple(tuple(found[i]) for i in sorted(found))

    return plan


# Per message of a flattened list: its field names (each once, in the order of the names), the
# attribute each is read from (for a name given twice, the last: what a dict keeps), and the
# classes of values that are all strings (compared at once with the values' classes).
_Fields = tuple[tuple[str, ...], tuple[str, ...], tuple[type, ...]]
_MESSAGE_PLANNERS: dict[str, tuple[str, Callable[[SpanRecord], tuple[_Fields, ...]]]] = {}


def span_messages(
    span: SpanRecord,
    prefixes: tuple[str, ...],
    kind: str,
    build: Callable[[dict[str, Any]], Message],
    memo: Memo | None,
) -> list[list[Message]]:
    """The messages of the flattened lists under each of `prefixes` (`unflatten`'s dicts,
    each given to `build`), every list gathered before any message is built (what may raise,
    raises in that order), without a dict (nor a key of its items) made per message. A
    message whose values are all strings is built once per `kind`, field names and values, and
    looked up in `memo` after (what else a damaged span holds is built each time, so that no
    two values that compare equal, 1 and 1.0 say, share a message); its dict is made only to
    build it. tests/test_loading_place_flat.py checks it against the plain way."""
    plans = [span.by_names(*_message_plan(prefix)) for prefix in prefixes]
    get = span.get
    found: list[list[Message]] = []
    for plan in plans:
        messages: list[Message] = []
        for names, keys, strings in plan:
            values = tuple([get(key) for key in keys])
            if memo is None or tuple(map(type, values)) != strings:
                messages.append(build(dict(zip(names, values, strict=True))))
                continue
            key = (names, values, kind)
            message = memo.messages.get(key)
            if message is None:
                message = memo.messages[key] = build(dict(zip(names, values, strict=True)))
            messages.append(message)
        found.append(messages)
    return found


def span_field(span: SpanRecord, prefix: str, name: str) -> list[Any]:
    """`[m[name] for m in unflatten(span.attributes, prefix) if name in m]`, from the same
    plan as `span_messages` (the finish reasons of flattened answers, say)."""
    plan: tuple[_Fields, ...] = span.by_names(*_message_plan(prefix))
    return [span.get(keys[names.index(name)]) for names, keys, _ in plan if name in names]


def _message_plan(prefix: str) -> tuple[str, Callable[[SpanRecord], tuple[_Fields, ...]]]:
    """The name `SpanRecord.by_names` keeps the messages' plan of `prefix` under, and its
    planner (made once per prefix)."""
    found = _MESSAGE_PLANNERS.get(prefix)
    if found is None:
        found = _MESSAGE_PLANNERS[prefix] = ("messages:" + prefix, _message_planner(prefix))
    return found


def _message_planner(prefix: str) -> Callable[[SpanRecord], tuple[_Fields, ...]]:
    unflatten_plan = _planner(prefix)

    def plan(span: SpanRecord) -> tuple[_Fields, ...]:
        """`_planner`'s plan (raising where it raises), each message's names once."""
        found: list[_Fields] = []
        for fields in unflatten_plan(span):
            keys = dict(fields)  # the last name given for a field, at its first place
            names = tuple(keys)
            found.append((names, tuple(keys.values()), (str,) * len(names)))
        return tuple(found)

    return plan


def content_parts(value: Any) -> tuple[str | None, list[Image]]:
    """A content that may be OpenAI content parts written as JSON: its text and image URLs."""
    if isinstance(value, str) and value.startswith("[{"):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return value, []
        if isinstance(parsed, list) and all(isinstance(p, dict) and "type" in p for p in parsed):
            return _from_parts(parsed)
    if value is None or isinstance(value, str):
        return value, []
    return compact_json(value, default=str), []


def _from_parts(parts: Iterable[dict[str, Any]]) -> tuple[str | None, list[Image]]:
    texts: list[str] = []
    images: list[Image] = []
    for part in parts:
        if part.get("type") == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif part.get("type") == "image_url":
            url = part.get("image_url")
            url = url.get("url") if isinstance(url, dict) else url
            if isinstance(url, str):
                images.append(Image(url=url))
    return ("".join(texts) if texts else None), images


def message_of(
    role: Any,
    content: str | None,
    tool_calls: list[dict[str, Any]],
    tool_call_id: Any = None,
    name: Any = None,
    images: list[Image] | None = None,
) -> Message:
    """An OpenAI-style `Message` from flattened fields (unknown roles are read as `user`)."""
    fields: dict[str, Any] = {
        "role": role if role in ("system", "user", "assistant", "tool") else _role(role),
        "content": content,
        "tool_calls": tool_calls or None,
        "tool_call_id": tool_call_id if isinstance(tool_call_id, str) else None,
        "name": name if isinstance(name, str) and name else None,
        "images": images or None,
        "id": "",  # id and time are derived by `_foreign`: no random id drawn for nothing
        "created_at": 0,
    }
    return Message(**fields)


def _role(role: Any) -> str:
    if not isinstance(role, str):  # damaged input: a list or object is no role
        return "user"
    return {"developer": "system", "function": "tool", "model": "assistant"}.get(role, "user")


def tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """One OpenAI-style tool call dict, as our `Message.tool_calls` holds them."""
    return ToolCallPart(
        call_id if isinstance(call_id, str) else None,
        name if isinstance(name, str) else None,
        arguments,
    ).to_openai()
