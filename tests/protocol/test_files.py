"""Magic bytes of every accepted type, and the checks before an upload."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemovideo.protocol.errors import FileTooLargeError, UnsupportedFileTypeError
from nemovideo.protocol.files import (
    DEFAULT_UPLOAD_LIMIT,
    FILE_TYPES,
    HEAD_BYTES,
    MediaKind,
    check_upload,
    sniff,
    type_from_name,
)


def pad(head: bytes) -> bytes:
    return head + bytes(max(0, HEAD_BYTES - len(head)))


HEADS: dict[str, bytes] = {
    "jpg": pad(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01"),
    "jpg-exif": pad(b"\xff\xd8\xff\xe1\x1c\x45Exif\x00\x00"),
    "png": pad(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
    "gif": pad(b"GIF89a\x10\x00\x10\x00"),
    "gif87": pad(b"GIF87a\x10\x00\x10\x00"),
    "webp": pad(b"RIFF\x3a\x00\x00\x00WEBPVP8 "),
    "heic": pad(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"),
    "heic-mif1": pad(b"\x00\x00\x00\x1cftypmif1\x00\x00\x00\x00mif1heicmiaf"),
    "mp4": pad(b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41"),
    "mp4-odd-brand": pad(b"\x00\x00\x00\x18ftypXYZ1\x00\x00\x00\x00isom"),
    "mov": pad(b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  "),
    "mov-old": pad(b"\x00\x00\x00\x08wide\x00\x00\x02\xcfmdat"),
    "avi": pad(b"RIFF\xba\x16\x00\x00AVI LIST"),
    "webm": pad(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm"),
    "mkv": pad(b"\x1a\x45\xdf\xa3\xa3\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x88matroska"),
    "mp3-id3": pad(b"ID3\x04\x00\x00\x00\x00\x00#TSSE"),
    "mp3-frame": pad(b"\xff\xfb\x90\x64\x00"),
    "mp3-mpeg2": pad(b"\xff\xf3\x40\xc4\x00"),
    "wav": pad(b"RIFF\x46\x10\x00\x00WAVEfmt "),
    "m4a": pad(b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00M4A isomiso2"),
    "aac-adts": pad(b"\xff\xf1\x50\x80\x03\xdf\xfc"),
    "aac-adts-mpeg2": pad(b"\xff\xf9\x50\x80\x03\xdf\xfc"),
    "aac-adif": pad(b"ADIF\x00\x00"),
}


@pytest.mark.parametrize(("label", "head"), HEADS.items(), ids=list(HEADS))
def test_magic_bytes_of_every_accepted_type(label: str, head: bytes) -> None:
    expected = label.split("-")[0].replace("gif87", "gif")
    found = sniff(head)
    assert found is not None
    assert found.name == expected
    assert found is FILE_TYPES[expected]


def test_every_accepted_type_is_covered() -> None:
    covered = {label.split("-")[0].replace("gif87", "gif") for label in HEADS}
    assert covered == set(FILE_TYPES)


def test_kinds_and_mimes() -> None:
    assert FILE_TYPES["jpg"].kind is MediaKind.IMAGE
    assert FILE_TYPES["mov"].mime == "video/quicktime"
    assert FILE_TYPES["m4a"].kind is MediaKind.AUDIO
    assert {t.kind for t in FILE_TYPES.values()} == set(MediaKind)


def _real_media() -> dict[str, bytes]:
    av = pytest.importorskip("av")
    np = pytest.importorskip("numpy")

    def audio(fmt: str, codec: str) -> bytes:
        buf = io.BytesIO()
        s16 = codec in ("pcm_s16le", "libmp3lame")
        with av.open(buf, "w", format=fmt) as container:
            stream = container.add_stream(codec, rate=44100)
            samples = np.zeros((1, 1152), dtype=np.int16 if s16 else np.float32)
            frame = av.AudioFrame.from_ndarray(
                samples, format="s16" if s16 else "fltp", layout="mono"
            )
            frame.sample_rate = 44100
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                container.mux(packet)
        return buf.getvalue()

    def video(fmt: str, codec: str) -> bytes:
        buf = io.BytesIO()
        with av.open(buf, "w", format=fmt) as container:
            stream = container.add_stream(codec, rate=24)
            stream.width = stream.height = 32
            stream.pix_fmt = "yuv420p"
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            for packet in [*stream.encode(frame), *stream.encode(None)]:
                container.mux(packet)
        return buf.getvalue()

    return {
        "wav": audio("wav", "pcm_s16le"),
        "mp3": audio("mp3", "libmp3lame"),
        "aac": audio("adts", "aac"),
        "m4a": audio("ipod", "aac"),
        "mp4": video("mp4", "libx264"),
        "mov": video("mov", "libx264"),
        "mkv": video("matroska", "libx264"),
        "webm": video("webm", "libvpx"),
        "avi": video("avi", "mpeg4"),
    }


def test_files_written_by_ffmpeg_muxers() -> None:
    for name, data in _real_media().items():
        assert sniff(data[:HEAD_BYTES]) is FILE_TYPES[name], name
        assert check_upload(f"clip.{name}", data[:HEAD_BYTES], len(data)) is FILE_TYPES[name]


# -- refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "why"),
    [
        (b"Hello, this is just a text file.\n", "looks like text"),
        ("这是一个文本文件，不是视频。".encode(), "looks like text"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "PDF"),
        (b"PK\x03\x04\x14\x00\x00\x00", "ZIP"),
        (b"<!DOCTYPE html><html>", "HTML"),
        (b"", "empty"),
        (b"\x00\x01\x02\x03\x04\x05\x06\x07\x08", "match none"),
        (pad(b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1"), "match none"),
        (b"The wide shot opens on the city at dusk.", "looks like text"),
    ],
)
def test_refusals_say_why_and_what_to_do(head: bytes, why: str) -> None:
    assert sniff(head) is None
    with pytest.raises(UnsupportedFileTypeError) as info:
        check_upload(None, head, len(head))
    message = info.value.message
    assert why in message
    assert "Accepted types: mp4" in message
    assert info.value.code == 4001


def test_unaccepted_extension() -> None:
    with pytest.raises(UnsupportedFileTypeError, match=r"extension \.txt.*Convert"):
        check_upload("notes.txt", HEADS["png"], 10)
    with pytest.raises(UnsupportedFileTypeError, match="no extension"):
        check_upload("README", HEADS["png"], 10)
    with pytest.raises(UnsupportedFileTypeError, match="no extension"):
        check_upload(".png", HEADS["png"], 10)


@pytest.mark.parametrize(
    ("name", "head", "claimed", "actual"),
    [
        ("song.mp3", HEADS["png"], "MP3", "PNG"),
        ("photo.jpg", HEADS["mp4"], "JPG", "MP4"),
        ("clip.mp4", HEADS["wav"], "MP4", "WAV"),
        ("clip.mkv", HEADS["mp4"], "MKV", "MP4"),
        ("voice.m4a", HEADS["mp3-id3"], "M4A", "MP3"),
    ],
)
def test_renamed_files_across_kinds_are_refused(
    name: str, head: bytes, claimed: str, actual: str
) -> None:
    with pytest.raises(UnsupportedFileTypeError) as info:
        check_upload(name, head, 1000)
    message = info.value.message
    assert f"named as {claimed}" in message
    assert f"content is {actual}" in message
    assert f"Rename it to .{actual.lower()}" in message


@pytest.mark.parametrize(
    ("name", "head", "result"),
    [
        ("photo.jpg", HEADS["png"], "png"),  # images: the content wins
        ("photo.png", HEADS["webp"], "webp"),
        ("song.mp3", HEADS["aac-adts"], "aac"),  # raw audio streams: the content wins
        ("clip.mov", HEADS["mp4"], "mov"),  # ISO-BMFF: the name wins
        ("clip.mp4", HEADS["mov"], "mp4"),
        ("voice.m4a", HEADS["mp4"], "m4a"),
        ("clip.webm", HEADS["mkv"], "webm"),  # Matroska: the name wins
        ("clip.mkv", HEADS["webm"], "mkv"),
    ],
)
def test_same_family_disagreements_are_accepted(name: str, head: bytes, result: str) -> None:
    assert check_upload(name, head, 1000).name == result


def test_size_limit() -> None:
    assert check_upload("a.png", HEADS["png"], DEFAULT_UPLOAD_LIMIT).name == "png"
    with pytest.raises(FileTooLargeError) as info:
        check_upload("a.png", HEADS["png"], DEFAULT_UPLOAD_LIMIT + 1)
    assert info.value.code == 4002
    assert info.value.limit == DEFAULT_UPLOAD_LIMIT
    assert "200 MB upload limit" in info.value.message
    assert "compress or trim" in info.value.message
    with pytest.raises(FileTooLargeError, match=r"0\.5 MB upload limit"):
        check_upload("a.mp4", HEADS["mp4"], 600_000, limit=512 * 1024)
    assert check_upload("a.mp4", HEADS["mp4"], None).name == "mp4"  # size unknown


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Holiday.JPEG", "jpg"),
        ("holiday.jpeg", "jpg"),
        ("IMG_0001.JPG", "jpg"),
        ("clip.MoV", "mov"),
        ("dir.with.dots/track.M4A", "m4a"),
        ("C:\\Users\\me\\video.MP4", "mp4"),
        ("archive.tar.gz", None),
        ("noext", None),
    ],
)
def test_type_from_name(name: str, expected: str | None) -> None:
    found = type_from_name(name)
    assert (found.name if found else None) == expected


def test_case_insensitive_extension_in_check_upload() -> None:
    assert check_upload("SUNSET.JPEG", HEADS["jpg"], 1).name == "jpg"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80), st.sampled_from([None, "a.mp4", "b.png", "c.wav", "d.txt"]))
def test_arbitrary_bytes_give_a_type_or_a_4001(head: bytes, name: str | None) -> None:
    found: object
    try:
        found = check_upload(name, head, len(head))
    except UnsupportedFileTypeError as exc:
        found = exc
    if isinstance(found, UnsupportedFileTypeError):
        assert found.code == 4001
    else:
        assert found in FILE_TYPES.values()
