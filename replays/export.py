"""Export a stretch of a replay to MP4 (H.264 through the ffmpeg that ``imageio-ffmpeg`` ships) or GIF.

Frames are re-rendered from the nearest keyframe, streamed to the encoder one at a time (memory stays flat
for any length). The file appears whole or not at all: an export stopped part way keeps the previous one. At
``speed`` 1 the video plays :data:`STEPS_PER_SECOND` steps a second; faster speeds keep every n-th frame once
the frame rate reaches the format's ceiling.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from longplay.replays.files import write_atomically
from longplay.replays.reader import EnvFactory, ReplayReader
from longplay.replays.schema import EXTENSION, ReplayError

#: Steps shown per second of video at speed 1 (the env's ``render_fps``).
STEPS_PER_SECOND = 30
#: Highest frame rate written per format (GIF players ignore delays under 20 ms).
MAX_FPS = {"mp4": 60.0, "gif": 50.0}
FORMATS = tuple(MAX_FPS)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export` wrote."""

    path: Path
    fmt: str
    frames: int
    fps: float
    first_step: int
    last_step: int
    stride: int


def plan_rate(fmt: str, speed: float) -> tuple[float, int]:
    """(frames per second, steps per frame) for ``speed`` times real time in format ``fmt``.

    >>> plan_rate("mp4", 1.0), plan_rate("mp4", 10.0), plan_rate("gif", 0.5)
    ((30.0, 1), (60.0, 5), (15.0, 1))
    """
    if not speed > 0 or not math.isfinite(speed):
        raise ValueError(f"invalid speed {speed!r}; must be a positive number")
    steps_per_second = STEPS_PER_SECOND * speed
    stride = max(1, math.ceil(steps_per_second / MAX_FPS[fmt] - 1e-9))
    return steps_per_second / stride, stride


def check_output(replay: str | os.PathLike[str], out: str | os.PathLike[str]) -> None:
    """Raises ``ValueError`` when writing ``out`` could destroy a replay: ``out`` is the replay itself (or its
    ``-wal`` / ``-shm``), is named like a replay (``*.lpr``), or is a folder."""
    out, replay = Path(out), Path(replay)
    if out.name.endswith(EXTENSION):
        raise ValueError(f"refusing to write an export to {out}: {EXTENSION} is the replay extension "
                         "(name the output .mp4, .gif, .html or .state)")
    for own in (replay, Path(f"{replay}-wal"), Path(f"{replay}-shm")):
        if out.exists() and own.exists() and os.path.samefile(out, own):
            raise ValueError(f"refusing to write an export over the replay file {own}")
    if out.is_dir():
        raise ValueError(f"cannot write {out}: it is a folder (name a file)")


def _scaled(frames: Iterator[tuple[int, np.ndarray]], scale: int) -> Iterator[np.ndarray]:
    for _, frame in frames:
        yield np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1) if scale > 1 else frame


def export(
    path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    fmt: str | None = None,
    start: int = 0,
    end: int | None = None,
    speed: float = 1.0,
    *,
    episode: int = 0,
    scale: int = 2,
    make_env: EnvFactory | None = None,
    progress: bool = False,
) -> ExportResult:
    """Renders steps ``start`` .. ``end`` (inclusive; default the last) of ``episode`` to ``out``.

    Args:
        path: The replay.
        out: The video file to write (its folder is made).
        fmt: ``"mp4"`` or ``"gif"``; default from the suffix of ``out``.
        start: First step shown.
        end: Last step shown; default the episode's last.
        speed: Times real time (:data:`STEPS_PER_SECOND` steps a second at 1).
        episode: Which episode of the replay.
        scale: Integer upscaling of the 160x144 screen (nearest neighbour, so pixels stay sharp).
        make_env: Builds the env when the header's env id cannot be made here.
        progress: Show a progress bar.
    """
    out = Path(out)
    fmt = (fmt or out.suffix.lstrip(".")).lower()
    if fmt not in FORMATS:
        raise ValueError(f"unknown video format {fmt!r}; valid: {', '.join(FORMATS)}")
    if not isinstance(scale, int) or not 1 <= scale <= 16:
        raise ValueError(f"invalid scale {scale!r}; must be an int in 1..16")
    fps, stride = plan_rate(fmt, speed)
    check_output(path, out)
    with ReplayReader(path, make_env=make_env) as replay:
        last = replay.num_steps(episode)
        end = last if end is None else end
        if not 0 <= start <= end <= last:
            raise ValueError(f"invalid range {start}..{end}: episode {episode} has steps 0..{last}")
        count = (end - start) // stride + 1
        frames = replay.frames(start, end, episode, stride)
        if progress:
            from tqdm import tqdm

            frames = iter(tqdm(frames, total=count, unit="frame", desc=f"export {fmt}", leave=False))
        out.parent.mkdir(parents=True, exist_ok=True)
        written = 0

        def write(partial: Path) -> None:
            nonlocal written
            scaled = _scaled(frames, scale)
            written = _write_mp4(partial, scaled, fps, out) if fmt == "mp4" else _write_gif(partial, scaled, fps)

        write_atomically(out, write)  # stopped part way (Ctrl-C, a full disk, ffmpeg failing): the old out stays
    return ExportResult(out, fmt, written, fps, start, start + (written - 1) * stride, stride)


def _write_mp4(partial: Path, frames: Iterator[np.ndarray], fps: float, out: Path) -> int:
    try:
        import imageio_ffmpeg
    except ImportError:
        raise ReplayError("MP4 export needs imageio-ffmpeg: pip install 'longplay[media]'") from None
    first = next(frames)
    height, width = first.shape[:2]
    # "-f mp4": the container is MP4 whatever the file is called (ffmpeg would guess it from the suffix).
    writer = imageio_ffmpeg.write_frames(
        str(partial), (width, height), fps=fps, codec="libx264", pix_fmt_in="rgb24", pix_fmt_out="yuv420p",
        quality=8, macro_block_size=16, ffmpeg_log_level="error",
        output_params=["-movflags", "+faststart", "-f", "mp4"])
    count = 0
    try:
        try:
            writer.send(None)
            for frame in _chain(first, frames):
                writer.send(np.ascontiguousarray(frame))
                count += 1
        finally:
            writer.close()
    except (OSError, RuntimeError) as e:  # ffmpeg exited: its own message is on stderr above this one
        reason = next((line for line in str(e).splitlines() if line.strip()), type(e).__name__)
        raise ReplayError(f"ffmpeg could not write {out}: {reason}") from None
    return count


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


def _write_gif(partial: Path, frames: Iterator[np.ndarray], fps: float) -> int:
    """Writes each frame as it comes (Pillow's own writer keeps every frame until the last one): a frame is the
    rectangle that changed since the previous one, with its own palette (the screens use a handful of colours, so
    an adaptive palette holds them exactly); a frame that changed nothing lengthens the one before it."""
    try:
        from PIL import Image
    except ImportError:
        raise ReplayError("GIF export needs Pillow: pip install 'longplay[media]'") from None
    delay = 1000 / fps  # milliseconds a frame
    # A GIF counts delays in hundredths of a second: each frame's is rounded so that the frames so far end when
    # they should (a flat 33 ms at 30 fps was 3 hundredths, and a GIF played 11% fast).
    end_ms, written_cs = 0.0, 0

    def hundredths(ms: float) -> int:
        nonlocal end_ms, written_cs
        end_ms += ms
        cs = round(end_ms / 10) - written_cs
        written_cs += cs
        return cs

    count = 0
    previous: np.ndarray | None = None
    pending: tuple[int, int, np.ndarray] | None = None  # the last changed rectangle (top, left, pixels) not written
    pending_ms = 0.0
    with open(partial, "wb") as fp:
        for frame in frames:
            count += 1
            if previous is None:
                height, width = frame.shape[:2]
                # GIF89a, no global colour table (each frame brings its own), then loop forever (NETSCAPE2.0).
                fp.write(b"GIF89a" + _u16(width) + _u16(height) + b"\x00\x00\x00"
                         + b"!\xff\x0bNETSCAPE2.0\x03\x01" + _u16(0) + b"\x00")
                changed = (0, 0, frame)
            else:
                rows, cols = np.nonzero((frame != previous).any(axis=-1))
                if not len(rows):
                    pending_ms += delay
                    continue
                top, left = rows.min(), cols.min()
                changed = (int(top), int(left), frame[top:rows.max() + 1, left:cols.max() + 1])
            if pending is not None:
                fp.write(_gif_frame(Image, *pending, hundredths(pending_ms)))
            pending, pending_ms, previous = changed, delay, frame
        if pending is not None:
            fp.write(_gif_frame(Image, *pending, hundredths(pending_ms)))
        fp.write(b";")
    return count


def _u16(value: int) -> bytes:
    return int(value).to_bytes(2, "little")


def _gif_frame(image: Any, top: int, left: int, pixels: np.ndarray, hundredths: int) -> bytes:
    """One GIF frame: a graphic control extension (the delay, ``hundredths`` of a second) and the image of ``pixels``
    placed at (left, top) with a local colour table, taken from the single-image GIF Pillow writes of them."""
    buffer = io.BytesIO()
    image.fromarray(np.ascontiguousarray(pixels)).convert("P", palette=image.Palette.ADAPTIVE).save(
        buffer, format="GIF")
    data = buffer.getvalue()
    packed = data[10]  # logical screen descriptor: global colour table flag and size
    pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    table, size = data[13:pos], packed & 7
    while data[pos] == 0x21:  # an extension Pillow wrote: skip its sub-blocks
        pos += 2
        while data[pos]:
            pos += data[pos] + 1
        pos += 1
    if data[pos] != 0x2C:
        raise ReplayError(f"GIF export: Pillow wrote an image this writer cannot read (byte {data[pos]:#x})")
    local = data[pos + 9]  # the image descriptor's flags: a local colour table, interlacing (kept)
    descriptor_end = pos + 10
    if local & 0x80:  # Pillow put the colours in a local table instead
        size = local & 7
        table = data[descriptor_end:descriptor_end + (3 << (size + 1))]
        descriptor_end += len(table)
    height, width = pixels.shape[:2]
    control = b"!\xf9\x04\x00" + _u16(hundredths) + b"\x00\x00"
    descriptor = b"," + _u16(left) + _u16(top) + _u16(width) + _u16(height) + bytes([0x80 | local & 0x40 | size])
    return control + descriptor + table + data[descriptor_end:-1]  # the image data, without Pillow's trailer
