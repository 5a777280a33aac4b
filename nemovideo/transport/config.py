"""Client settings: arguments first, then the environment, then the documented defaults."""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from yarl import URL

from nemovideo._version import __version__
from nemovideo.protocol.errors import ConfigurationError
from nemovideo.transport.retry import RetryPolicy

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_SKILL_SOURCE",
    "DEFAULT_WEB_URL",
    "Attribution",
    "ClientConfig",
    "Timeouts",
    "default_client_id_path",
    "detect_platform",
    "validate_base_url",
]

DEFAULT_API_URL = "https://mega-api-prod.nemovideo.ai"
DEFAULT_WEB_URL = "https://nemovideo.com"
DEFAULT_SKILL_SOURCE = "image-to-video-deevid"
DEFAULT_UPLOAD_LIMIT = 200 * 1024 * 1024

# Install-path markers of known agent platforms (API.md); git remotes are never sniffed.
_PLATFORM_DIRS: tuple[tuple[str, str], ...] = (
    (os.path.join(".clawhub", ""), "clawhub"),
    (os.path.join(".cursor", "skills", ""), "cursor"),
)


def _positive(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    """A setting that must be a positive, finite number of seconds (or a scale)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ConfigurationError(
            f"{attribute.name} must be a positive, finite number (got {value!r})."
        )


def _kind(cls: type) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if not isinstance(value, cls):
            raise ConfigurationError(
                f"{attribute.name} must be a {cls.__name__} (got {type(value).__name__}); "
                f"e.g. {attribute.name}={cls.__name__}()."
            )

    return check


def _at_least(low: int) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ConfigurationError(
                f"{attribute.name} must be a whole number of at least {low} (got {value!r})."
            )

    return check


@attrs.frozen
class Timeouts:
    """Every time limit, in seconds. Defaults follow the API's documented figures.

    Attributes:
        connect: opening a connection.
        request: one whole JSON request (answer included).
        stream_read: the chat stream may stay silent this long (no byte at all); a long tool call
            on a plain ADK server is plain silence.
        stream_idle: the chat stream may send only keep-alives (heartbeats) this long.
        stream_total: one whole chat turn (documented: 15 minutes).
        download_read: a download may stall this long between two chunks.
        upload_processing: after a file upload's last byte, the server may stay silent this long
            while it stores and probes the file (a 200 MB video takes minutes, not seconds);
            also the longest silence while the body is being sent.
        url_upload: one whole upload by URL: the server fetches the file itself before it
            answers, so the ordinary ``request`` limit is far too short for a large file.
    """

    connect: float = attrs.field(default=10.0, validator=_positive)
    request: float = attrs.field(default=120.0, validator=_positive)
    stream_read: float = attrs.field(default=600.0, validator=_positive)
    stream_idle: float = attrs.field(default=600.0, validator=_positive)
    stream_total: float = attrs.field(default=900.0, validator=_positive)
    download_read: float = attrs.field(default=60.0, validator=_positive)
    upload_processing: float = attrs.field(default=600.0, validator=_positive)
    url_upload: float = attrs.field(default=900.0, validator=_positive)


@attrs.frozen
class Attribution:
    """The three attribution headers sent with every API request (API.md "Required headers")."""

    source: str = DEFAULT_SKILL_SOURCE
    version: str = __version__
    platform: str = "unknown"

    def headers(self) -> dict[str, str]:
        """The headers, ready to merge into a request."""
        return {
            "X-Skill-Source": self.source,
            "X-Skill-Version": self.version,
            "X-Skill-Platform": self.platform,
        }


def detect_platform(env: Mapping[str, str], install_path: str | None = None) -> str:
    """``SKILL_SOURCE`` if set, else a known platform directory in the install path, else unknown.

    Example:
        >>> detect_platform({}, "/home/me/.cursor/skills/x/site-packages/nemovideo")
        'cursor'
    """
    explicit = env.get("SKILL_SOURCE", "").strip()
    if explicit:
        return explicit
    path = install_path if install_path is not None else str(Path(__file__).resolve())
    for marker, name in _PLATFORM_DIRS:
        if marker in path:
            return name
    return "unknown"


def default_journal_path(env: Mapping[str, str]) -> Path:
    """``$XDG_STATE_HOME/nemovideo/journal.db`` (default under ``~/.local/state``)."""
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "nemovideo" / "journal.db"


def _journal_target(value: object) -> Path | str:
    """A ledger setting: a ``postgresql://`` URL stays text (a Path would fold its ``//``)."""
    text = os.fspath(value) if isinstance(value, (str, os.PathLike)) else str(value)
    if isinstance(text, str) and text.strip().lower().startswith(("postgresql://", "postgres://")):
        return text.strip()
    return Path(text)


def default_client_id_path(env: Mapping[str, str] | None = None) -> Path:
    """``~/.config/nemovideo/client_id``, the one path every NemoVideo tool shares.

    The documents fix this path: ``XDG_CONFIG_HOME`` does not move it, since another tool that
    reads the documented path would then make a second id (and ask for a second token). Pass
    ``client_id_path=`` or set ``NEMO_CLIENT_ID`` to use another id.
    """
    return Path(os.path.expanduser("~")) / ".config" / "nemovideo" / "client_id"


def _env_flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    raise ConfigurationError(f"{name}={value!r}: use 1 or 0 (true/false, yes/no, on/off).")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_base_url(value: str, *, allow_insecure: bool = False, what: str = "base_url") -> URL:
    """Parse and check an API address: absolute, http(s), HTTPS unless loopback or opted out."""
    try:
        url = URL(value.strip())
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"{what} {value!r} is not a URL; use e.g. {DEFAULT_API_URL}"
        ) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ConfigurationError(
            f"{what} {_safe(url)} must be an absolute http(s) URL such as {DEFAULT_API_URL}"
        )
    if url.user or url.password:
        raise ConfigurationError(
            f"{what} must not carry credentials; pass token= or set NEMO_TOKEN instead"
        )
    if url.scheme == "http" and not allow_insecure and not _is_loopback(url.host):
        raise ConfigurationError(
            f"{what} {_safe(url)} is plain HTTP: the token would cross the network unencrypted. "
            "Use https://, or pass allow_insecure=True if you really mean it."
        )
    return url.with_query(None).with_fragment(None).with_path(url.path.rstrip("/"))


def _safe(url: URL) -> str:
    return str(url.with_user(None).with_query(None)) if url.host else repr(str(url))


def _check_token(token: str | None) -> str | None:
    if token is None:
        return None
    token = token.strip()
    if not token:
        return None
    if any(ch.isspace() for ch in token) or not token.isprintable():
        raise ConfigurationError(
            "The token contains spaces or control characters; copy it again without them."
        )
    return token


def _check_client_id(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > 64 or not value.isprintable() or any(ch.isspace() for ch in value):
        raise ConfigurationError(
            "client_id must be a UUID or a stable string of at most 64 printable characters "
            "without spaces."
        )
    return value


@attrs.frozen
class ClientConfig:
    """Everything a `NemoClient` runs with, resolved once. The token never shows in its repr.

    Attributes:
        trust_env: honour the proxy variables (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``)
            as other HTTP clients do; loopback addresses always go direct.
        token_cache: keep an anonymous token the SDK acquired in a file beside the client id
            (``anonymous_token.json``, owner-only) and reuse it in later processes until it
            expires, as the documents ask ("1 token per client per 7 days"). ``False`` (or
            ``NEMO_TOKEN_CACHE=0``) keeps it in memory only. A token you pass is never written.
    """

    base_url: URL
    web_url: str = DEFAULT_WEB_URL
    token: str | None = attrs.field(default=None, repr=False)
    client_id: str | None = None
    client_id_path: Path = attrs.field(factory=default_client_id_path)
    attribution: Attribution = attrs.field(factory=Attribution)
    timeouts: Timeouts = attrs.field(factory=Timeouts, validator=_kind(Timeouts))
    retry: RetryPolicy = attrs.field(factory=RetryPolicy, validator=_kind(RetryPolicy))
    upload_limit: int = attrs.field(default=DEFAULT_UPLOAD_LIMIT, validator=_at_least(1))
    poll_interval: float = attrs.field(default=30.0, validator=_positive)
    max_polls: int = attrs.field(default=10, validator=_at_least(1))
    max_body_bytes: int = attrs.field(default=32 * 1024 * 1024, validator=_at_least(64 * 1024))
    max_download_bytes: int = attrs.field(
        default=8 * 1024 * 1024 * 1024, validator=_at_least(64 * 1024)
    )
    max_event_bytes: int = attrs.field(default=16 * 1024 * 1024, validator=_at_least(64 * 1024))
    connection_limit: int = attrs.field(default=100, validator=_at_least(1))
    #: How fast the service's documented waits pass: 1 for the real service; a sandbox whose
    #: clock runs fast (``time_scale=0.001``) wants the same here.
    time_scale: float = attrs.field(default=1.0, validator=_positive)
    #: Seconds a flow's claim in the journal lasts without renewal: how long after a crash its
    #: flows wait before another process may resume them (a live run renews every third).
    journal_lease: float = attrs.field(default=60.0, validator=_positive)
    verify_ssl: bool = True
    trust_env: bool = True
    token_cache: bool = True
    #: The ledger: an SQLite file, or a ``postgresql://`` URL (kept as text) shared by a fleet.
    journal_path: Path | str | None = attrs.field(factory=lambda: default_journal_path(os.environ))

    @property
    def token_cache_path(self) -> Path:
        """The anonymous-token file: ``anonymous_token.json`` beside the client id file."""
        return self.client_id_path.with_name("anonymous_token.json")

    @classmethod
    def resolve(
        cls,
        *,
        base_url: str | None = None,
        token: str | None = None,
        client_id: str | None = None,
        web_url: str | None = None,
        skill_source: str | None = None,
        skill_version: str | None = None,
        skill_platform: str | None = None,
        client_id_path: str | os.PathLike[str] | None = None,
        allow_insecure: bool = False,
        env: Mapping[str, str] | None = None,
        **settings: object,
    ) -> ClientConfig:
        """Arguments, then ``NEMO_*`` / ``SKILL_SOURCE`` environment variables, then defaults."""
        env = os.environ if env is None else env
        api = validate_base_url(
            base_url or env.get("NEMO_API_URL") or DEFAULT_API_URL, allow_insecure=allow_insecure
        )
        web = validate_base_url(
            web_url or env.get("NEMO_WEB_URL") or DEFAULT_WEB_URL,
            allow_insecure=True,
            what="web_url",
        )
        attribution = Attribution(
            source=skill_source or DEFAULT_SKILL_SOURCE,
            version=skill_version or __version__,
            platform=skill_platform or detect_platform(env),
        )
        path = Path(client_id_path) if client_id_path else default_client_id_path(env)
        if "token_cache" not in settings:
            settings["token_cache"] = _env_flag(env, "NEMO_TOKEN_CACHE", True)
        if "journal_path" not in settings:
            chosen = env.get("NEMO_JOURNAL", "").strip()
            settings["journal_path"] = _journal_target(chosen or default_journal_path(env))
        elif settings["journal_path"] is not None:
            settings["journal_path"] = _journal_target(settings["journal_path"])
        known = {f.name for f in attrs.fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ConfigurationError(f"Unknown NemoClient setting(s): {', '.join(unknown)}")
        return cls(
            base_url=api,
            web_url=str(web),
            token=_check_token(token if token is not None else env.get("NEMO_TOKEN")),
            client_id=_check_client_id(client_id or env.get("NEMO_CLIENT_ID")),
            client_id_path=path,
            attribution=attribution,
            **settings,  # type: ignore[arg-type]
        )
