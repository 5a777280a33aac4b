"""Videos on disk: saved atomically and durably, never over a file unless asked; downloads
flushed before and after their rename; a notebook player that works wherever the file is."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from nemovideo import NemoClient, Video
from nemovideo.transport import durable

MP4 = b"\x00\x00\x00\x18ftypisom" + bytes(200)


def video(path: Path | None = None, data: bytes | None = None, size: int | None = None) -> Video:
    size = size if size is not None else len(data or MP4)
    return Video(size=size, session_id="s1", task_id="t1", job_id="render_1", path=path, data=data)


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What was flushed to disk, in order: ``file:<name>`` or ``folder:<path>``."""
    seen: list[str] = []
    real = os.fsync

    def record(fd: int) -> None:
        target = Path(os.readlink(f"/proc/self/fd/{fd}"))
        seen.append(f"folder:{target}" if target.is_dir() else f"file:{target.name}")
        real(fd)

    monkeypatch.setattr(os, "fsync", record)
    return seen


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name descriptors")
def test_save_writes_beside_flushes_renames_and_flushes_the_folder(
    tmp_path: Path, fsyncs: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    renames: list[tuple[str, str]] = []
    real_link = os.link

    def link(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        renames.append((Path(src).name, Path(dst).name))
        real_link(src, dst)

    monkeypatch.setattr(os, "link", link)
    dest = tmp_path / "out.mp4"
    assert video(data=MP4).save(dest) == dest
    assert dest.read_bytes() == MP4
    ((temp_name, final_name),) = renames
    assert temp_name.startswith(".out.mp4.") and temp_name.endswith(".part")
    assert final_name == "out.mp4"
    assert fsyncs == [f"file:{temp_name}", f"folder:{tmp_path}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]  # no temp left


def test_save_refuses_to_overwrite_unless_asked(tmp_path: Path) -> None:
    dest = tmp_path / "out.mp4"
    dest.write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="overwrite=True"):
        video(data=MP4).save(dest)
    assert dest.read_bytes() == b"precious"
    video(data=MP4).save(dest, overwrite=True)
    assert dest.read_bytes() == MP4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mp4"]


def test_save_copies_a_file_into_a_folder_and_accepts_its_own_place(tmp_path: Path) -> None:
    first = tmp_path / "first.mp4"
    first.write_bytes(MP4)
    keep = tmp_path / "keep"
    keep.mkdir()
    on_disk = video(path=first)
    assert on_disk.save(keep) == keep / "first.mp4"
    assert (keep / "first.mp4").read_bytes() == MP4
    assert on_disk.save(first) == first  # saving where it already is: nothing to do


def test_a_failed_save_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space"):
        video(data=MP4).save(tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to name descriptors")
async def test_a_download_is_flushed_before_its_rename_and_the_folder_after(
    nemo_client: NemoClient, tmp_path: Path, fsyncs: list[str]
) -> None:
    from nemovideo.protocol.models import RenderStatus

    examples = Path(__file__).resolve().parents[2] / "examples" / "assets"
    clip = await nemo_client.animate(examples / "sunset.jpg", "waves")  # in memory
    assert clip.data is not None
    fsyncs.clear()  # (the journal flushes its lines too)
    job = await nemo_client.render.get(clip.job_id)
    assert job.status is RenderStatus.COMPLETED
    out = tmp_path / "dl" / "clip.mp4"
    out.parent.mkdir()
    await nemo_client.render.download(job, out)
    assert out.stat().st_size == clip.size
    assert [entry.split(":")[0] for entry in fsyncs] == ["file", "folder"]
    assert fsyncs[0].startswith("file:.clip.mp4.") and fsyncs[1] == f"folder:{out.parent}"


def test_the_player_plays_a_file_under_the_notebook_folder_from_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "videos").mkdir()
    path = tmp_path / "videos" / "a b.mp4"
    path.write_bytes(MP4)
    page = video(path=path)._repr_html_()
    assert 'src="videos/a b.mp4"' in page and "<video" in page


def test_the_player_embeds_a_file_outside_the_notebook_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = tmp_path / "notebook"
    notebook.mkdir()
    monkeypatch.chdir(notebook)
    path = tmp_path / "elsewhere.mp4"  # a path the notebook server cannot serve
    path.write_bytes(MP4)
    page = video(path=path)._repr_html_()
    assert f'src="data:video/mp4;base64,{base64.b64encode(MP4).decode()}"' in page
    assert str(path) not in page


def test_a_large_file_outside_says_where_it_is_instead_of_a_broken_player(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = tmp_path / "notebook"
    notebook.mkdir()
    monkeypatch.chdir(notebook)
    path = tmp_path / "big.mp4"
    with open(path, "wb") as fh:
        fh.truncate(60 * 1024 * 1024)  # sparse: no 60 MB written
    page = video(path=path, size=60 * 1024 * 1024)._repr_html_()
    assert "<video" not in page
    assert str(path) in page and "60.0 MB" in page


def test_the_player_embeds_a_video_in_memory() -> None:
    assert "data:video/mp4;base64," in video(data=MP4)._repr_html_()


def test_write_file_atomically_refuses_a_name_taken_meanwhile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "race.mp4"
    real = os.fsync

    def someone_else_writes(fd: int) -> None:
        real(fd)
        if not dest.exists():
            dest.write_bytes(b"theirs")

    monkeypatch.setattr(os, "fsync", someone_else_writes)
    with pytest.raises(FileExistsError, match="appeared"):
        durable.write_file_atomically(dest, MP4)
    assert dest.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["race.mp4"]
