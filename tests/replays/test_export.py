"""export: real MP4 (H.264 via imageio-ffmpeg) and GIF files that decode back to the replay's frames."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from longplay.replays.export import export, plan_rate
from longplay.replays.reader import ReplayReader

iio = pytest.importorskip("imageio.v3")
pytest.importorskip("imageio_ffmpeg")


def test_mp4_decodes(record: Any, tmp_path: Path) -> None:
    path = record(400)
    result = export(path, tmp_path / "clip.mp4", start=100, end=250, speed=2.0, scale=2)
    assert (result.frames, result.fps, result.stride) == (151, 60.0, 1)
    video = iio.imread(result.path)  # decoded by ffmpeg
    assert video.shape == (151, 288, 320, 3)
    with ReplayReader(path) as replay:
        truth = replay.frame_at(150)
    decoded = video[50, ::2, ::2].astype(int)
    assert np.abs(decoded - truth.astype(int)).mean() < 8  # lossy, but the same picture


def test_gif_decodes_exactly(record: Any, tmp_path: Path) -> None:
    path = record(300)
    result = export(path, tmp_path / "clip.gif", start=0, end=300, speed=5.0, scale=1)
    assert result.stride == 3 and result.frames == 101 and result.last_step == 300
    frames = iio.imread(result.path)
    assert frames.shape[0] == 101 and frames.shape[1:3] == (144, 160)
    with ReplayReader(path) as replay:
        assert np.array_equal(frames[10][..., :3], replay.frame_at(30))  # a few colours: an exact palette


@pytest.mark.parametrize(("speed", "fps"), [(1.0, 30.0), (0.5, 15.0), (7.0, 42.0)])
def test_a_gif_plays_at_its_speed(record: Any, tmp_path: Path, speed: float, fps: float) -> None:
    """A GIF counts delays in hundredths of a second: each frame's 33.3 ms at 30 fps was written as 3, and a GIF
    at speed 1 played 11% fast (30 s of steps in 27 s)."""
    from PIL import Image

    result = export(record(300), tmp_path / "clip.gif", start=0, end=300, speed=speed, scale=1)
    assert result.fps == fps
    shown = 0
    with Image.open(result.path) as gif:
        for index in range(gif.n_frames):
            gif.seek(index)
            shown += gif.info["duration"]
    assert abs(shown - 1000 * result.frames / fps) < 10  # to the GIF's hundredth of a second


def test_bad_requests(record: Any, tmp_path: Path) -> None:
    path = record(100)
    with pytest.raises(ValueError, match="invalid range"):
        export(path, tmp_path / "a.mp4", start=50, end=500)
    with pytest.raises(ValueError, match="unknown video format"):
        export(path, tmp_path / "a.avi")
    with pytest.raises(ValueError, match="invalid speed"):
        plan_rate("mp4", 0)


@pytest.mark.parametrize("fmt", ["gif", "mp4", "html"])
def test_never_writes_over_the_replay(record: Any, tmp_path: Path, fmt: str) -> None:
    from longplay.replays.viewer.html_export import export_html

    path = record(60)
    before = path.read_bytes()
    write = export_html if fmt == "html" else (lambda src, out: export(src, out, fmt))
    for out in (path, tmp_path / "other.lpr"):
        with pytest.raises(ValueError, match="refusing to write"):
            write(path, out)
    assert path.read_bytes() == before and not (tmp_path / "other.lpr").exists()
    named_like_output = path.rename(tmp_path / f"run.{fmt}")  # a replay that does not end in .lpr
    with pytest.raises(ValueError, match="over the replay file"):
        write(named_like_output, named_like_output)
    assert named_like_output.read_bytes() == before


def test_never_writes_over_the_wal_of_a_run_being_recorded(tmp_path: Path, recording: Any) -> None:
    """A run still recording keeps its commits in ``-wal`` beside the replay: an export named over it (a typo, a
    completed path) replaced the run's data with a video."""
    rec = recording(tmp_path / "live.lpr", 40)
    try:
        for suffix in ("-wal", "-shm"):
            own = tmp_path / f"live.lpr{suffix}"
            before = own.read_bytes()
            with pytest.raises(ValueError, match="over the replay file"):
                export(rec.path, own, "gif")
            assert own.read_bytes() == before
    finally:
        rec.close()
    with ReplayReader(rec.path) as replay:
        assert replay.num_steps() == 40


def test_a_later_episode_exports_its_own_steps(tmp_path: Path, fakegame: Any) -> None:
    """The range of ``episode=1`` is that episode's: its default end was the first episode's last step (a longer
    episode's video stopped part way, a shorter one's export failed), and its steps were checked against it."""
    import gymnasium as gym

    from longplay.replays.recorder import Recorder

    path = tmp_path / "two.lpr"
    with Recorder(gym.make(fakegame.ENV_ID), path) as rec:
        for seed, steps in ((0, 30), (1, 90)):
            rec.reset(seed=seed)
            for step in range(steps):
                rec.step(step % 8)
    result = export(path, tmp_path / "second.gif", episode=1, speed=2.0, scale=1)
    assert (result.first_step, result.last_step, result.frames) == (0, 90, 46)
    with ReplayReader(path) as replay:
        assert np.array_equal(iio.imread(result.path)[-1][..., :3], replay.frame_at(90, episode=1))
    assert export(path, tmp_path / "late.gif", start=60, episode=1, scale=1).frames == 31
    with pytest.raises(ValueError, match="invalid range 0..60: episode 0 has steps 0..30"):
        export(path, tmp_path / "first.gif", end=60, episode=0)


def test_mp4_whatever_the_suffix(record: Any, tmp_path: Path) -> None:
    path = record(30)
    for name in ("clip", "clip.gif"):  # ffmpeg would guess the container from the name, or give up
        result = export(path, tmp_path / name, "mp4", end=10)
        assert result.frames == 11 and iio.imread(result.path, extension=".mp4").shape[0] == 11


def _interrupted_frames(monkeypatch: pytest.MonkeyPatch, after: int) -> None:
    """The reader's frames stop with Ctrl-C after ``after`` frames (an export interrupted part way)."""
    real = ReplayReader.frames

    def frames(self: ReplayReader, *args: Any, **kwargs: Any) -> Any:
        for i, item in enumerate(real(self, *args, **kwargs)):
            if i == after:
                raise KeyboardInterrupt
            yield item

    monkeypatch.setattr(ReplayReader, "frames", frames)


@pytest.mark.parametrize("fmt", ["gif", "mp4"])
def test_an_interrupted_export_keeps_the_old_file(record: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  fmt: str) -> None:
    """An export stopped part way (Ctrl-C, a full disk, ffmpeg failing) wrote over the file as it went: the
    previous export was lost and a truncated one (a short MP4, an empty GIF) left under its name."""
    path = record(120)
    out = tmp_path / "videos" / f"clip.{fmt}"
    export(path, out, end=20)
    before = out.read_bytes()
    _interrupted_frames(monkeypatch, after=60)
    with pytest.raises(KeyboardInterrupt):
        export(path, out)
    assert out.read_bytes() == before
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no partial file left behind


def test_gif_frames_reach_the_file_as_they_are_drawn(record: Any, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Pillow's GIF writer kept every frame in memory until the last one came (about 90 KB a frame at scale 2:
    gigabytes for a long replay), though the export promises memory that stays flat for any length."""
    path = record(300)
    out = tmp_path / "clip.gif"
    real = ReplayReader.frames
    written_at_200: list[int] = []

    def frames(self: ReplayReader, *args: Any, **kwargs: Any) -> Any:
        for step, frame in real(self, *args, **kwargs):
            if step == 200:
                written_at_200.append(sum(p.stat().st_size for p in tmp_path.iterdir() if p.suffix != ".lpr"))
            yield step, frame

    monkeypatch.setattr(ReplayReader, "frames", frames)
    result = export(path, out, scale=2)
    assert written_at_200 and written_at_200[0] > result.path.stat().st_size // 4  # most of 200 frames on disk
    decoded = iio.imread(result.path)
    assert decoded.shape[0] <= result.frames == 301
    with ReplayReader(path) as replay:
        assert np.array_equal(decoded[-1][::2, ::2, :3], replay.frame_at(300))


def test_an_html_export_on_a_full_disk_keeps_the_old_page(record: Any, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The page was written straight over the old one: a disk that filled part way left half a page."""
    import errno

    from longplay.replays.viewer.html_export import export_html

    path = record(40)
    out = tmp_path / "pages" / "run.html"
    export_html(path, out)
    before = out.read_bytes()
    real = Path.write_text

    def full_disk(self: Path, text: str, *args: Any, **kwargs: Any) -> int:
        real(self, text[:len(text) // 2], *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(OSError, match="No space left") as caught:
        export_html(path, out, end=20)
    assert caught.value.filename == str(out)  # the file asked for, not the partial one
    assert out.read_bytes() == before and [p.name for p in out.parent.iterdir()] == [out.name]


def test_a_gif_of_frames_that_change_nothing_still_plays_at_its_speed(record: Any, tmp_path: Path) -> None:
    """A frame that changed nothing lengthens the one before it: the GIF holds fewer images but lasts as long."""
    from PIL import Image

    # no-ops, and a stride of 161 presses: the fake game's press counter bar wraps at 161, so every frame is the first
    path = record(actions=[8] * 644, env_kwargs={"noop": True})
    result = export(path, tmp_path / "still.gif", speed=268.0, scale=1)
    assert (result.stride, result.frames) == (161, 5)
    with Image.open(result.path) as gif:
        assert gif.n_frames == 1
        shown = gif.info["duration"]
    assert abs(shown - 1000 * result.frames / result.fps) < 10


@pytest.mark.parametrize("speed", [1.0, 0.5, 7.0])
def test_an_mp4_plays_at_its_speed(record: Any, tmp_path: Path, speed: float) -> None:
    """At speed 1 a video shows 30 steps a second; the file's own frame rate says so to every player."""
    result = export(record(120), tmp_path / "clip.mp4", speed=speed, scale=1)
    meta = iio.immeta(result.path)
    assert meta["fps"] == pytest.approx(result.fps, rel=1e-3)
    assert meta["duration"] == pytest.approx(result.frames / result.fps, abs=0.05)
    assert result.fps * result.stride == pytest.approx(30 * speed)
