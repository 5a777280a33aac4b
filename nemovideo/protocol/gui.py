"""Translating the backend's GUI talk: its agent believes a GUI exists, and the SDK has none.

The agent says "click the Export button", "open the timeline", "drag the clip", "点击导出".
:func:`translate_gui_talk` keeps what the reply says about the video and turns the GUI
directions into :class:`~nemovideo.protocol.intents.Intent` actions a front end can take
through the API:

=============================================  ===========================================
the agent says                                 action
=============================================  ===========================================
click / tap / press X, 点击 X                    what X is (Export -> EXPORT, ...), else CHAT
open X, go to X, 打开 X                          STATE (or what X is: account -> CREDITS)
drag / drop, 拖拽 / 拖动                          CHAT (send the edit through the stream)
preview in the timeline, 在时间线上预览            STATE (the timeline summary)
the Export button, 导出按钮                       EXPORT
check your account / billing, 查看账户 / 积分      CREDITS
=============================================  ===========================================

A sentence made only of directions is removed; in a sentence that mixes content and
directions, the content clauses stay. Quoted text (a title such as "Open Road") is content and
never read as a direction.
"""

from __future__ import annotations

import re

import attrs

from nemovideo.protocol.intents import Intent

__all__ = ["GuiTranslation", "translate_gui_talk"]


@attrs.frozen
class GuiTranslation:
    """A reply with its GUI directions taken out.

    Attributes:
        text: what the reply says about the work, for a person to read.
        actions: what the directions asked for, each once, in the order they came.
    """

    text: str
    actions: tuple[Intent, ...] = ()


# Bounded so that an unclosed quote cannot make the scan quadratic.
_QUOTED = re.compile(
    r"\"[^\"\n]{0,200}\"|“[^”\n]{0,200}”|「[^」\n]{0,200}」|『[^』\n]{0,200}』|《[^》\n]{0,200}》"
)
# A sentence ends at . ! ? followed by a space (so "0.35" and "9:16" stay whole), or at 。！？
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)|[。！？]+[”’」』）)]*")
_CLAUSE_SEP = re.compile(
    r"\s*[;；，、：]\s*|,(?!\d)\s*|:\s+|\s+[—–-]+\s+"
    r"|\s+(?:and then|and|then|but|or|so)\s+"
    r"(?=(?:you|just|simply|please|click|tap|press|hit|select|open|drag|drop|preview|go|"
    r"head|navigate|check|use|switch)\b)",
    re.IGNORECASE,
)
_LIST_PREFIX = re.compile(r"^(\s*(?:[-*•]|\d+[.)]|>)\s+)")

_LEAD = (
    r"(?:^\W*|\b(?:please|then|just|simply|now|first|next|finally|also|and|or|to|can|could|"
    r"may|might|will|should|must|need to|feel free to|go ahead and|try|you|you'll)\s+)"
)
_EN_VERB_DIRECTIVES: tuple[tuple[re.Pattern[str], Intent | None], ...] = (
    # (pattern, fixed action or None: decided by what the clause points at, else the default)
    (re.compile(_LEAD + r"(?:drag|drop)\b", re.IGNORECASE), Intent.CHAT),
    (re.compile(_LEAD + r"(?:click|tap|press|hit|select)\b", re.IGNORECASE), None),
    (re.compile(_LEAD + r"(?:open|go to|head (?:over )?to|navigate to|switch to)\b", re.I), None),
    (re.compile(_LEAD + r"preview\b", re.IGNORECASE), Intent.STATE),
    (
        re.compile(
            _LEAD + r"(?:check|view|see|visit)\s+(?:your|the)?\s*(?:\w+\s+)?"
            r"(?:account|billing|balance|credits|subscription|plan)\b",
            re.IGNORECASE,
        ),
        Intent.CREDITS,
    ),
    (
        re.compile(
            _LEAD
            + r"(?:view|see|check|find|look at|watch)\b.{0,80}?\b(?:in|on) the (?:timeline|player)",
            re.IGNORECASE,
        ),
        Intent.STATE,
    ),
    (re.compile(_LEAD + r"use the\b.{0,60}?\b(?:button|slider|panel|menu|toolbar)\b", re.I), None),
)
_EN_GUI_NOUNS = re.compile(
    r"\b(?:button|toolbar|sidebar|drop-?down|checkbox|slider|export (?:panel|dialog|menu)|"
    r"preview (?:window|panel|pane)|(?:account|billing|settings) (?:page|settings|section))\b",
    re.IGNORECASE,
)
_ZH_DIRECTIVES: tuple[tuple[re.Pattern[str], Intent | None], ...] = (
    (re.compile(r"拖拽|拖动|拖入|拖到|拖放|拖曳|拖进"), Intent.CHAT),
    (re.compile(r"点击|单击|点选|点一下|点按|按下"), None),
    (re.compile(r"打开|前往|进入|切换到"), None),
    (re.compile(r"(?:时间线|时间轴|预览窗口|播放器).{0,6}(?:预览|查看)|预览窗口"), Intent.STATE),
    (re.compile(r"(?:查看|检查|确认).{0,6}(?:账户|账号|账单|积分|余额|订阅)"), Intent.CREDITS),
    (re.compile(r"按钮|工具栏|侧边栏|菜单栏|面板|弹窗|选项卡"), None),
)
# What a direction points at, in priority order; the default depends on the verb.
_TARGETS: tuple[tuple[re.Pattern[str], Intent], ...] = (
    (re.compile(r"\b(?:export|download|render)|导出|下载", re.IGNORECASE), Intent.EXPORT),
    (
        re.compile(
            r"\b(?:account|billing|credits?|balance|subscription|top[- ]?up|recharge|payment)\b"
            r"|账户|账号|账单|积分|余额|充值|订阅",
            re.IGNORECASE,
        ),
        Intent.CREDITS,
    ),
    (re.compile(r"\b(?:upload|import)|上传|导入", re.IGNORECASE), Intent.UPLOAD),
    (
        re.compile(r"\b(?:timeline|preview|player|tracks?)\b|时间线|时间轴|预览|轨道", re.I),
        Intent.STATE,
    ),
)
_OPEN_VERBS = re.compile(r"\b(?:open|go to|head|navigate|switch)\b|打开|前往|进入|切换", re.I)
# Clauses that only lead into or follow up a direction ("To change it, drag ...", "... and
# your video downloads") go with it; on their own they would read as nonsense.
_DEPENDENT = re.compile(
    r"^\W*(?:to|if|once|when|whenever|after|before|and|then|so|which|where|from there|there)\b"
    r"|^\W*(?:如需|如果|若|要|想要|想|然后|之后|完成后|满意后|确认后|准备好后|即可|就|再|并|以便)",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^\W*(?:next|then|now|finally|simply|just|here'?s how|to do (?:this|so)|next steps?|"
    r"ok(?:ay)?|alternatively|otherwise|接下来|然后|只需|最后)?\W*$",
    re.IGNORECASE,
)


def _mask_quotes(text: str) -> str:
    """The text with quoted passages blanked out, same length, so offsets still match."""
    return _QUOTED.sub(lambda m: m.group(0)[0] + "_" * (len(m.group(0)) - 2) + m.group(0)[-1], text)


def _target(clause: str, default: Intent) -> Intent:
    for pattern, intent in _TARGETS:
        if pattern.search(clause):
            return intent
    return default


def _directive(clause: str, masked: str) -> Intent | None:
    """The action a clause's GUI direction asks for, or ``None`` when it has none."""
    for pattern, fixed in (*_EN_VERB_DIRECTIVES, *_ZH_DIRECTIVES):
        if pattern.search(masked):
            if fixed is not None:
                return fixed
            opening = _OPEN_VERBS.search(masked) is not None
            return _target(clause, Intent.STATE if opening else Intent.CHAT)
    if _EN_GUI_NOUNS.search(masked):
        return _target(clause, Intent.CHAT)
    return None


def _clauses(sentence: str) -> list[tuple[str, str]]:
    """(separator before it, clause) pairs; the first separator is empty."""
    masked = _mask_quotes(sentence)
    pieces: list[tuple[str, str]] = []
    start, separator = 0, ""
    for match in _CLAUSE_SEP.finditer(masked):
        pieces.append((separator, sentence[start : match.start()]))
        separator = sentence[match.start() : match.end()]
        start = match.end()
    pieces.append((separator, sentence[start:]))
    return pieces


def _translate_sentence(sentence: str, actions: list[Intent]) -> str:
    """The sentence without its directions ("" when nothing is left); actions are appended."""
    masked = _mask_quotes(sentence)
    if _directive(sentence, masked) is None and not any(
        _directive(c, _mask_quotes(c)) for _, c in _clauses(sentence)
    ):
        return sentence
    end = re.search(r"[.!?。！？]+[\"'”’)\]」』）]*\s*$", sentence)
    terminator = end.group(0).strip() if end else ""
    kept: list[tuple[str, str]] = []
    for separator, clause in _clauses(sentence[: end.start()] if end else sentence):
        action = _directive(clause, _mask_quotes(clause))
        if action is not None:
            actions.append(action)
        elif clause.strip() and not _DEPENDENT.search(clause) and not _FILLER.match(clause):
            kept.append((separator, clause))
    if not kept:
        return ""
    text = kept[0][1].lstrip() + "".join(sep + clause for sep, clause in kept[1:])
    text = text.rstrip(" ,;:，；：、—–-")
    if text[:1].islower() and sentence.lstrip()[:1].isupper():
        text = text[0].upper() + text[1:]
    if terminator and terminator[0] in ".!?" and _has_han(text):
        terminator = "。"
    return text + terminator


def _has_han(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text[-3:])


def _sentences(body: str) -> list[str]:
    """The sentences of a line, each with the whitespace that preceded it."""
    out: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(body):
        out.append(body[start : match.end()])
        start = match.end()
    if body[start:].strip():
        out.append(body[start:])
    elif out:
        out[-1] += body[start:]
    return out


def _translate_line(line: str, actions: list[Intent]) -> str | None:
    """The line translated; ``None`` when it held only directions (drop the line)."""
    if not line.strip():
        return line
    prefix_match = _LIST_PREFIX.match(line)
    prefix = prefix_match.group(1) if prefix_match else ""
    kept: list[str] = []
    for sentence in _sentences(line[len(prefix) :]):
        stripped = sentence.strip()
        translated = _translate_sentence(stripped, actions)
        if translated:
            lead = sentence[: len(sentence) - len(sentence.lstrip())] if kept else ""
            kept.append(lead + translated)
    if not kept:
        return None
    return prefix + "".join(kept)


def _orphan_heading(
    index: int, line: str, originals: list[str], translated: list[str | None]
) -> bool:
    """Whether a heading such as "Next steps:" lost every line it introduced."""
    if not line.rstrip().endswith((":", "：")):
        return False
    following = 0
    for original, kept in zip(originals[index + 1 :], translated[index + 1 :], strict=True):
        if not original.strip():
            break
        if kept is not None:
            return False
        following += 1
    return following > 0


def translate_gui_talk(text: str) -> GuiTranslation:
    """Strip GUI directions from an agent's reply, keeping its content, and list the actions.

    Examples:
        >>> t = translate_gui_talk(
        ...     "I added lo-fi music at 35% volume. Click the Export button to download it."
        ... )
        >>> t.text
        'I added lo-fi music at 35% volume.'
        >>> t.actions
        (<Intent.EXPORT: 'export'>,)
        >>> translate_gui_talk("Your clip is ready; you can preview it in the timeline.")
        GuiTranslation(text='Your clip is ready.', actions=(<Intent.STATE: 'state'>,))
        >>> translate_gui_talk("已为视频添加背景音乐，点击右上角的导出按钮即可下载。").text
        '已为视频添加背景音乐。'
        >>> translate_gui_talk('I added the title "Open Road" (0-3s).').actions
        ()
    """
    actions: list[Intent] = []
    originals = [line.rstrip("\r") for line in text.split("\n")]
    translated = [_translate_line(line, actions) for line in originals]
    lines = [
        line
        for index, line in enumerate(translated)
        if line is not None and not _orphan_heading(index, line, originals, translated)
    ]
    joined = re.sub(r"\n\s*\n(?:\s*\n)+", "\n\n", "\n".join(lines)).strip()
    return GuiTranslation(joined, tuple(dict.fromkeys(actions)))
