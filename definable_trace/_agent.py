"""`Agent`: the conversation API of the definable framework, every run traced.

`run`/`arun` return a `RunOutput`; `run_stream`/`arun_stream` yield events ending in
`RunCompleted` (whose `.output` is the `RunOutput`) or `RunError`. All four drive the same loop
(`_loop.run_steps`); the drivers here perform its steps and wrap each one in a span.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar, cast

from opentelemetry.util.types import AttributeValue
from pydantic import ValidationError

from ._errors import InvalidInputError, ModelResponseError
from ._events import RunCompleted, RunContent, RunError, RunEvent, RunOutput
from ._loop import ModelStep, RunState, ToolStep, prepare_history, resolve_session, run_steps
from ._messages import Audio, File, Image, Media, Message, Video
from ._models._base import Model, ModelDelta, ModelResponse
from ._semconv import ToolCallPart
from ._tools import Tool, ToolResult, as_tool
from ._tracing._setup import get_settings
from ._tracing._spans import RunInfo, RunSpans, ToolSpan

__all__ = ["Agent"]

logger = logging.getLogger("definable_trace")

Input = str | Message | None
_M = TypeVar("_M", bound=Media)
History = Sequence[Message | Mapping[str, Any]]


class Agent:
    """An LLM agent whose runs are OpenTelemetry GenAI spans.

    `tools` are plain typed functions (sync or async); a tool that raises becomes a tool message
    saying so and the run goes on. `max_tool_rounds` bounds how many times in one run the model
    may answer with tool calls before `MaxToolRoundsExceeded` is raised.
    """

    def __init__(
        self,
        model: Model,
        instructions: str | None = None,
        *,
        tools: Sequence[Callable[..., Any] | Tool] = (),
        name: str | None = None,
        max_tool_rounds: int = 10,
    ) -> None:
        self.model = model
        self.instructions = instructions
        self.tools = {t.name: t for t in map(as_tool, tools)}
        self.name = name
        self.max_tool_rounds = max_tool_rounds

    # --- the four faces -----------------------------------------------------------------------
    # The same keyword-only options, spelled out on each face so that IDEs and type checkers
    # see them (a `TypedDict` with `Unpack` would hide them from `help()`).

    def run(
        self,
        input: Input = None,
        *,
        messages: History | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        user_id: str | None = None,
        images: Sequence[Image] | None = None,
        audio: Sequence[Audio] | None = None,
        videos: Sequence[Video] | None = None,
        files: Sequence[File] | None = None,
        trace_attributes: Mapping[str, AttributeValue] | None = None,
    ) -> RunOutput:
        """Run one turn and return its output; the options are those of `run_stream`."""
        state = self._state(
            input, messages, session_id, run_id, user_id, images, audio, videos, files
        )
        output = None
        for event in self._drive(state, _extra(trace_attributes), stream=False):
            if isinstance(event, RunCompleted):
                output = event.output
        assert output is not None  # the driver either completes or raises
        return output

    async def arun(
        self,
        input: Input = None,
        *,
        messages: History | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        user_id: str | None = None,
        images: Sequence[Image] | None = None,
        audio: Sequence[Audio] | None = None,
        videos: Sequence[Video] | None = None,
        files: Sequence[File] | None = None,
        trace_attributes: Mapping[str, AttributeValue] | None = None,
    ) -> RunOutput:
        """Async `run`; the options are those of `run_stream`."""
        state = self._state(
            input, messages, session_id, run_id, user_id, images, audio, videos, files
        )
        output = None
        async for event in self._adrive(state, _extra(trace_attributes), stream=False):
            if isinstance(event, RunCompleted):
                output = event.output
        assert output is not None  # the driver either completes or raises
        return output

    def run_stream(
        self,
        input: Input = None,
        *,
        messages: History | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        user_id: str | None = None,
        images: Sequence[Image] | None = None,
        audio: Sequence[Audio] | None = None,
        videos: Sequence[Video] | None = None,
        files: Sequence[File] | None = None,
        trace_attributes: Mapping[str, AttributeValue] | None = None,
    ) -> Iterator[RunEvent]:
        """Run one turn, yielding events as they happen (text deltas as `RunContent`).

        `input` is the user's text (or a whole `Message`); `messages` the history to continue,
        `Message` objects or dicts of their fields (e.g. a previous `output.messages`); media
        go on the new user message; `trace_attributes` are added to every span of the run.
        `run_id` names the run (`RunOutput.run_id`, and `definable_trace.run.id` on its
        `invoke_agent` span); by default a run's id is that span's span id (16 hex digits,
        a random id of that form when tracing is off).

        Every run belongs to a session (`gen_ai.conversation.id` and `session.id` on each of
        its spans, `RunOutput.session_id`): `session_id` when given; else the session of the
        last message in `messages` that an earlier run of this process added (its input, its
        answers, its tool results): passing `output.messages` back continues that
        conversation (messages are tied to their session by id, in a bounded memory); else a
        new random id. A history rebuilt in
        another process (from JSON or a trace) starts a new session unless `session_id` says
        which one it continues.

        Bad input raises `InvalidInputError` before anything runs: a history item that is
        neither a `Message` nor a dict (its index and type), a message dict that does not
        validate (its index and field), an input that is not text or a `Message`.
        """
        state = self._state(
            input, messages, session_id, run_id, user_id, images, audio, videos, files
        )
        return self._drive(state, _extra(trace_attributes), stream=True)

    def arun_stream(
        self,
        input: Input = None,
        *,
        messages: History | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        user_id: str | None = None,
        images: Sequence[Image] | None = None,
        audio: Sequence[Audio] | None = None,
        videos: Sequence[Video] | None = None,
        files: Sequence[File] | None = None,
        trace_attributes: Mapping[str, AttributeValue] | None = None,
    ) -> AsyncIterator[RunEvent]:
        """Async `run_stream`; the options are those of `run_stream`."""
        state = self._state(
            input, messages, session_id, run_id, user_id, images, audio, videos, files
        )
        return self._adrive(state, _extra(trace_attributes), stream=True)

    # --- building a run -------------------------------------------------------------------------

    def _state(
        self,
        input: Input,
        messages: History | None,
        session_id: str | None,
        run_id: str | None,
        user_id: str | None,
        images: Sequence[Image] | None,
        audio: Sequence[Audio] | None,
        videos: Sequence[Video] | None,
        files: Sequence[File] | None,
    ) -> RunState:
        history = prepare_history(messages, self.instructions)
        return RunState(
            run_id=run_id or "",  # "": the run span's id, set by `_spans`
            session_id=resolve_session(session_id, history),
            user_id=user_id,
            model_id=self.model.id,
            agent_name=self.name,
            history=history,
            new_messages=_new_messages(input, images, audio, videos, files),
            tools=self.tools,
            max_tool_rounds=self.max_tool_rounds,
        )

    def _spans(self, state: RunState, extra: dict[str, AttributeValue]) -> RunSpans:
        info = RunInfo(
            self.name,
            self.model,
            state.run_id or None,
            state.session_id,
            state.user_id,
            state.turn_index,
            extra,
        )
        spans = RunSpans(get_settings(), info)
        state.run_id = spans.run_id  # the run span's id when none was given
        spans.record_input(state.new_messages)
        return spans

    # --- drivers --------------------------------------------------------------------------------
    # Every span ends on every path: a failure ends the run span with an error status (an
    # Exception is also reported as a `RunError` event; KeyboardInterrupt, cancellation and
    # the like are only recorded and re-raised), and a consumer that stops iterating ends it too.

    def _drive(
        self, state: RunState, extra: dict[str, AttributeValue], stream: bool
    ) -> Iterator[RunEvent]:
        spans = self._spans(state, extra)
        steps = run_steps(state)
        done = _Completion(spans)
        try:
            reply: Any = None
            while True:
                step = steps.send(reply)
                reply = None
                if isinstance(step, ModelStep):
                    for item in self._model_call(spans, step, stream):
                        if isinstance(item, ModelResponse):
                            reply = item
                        else:
                            yield item
                elif isinstance(step, ToolStep):
                    reply = self._tool_call(spans, step)
                else:
                    done.seen(step)
                    yield step
        except StopIteration:
            done.finish()
        except GeneratorExit:
            done.abandoned()
            raise
        except Exception as exc:
            done.fail(exc)
            yield RunError(state.run_id, state.session_id, error=str(exc), exception=exc)
            raise
        except BaseException as exc:
            done.fail(exc)
            raise

    async def _adrive(
        self, state: RunState, extra: dict[str, AttributeValue], stream: bool
    ) -> AsyncIterator[RunEvent]:
        spans = self._spans(state, extra)
        steps = run_steps(state)
        done = _Completion(spans)
        try:
            reply: Any = None
            while True:
                step = steps.send(reply)
                reply = None
                if isinstance(step, ModelStep):
                    async for item in self._amodel_call(spans, step, stream):
                        if isinstance(item, ModelResponse):
                            reply = item
                        else:
                            yield item
                elif isinstance(step, ToolStep):
                    reply = await self._atool_call(spans, step)
                else:
                    done.seen(step)
                    yield step
        except StopIteration:
            done.finish()
        except GeneratorExit:
            done.abandoned()
            raise
        except Exception as exc:
            done.fail(exc)
            yield RunError(state.run_id, state.session_id, error=str(exc), exception=exc)
            raise
        except BaseException as exc:  # cancellation, KeyboardInterrupt: recorded, re-raised
            done.fail(exc)
            raise

    def _model_call(
        self, spans: RunSpans, step: ModelStep, stream: bool
    ) -> Iterator[RunContent | ModelResponse]:
        chat = spans.chat(step.history, step.tools, stream)
        try:
            if not stream:
                response = _checked(self.model.invoke(step.history, step.tools))
            else:
                final: object = None
                for item in self.model.invoke_stream(step.history, step.tools):
                    if isinstance(item, ModelDelta):
                        yield _content_event(spans, item)
                    else:
                        final = item
                response = _checked(final)
        except BaseException as exc:
            chat.fail(exc)
            raise
        chat.finish(response)
        yield response

    async def _amodel_call(
        self, spans: RunSpans, step: ModelStep, stream: bool
    ) -> AsyncIterator[RunContent | ModelResponse]:
        chat = spans.chat(step.history, step.tools, stream)
        try:
            if not stream:
                response = _checked(await self.model.ainvoke(step.history, step.tools))
            else:
                final: object = None
                async for item in self.model.ainvoke_stream(step.history, step.tools):
                    if isinstance(item, ModelDelta):
                        yield _content_event(spans, item)
                    else:
                        final = item
                response = _checked(final)
        except BaseException as exc:
            chat.fail(exc)
            raise
        chat.finish(response)
        yield response

    def _tool_call(self, spans: RunSpans, step: ToolStep) -> tuple[Message, str | None]:
        span = spans.tool(step.call)
        try:
            with span.current():  # the tool's own spans nest under its span
                result = step.tool.run(_arguments(step.call)) if step.tool else _unknown_tool(step)
        except BaseException as exc:  # a tool raises only what is not an Exception
            span.fail(exc)
            raise
        return _tool_message(span, step, result)

    async def _atool_call(self, spans: RunSpans, step: ToolStep) -> tuple[Message, str | None]:
        span = spans.tool(step.call)
        try:
            with span.current():  # the tool's own spans nest under its span
                if step.tool:
                    result = await step.tool.arun(_arguments(step.call))
                else:
                    result = _unknown_tool(step)
        except BaseException as exc:  # cancellation, KeyboardInterrupt, ...
            span.fail(exc)
            raise
        return _tool_message(span, step, result)


class _Completion:
    """Ends the run's span exactly once, however the driver stops."""

    def __init__(self, spans: RunSpans) -> None:
        self.spans = spans
        self.output: RunOutput | None = None

    def seen(self, event: RunEvent) -> None:
        if isinstance(event, RunCompleted):
            self.output = event.output

    def finish(self) -> None:
        assert self.output is not None  # run_steps yields RunCompleted before returning
        final = self.output.messages[-1] if self.output.messages else None
        self.spans.finish(final, self.output.metrics)

    def abandoned(self) -> None:
        """The caller stopped iterating: complete if the answer was already out."""
        if self.output is not None:
            self.finish()
        else:
            self.spans.fail(RuntimeError("the caller stopped the run before it completed"))

    def fail(self, exc: BaseException) -> None:
        self.spans.fail(exc)


def _content_event(spans: RunSpans, delta: ModelDelta) -> RunContent:
    return RunContent(
        spans.run_id,
        spans.info.session_id,
        content=delta.content,
        reasoning_content=delta.reasoning_content,
    )


def _arguments(call: dict[str, Any]) -> str:
    return str(ToolCallPart.from_openai(call).arguments or "")


def _unknown_tool(step: ToolStep) -> ToolResult:
    name = ToolCallPart.from_openai(step.call).name or ""
    return ToolResult(f"Error: there is no tool named {name!r}", error="ToolNotFound")


def _tool_message(span: ToolSpan, step: ToolStep, result: ToolResult) -> tuple[Message, str | None]:
    call_id = ToolCallPart.from_openai(step.call).id
    message = Message(role="tool", content=result.content, tool_call_id=call_id)
    span.finish(message, result.error)
    return message, result.error


def _checked(response: object) -> ModelResponse:
    """A model's answer, or a clear error when a custom `Model` gave none."""
    if isinstance(response, ModelResponse):
        return response
    if response is None:
        raise ModelResponseError("the model's stream ended without a final ModelResponse")
    raise ModelResponseError(
        f"the model returned a {type(response).__name__}, expected a ModelResponse"
    )


def _new_messages(
    input: object,
    images: Sequence[Image] | None,
    audio: Sequence[Audio] | None,
    videos: Sequence[Video] | None,
    files: Sequence[File] | None,
) -> list[Message]:
    """The run's own input: the message given, or a user message of the text and media."""
    if isinstance(input, Message):
        return [input]
    if input is not None and not isinstance(input, str):
        raise InvalidInputError(
            f"input is a {type(input).__name__}; expected text (str), a Message or None"
        )
    if input is None and not (images or audio or videos or files):
        return []
    try:
        return [
            Message(
                role="user",
                content=input,
                images=_opt(images),
                audio=_opt(audio),
                videos=_opt(videos),
                files=_opt(files),
            )
        ]
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(part) for part in error["loc"])
        raise InvalidInputError(f"{where}: {error['msg']}") from None


def _opt(items: Sequence[_M] | None) -> list[_M] | None:
    return list(items) if items else None


def _extra(attributes: object) -> dict[str, AttributeValue]:
    """`trace_attributes`, checked at run time too (callers need not be type-checked)."""
    if not attributes:
        return {}
    if not isinstance(attributes, Mapping):
        raise InvalidInputError(
            f"trace_attributes is a {type(attributes).__name__}; expected a mapping"
        )
    checked: dict[str, AttributeValue] = {}
    for key, value in cast("Mapping[object, AttributeValue]", attributes).items():
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"trace_attributes keys must be non-empty strings: {key!r}")
        checked[key] = value
    return checked
