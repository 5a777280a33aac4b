"""What kind of media a file holds, judged by its first bytes, and the checks before an upload.

Pure: the caller reads the first :data:`HEAD_BYTES` bytes of a file and hands them over. The
SDK runs :func:`check_upload` before uploading (so a wrong file fails fast with a useful message
instead of a 4001/4002 from the server) and the sandbox runs it on what it receives.

Example::

    >>> sniff(b"\\x89PNG\\r\\n\\x1a\\n" + bytes(56)).name
    'png'
    >>> check_upload("cat.jpg", b"\\xff\\xd8\\xff\\xe0" + bytes(60), 48_000).mime
    'image/jpeg'
"""

from __future__ import annotations

import enum

import attrs

from nemovideo.protocol.errors import (
    ACCEPTED_EXTENSIONS,
    FileTooLargeError,
    UnsupportedFileTypeError,
)

__all__ = [
    "DEFAULT_UPLOAD_LIMIT",
    "FILE_TYPES",
    "HEAD_BYTES",
    "FileType",
    "MediaKind",
    "check_upload",
    "sniff",
    "type_from_name",
]

#: How many leading bytes :func:`sniff` looks at (more are ignored, fewer may not be enough).
HEAD_BYTES = 64

#: The upload limit of the image-to-video product (API.md: 200 MB; some copies say 500 MB).
DEFAULT_UPLOAD_LIMIT = 200 * 1024 * 1024

_MB = 1024 * 1024


class MediaKind(enum.Enum):
    """The broad kind of a medium, as the API's ``file_type`` names it."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"


@attrs.frozen
class FileType:
    """An accepted media type.

    Attributes:
        name: the canonical extension, without the dot (``jpg``, ``mp4``, ``m4a``, ...).
        kind: image, video or audio.
        mime: the MIME type to send with the upload.
    """

    name: str
    kind: MediaKind
    mime: str


def _types() -> dict[str, FileType]:
    image, video, audio = MediaKind.IMAGE, MediaKind.VIDEO, MediaKind.AUDIO
    table = [
        ("jpg", image, "image/jpeg"),
        ("png", image, "image/png"),
        ("webp", image, "image/webp"),
        ("heic", image, "image/heic"),
        ("gif", image, "image/gif"),
        ("mp4", video, "video/mp4"),
        ("mov", video, "video/quicktime"),
        ("avi", video, "video/x-msvideo"),
        ("webm", video, "video/webm"),
        ("mkv", video, "video/x-matroska"),
        ("mp3", audio, "audio/mpeg"),
        ("wav", audio, "audio/wav"),
        ("m4a", audio, "audio/mp4"),
        ("aac", audio, "audio/aac"),
    ]
    return {name: FileType(name, kind, mime) for name, kind, mime in table}


#: Every accepted type by canonical extension.
FILE_TYPES: dict[str, FileType] = _types()

_ALIASES = {"jpeg": "jpg"}

# Files whose extension and content may disagree inside one family. For images and raw audio
# streams the content is reliable and wins. For containers (ISO-BMFF, Matroska) the extension
# wins: a brand such as `isom` or a DocType says little about which streams are inside.
_CONTENT_WINS = ({"jpg", "png", "webp", "heic", "gif"}, {"mp3", "aac"})
_NAME_WINS = ({"mp4", "mov", "m4a"}, {"mkv", "webm"})

_HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"}
_HEIF_GENERIC = {b"mif1", b"msf1", b"mif2", b"miaf"}
_AVIF_BRANDS = {b"avif", b"avis", b"avio"}  # HEIF with AV1: not accepted by the API
_OTHER_BRANDS = {b"crx ", b"jp2 ", b"jpx ", b"jpm ", b"mjp2"}  # ISO-BMFF, but not a video
_M4A_BRANDS = {b"M4A ", b"M4B ", b"M4P "}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
    b"mp41", b"mp42", b"mp71", b"avc1", b"av01", b"hvc1", b"dash", b"M4V ", b"M4VH",
    b"M4VP", b"MSNV", b"NDAS", b"XAVC", b"f4v ", b"mmp4", b"3gp4", b"3gp5", b"3gp6",
    b"3g2a", b"cmfc", b"cmf2",
}  # fmt: skip
_RIFF_FORMS = {b"WEBP": "webp", b"WAVE": "wav", b"AVI ": "avi"}
# QuickTime files written before ISO-BMFF may start with any of these instead of `ftyp`.
_QT_FIRST_BOXES = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def _bmff_type(head: bytes) -> FileType | None:
    box_size = int.from_bytes(head[0:4], "big")
    major = head[8:12]
    end = min(len(head), box_size) if box_size >= 16 else len(head)
    compatible = [head[i : i + 4] for i in range(16, end - 3, 4)]
    brands = {major, *compatible}
    if major in _HEIC_BRANDS:
        return FILE_TYPES["heic"]
    if major in _HEIF_GENERIC:
        if brands & _AVIF_BRANDS and not brands & _HEIC_BRANDS:
            return None
        return FILE_TYPES["heic"]
    if major in _AVIF_BRANDS or major in _OTHER_BRANDS:
        return None
    if major == b"qt  ":
        return FILE_TYPES["mov"]
    if major in _M4A_BRANDS:
        return FILE_TYPES["m4a"]
    if major in _MP4_BRANDS:
        return FILE_TYPES["mp4"]
    for brand in compatible:  # an unusual major brand: the first telling compatible one
        if brand in _HEIC_BRANDS:
            return FILE_TYPES["heic"]
        if brand == b"qt  ":
            return FILE_TYPES["mov"]
        if brand in _M4A_BRANDS:
            return FILE_TYPES["m4a"]
        if brand in _AVIF_BRANDS or brand in _OTHER_BRANDS:
            return None
    # Cameras and apps invent major brands freely; the structure is still an MP4.
    return FILE_TYPES["mp4"]


def _mpeg_audio_type(head: bytes) -> FileType | None:
    """ADTS AAC or MPEG audio (MP3), from a frame header at the very start."""
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    b1, b2 = head[1], head[2]
    if b1 & 0xF6 == 0xF0:  # 12-bit sync and layer 0: ADTS (FF F1, FF F9, ...)
        return FILE_TYPES["aac"] if (b2 >> 2) & 0x0F < 13 else None
    version, layer = (b1 >> 3) & 0x03, (b1 >> 1) & 0x03
    bitrate, rate = b2 >> 4, (b2 >> 2) & 0x03
    if version == 0b01 or layer == 0 or bitrate == 0x0F or rate == 0x03:
        return None  # reserved values: not an MPEG audio frame
    return FILE_TYPES["mp3"]


def sniff(head: bytes) -> FileType | None:
    """The accepted media type of a file, judged by its first bytes (magic numbers).

    Give at least :data:`HEAD_BYTES` bytes when the file has them. Returns ``None`` for anything
    that is not one of the accepted types (text, PDF, AVIF, an unknown binary, ...).

    Example::

        >>> sniff(b"GIF89a" + bytes(10)).kind
        <MediaKind.IMAGE: 'image'>
    """
    head = bytes(head[:HEAD_BYTES])
    if head.startswith(b"\xff\xd8\xff"):
        return FILE_TYPES["jpg"]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FILE_TYPES["png"]
    if head.startswith((b"GIF87a", b"GIF89a")):
        return FILE_TYPES["gif"]
    if head[0:4] in (b"RIFF", b"RF64") and len(head) >= 12:
        return FILE_TYPES.get(_RIFF_FORMS.get(head[8:12], ""))
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return _bmff_type(head)
    if len(head) >= 8 and head[4:8] in _QT_FIRST_BOXES and head[0] < 0x20:
        # A box size starts with a small byte (< 512 MB); text such as "The wide shot" does not.
        return FILE_TYPES["mov"]
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return FILE_TYPES["webm"] if b"webm" in head else FILE_TYPES["mkv"]
    if head.startswith(b"ID3"):
        return FILE_TYPES["mp3"]
    if head.startswith(b"ADIF"):
        return FILE_TYPES["aac"]
    return _mpeg_audio_type(head)


def _extension(filename: str) -> str:
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem, dot, ext = base.rpartition(".")
    return ext.lower() if dot and stem else ""


def type_from_name(filename: str) -> FileType | None:
    """The accepted type a file name's extension claims (case-insensitive; ``jpeg`` is ``jpg``).

    Example::

        >>> type_from_name("Holiday.JPEG").name
        'jpg'
        >>> type_from_name("notes.txt") is None
        True
    """
    ext = _extension(filename)
    return FILE_TYPES.get(_ALIASES.get(ext, ext))


def _accepted_list() -> str:
    return ", ".join(ACCEPTED_EXTENSIONS)


def _looks_like_text(sample: bytes) -> bool:
    try:
        text = sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(sample) - 3:  # not just a character cut off at the end
            return False
        text = sample[: exc.start].decode("utf-8")
    return bool(text) and all(ch.isprintable() or ch in "\t\r\n" for ch in text)


def _describe(head: bytes) -> str:
    if not head:
        return "it is empty"
    sample = head[:HEAD_BYTES]
    if sample.lstrip().startswith(b"<"):
        return "it looks like HTML or XML"
    if sample.startswith(b"%PDF"):
        return "it is a PDF document"
    if sample.startswith(b"PK\x03\x04"):
        return "it is a ZIP archive"
    if _looks_like_text(sample):
        return "it looks like text"
    return "its first bytes match none of them"


def _same_family(a: str, b: str, families: tuple[set[str], ...]) -> bool:
    return any(a in family and b in family for family in families)


def check_upload(
    filename: str | None,
    head: bytes,
    size: int | None,
    *,
    limit: int = DEFAULT_UPLOAD_LIMIT,
) -> FileType:
    """Check a file before it is uploaded and return its type.

    Args:
        filename: the file's name, or ``None`` for raw bytes (then the content alone decides).
        head: the file's first :data:`HEAD_BYTES` bytes (or all of it when shorter).
        size: the file's size in bytes, when known.
        limit: the upload limit in bytes.

    Content wins over a name within a family whose content is reliable: a PNG saved as
    ``.jpg`` is accepted as ``png``, an ADTS AAC stream named ``.mp3`` as ``aac``. Within the
    ISO-BMFF family (mp4, mov, m4a) and the Matroska family (mkv, webm) the name wins, as the
    container's brand says little about its streams. Anything else that disagrees is refused.

    Raises:
        UnsupportedFileTypeError: (code 4001) the extension is not accepted, the content is no
            accepted media, or the extension and the content are different kinds of media.
        FileTooLargeError: (code 4002) ``size`` is over ``limit``.

    Example::

        >>> check_upload("clip.mov", b"\\x00\\x00\\x00\\x18ftypisom" + bytes(52), 10_000).name
        'mov'
    """
    label = f"'{filename}'" if filename is not None else "The data"
    claimed: FileType | None = None
    if filename is not None:
        claimed = type_from_name(filename)
        if claimed is None:
            ext = _extension(filename)
            what = f"extension .{ext}" if ext else "no extension"
            raise UnsupportedFileTypeError(
                f"{label} has {what}, which NemoVideo does not accept. "
                f"Accepted types: {_accepted_list()}. Convert the file to one of them.",
                code=4001,
            )
    found = sniff(head)
    if found is None:
        raise UnsupportedFileTypeError(
            f"{label} does not look like any accepted type ({_describe(head)}). "
            f"Accepted types: {_accepted_list()}. Check that it is the right file and not "
            "damaged, or convert it.",
            code=4001,
        )
    if claimed is not None and claimed != found:
        if _same_family(claimed.name, found.name, _NAME_WINS):
            found = claimed
        elif not _same_family(claimed.name, found.name, _CONTENT_WINS):
            raise UnsupportedFileTypeError(
                f"{label} is named as {claimed.name.upper()} but its content is "
                f"{found.name.upper()} ({found.kind.value}). Rename it to .{found.name} if "
                "that is what it is, or upload the intended file.",
                code=4001,
            )
    if size is not None and size > limit:
        raise FileTooLargeError(
            f"{label} is {size / _MB:.1f} MB, over the {limit / _MB:g} MB upload limit: "
            "compress or trim it, or pass a URL.",
            code=4002,
            limit=limit,
        )
    return found
