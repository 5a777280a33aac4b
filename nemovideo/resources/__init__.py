"""Resources: one thin class per endpoint group. They build requests and return models."""

from nemovideo.resources.chat import ChatResource, ChatStream
from nemovideo.resources.credits import CreditsResource
from nemovideo.resources.render import RenderResource
from nemovideo.resources.sessions import SessionResource
from nemovideo.resources.state import StateResource
from nemovideo.resources.uploads import UploadResource

__all__ = [
    "ChatResource",
    "ChatStream",
    "CreditsResource",
    "RenderResource",
    "SessionResource",
    "StateResource",
    "UploadResource",
]
