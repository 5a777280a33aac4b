"""Exit codes of the command line, one per kind of failure, so scripts can react to each."""

from __future__ import annotations

import enum

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

__all__ = ["EPILOG", "ExitCode", "exit_code_for"]


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
