"""What converse() does with the agent's GUI talk, with replies scripted exactly.

The sandbox picks its GUI hints at random; here a stand-in client answers with chosen replies,
so each direction ("click Export", "preview in the timeline", "check your account") is tested.
"""

from __future__ import annotations

from typing import Any

import pytest

from nemovideo import ChatReply, Credits, Draft, Intent, SessionState
from nemovideo.workflows.conversation import converse

EMPTY = Draft.from_wire({})
CLIP = Draft.from_wire(
    {"t": [{"tt": 0, "m": {"name": "Video"}, "sg": [{"st": 0, "d": 5000, "m": {"name": "a.jpg"}}]}]}
)


class _State:
    def __init__(self, drafts: list[Draft]) -> None:
        self.drafts = drafts
        self.calls = 0

    async def get(self, session_id: str) -> SessionState:
        draft = self.drafts[min(self.calls, len(self.drafts) - 1)]
        self.calls += 1
        return SessionState(session_id=session_id, draft=draft)


class _Chat:
    def __init__(self, reply: ChatReply) -> None:
        self.reply = reply
        self.sent: list[str] = []

    async def send(self, session_id: str, text: str, **kw: Any) -> ChatReply:
        self.sent.append(text)
        return self.reply


class _Credits:
    def __init__(self) -> None:
        self.calls = 0

    async def get(self) -> Credits:
        self.calls += 1
        return Credits(available=42, frozen=8, total=50)


class _Render:
    async def start(self, *args: Any, **kw: Any) -> Any:
        raise AssertionError("an export must never start by itself")


class FakeClient:
    """Just the sub-clients converse() uses for a CHAT turn."""

    def __init__(self, text: str, drafts: list[Draft]) -> None:
        self.state = _State(drafts)
        self.chat = _Chat(ChatReply(text=text))
        self.credits = _Credits()
        self.render = _Render()


async def test_export_button_is_suggested_not_pressed() -> None:
    fake = FakeClient(
        "I added lo-fi music at 35% volume. Click the Export button to download it.",
        [CLIP, CLIP],
    )
    turn = await converse(fake, "s1", "add lo-fi music")  # type: ignore[arg-type]
    assert turn.intent is Intent.CHAT
    assert turn.suggestions == (Intent.EXPORT,)
    assert turn.text.startswith("I added lo-fi music at 35% volume.")
    assert "Click" not in turn.text and "button" not in turn.text
    assert 'say "export"' in turn.text
    assert fake.chat.sent == ["add lo-fi music"]


async def test_preview_in_timeline_becomes_the_summary() -> None:
    fake = FakeClient("Your clip is ready; you can preview it in the timeline.", [EMPTY, CLIP])
    turn = await converse(fake, "s1", "make a clip")  # type: ignore[arg-type]
    assert turn.text == "Your clip is ready.\n\n" + CLIP.summary()
    assert turn.suggestions == ()
    assert turn.state is not None and turn.state.draft == CLIP


async def test_account_direction_shows_the_balance() -> None:
    fake = FakeClient(
        "That needs more credits. Check your account balance in the billing page.",
        [CLIP, CLIP],
    )
    turn = await converse(fake, "s1", "make it longer")  # type: ignore[arg-type]
    assert turn.credits == Credits(available=42, frozen=8, total=50)
    assert "You have 42 credits available (8 reserved by running work)." in turn.text
    assert "billing" not in turn.text
    assert fake.credits.calls == 1


async def test_chinese_gui_talk_is_translated() -> None:
    fake = FakeClient("已为视频添加背景音乐，点击右上角的导出按钮即可下载。", [CLIP, CLIP])
    turn = await converse(fake, "s1", "加点音乐")  # type: ignore[arg-type]
    assert turn.text.startswith("已为视频添加背景音乐。")
    assert "点击" not in turn.text
    assert turn.suggestions == (Intent.EXPORT,)


async def test_silent_reply_without_change_says_so() -> None:
    fake = FakeClient("", [CLIP, CLIP])
    turn = await converse(fake, "s1", "make it nicer")  # type: ignore[arg-type]
    assert turn.reply is not None and turn.reply.silent
    assert turn.changes == ()
    assert "did not change" in turn.text


async def test_silent_reply_with_several_changes_lists_them() -> None:
    after = Draft.from_wire(
        {
            "t": [
                {"tt": 0, "m": {"name": "Video"}, "sg": [{"st": 0, "d": 8000}]},
                {
                    "tt": 7,
                    "m": {"name": "Title"},
                    "sg": [{"st": 0, "d": 3000, "m": {"text": "Hi"}}],
                },
            ]
        }
    )
    fake = FakeClient("", [CLIP, after])
    turn = await converse(fake, "s1", "longer, with a title")  # type: ignore[arg-type]
    assert len(turn.changes) >= 2
    assert turn.text.startswith("Done. What changed:\n- ")
    assert all(f"- {line}" in turn.text for line in turn.changes)


async def test_words_must_be_text() -> None:
    from nemovideo import ConfigurationError

    with pytest.raises(ConfigurationError):
        await converse(FakeClient("", [CLIP]), "s1", b"export")  # type: ignore[arg-type]
