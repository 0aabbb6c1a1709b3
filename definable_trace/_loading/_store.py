"""Growing message lists kept once: why a 1 GB trace file does not need 1 GB of memory.

Each model call of a conversation carries the whole history sent so far (`gen_ai.input.messages`
and our `definable_trace.input.messages.meta`), so a session of T turns writes its first
messages T times and the file grows with T². But call k's list, minus its closing `]`, is a
prefix of call k+1's: the same serializer wrote the same messages. `TextStore.share` keeps, per
conversation, only the longest such string (a "chain") and hands each call a `SharedText`:
the chain plus the length of its own string. Memory then grows with the final histories, not
with the file; any string that is not a prefix or an extension starts a chain of its own, so
sharing never changes a value.

Reading a list back parses the chain once (a small cache keeps the last few) and cuts it: when
every element is an object whose first key is `"role"` (true of both lists we write), the
number of elements in a prefix is the number of `{"role":` in it, found without parsing.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

__all__ = ["SharedText", "TextStore"]

_ROLE = '{"role":'
_SHARE_MIN = 256  # shorter strings cost less than the bookkeeping
_CHAINS_TRIED = 4  # how many recent chains of a conversation a new string is compared with
_PARSED_KEPT = 8


class _Chain:
    __slots__ = ("countable", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.countable: bool | None = None  # known once parsed


class SharedText:
    """A JSON array string stored as a prefix of a longer one of the same conversation."""

    __slots__ = ("_chain", "length")

    def __init__(self, chain: _Chain, length: int) -> None:
        self._chain = chain
        self.length = length

    @property
    def text(self) -> str:
        head = self._chain.text
        return head if self.length == len(head) else head[: self.length - 1] + "]"

    def __repr__(self) -> str:
        return f"SharedText({self.length} chars)"


class TextStore:
    """Shares growing JSON arrays per conversation, interns short repeated strings."""

    def __init__(self) -> None:
        self._chains: dict[str, list[_Chain]] = {}
        self._strings: dict[str, str] = {}
        self._parsed: OrderedDict[int, tuple[_Chain, list[Any]]] = OrderedDict()

    def intern(self, text: str) -> str:
        """One object for equal strings (ids, names and prompts repeat on every span)."""
        return self._strings.setdefault(text, text)

    def share(self, group: str, text: str) -> SharedText | str:
        """`text` as a reference into the chain of `group` it prefixes or extends."""
        n = len(text)
        if n < _SHARE_MIN or text[0] != "[" or text[-1] != "]":
            return text
        chains = self._chains.setdefault(group, [])
        for chain in reversed(chains[-_CHAINS_TRIED:]):
            head = chain.text
            m = len(head)
            if m == n:
                if head == text:
                    return SharedText(chain, n)
            elif m > n:
                if head[n - 1] == "," and head.startswith(text[:-1]):
                    return SharedText(chain, n)
            elif text[m - 1] == "," and text.startswith(head[:-1]):
                chain.text = text  # the longer string now holds both
                chain.countable = None
                self._parsed.pop(id(chain), None)
                return SharedText(chain, n)
        chain = _Chain(text)
        chains.append(chain)
        return SharedText(chain, n)

    def items(self, value: SharedText | str) -> list[Any]:
        """The parsed JSON array; raises `ValueError` when it is not one."""
        if isinstance(value, str):
            return _array(value)
        chain = value._chain
        whole = self._parse(chain)
        if value.length == len(chain.text):
            return whole
        if chain.countable:
            return whole[: chain.text.count(_ROLE, 0, value.length)]
        return _array(value.text)

    def _parse(self, chain: _Chain) -> list[Any]:
        key = id(chain)
        cached = self._parsed.get(key)
        if cached is not None and cached[0] is chain:
            self._parsed.move_to_end(key)
            return cached[1]
        whole = _array(chain.text)
        if chain.countable is None:
            chain.countable = chain.text.count(_ROLE) == len(whole) and all(
                isinstance(item, dict) and next(iter(item), None) == "role" for item in whole
            )
        self._parsed[key] = (chain, whole)
        if len(self._parsed) > _PARSED_KEPT:
            self._parsed.popitem(last=False)
        return whole


def _array(text: str) -> list[Any]:
    value = orjson.loads(text)
    if not isinstance(value, list):
        raise ValueError(f"expected a JSON array, found {type(value).__name__}")
    return value
