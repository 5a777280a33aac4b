"""Translating the backend's GUI talk: realistic replies in English and Chinese."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemovideo.protocol.gui import GuiTranslation, translate_gui_talk
from nemovideo.protocol.intents import Intent

EXPORT, STATE, CHAT, CREDITS, UPLOAD = (
    Intent.EXPORT,
    Intent.STATE,
    Intent.CHAT,
    Intent.CREDITS,
    Intent.UPLOAD,
)


@pytest.mark.parametrize(
    ("reply", "text", "actions"),
    [
        (
            "I've animated your sunset photo into a 5-second clip with gentle waves. "
            "Click the Export button in the top right corner to download your video.",
            "I've animated your sunset photo into a 5-second clip with gentle waves.",
            (EXPORT,),
        ),
        (
            "Your video is ready, click Export to download it and share.",
            "Your video is ready.",
            (EXPORT,),
        ),
        (
            "I added a lo-fi background track at 35% volume; you can preview it in the timeline.",
            "I added a lo-fi background track at 35% volume.",
            (STATE,),
        ),
        (
            "To change the music, drag a new track onto the audio lane.",
            "",
            (CHAT,),
        ),
        (
            "Open the timeline to see all three tracks.",
            "",
            (STATE,),
        ),
        (
            "You're out of credits. Please check your account billing page to top up.",
            "You're out of credits.",
            (CREDITS,),
        ),
        (
            "Please go to Account > Billing to top up.",
            "",
            (CREDITS,),
        ),
        (
            "Once rendered, you can download it from the Export panel.",
            "",
            (EXPORT,),
        ),
        (
            "Click the upload area to add more photos.",
            "",
            (UPLOAD,),
        ),
        (
            'Click "Generate" to start.',
            "",
            (CHAT,),
        ),
    ],
)
def test_english_replies(reply: str, text: str, actions: tuple[Intent, ...]) -> None:
    assert translate_gui_talk(reply) == GuiTranslation(text, actions)


@pytest.mark.parametrize(
    ("reply", "text", "actions"),
    [
        (
            "已为视频添加背景音乐，点击右上角的导出按钮即可下载。",
            "已为视频添加背景音乐。",
            (EXPORT,),
        ),
        (
            "视频已生成！您可以在时间线上预览效果。如需调整音量，请拖动音频轨道上的滑块。",
            "视频已生成！",
            (STATE, CHAT),
        ),
        (
            "已添加标题“城市之梦”（0-3秒）。打开时间线查看详情，然后点击导出按钮下载视频。",
            "已添加标题“城市之梦”（0-3秒）。",
            (STATE, EXPORT),
        ),
        (
            "积分不足，请前往账户页面充值。",
            "积分不足。",
            (CREDITS,),
        ),
        (
            "请查看您的账户余额。",
            "",
            (CREDITS,),
        ),
        (
            "我已将视频时长调整为8秒，并添加了淡入效果。",
            "我已将视频时长调整为8秒，并添加了淡入效果。",
            (),
        ),
        (
            "把图片拖拽到时间轴上即可替换画面。",
            "",
            (CHAT,),
        ),
    ],
)
def test_chinese_replies(reply: str, text: str, actions: tuple[Intent, ...]) -> None:
    assert translate_gui_talk(reply) == GuiTranslation(text, actions)


def test_content_only_replies_are_unchanged() -> None:
    replies = [
        "Timeline (3 tracks): 1. Video: city timelapse (0-10s) 2. BGM: Lo-fi (0-10s, 35%) "
        '3. Title: "Urban Dreams" (0-3s)',
        "I placed the title in the top-right corner of the frame.",
        "The music drops at 3.5s, right when the waves hit the shore.",
        "Here's a preview of what I changed: the clip is now 9:16 and 8 seconds long.",
        "The scene opens on a wide shot of the city at dusk.",
        "",
    ]
    for reply in replies:
        assert translate_gui_talk(reply) == GuiTranslation(reply, ())


def test_quoted_titles_are_never_directions() -> None:
    reply = 'I added the title "Open Road" and the caption "Click here to subscribe" (0-3s).'
    assert translate_gui_talk(reply) == GuiTranslation(reply, ())
    assert translate_gui_talk("已添加标题《点击这里》。") == GuiTranslation(
        "已添加标题《点击这里》。", ()
    )


def test_multiline_markdown_reply() -> None:
    reply = (
        "Done! Here's what I did:\n"
        "\n"
        "- Animated your photo into a 5-second clip\n"
        "- Added **lo-fi** background music at 35%\n"
        '- Added the title "Urban Dreams" (0-3s)\n'
        "\n"
        "You can preview everything in the timeline.\n"
        "\n"
        "When you're happy, click **Export** in the top right corner to download your MP4."
    )
    result = translate_gui_talk(reply)
    assert result.text == (
        "Done! Here's what I did:\n"
        "\n"
        "- Animated your photo into a 5-second clip\n"
        "- Added **lo-fi** background music at 35%\n"
        '- Added the title "Urban Dreams" (0-3s)'
    )
    assert result.actions == (STATE, EXPORT)


def test_bullets_that_are_only_directions_disappear() -> None:
    reply = "Next steps:\n1. Open the timeline\n2. Drag the title to 2s\n3. Click Export"
    result = translate_gui_talk(reply)
    assert result == GuiTranslation("", (STATE, CHAT, EXPORT))
    kept = translate_gui_talk("Changes:\n- Title moved to 2s\n- Click Export\n\nAll set.")
    assert kept == GuiTranslation("Changes:\n- Title moved to 2s\n\nAll set.", (EXPORT,))


def test_actions_are_listed_once_in_order() -> None:
    reply = "Click Export. Then click Export again. Open the timeline. 点击导出。"
    assert translate_gui_talk(reply).actions == (EXPORT, STATE)


def test_mixed_english_and_chinese() -> None:
    reply = "已生成 5 秒视频。Click Export to download."
    assert translate_gui_talk(reply) == GuiTranslation("已生成 5 秒视频。", (EXPORT,))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=120))
def test_any_text_translates_without_error(text: str) -> None:
    result = translate_gui_talk(text)
    assert isinstance(result.text, str)
    assert all(isinstance(a, Intent) for a in result.actions)
    assert len(result.text) <= len(text) + 2  # at most a terminator is added


@pytest.mark.parametrize(
    "reply",
    ["you see " * 3000, "use the " * 3000, "“" * 10000, '"a' * 10000, "点击" * 10000],
    ids=["see", "use", "open-quote", "quotes", "zh"],
)
def test_pathological_replies_stay_linear(reply: str) -> None:
    started = time.perf_counter()
    translate_gui_talk(reply)
    assert time.perf_counter() - started < 2.0
