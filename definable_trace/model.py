"""Public import path of models and messages, as in the definable framework (`definable.model`)."""

from ._messages import Audio, File, Image, Media, Message, Metrics, Video
from ._models._base import Model, ModelDelta, ModelResponse
from ._models._openai import DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, OpenAIChat

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "Audio",
    "File",
    "Image",
    "Media",
    "Message",
    "Metrics",
    "Model",
    "ModelDelta",
    "ModelResponse",
    "OpenAIChat",
    "Video",
]
