"""``longplay export REPLAY --html``: the viewer's run page as one self-contained HTML file to share.

The page is the server's ``run.html`` with the style sheet and script inlined and the run's data embedded as
JSON: the run facts and milestones, frames as PNG every ``stride`` steps (at most ``max_frames`` of them),
the trajectory and area maps, every LM turn and memory snapshot of the episode, the actions and rewards. It
opens from disk in any browser with no server and no network (its Content-Security-Policy forbids loading
anything), and steps between embedded frames still show the turn and memory of that exact step.
"""

from __future__ import annotations

import base64
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from longplay.replays.export import check_output
from longplay.replays.files import write_atomically
from longplay.replays.reader import EnvFactory, ReplayReader
from longplay.replays.viewer import STATIC_DIR
from longplay.replays.viewer.data import (
    area_png_impl,
    build_memory_indexes,
    build_turn_indexes,
    card_components,
    finite,
    run_impl,
    trajectory_impl,
    turn_json,
)
from longplay.replays.viewer.png import encode_png

#: Default most frames embedded (a frame is about 1-2 KB of base64 PNG).
DEFAULT_MAX_FRAMES = 2000
EMBED_CSP = ("default-src 'none'; img-src data: blob:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
             "base-uri 'none'; form-action 'none'")
_STYLE_TAG = '<link rel="stylesheet" href="/static/style.css">'
_SCRIPT_TAG = '<script src="/static/app.js"></script>'
_CHARSET_TAG = '<meta charset="utf-8">'


@dataclass(frozen=True)
class HtmlExportResult:
    """What :func:`export_html` wrote."""

    path: Path
    frames: int
    stride: int
    first_step: int
    last_step: int
    size_bytes: int


def embed_json(value: Any) -> str:
    """JSON safe to place inside a ``<script type="application/json">`` element (no ``<``, ``>`` or ``&``
    survive literally, so replay text cannot close the element)."""
    text = json.dumps(finite(value), allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(data: dict[str, Any]) -> str:
    """``run.html`` with the style sheet, the script and ``data`` inlined."""
    page = (STATIC_DIR / "run.html").read_text(encoding="utf-8")
    css = (STATIC_DIR / "style.css").read_text(encoding="utf-8")
    script = (STATIC_DIR / "app.js").read_text(encoding="utf-8")
    for tag in (_STYLE_TAG, _SCRIPT_TAG, _CHARSET_TAG):
        if tag not in page:
            raise RuntimeError(f"run.html lacks {tag!r}: the export template and the page have parted")
    if "</script" in script.lower() or "</style" in css.lower():
        raise RuntimeError("the viewer's script or style sheet cannot be inlined")
    page = page.replace(_CHARSET_TAG, f'{_CHARSET_TAG}\n<meta http-equiv="Content-Security-Policy" '
                                      f'content="{EMBED_CSP}">', 1)
    page = page.replace(_STYLE_TAG, f"<style>\n{css}\n</style>", 1)
    return page.replace(_SCRIPT_TAG, f'<script id="longplay-embed" type="application/json">{embed_json(data)}'
                                     f"</script>\n<script>\n{script}\n</script>", 1)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def export_html(path: str | os.PathLike[str], out: str | os.PathLike[str], *, episode: int = 0, start: int = 0,
                end: int | None = None, max_frames: int = DEFAULT_MAX_FRAMES, make_env: EnvFactory | None = None,
                progress: bool = False) -> HtmlExportResult:
    """Writes the run page of steps ``start`` .. ``end`` of ``episode`` of the replay at ``path`` to ``out``.

    Args:
        path: The replay.
        out: The HTML file to write (its folder is made).
        episode: Which episode.
        start: First step shown.
        end: Last step shown (default: the episode's last).
        max_frames: Most frames embedded (at least 2): every ``stride``-th step from ``start``, and ``end``.
        make_env: Builds the env when the header's env id cannot be made here.
        progress: Show a progress bar while rendering frames.
    """
    if not isinstance(max_frames, int) or max_frames < 2:
        raise ValueError(f"invalid max_frames {max_frames!r}; must be an int >= 2 (the first and the last step "
                         "are always embedded)")
    out = Path(out)
    check_output(path, out)
    # One snapshot: a run still recording as one commit left it (its frames, actions, turns and page agree).
    with ReplayReader(path, make_env=make_env) as reader, reader.snapshot():
        info = reader.episode(episode)
        last = info.recorded_steps
        end = last if end is None else end
        if not 0 <= start <= end <= last:
            raise ValueError(f"invalid range {start}..{end}: episode {episode} has steps 0..{last}")
        # Every stride-th step from start, and the last step: at most max_frames in all.
        stride = max(1, math.ceil((end - start) / (max_frames - 1)))
        turn_indexes = build_turn_indexes(reader)
        memory_indexes = build_memory_indexes(reader)
        run = run_impl(reader, Path(path).name, turn_indexes, memory_indexes)
        run["episodes"] = [e for e in run["episodes"] if e["episode"] == episode]

        frames = reader.frames(start, end, episode, stride)
        if progress:
            from tqdm import tqdm

            frames = iter(tqdm(frames, total=(end - start) // stride + 1, unit="frame", desc="export html",
                               leave=False))
        steps, pngs = [], []
        for step, frame in frames:
            steps.append(step)
            pngs.append(_b64(encode_png(frame)))
        if steps[-1] != end:  # the last step is always there
            steps.append(end)
            pngs.append(_b64(encode_png(reader.frame_at(end, episode))))

        actions = reader.actions(episode)
        trajectory = trajectory_impl(reader.header, info, reader.reset_options(episode), actions, make_env)
        areas = {}
        for area in trajectory["areas"]:
            png = area_png_impl(reader.seek(0, episode), area["map_id"]) if area["image"] else None
            if png is not None:
                areas[str(area["map_id"])] = _b64(png)
        turns = turn_indexes.get(episode)
        memory = reader.memory(episode)
        data = {
            "format": "longplay-viewer-embed", "version": 1, "episode": episode, "range": [start, end],
            "run": run,
            "frames": {"stride": stride, "steps": steps, "png": pngs},
            "trajectory": trajectory,
            "areas": areas,
            "actions": "".join(chr(48 + a) for a in actions),
            "rewards": {str(step): value for step, value in reader.rewards(episode).items()},
            "turns": [turn_json(t) for t in turns.turns] if turns else [],
            "memory": [{"snapshot": m.snapshot, "name": m.name, "step": m.step, "t": m.t,
                        "format": "text" if isinstance(m.content, str) else "json", "content": m.content,
                        "extra": m.extra} for m in memory],
            "memory_order": card_components(reader.header.get("scaffold_card")),
        }
    page = render_page(data)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(out, lambda partial: partial.write_text(page, encoding="utf-8"))  # a full disk keeps the old
    return HtmlExportResult(out, len(steps), stride, start, end, len(page.encode("utf-8")))
