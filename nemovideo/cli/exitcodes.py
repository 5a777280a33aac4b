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
from nemovideo.workflows import GenerationFailedError

__all__ = ["EPILOG", "ExitCode", "exit_code_for"]


class ExitCode(enum.IntEnum):
    """What the process exit status means."""

    OK = 0
    """Everything worked."""
    UNEXPECTED = 1
    """An unexpected error (a bug): run again with ``--debug`` and report the traceback."""
    USAGE = 2
    """Wrong arguments or settings: a missing file, a bad URL, an unknown session."""
    AUTH = 3
    """The token is invalid, expired, or lacks a scope."""
    CREDITS = 4
    """Out of credits, or export blocked on the free plan."""
    FILE_REJECTED = 5
    """The file type is not accepted, or the file is too large."""
    RATE_LIMITED = 6
    """Too many requests: wait and try again."""
    SERVICE = 7
    """The service failed, the network broke, or something timed out."""
    FAILED = 8
    """The render or the generation failed."""
    INTERRUPTED = 130
    """Interrupted (Ctrl-C); unfinished work is in the journal (``nemovideo resume``)."""


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
EPILOG = "exit codes:\n" + "\n".join(
    f"  {code.value:<4} {(code.__doc__ or '').strip()}" for code in ExitCode
)
