"""Routing a person's words: the documented keyword table, English and Chinese, else chat."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemovideo.protocol.intents import Intent, route

TABLE: dict[Intent, list[str]] = {
    Intent.EXPORT: [
        "export",
        "Export",
        "export it please",
        "Export the video now!",
        "导出",
        "导出视频",
        "帮我导出",
        "download",
        "download the video",
        "can I download it?",
        "下载",
        "send me the video",
        "Can you send me the final mp4?",
        "send it",
        "把视频发给我",
        "download the timeline",  # a timeline to download is an export
    ],
    Intent.CREDITS: [
        "credits",
        "How many credits do I have left?",
        "积分",
        "还剩多少积分？",
        "balance",
        "what's my balance",
        "余额",
        "查询余额",
    ],
    Intent.STATE: [
        "status",
        "状态",
        "What's the status?",
        "show tracks",
        "show me the timeline",
        "查看时间线",
        "显示轨道",
        "export status",  # asking about an export never starts one
        "upload status",
        "progress?",
    ],
    Intent.UPLOAD: ["upload", "I want to upload a photo", "上传", "上传图片"],
    Intent.CHAT: [
        "add a title then export",
        "add lo-fi music, then export",
        "make it 10 seconds and download",
        "export with subtitles",
        "don't export yet",
        "Why did the export fail?",
        "为什么导出失败",
        "先不要导出",
        "add closing credits",
        "roll the credits at the end",
        "show the end credits",
        "generate a video of a sunset",
        "animate this image",
        "加个背景音乐",
        "把标题改成城市之梦",
        "导出前加上字幕",
        "is my video done?",
        "hello",
        "the exported video looks blurry",
        "",
        "   ",
        "please export the video but first add a gentle fade in and some warm lo-fi music",
    ],
}


@pytest.mark.parametrize(
    ("text", "intent"),
    [(text, intent) for intent, texts in TABLE.items() for text in texts],
    ids=[f"{intent.value}:{text[:30]}" for intent, texts in TABLE.items() for text in texts],
)
def test_routing_table(text: str, intent: Intent) -> None:
    assert route(text) is intent


def test_case_and_typographic_apostrophes_do_not_matter() -> None:
    assert route("EXPORT") is Intent.EXPORT
    assert route("Don\u2019t export") is Intent.CHAT


def test_long_messages_are_chat_even_with_a_command_word() -> None:
    assert route("export " + "really " * 12) is Intent.CHAT
    assert route("导出" + "非常" * 12) is Intent.CHAT


def test_intent_values() -> None:
    assert {i.value for i in Intent} == {"export", "credits", "state", "upload", "chat"}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_text_gives_an_intent(text: str) -> None:
    assert isinstance(route(text), Intent)
