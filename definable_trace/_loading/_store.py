"""Growing message lists kept once: why a 1 GB trace file does not need 1 GB of memory.

Each model call of a conversation carries the whole history sent so far (`gen_ai.input.messages`
and our `definable_trace.messages`, the input's meta entries then the answer's; the
`definable_trace.input.messages.meta` of files written before), so a session of T turns writes
its first messages T times and the file grows with T². But call k's list, minus its closing
`]`, is a prefix of call k+1's: the same serializer wrote the same messages, each entry in the
form every list of the session gives it (docs/traces.md, "Message content"). `TextStore.share`
keeps, per conversation, only the longest such string (a "chain") and hands each call a
`SharedText`: the chain's number and the length of its own string, packed in an int. Memory
then grows with the final histories, not with the file; any string that is not a prefix or an
extension starts a chain of its own, so sharing never changes a value.

Reading a list back parses the chain once (a small cache keeps the last few) and cuts it: when
every element is an object with the same first key (`"role"` in the parts lists; `"id"` in our
meta lists, `"role"` in those written before or without content), found nowhere else in the
string, the number of elements in a prefix is the number of `{"role":` (or `{"id":`) in it,
found without parsing.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, NewType

import msgspec
import orjson

__all__ = ["SharedText", "TextStore"]

_SHARE_MIN = 256  # shorter strings cost less than the bookkeeping
_CHAINS_TRIED = 4  # how many recent chains of a conversation a new string is compared with
_PARSED_KEPT = 8


_LENGTH_BITS = 40  # a shared string up to 1 TB long; the chain number above that
_LENGTH_MASK = (1 << _LENGTH_BITS) - 1


SharedText = NewType("SharedText", int)
"""A JSON array string kept as a prefix of a longer one of the same conversation: the chain's
number and the string's length, packed in a plain int. Not an object holding the chain: the
hundreds of thousands of them a large file makes, and the value tuples holding them, then stay
out of the cyclic garbage collector's sight (a tuple of ints and strings is not tracked)."""


def _ref(chain: int, length: int) -> SharedText:
    return SharedText(chain << _LENGTH_BITS | length)


def _unpack(value: SharedText) -> tuple[int, int]:
    return value >> _LENGTH_BITS, value & _LENGTH_MASK


class TextStore:
    """Shares growing JSON arrays per conversation, interns short repeated strings."""

    def __init__(self) -> None:
        # Chain number -> its longest string; bytes: kept escaped, as in the line (see
        # `share_escaped`), and lengths of its references count escaped bytes.
        self._heads: list[str | bytes] = []
        # Per chain: what starts each element (`{"role":`, in the head's form), "" when that
        # cannot count them, None until parsed.
        self._countable: list[str | bytes | None] = []
        # Per (group, kind, escaped): its latest chains, oldest first. Tuples, not lists: a
        # tuple of ints is untracked by the cyclic collector at its first pass, a list never
        # is (one per conversation, thousands in a large file, each scanned by every full
        # collection).
        self._chains: dict[tuple[str, str, bool], tuple[int, ...]] = {}
        self.strings: dict[str, str] = {}  # interned: `strings.setdefault(s, s)`
        self._parsed: OrderedDict[int, tuple[str | bytes, list[Any]]] = OrderedDict()

    def intern(self, text: str) -> str:
        """One object for equal strings (ids, names and prompts repeat on every span)."""
        return self.strings.setdefault(text, text)

    def text(self, value: SharedText | str) -> str:
        """The string a `SharedText` stands for (a string stands for itself)."""
        if isinstance(value, str):
            return value
        chain, n = _unpack(value)
        head = self._heads[chain]
        if isinstance(head, bytes):
            return _unescape(head if n == len(head) else head[: n - 1] + b"]")
        return head if n == len(head) else head[: n - 1] + "]"

    def share(self, group: str, kind: str, text: str) -> SharedText | str:
        """`text` as a reference into the chain of its kind in `group` it prefixes or extends."""
        n = len(text)
        if n < _SHARE_MIN or text[0] != "[" or text[-1] != "]":
            return text
        key = (group, kind, False)
        chains = self._chains.get(key, ())
        heads: list[Any] = self._heads
        for chain in chains[: -_CHAINS_TRIED - 1 : -1]:  # the most recent first
            head = heads[chain]
            m = len(head)
            if m == n:
                if head == text:
                    return _ref(chain, n)
            elif m > n:
                if head[n - 1] == "," and head.startswith(text[:-1]):
                    return _ref(chain, n)
            elif text[m - 1] == "," and text.startswith(head[:-1]):
                heads[chain] = text  # the longer string now holds both
                self._countable[chain] = None
                self._parsed.pop(chain, None)
                return _ref(chain, n)
        return self._new_chain(key, text)

    def _new_chain(self, key: tuple[str, str, bool], head: str | bytes) -> SharedText:
        chain = len(self._heads)
        self._heads.append(head)
        self._countable.append(None)
        # Only the most recent are ever compared with (`_CHAINS_TRIED`): the others are let go.
        self._chains[key] = (*self._chains.get(key, ())[1 - _CHAINS_TRIED :], chain)
        return _ref(chain, len(head))

    def share_escaped(
        self, group: str, kind: str, raw: msgspec.Raw, check_utf8: bool = False
    ) -> SharedText | None:
        """`share` for a JSON string still escaped (a string value of a long line, see
        `_typed`), None when it is not a shared kind of text (then decode it and `share`).

        Kept as its escaped bytes, and compared so: escaping is the same character by
        character, and `,` `[` `]` are never escaped, so a list that is a prefix of another is
        so in escaped form too, cut at the same comma. The repeated history is then neither
        unescaped nor copied; a chain is decoded when first read.

        `check_utf8` (a line that is not ASCII): the bytes kept that no chain held before are
        checked to be UTF-8 (`UnicodeDecodeError` otherwise); a prefix of a chain's bytes is
        valid as they are, and a chain extended at a comma stays valid when its new bytes are.
        """
        data = memoryview(raw)  # Raw has the buffer protocol
        n = len(data) - 2
        if n < _SHARE_MIN or data[0] != _QUOTE or data[1] != _OPEN or data[-2] != _CLOSE:
            return None
        text = data[1:-1]
        key = (group, kind, True)
        chains = self._chains.get(key, ())
        heads: list[Any] = self._heads
        for chain in chains[: -_CHAINS_TRIED - 1 : -1]:  # the most recent first
            head: bytes = heads[chain]
            m = len(head)
            # `bytes.startswith(memoryview)` is a memcmp; comparing memoryviews is not.
            if m == n:
                if head.startswith(text):
                    return _ref(chain, n)
            elif m > n:
                if head[n - 1] == _COMMA and head.startswith(text[:-1]):
                    return _ref(chain, n)
            elif text[m - 1] == _COMMA and head.startswith(text[: m - 1]):
                if check_utf8:
                    bytes(text[m - 1 :]).decode()
                heads[chain] = bytes(text)  # the longer string now holds both
                self._countable[chain] = None
                self._parsed.pop(chain, None)
                return _ref(chain, n)
        kept = bytes(text)
        if check_utf8:
            kept.decode()
        return self._new_chain(key, kept)

    def items(self, value: SharedText | str) -> list[Any]:
        """The parsed JSON array; raises `ValueError` when it is not one."""
        if isinstance(value, str):
            return _array(value)
        chain, n = _unpack(value)
        whole = self._parse(chain)
        head: Any = self._heads[chain]
        if n == len(head):
            return whole
        marker = self._countable[chain]
        if marker:
            return whole[: head.count(marker, 0, n)]
        return _array(self.text(value))

    def count(self, value: SharedText | str) -> int:
        """`len(items(value))`, without making the list when the count can be read off."""
        if not isinstance(value, str):
            chain, n = _unpack(value)
            head: Any = self._heads[chain]
            if n < len(head):
                self._parse(chain)  # fills `_countable[chain]` on first use
                marker = self._countable[chain]
                if marker:
                    return int(head.count(marker, 0, n))
        return len(self.items(value))

    def _parse(self, chain: int) -> list[Any]:
        head = self._heads[chain]
        cached = self._parsed.get(chain)
        if cached is not None and cached[0] is head:
            self._parsed.move_to_end(chain)
            return cached[1]
        whole = _array(_unescape(head) if isinstance(head, bytes) else head)
        if self._countable[chain] is None:
            self._countable[chain] = _marker(head, whole)
        self._parsed[chain] = (head, whole)
        if len(self._parsed) > _PARSED_KEPT:
            self._parsed.popitem(last=False)
        return whole


def _marker(head: str | bytes, whole: list[Any]) -> str | bytes:
    """`{"key":` when every element of `whole` is an object whose first key is `key` ("role"
    or "id") and it appears in `head` once per element (so nowhere nested), else "". For an
    escaped head, the marker is escaped too (`{\\"role\\":`)."""
    first = whole[0] if whole else None
    key = next(iter(first), None) if isinstance(first, dict) else None
    if key not in ("role", "id"):
        return ""
    marker: str | bytes = f'{{"{key}":'
    if isinstance(head, bytes):
        marker = f'{{\\"{key}\\":'.encode()
    if head.count(marker) != len(whole):  # type: ignore[arg-type]  # same type as the head
        return ""
    if all(isinstance(item, dict) and next(iter(item), None) == key for item in whole):
        return marker
    return ""


_QUOTE, _OPEN, _CLOSE, _COMMA = b'"[],'


def _unescape(escaped: bytes) -> str:
    """The string an escaped JSON string body stands for (validated when its line was read)."""
    text = msgspec.json.decode(b'"' + escaped + b'"')
    if not isinstance(text, str):  # cannot happen: a string body between quotes
        raise ValueError("not a JSON string")
    return text


def _array(text: str) -> list[Any]:
    value = orjson.loads(text)
    if not isinstance(value, list):
        raise ValueError(f"expected a JSON array, found {type(value).__name__}")
    return value
