"""Routing a person's words: a direct API action, or a message for the chat stream.

Conversational front ends answer "export", "credits", "status" and "upload" themselves (fast,
free, no stream); everything else goes to the backend's agent.
"""

from __future__ import annotations

import enum
import re

__all__ = ["Intent", "route"]


class Intent(enum.Enum):
    """What a front end should do with a person's message."""

    EXPORT = "export"
    """Render the draft and hand over the MP4 (no stream)."""
    CREDITS = "credits"
    """Show the credit balance (no stream)."""
    STATE = "state"
    """Show the session state / timeline summary (no stream)."""
    UPLOAD = "upload"
    """Ask for or take a file to upload (no stream)."""
    CHAT = "chat"
    """Send the words to the chat stream: generation, edits, questions."""


def _verb_forms(base: str) -> list[str]:
    """Regular English forms of a verb: add -> add, adds, added, adding."""
    stem = base[:-1] if base.endswith("e") else base
    past = base + "d" if base.endswith("e") else base + "ed"
    return [base, base + "s", past, stem + "ing"]


_EDIT_WORDS = (
    "add remove delete make change generate animate create edit trim replace insert apply turn "
    "convert extend shorten speed slow crop adjust increase decrease lower raise mute unmute fade "
    "swap move merge split rotate zoom append combine mix shorten lengthen loop reverse blur "
    "sharpen brighten darken resize drag drop transform restyle"
)
_EDIT_VERBS = _EDIT_WORDS.split()
_IRREGULAR = ["made", "cut", "cuts", "cutting", "put", "puts", "putting", "set", "sets", "sped"]
_EN_EDIT = re.compile(
    r"\b(?:"
    + "|".join(sorted({f for v in _EDIT_VERBS for f in _verb_forms(v)} | set(_IRREGULAR)))
    + r")\b"
)
# Words that name video content: "export with subtitles" is an edit followed by an export.
_EN_CONTENT = re.compile(
    r"\b(?:music|bgm|songs?|soundtrack|titles?|subtitles?|captions?|transitions?|effects?|"
    r"filters?|voice-?over|narration|(?:end|closing|opening|rolling)\s+credits|"
    r"roll(?:s|ing)?\s+(?:the\s+)?credits|credits?\s+(?:at|to)\s+the\s+(?:end|start|beginning))\b"
)
# Negations and "why" questions are talk about a command, not the command.
_EN_NOT_COMMAND = re.compile(r"\b(?:don'?t|do not|not|never|no|stop|cancel|why)\b")

_ZH_EDIT = (
    "加", "删", "去掉", "去除", "移除", "改", "换", "生成", "制作", "做成", "剪", "裁", "调",
    "变", "插入", "合并", "拆分", "放大", "缩", "放慢", "静音", "淡入", "淡出", "旋转", "动起来",
)  # fmt: skip
_ZH_CONTENT = ("音乐", "配乐", "字幕", "标题", "转场", "特效", "滤镜", "配音", "旁白")
_ZH_NOT_COMMAND = ("不要", "别", "不用", "先不", "暂不", "不需要", "不想", "为什么", "取消")

# In priority order: a message naming several commands goes to the first one listed. Asking
# about progress ("export status") must never start the command again, so status words come
# before export; a timeline to download ("download the timeline") is an export.
_COMMANDS: tuple[tuple[Intent, re.Pattern[str], tuple[str, ...]], ...] = (
    (Intent.CREDITS, re.compile(r"\b(?:credits?|balance)\b"), ("积分", "余额", "额度")),
    (Intent.STATE, re.compile(r"\b(?:status|state|progress)\b"), ("状态", "进度")),
    (
        Intent.EXPORT,
        re.compile(
            r"\b(?:export|download)\b"
            r"|\bsend\s+(?:it\b|(?:\w+\s+){0,3}?(?:video|clip|file|mp4|result|movie)s?\b)"
            r"|\bgive\s+(?:\w+\s+){0,3}?(?:video|clip|file|mp4|result|movie)s?\b"
        ),
        ("导出", "下载", "发给我", "发我"),
    ),
    (Intent.STATE, re.compile(r"\b(?:timeline|tracks?)\b"), ("时间线", "时间轴", "轨道")),
    (Intent.UPLOAD, re.compile(r"\b(?:upload|uploads)\b"), ("上传",)),
)

_MAX_WORDS = 12.0  # longer messages are requests with details, not bare commands
_LATIN_WORD = re.compile(r"[a-z0-9']+")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _size(text: str) -> float:
    """Length in words; a Chinese character counts as half a word (most words have two)."""
    return len(_LATIN_WORD.findall(text)) + len(_HAN.findall(text)) / 2


def route(text: str) -> Intent:
    """Decide what to do with a person's message.

    The rule: a message goes to a direct action only when it is essentially that command:

    1. it names the command (the documented table, English and Chinese): export / download /
       "send me the video" / 导出 / 下载 -> EXPORT; credits / balance / 积分 / 余额 -> CREDITS;
       status / state / show tracks / timeline / progress / 状态 / 时间线 / 轨道 -> STATE;
       upload / 上传 -> UPLOAD. English matches whole words, case-insensitively, base forms
       only: "exported" and "downloadable" describe rather than command, so they do not count;
    2. it is short (at most 12 words, a Chinese character counting as half a word);
    3. it asks for no edit: no edit verb (add, remove, make, change, generate, animate, ...;
       加, 删, 改, 换, 生成, ...) and no content word (music, subtitles, 音乐, 字幕, ...), so
       "add music then export" is a chat message;
    4. it is not a negation or a "why" question ("don't export yet", "为什么导出失败").

    Anything else is :attr:`Intent.CHAT`. When a message names several commands, the first in
    this order wins: credits, status ("export status" -> STATE: asking about an export never
    starts one), export ("download the timeline" -> EXPORT), timeline, upload.

    Example:
        >>> route("Export it please")
        <Intent.EXPORT: 'export'>
        >>> route("add lo-fi music, then export")
        <Intent.CHAT: 'chat'>
        >>> route("还剩多少积分？")
        <Intent.CREDITS: 'credits'>
    """
    lowered = " ".join(text.lower().replace("\u2019", "'").split())
    if not lowered or _size(lowered) > _MAX_WORDS:
        return Intent.CHAT
    if (
        _EN_EDIT.search(lowered)
        or _EN_CONTENT.search(lowered)
        or _EN_NOT_COMMAND.search(lowered)
        or any(word in lowered for word in (*_ZH_EDIT, *_ZH_CONTENT, *_ZH_NOT_COMMAND))
    ):
        return Intent.CHAT
    for intent, english, chinese in _COMMANDS:
        if english.search(lowered) or any(word in lowered for word in chinese):
            return intent
    return Intent.CHAT
