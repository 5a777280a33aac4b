"""``nemovideo auth status`` and ``nemovideo auth token``: the token a command would use.

``status`` says where the token comes from (given, saved anonymous, none yet), the account kind,
the expiry and, when a token exists, the balance, with the token masked. ``token`` prints the
saved anonymous token itself, on purpose only (like ``gh auth token``), so that it can be put in
``NEMO_TOKEN`` elsewhere. Neither asks the service for a new token.
"""

from __future__ import annotations

import argparse
import time

from nemovideo.cli.exitcodes import ExitCode
from nemovideo.cli.output import Console
from nemovideo.cli.runtime import open_client
from nemovideo.protocol.errors import ConfigurationError, NemoError
from nemovideo.transport.token_status import saved_token, token_status

__all__ = ["auth"]

_KINDS = {
    "given": "your token (--token or NEMO_TOKEN)",
    "saved": "an anonymous token saved by this SDK",
    "none": "none yet: an anonymous one is requested on first use",
}


def _expiry(expires_at: float | None) -> str:
    if expires_at is None:
        return "unknown"
    left = expires_at - time.time()
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(expires_at))
    if left <= 0:
        return f"{when} (expired)"
    return f"{when} (in {left / 86400:.1f} days)"


async def auth(args: argparse.Namespace, console: Console) -> int:
    """``nemovideo auth status|token``."""
    async with open_client(args, console) as (client, _):
        config = client.config
        if args.action == "token":
            saved = saved_token(config)
            if config.token:
                raise ConfigurationError(
                    "The token is your own (--token or NEMO_TOKEN); it is not printed here."
                )
            if saved is None or not saved.usable():
                raise ConfigurationError(
                    "No saved anonymous token yet: run a command that needs one (e.g. "
                    "`nemovideo credits`), then ask again."
                )
            console.result(saved.token, {"token": saved.token, "expires_at": saved.expires_at})
            return ExitCode.OK
        status = token_status(config)
        record: dict[str, object] = {
            "source": status.source,
            "token": status.masked,
            "user_id": status.user_id,
            "expires_at": status.expires_at,
            "token_file": str(status.path),
        }
        lines = [
            f"Token: {_KINDS[status.source]}" + (f", {status.masked}" if status.masked else ""),
            f"Expires: {_expiry(status.expires_at)}" if status.source == "saved" else "",
            f"Token file: {status.path}",
        ]
        if status.usable:
            try:
                balance = await client.credits.get()
            except NemoError as exc:
                lines.append(f"Credits: unknown ({exc.message})")
            else:
                lines.append(f"Credits: {balance.available} available")
                record["credits"] = balance.available
    console.result("\n".join(line for line in lines if line), record)
    return ExitCode.OK
