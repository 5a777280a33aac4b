"""A Pillow image and a ``data:`` URI are images like files: checked by content and size, then
uploaded and animated."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest

from nemovideo import (
    ConfigurationError,
    FileTooLargeError,
    NemoClient,
    UnsupportedFileTypeError,
)
from nemovideo.protocol.inputs import as_upload_item, is_data_uri, is_pil_image
from nemovideo.resources.uploads import UploadResource

Image = pytest.importorskip("PIL.Image")

ASSETS = Path(__file__).resolve().parents[2] / "examples" / "assets"
JPEG = (ASSETS / "sunset.jpg").read_bytes()
PNG = (ASSETS / "portrait.png").read_bytes()


def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def test_a_data_uri_becomes_named_bytes() -> None:
    assert as_upload_item(data_uri(JPEG), 10**8) == ("image.jpg", JPEG)
    assert as_upload_item(data_uri(PNG, "image/png"), 10**8) == ("image.png", PNG)
    # No media type (or an unknown one): the content alone decides.
    assert as_upload_item("data:;base64," + base64.b64encode(PNG).decode(), 10**8) == PNG
    wrapped = "data:image/png;base64," + "\n".join(base64.encodebytes(PNG).decode().split())
    assert as_upload_item(wrapped, 10**8) == ("image.png", PNG)
    assert is_data_uri("DATA:image/png;base64,") and not is_data_uri("photo.png")


def test_a_pil_image_is_encoded_keeping_a_jpeg_a_jpeg() -> None:
    photo = Image.open(io.BytesIO(JPEG))
    name, data = as_upload_item(photo, 10**8)
    assert name == "image.jpg" and data[:3] == b"\xff\xd8\xff"
    drawn = Image.new("RGBA", (64, 48), (200, 100, 50, 255))
    name, data = as_upload_item(drawn, 10**8)
    assert name == "image.png" and data.startswith(b"\x89PNG")
    assert is_pil_image(drawn) and not is_pil_image(JPEG)


def test_they_are_checked_like_files(tmp_path: Path) -> None:
    check = UploadResource.check
    uploads = NemoClient("http://127.0.0.1:9", client_id="x", journal_path=None).upload
    assert check(uploads, data_uri(JPEG)) == ["image.jpg"]
    assert check(uploads, Image.new("RGB", (8, 8))) == ["image.png"]
    with pytest.raises(UnsupportedFileTypeError, match="looks like text"):
        check(uploads, data_uri(b"hello, this is not an image", "text/plain"))
    with pytest.raises(UnsupportedFileTypeError):  # named PNG, content text: refused
        check(uploads, data_uri(b"hello, this is not an image", "image/png"))
    with pytest.raises(ConfigurationError, match="base64 is invalid"):
        check(uploads, "data:image/png;base64,@@@not base64@@@")
    with pytest.raises(ConfigurationError, match="no ','"):
        check(uploads, "data:image/png;base64")


def test_an_oversized_data_uri_is_refused_before_it_is_decoded() -> None:
    small = NemoClient("http://127.0.0.1:9", client_id="x", journal_path=None, upload_limit=1000)
    huge = data_uri(JPEG + bytes(5000))
    with pytest.raises(FileTooLargeError):
        small.upload.check(huge)
    with pytest.raises(FileTooLargeError):
        small.upload.check(Image.new("RGB", (400, 400), (1, 2, 3)).effect_spread(5))


@pytest.mark.nemo_sandbox(initial_credits=1_000)
async def test_animate_takes_a_pil_image_and_a_data_uri(
    nemo_client: NemoClient, tmp_path: Path
) -> None:
    from_pil = await nemo_client.animate(Image.open(ASSETS / "sunset.jpg"), "waves")
    from_uri = await nemo_client.animate(data_uri(PNG, "image/png"), "a smile")
    assert from_pil.size > 1000 and from_uri.size > 1000
    session = await nemo_client.session.create()
    result = await nemo_client.upload.files(session.session_id, data_uri(JPEG))
    assert [f.file_type for f in result.files] == ["image"]
    # The journal names the data, not megabytes of base64.
    journal = nemo_client.journal
    assert journal is not None
    images = [flow.get("image") for flow in journal.flows()]
    assert "<data URI>" in images and not any("base64," in str(i) for i in images)


def test_a_batch_names_a_data_uri_item_video_plainly(tmp_path: Path) -> None:
    from nemovideo.workflows.batch import _item

    item = _item(data_uri(JPEG), tmp_path, 3)
    assert Path(str(item.output)).name == "0003-video.mp4"
