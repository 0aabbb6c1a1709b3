"""`Agent`: the conversation API of the definable framework, every run traced.

`run`/`arun` return a `RunOutput`; `run_stream`/`arun_stream` yield events ending in
`RunCompleted` (whose `.output` is the `RunOutput`) or `RunError`. All four drive the same loop
(`_loop.run_steps`); the drivers here perform its steps and wrap each one in a span.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from opentelemetry import trace

from ._events import RunCompleted, RunContent, RunError, RunEvent, RunOutput
from ._loop import ModelStep, RunState, ToolStep, prepare_history, run_steps
from ._messages import Audio, File, Image, Message, Video
from ._models._base import Model, ModelDelta, ModelResponse
from ._tools import Tool, ToolResult, as_tool
from ._tracing._setup import get_settings
from ._tracing._spans import RunInfo, RunSpans

__all__ = ["Agent"]

logger = logging.getLogger("definable_trace")

Input = str | Message | None
AttributeValue = str | int | float | bool


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

    def run(self, input: Input = None, **options: Any) -> RunOutput:
        """Run one turn and return its output; `options` as in `run_stream`."""
        output = None
        for event in self._drive(self._state(input, **options), stream=False):
            if isinstance(event, RunCompleted):
                output = event.output
        assert output is not None  # the driver either completes or raises
        return output

    async def arun(self, input: Input = None, **options: Any) -> RunOutput:
        """Async `run`."""
        output = None
        async for event in self._adrive(self._state(input, **options), stream=False):
            if isinstance(event, RunCompleted):
                output = event.output
        assert output is not None  # the driver either completes or raises
        return output

    def run_stream(
        self,
        input: Input = None,
        *,
        messages: Sequence[Message | dict[str, Any]] | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        user_id: str | None = None,
        images: Sequence[Image] | None = None,
        audio: Sequence[Audio] | None = None,
        videos: Sequence[Video] | None = None,
        files: Sequence[File] | None = None,
        trace_attributes: dict[str, AttributeValue] | None = None,
    ) -> Iterator[RunEvent]:
        """Run one turn, yielding events as they happen (text deltas as `RunContent`).

        `messages` is the history to continue (e.g. a previous `output.messages`); media go on
        the new user message; `trace_attributes` are added to every span of the run.
        """
        state = self._state(
            input,
            messages=messages,
            session_id=session_id,
            run_id=run_id,
            user_id=user_id,
            images=images,
            audio=audio,
            videos=videos,
            files=files,
            trace_attributes=trace_attributes,
        )
        return self._drive(state, stream=True)

    def arun_stream(self, input: Input = None, **options: Any) -> AsyncIterator[RunEvent]:
        """Async `run_stream`."""
        return self._adrive(self._state(input, **options), stream=True)

    # --- building a run -------------------------------------------------------------------------

    def _state(
        self,
        input: Input,
        *,
        messages: Sequence[Message | dict[str, Any]] | None = None,
        session_id: str | None = None,
        run_id: str | None = None,
        user_id: str | None = None,
        images: Sequence[Image] | None = None,
        audio: Sequence[Audio] | None = None,
        videos: Sequence[Video] | None = None,
        files: Sequence[File] | None = None,
        trace_attributes: dict[str, AttributeValue] | None = None,
    ) -> tuple[RunState, dict[str, AttributeValue]]:
        history = prepare_history(messages, self.instructions)
        new: list[Message] = []
        if isinstance(input, Message):
            new.append(input)
        elif input is not None or images or audio or videos or files:
            new.append(
                Message(
                    role="user",
                    content=input,
                    images=_opt(images),
                    audio=_opt(audio),
                    videos=_opt(videos),
                    files=_opt(files),
                )
            )
        state = RunState(
            run_id=run_id or str(uuid.uuid4()),
            session_id=session_id,
            user_id=user_id,
            model_id=self.model.id,
            agent_name=self.name,
            history=history,
            new_messages=new,
            tools=self.tools,
            max_tool_rounds=self.max_tool_rounds,
        )
        return state, dict(trace_attributes or {})

    def _spans(self, state: RunState, extra: dict[str, AttributeValue]) -> RunSpans:
        info = RunInfo(
            self.name,
            self.model,
            state.run_id,
            state.session_id,
            state.user_id,
            state.turn_index,
            extra,
        )
        spans = RunSpans(get_settings(), info)
        spans.record_input(state.new_messages)
        return spans

    # --- drivers --------------------------------------------------------------------------------

    def _drive(
        self, job: tuple[RunState, dict[str, AttributeValue]], stream: bool
    ) -> Iterator[RunEvent]:
        state, extra = job
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
        except BaseException as exc:  # Ctrl-C, cancellation: the run's span still ends
            done.fail(exc)
            raise

    async def _adrive(
        self, job: tuple[RunState, dict[str, AttributeValue]], stream: bool
    ) -> AsyncIterator[RunEvent]:
        state, extra = job
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
        except BaseException as exc:  # Ctrl-C, cancellation: the run's span still ends
            done.fail(exc)
            raise

    def _model_call(
        self, spans: RunSpans, step: ModelStep, stream: bool
    ) -> Iterator[RunContent | ModelResponse]:
        chat = spans.chat(step.history, step.tools, stream)
        try:
            if not stream:
                response = self.model.invoke(step.history, step.tools)
            else:
                for item in self.model.invoke_stream(step.history, step.tools):
                    if isinstance(item, ModelDelta):
                        yield _content_event(spans, item)
                    else:
                        response = item
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
                response = await self.model.ainvoke(step.history, step.tools)
            else:
                async for item in self.model.ainvoke_stream(step.history, step.tools):
                    if isinstance(item, ModelDelta):
                        yield _content_event(spans, item)
                    else:
                        response = item
        except BaseException as exc:
            chat.fail(exc)
            raise
        chat.finish(response)
        yield response

    def _tool_call(self, spans: RunSpans, step: ToolStep) -> tuple[Message, str | None]:
        span = spans.tool(step.call)
        with trace.use_span(span.span, end_on_exit=False):  # the tool's own spans nest here
            result = step.tool.run(_arguments(step.call)) if step.tool else _unknown_tool(step)
        return _tool_message(span, step, result)

    async def _atool_call(self, spans: RunSpans, step: ToolStep) -> tuple[Message, str | None]:
        span = spans.tool(step.call)
        with trace.use_span(span.span, end_on_exit=False):  # the tool's own spans nest here
            if step.tool:
                result = await step.tool.arun(_arguments(step.call))
            else:
                result = _unknown_tool(step)
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
    info = spans.info
    return RunContent(
        info.run_id,
        info.session_id,
        content=delta.content,
        reasoning_content=delta.reasoning_content,
    )


def _arguments(call: dict[str, Any]) -> str:
    return str((call.get("function") or {}).get("arguments") or "")


def _unknown_tool(step: ToolStep) -> ToolResult:
    name = (step.call.get("function") or {}).get("name", "")
    return ToolResult(f"Error: there is no tool named {name!r}", error="ToolNotFound")


def _tool_message(span: Any, step: ToolStep, result: ToolResult) -> tuple[Message, str | None]:
    message = Message(role="tool", content=result.content, tool_call_id=step.call.get("id"))
    span.finish(message, result.error)
    return message, result.error


def _opt(items: Sequence[Any] | None) -> list[Any] | None:
    return list(items) if items else None
