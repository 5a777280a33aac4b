"""Images given as a ``data:`` URI or as a Pillow image, turned into ``(filename, bytes)``.

They are then checked like any file (the type by content, the size against the limit) and
uploaded like bytes. Pillow is not a dependency: an image is recognised by its class's module,
and encoded with its own ``save``. Pure: no I/O, nothing imported that is not installed.

Example::

    >>> as_upload_item("data:image/png;base64,iVBORw0KGgo=", 1000)
    ('image.png', b'\\x89PNG\\r\\n\\x1a\\n')
"""

from __future__ import annotations

import base64
import binascii
import io
import urllib.parse
from typing import Any

from nemovideo.protocol.errors import ConfigurationError
from nemovideo.protocol.files import FILE_TYPES, HEAD_BYTES, check_upload

__all__ = ["as_upload_item", "is_data_uri", "is_pil_image"]

_NAME_BY_MIME = {t.mime: f"image.{t.name}" for t in FILE_TYPES.values()}
_NAME_BY_MIME["image/jpg"] = "image.jpg"
# Formats Pillow re-encodes as they were; anything else (BMP, TIFF, a drawing) becomes a PNG.
_KEEP_JPEG_MODES = {"RGB", "L", "CMYK"}


def is_data_uri(item: object) -> bool:
    """True for a string starting with ``data:`` (RFC 2397)."""
    return isinstance(item, str) and item[:5].lower() == "data:"


def is_pil_image(item: object) -> bool:
    """True for a Pillow ``Image`` (recognised without importing Pillow)."""
    module = type(item).__module__ or ""
    return (module == "PIL" or module.startswith("PIL.")) and hasattr(item, "save")


def _decode_data_uri(uri: str, limit: int) -> tuple[str | None, bytes]:
    header, comma, payload = uri[5:].partition(",")
    if not comma:
        raise ConfigurationError("The data: URI has no ',' before its data; check how it was made.")
    params = [p.strip() for p in header.split(";")]
    mime = params[0].lower() if params and "=" not in params[0] else ""
    name = _NAME_BY_MIME.get(mime)
    if "base64" not in (p.lower() for p in params[1:]):
        data = urllib.parse.unquote_to_bytes(payload)
        return name, data
    payload = "".join(payload.split())  # line breaks are allowed in the wild
    estimate = len(payload) * 3 // 4
    if estimate > limit:
        # Refuse before decoding hundreds of megabytes: the type from the head, the size from
        # the length (check_upload raises FileTooLargeError).
        head = _b64decode(payload[: (HEAD_BYTES // 3 + 1) * 4])
        check_upload(name, head, estimate, limit=limit)
    return name, _b64decode(payload)


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError(
            "The data: URI's base64 is invalid; pass the file's path or its bytes instead."
        ) from None


def _encode_pil(image: Any) -> tuple[str, bytes]:
    keep_jpeg = getattr(image, "format", None) == "JPEG" and image.mode in _KEEP_JPEG_MODES
    buffer = io.BytesIO()
    if keep_jpeg:
        image.save(buffer, format="JPEG", quality=95)
        return "image.jpg", buffer.getvalue()
    image.save(buffer, format="PNG")
    return "image.png", buffer.getvalue()


def as_upload_item(item: Any, limit: int) -> Any:
    """``item`` as something the uploader takes: a data URI or a Pillow image becomes a
    ``(filename, bytes)`` pair (bytes alone when a data URI names no accepted type); anything
    else is returned as it is.

    Raises:
        ConfigurationError: a data URI that cannot be decoded.
        FileTooLargeError: a data URI whose data is over ``limit`` (found before decoding it).
    """
    if is_data_uri(item):
        name, data = _decode_data_uri(item, limit)
        return (name, data) if name is not None else data
    if is_pil_image(item):
        return _encode_pil(item)
    return item
