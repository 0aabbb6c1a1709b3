"""Conversations that name no session, put back together by the continuity of their histories.

The most common setup (an instrumentation and nothing else) writes every model call as its own
trace with no conversation id. But an application sends the history each time, so a call whose
input begins with an earlier call's input plus that call's answer continues that call's
conversation. Here each unit (another instrumentation's model call, or one run of our agent) is
reduced to the hashes of its input's prefixes (one per message, chained) and of its input plus
answer; an index from "input plus answer" hash to the units ending there finds each unit's
parent as the longest prefix of its input that some earlier unit ended with. That is one dict
lookup per message: linear in what was read, whatever the number of conversations.

- Units are taken shortest input first (then by start time), so a parent is always placed
  before its children, whatever the order of the spans in the files.
- A parent continued once is the same conversation. A second continuation of the same parent
  (a regenerated answer, a fork in production) starts a session of its own, with lineage
  `Lineage("branch", parent session, turn)`; so does a root unit that sends exactly the input
  of an earlier root (a regenerated first answer). Two units that share only a prefix
  without any answer in it (a system prompt) are unrelated conversations.
- Units with the same answer after the same input (two users saying "hi" to the same bot)
  are told apart by claiming: each continuation takes the earliest parent not yet continued.
- Messages are compared by role, text, tool calls (id, name, arguments as parsed JSON) and tool
  call id, so conventions that write the same message differently compare equal.

A session's id is `inferred-` and a hash of its first unit's trace and span id: the same input
always gives the same ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import orjson

from .._messages import Message
from .._semconv import ToolCallPart
from ._sessions import Lineage

__all__ = ["BRANCH", "Placement", "Unit", "message_key", "stitch"]

BRANCH = "branch"
PREFIX = "inferred-"


@dataclass
class Unit:
    """One model call (or run) without a session: who it is, when, and what it sent and got."""

    trace_id: str
    span_id: str
    start_ns: int
    sent: Sequence[Message]  # the input of its first model call
    history: Sequence[Message]  # the conversation at its end: the last input plus its answer


@dataclass(frozen=True)
class Placement:
    """Where a unit went: its session, the id of the first session of its family (message ids
    are derived from it, so a branch shares its parent's ids), and lineage for a branch."""

    session: str
    family: str
    lineage: Lineage | None


def message_key(message: Message) -> bytes:
    """What makes two messages the same across conventions."""
    calls = []
    for call in message.tool_calls or ():
        part = ToolCallPart.from_openai(call)
        calls.append([part.id or "", part.name or "", _arguments(part.arguments)])
    return orjson.dumps(
        [message.role, message.content or "", calls, message.tool_call_id or ""],
        option=orjson.OPT_SORT_KEYS,
    )


def _arguments(arguments: object) -> object:
    if isinstance(arguments, str):
        try:
            return orjson.loads(arguments)
        except orjson.JSONDecodeError:
            return arguments
    return arguments


def _chain(previous: bytes, message: Message) -> bytes:
    return hashlib.blake2b(previous + message_key(message), digest_size=16).digest()


@dataclass
class _Node:
    unit: Unit
    order: tuple[int, int, str, str]
    prefixes: list[bytes]  # prefixes[j]: hash of the first j messages sent
    end: bytes  # hash of everything sent plus the answer
    users: int  # user messages sent: the turn this unit belongs to


def _node(unit: Unit, chain: Callable[[bytes, Message], bytes]) -> _Node:
    """`chain`: `_chain`, or a `_Chains` that remembers its links."""
    prefixes = [b""]
    for message in unit.sent:
        prefixes.append(chain(prefixes[-1], message))
    n = len(unit.sent)
    shared = len(unit.history) >= n and all(
        a is b for a, b in zip(unit.history[:n], unit.sent, strict=True)
    )
    end = prefixes[-1] if shared else b""
    for message in unit.history[n if shared else 0 :]:
        end = chain(end, message)
    users = sum(1 for m in unit.sent if m.role == "user")
    order = (len(unit.sent), unit.start_ns, unit.trace_id, unit.span_id)
    return _Node(unit, order, prefixes, end, users)


class _Chains:
    """`_chain`, remembered for one `stitch` by the previous hash and the message object:
    units resend the same histories, whose messages are mostly the same objects (a load
    rebuilds a message sent again once, see `_calls.Memo`), so most links are found, not
    hashed again. By identity: the units hold their messages alive while `stitch` runs."""

    __slots__ = ("found",)

    def __init__(self) -> None:
        self.found: dict[tuple[bytes, int], bytes] = {}

    def __call__(self, previous: bytes, message: Message) -> bytes:
        key = (previous, id(message))
        found = self.found.get(key)
        if found is None:
            found = self.found[key] = _chain(previous, message)
        return found


def session_id(unit: Unit) -> str:
    digest = hashlib.blake2b(f"{unit.trace_id}:{unit.span_id}".encode(), digest_size=8)
    return PREFIX + digest.hexdigest()


def stitch(units: Sequence[Unit]) -> list[Placement]:
    """The placement of each unit (in the order given)."""
    chain = _Chains()
    nodes = sorted((_node(u, chain) for u in units), key=lambda n: n.order)
    ends: dict[bytes, _Ends] = {}
    inputs: dict[bytes, _Node] = {}
    placed: dict[int, Placement] = {}
    continued: set[int] = set()
    for node in nodes:
        parent, branch = _parent(node, ends, continued)
        if parent is None:
            same = inputs.get(node.prefixes[-1]) if len(node.prefixes) > 1 else None
            parent, branch = (same, True) if same is not None else (None, False)
        if parent is None:
            own = session_id(node.unit)
            placement = Placement(own, own, None)
        elif branch:
            above = placed[id(parent)]
            lineage = Lineage(BRANCH, above.session, max(node.users, 1))
            placement = Placement(session_id(node.unit), above.family, lineage)
        else:
            continued.add(id(parent))
            placement = placed[id(parent)]
        placed[id(node)] = placement
        found = ends.get(node.end)
        if found is None:
            found = ends[node.end] = _Ends()
        found.nodes.append(node)
        inputs.setdefault(node.prefixes[-1], node)
    by_unit = {id(n.unit): placed[id(n)] for n in nodes}
    return [by_unit[id(u)] for u in units]


@dataclass
class _Ends:
    """The units that end with one history, in order, and how many of the first are known
    to be continued: `continued` only grows, so the first free unit is never before `done`
    (with many copies of one conversation, a scan from the start each time was quadratic)."""

    nodes: list[_Node] = field(default_factory=list)
    done: int = 0

    def first_free(self, continued: set[int]) -> _Node | None:
        nodes, i = self.nodes, self.done
        while i < len(nodes) and id(nodes[i]) in continued:
            i += 1
        self.done = i
        return nodes[i] if i < len(nodes) else None


def _parent(
    node: _Node, ends: dict[bytes, _Ends], continued: set[int]
) -> tuple[_Node | None, bool]:
    """The unit this one continues (longest matching prefix), and whether it is a branch
    (every unit ending there was continued already)."""
    for j in range(len(node.prefixes) - 1, 0, -1):
        found = ends.get(node.prefixes[j])
        if found is not None:
            free = found.first_free(continued)
            return (free, False) if free is not None else (found.nodes[0], True)
    return None, False
