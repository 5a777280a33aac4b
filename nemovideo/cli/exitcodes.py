"""Exit codes of the command line, one per kind of failure, so scripts can react to each."""

from __future__ import annotations

import enum
import re

from nemovideo.protocol.errors import (
    AgentError,
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    ConfigurationError,
    ExportBlockedError,
    FileTooLargeError,
    GenerationFailedError,
    InsufficientCreditsError,
    InvalidResponseError,
    MissingClientIdError,
    NemoError,
    PermissionDeniedError,
    RateLimitedError,
    RenderFailedError,
    ServerError,
    SessionNotFoundError,
    UnsupportedFileTypeError,
)

__all__ = ["EPILOG", "ExitCode", "cli_message", "exit_code_for"]


class ExitCode(enum.IntEnum):
    """What the process exit status means (see :attr:`meaning`)."""

    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    AUTH = 3
    CREDITS = 4
    FILE_REJECTED = 5
    RATE_LIMITED = 6
    SERVICE = 7
    FAILED = 8
    INTERRUPTED = 130

    @property
    def meaning(self) -> str:
        """One line for people, as shown by ``--help``."""
        return _MEANINGS[self]


_MEANINGS = {
    ExitCode.OK: "everything worked",
    ExitCode.UNEXPECTED: "an unexpected error (a bug): run again with --debug and report it",
    ExitCode.USAGE: "wrong arguments or settings: a missing file, a bad URL, an unknown session",
    ExitCode.AUTH: "the token is invalid, expired, or lacks a scope",
    ExitCode.CREDITS: "out of credits, or export blocked on the free plan",
    ExitCode.FILE_REJECTED: "the file type is not accepted, or the file is too large",
    ExitCode.RATE_LIMITED: "rate limited: wait and try again",
    ExitCode.SERVICE: "the service failed, the network broke, or something timed out",
    ExitCode.FAILED: "the render or the generation failed",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C); unfinished work is in the journal (resume)",
}


# Most specific first: several classes derive from others (e.g. APITimeoutError).
_TABLE: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (UnsupportedFileTypeError, ExitCode.FILE_REJECTED),
    (FileTooLargeError, ExitCode.FILE_REJECTED),
    (ConfigurationError, ExitCode.USAGE),
    (SessionNotFoundError, ExitCode.USAGE),
    (AuthenticationError, ExitCode.AUTH),
    (PermissionDeniedError, ExitCode.AUTH),
    (MissingClientIdError, ExitCode.AUTH),
    (InsufficientCreditsError, ExitCode.CREDITS),
    (ExportBlockedError, ExitCode.CREDITS),
    (RateLimitedError, ExitCode.RATE_LIMITED),
    (RenderFailedError, ExitCode.FAILED),
    (AgentError, ExitCode.FAILED),
    (GenerationFailedError, ExitCode.FAILED),
    (ServerError, ExitCode.SERVICE),
    (APIConnectionError, ExitCode.SERVICE),
    (InvalidResponseError, ExitCode.SERVICE),
)


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code for an error.

    Example:
        >>> exit_code_for(FileTooLargeError())
        <ExitCode.FILE_REJECTED: 5>
    """
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    for cls, code in _TABLE:
        if isinstance(error, cls):
            return code
    if isinstance(error, APIStatusError):
        # A 404 that is not about a session means the API address is wrong.
        return ExitCode.USAGE if error.http_status == 404 else ExitCode.SERVICE
    if isinstance(error, NemoError):
        return ExitCode.SERVICE
    return ExitCode.UNEXPECTED


#: The exit codes as shown at the end of ``--help``.
EPILOG = "exit codes:\n" + "\n".join(f"  {code.value:<4} {code.meaning}" for code in ExitCode)


# ---- messages in the command line's terms ----------------------------------------------------
#
# The SDK's errors give Python advice ("client.session.create()", "pass allow_insecure=True").
# A person at a shell gets the same advice in commands and options: first the class's whole
# default hint is replaced, then any Python phrase left in a message (the SDK's own text around
# the server's) is translated, so that no message reaches a CLI user with code in it.

_CLI_HINTS: tuple[tuple[type[NemoError], str], ...] = (
    (
        SessionNotFoundError,
        "The session was not found (it may have expired, or belong to another token or "
        "service). Run `nemovideo chat` to start a new session.",
    ),
    (
        InsufficientCreditsError,
        "Out of credits for this work (see the balance with `nemovideo credits`). Anonymous "
        "users: register to get more (the claim link `nemovideo animate` prints keeps the "
        "work); registered users: top up your balance at nemovideo.com.",
    ),
    (
        ExportBlockedError,
        "Export is blocked on the free plan: register at nemovideo.com to unlock export (the "
        "claim link `nemovideo animate` prints keeps the work).",
    ),
    (
        AuthenticationError,
        "The NemoVideo token is invalid or expired. Unset NEMO_TOKEN (and leave out --token) "
        "to use an anonymous token, or set a fresh one.",
    ),
    (
        GenerationFailedError,
        "The generation produced no timeline. Look at it with `nemovideo status {session}`, "
        "then ask again with a new message in `nemovideo chat --session {session}`.",
    ),
    (
        AgentError,
        "The NemoVideo agent reported a failure. See what changed with `nemovideo status "
        "{session}`, then try again with a new message rather than the same one.",
    ),
)

_STATUS_CALL = (
    r"client\.state\.get(?:\((?:'(?P<sid>[^']*)'|\"(?P<sid2>[^\"]*)\"|[^)]*)\))?(?:\.draft)?"
)
_PHRASES: tuple[tuple[str, str], ...] = (
    (r"\(?client\.session\.claim_link\(\) gives a link that keeps this work\)?",
     "(the claim link `nemovideo animate` prints keeps the work)"),
    (r"client\.session\.create\(\)", "`nemovideo chat`"),
    (r"client\.chat\.send(?:\(\))?", "`nemovideo chat`"),
    (r"client\.resume\(\) or `nemovideo resume`", "`nemovideo resume`"),
    (r"client\.resume\(\)", "`nemovideo resume`"),
    (r"finish it with client\.render / client\.state by hand",
     "look at it with `nemovideo status {session}` and export it with "
     "`nemovideo export {session}`"),
    (r"pass overwrite=True \(CLI: --force\)", "pass --force"),
    (r"pass overwrite=True", "pass --force"),
    (r"client\.render\.wait\([^)]*\) picks it up again",
     "running the export again renders it anew"),
    (r"pass allow_insecure=True", "pass --allow-insecure"),
    (r"pass token= or set NEMO_TOKEN", "use NEMO_TOKEN (or --token)"),
    (r"pass client_id_path= pointing at a file", "set NEMO_CLIENT_ID"),
    (r"pass journal= or enable the client's journal", "pass --journal PATH"),
    (r"^base_url\b", "The API address (--api-url or NEMO_API_URL)"),
    (r"check the network and NEMO_API_URL", "check the network and NEMO_API_URL (or --api-url)"),
)  # fmt: skip


def cli_message(error: BaseException, *, sandbox: bool = False) -> str:
    """What to tell a person at a shell about ``error``: its message with CLI advice.

    ``sandbox`` is True when the command ran against its own in-process sandbox: then a
    session cannot be continued later, and credits come from a sandbox option.

    Example:
        >>> cli_message(SessionNotFoundError())
        'The session was not found (it may have expired, or belong to another token or service). Run `nemovideo chat` to start a new session.'
    """  # noqa: E501
    if not isinstance(error, NemoError):
        return f"unexpected {type(error).__name__}: {error}. Run again with --debug for details."
    message = error.message
    mentioned = re.search(r"\bsession_id (\w+)", message)  # "(flow f1, session_id 42, ...)"
    session = getattr(error, "session_id", None) or (mentioned and mentioned.group(1))
    session = session or "SESSION_ID"
    for cls, hint in _CLI_HINTS:
        if isinstance(error, cls) and cls.default_hint and cls.default_hint in message:
            message = message.replace(cls.default_hint, hint.format(session=session))
            break

    def status(match: re.Match[str]) -> str:
        sid = match.group("sid") or match.group("sid2") or session
        return f"`nemovideo status {sid}`"

    message = re.sub(_STATUS_CALL, status, message)
    for pattern, replacement in _PHRASES:
        message = re.sub(pattern, replacement.replace("{session}", session), message)
    if sandbox and isinstance(error, InsufficientCreditsError):
        message += (
            " In the sandbox, credits are a setting: leave out --sandbox-option "
            "initial_credits=..., or raise it."
        )
    return " ".join(message.split())
