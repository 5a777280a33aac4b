"""``NEMO_LOG=debug|info``: the SDK's logs on stderr without a line of code, like ``OPENAI_LOG``.

Read once, when the first client is made. Without the variable nothing is configured: the
application decides where the ``nemovideo`` loggers go. With it, one handler is added to the
``nemovideo`` logger: stderr, a short format, and a filter that blanks anything that looks like
a bearer token (the SDK never logs headers, bodies or query strings; this catches a token in a
message someone else wrote, or in an exception's text).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

__all__ = ["ENV_VAR", "TokenFilter", "configure_from_environment", "reset"]

ENV_VAR = "NEMO_LOG"
HANDLER_NAME = "nemovideo NEMO_LOG"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
REDACTED = "[redacted]"

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

# "Bearer <anything>", and NemoVideo tokens (nmv_usr_..., nmv_anon_...) wherever they stand.
_SECRETS = (
    (re.compile(r"(?i)\b(bearer\s+)[^\s'\",;]+"), r"\1" + REDACTED),
    (re.compile(r"\bnmv_[A-Za-z0-9]+_[A-Za-z0-9_\-.]{4,}"), REDACTED),
)

_applied = False


class TokenFilter(logging.Filter):
    """Replaces bearer tokens in a record's message (it never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = message
        for pattern, replacement in _SECRETS:
            clean = pattern.sub(replacement, clean)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def configure_from_environment(environ: Mapping[str, str] | None = None) -> logging.Handler | None:
    """Apply ``NEMO_LOG`` once per process; returns the handler it added, if any.

    ``debug`` shows one line per request (method, host and path, status, milliseconds),
    ``info`` retries, recoveries and tokens acquired; ``warning`` and ``error`` are accepted too.
    An unknown value is reported once as a warning and otherwise ignored.
    """
    global _applied
    if _applied:
        return None
    _applied = True
    value = (environ if environ is not None else os.environ).get(ENV_VAR, "").strip().lower()
    if not value:
        return None
    sdk_logger = logging.getLogger("nemovideo")
    level = _LEVELS.get(value)
    if level is None:
        sdk_logger.warning(
            "%s=%r is not one of %s; ignored", ENV_VAR, value[:20], ", ".join(_LEVELS)
        )
        return None
    if any(h.get_name() == HANDLER_NAME for h in sdk_logger.handlers):
        return None
    handler = logging.StreamHandler()  # stderr
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(TokenFilter())
    sdk_logger.addHandler(handler)
    sdk_logger.setLevel(level)
    return handler


def reset() -> None:
    """Forget that ``NEMO_LOG`` was applied (for tests), removing the handler it added."""
    global _applied
    _applied = False
    sdk_logger = logging.getLogger("nemovideo")
    for handler in list(sdk_logger.handlers):
        if handler.get_name() == HANDLER_NAME:
            sdk_logger.removeHandler(handler)
            sdk_logger.setLevel(logging.NOTSET)
