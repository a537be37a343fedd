"""``longplay export REPLAY --html``: one self-contained page with the run's data embedded."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from longplay.replays.cli import EXIT_BAD_INPUT, EXIT_OK, main
from longplay.replays.reader import ReplayReader
from longplay.replays.viewer.html_export import EMBED_CSP, export_html


def _embedded(page: str) -> dict[str, Any]:
    match = re.search(r'<script id="longplay-embed" type="application/json">(.*?)</script>', page, re.S)
    assert match, "no embedded data"
    return json.loads(match.group(1))


def test_page_is_self_contained_and_holds_the_run(viewer_runs: Any, tmp_path: Path, png_decoder: Any) -> None:
    result = export_html(viewer_runs.root / "fake-lm.lpr", tmp_path / "out" / "lm.html", max_frames=40)
    page = result.path.read_text()
    assert result.stride == 4 and result.frames == len(range(0, 151, 4)) + 1  # every 4th step, and the last
    assert f'content="{EMBED_CSP}"' in page and "connect-src" not in EMBED_CSP  # nothing can be fetched
    assert "/static/" not in page and not re.search(r'(src|href)="(https?:)?//', page)
    assert viewer_runs.hostile not in page and "<script>window.__pwned" not in page  # replay text stays data
    data = _embedded(page)
    assert data["range"] == [0, 150] and len(data["actions"]) == 150 and data["run"]["has_turns"]
    # every row is embedded, the summary's call at step 25 too (the page counts it in spending, not in turns)
    assert len(data["turns"]) == 16 and [t["kind"] for t in data["turns"]].count("summary") == 1
    assert [t["error"] for t in data["turns"] if t["step"] == 50] == ["rate limited (429)"]
    assert viewer_runs.hostile in data["turns"][0]["response"]
    assert [m["name"] for m in data["memory"]] == ["notes", "goals", "notes"] and data["memory_order"] == ["notes",
                                                                                                          "goals"]
    assert data["frames"]["steps"][-1] == 150 and data["trajectory"]["points"]["step"][0] == 0
    with ReplayReader(viewer_runs.root / "fake-lm.lpr") as reader:
        step = data["frames"]["steps"][7]
        import base64

        frame = png_decoder(base64.b64decode(data["frames"]["png"][7]))
        assert np.array_equal(frame, reader.frame_at(step))


def test_range_episode_and_quest_maps(viewer_runs: Any, tmp_path: Path) -> None:
    multi = export_html(viewer_runs.root / "fake-multi.lpr", tmp_path / "multi.html", episode=1, start=10, end=30)
    data = _embedded(multi.path.read_text())
    assert data["episode"] == 1 and data["range"] == [10, 30] and data["frames"]["steps"] == list(range(10, 31))
    assert [e["episode"] for e in data["run"]["episodes"]] == [1]
    quest = export_html(viewer_runs.root / "sub" / "quest-oracle.lpr", tmp_path / "quest.html")
    data = _embedded(quest.path.read_text())
    assert data["areas"] and set(data["areas"]) <= {str(a["map_id"]) for a in data["trajectory"]["areas"]}
    with pytest.raises(ValueError, match="invalid range"):
        export_html(viewer_runs.root / "fake-multi.lpr", tmp_path / "x.html", start=50, end=10)


def test_a_later_episodes_page_holds_its_own_rewards_and_memory(tmp_path: Path, fakegame: Any) -> None:
    """The page of episode 1 embedded episode 0's rewards and memory snapshots beside its own actions and turns."""
    import gymnasium as gym

    from longplay.replays.recorder import Recorder

    path = tmp_path / "two.lpr"
    with Recorder(gym.make(fakegame.ENV_ID), path, agent="lm") as rec:
        for episode, steps in ((0, 120), (1, 40)):  # hundred_presses pays 2.0 at step 100, in episode 0 only
            rec.reset(seed=episode)
            rec.log_memory("notes", f"notes of episode {episode}")
            for step in range(steps):
                rec.step(step % 8)
    pages = [_embedded(export_html(path, tmp_path / f"ep{e}.html", episode=e).path.read_text()) for e in (0, 1)]
    with ReplayReader(path) as reader:
        paid = [{str(step): value for step, value in reader.rewards(e).items()} for e in (0, 1)]
    assert paid[0]["100"] == 2.0 and "100" not in paid[1]
    assert [page["rewards"] for page in pages] == paid
    assert [[m["content"] for m in page["memory"]] for page in pages] == [["notes of episode 0"],
                                                                          ["notes of episode 1"]]


def test_cli(viewer_runs: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "page.html"
    code = main(["export", str(viewer_runs.root / "fake-random-0.lpr"), "--html", str(out), "--html-frames", "10"])
    printed = capsys.readouterr().out
    # Steps 0, 34 .. 272 and the last, 300: no more frames than asked for.
    assert code == EXIT_OK and out.exists() and "wrote" in printed and "10 frames (every 34 steps)" in printed
    assert main(["export", str(viewer_runs.root / "broken.lpr"), "--html", str(out)]) == EXIT_BAD_INPUT
    assert main(["export", str(viewer_runs.root / "fake-random-0.lpr"), "--html", str(out), "--to", "999"]) == \
        EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "Traceback" not in err
    args = ["export", str(viewer_runs.root / "fake-random-0.lpr"), "--html", str(out), "--html-frames", "1"]
    assert main(args) == EXIT_BAD_INPUT
    assert "invalid --html-frames 1; use an int >= 2" in capsys.readouterr().err  # named max_frames before


@pytest.mark.parametrize(("end", "max_frames"), [(150, 2), (150, 3), (149, 75), (150, 40), (99, 50), (7, 100)])
def test_never_more_frames_than_asked(viewer_runs: Any, tmp_path: Path, end: int, max_frames: int) -> None:
    result = export_html(viewer_runs.root / "fake-lm.lpr", tmp_path / "p.html", end=end, max_frames=max_frames)
    steps = _embedded(result.path.read_text())["frames"]["steps"]
    assert result.frames == len(steps) <= max_frames and steps[0] == 0 and steps[-1] == end
    with pytest.raises(ValueError, match="invalid max_frames 1"):
        export_html(viewer_runs.root / "fake-lm.lpr", tmp_path / "q.html", max_frames=1)


def test_a_run_still_recording_is_exported_as_one_commit_left_it(tmp_path: Path, recording: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The export read a live run's episode, then (the recorder committing meanwhile) its page and actions at the
    latest commit: a page of 120 steps and actions over a range that ends at step 40. It reads one snapshot."""
    path = tmp_path / "live.lpr"
    with recording(path, 40, agent="lm") as rec:
        read_memory = ReplayReader.memory

        def memory(self: ReplayReader, *args: Any, **kwargs: Any) -> Any:  # read after the episode and turns
            if rec.step_in_episode < 120:
                for _ in range(80):
                    rec.step(0)
                rec.flush()
            return read_memory(self, *args, **kwargs)

        monkeypatch.setattr(ReplayReader, "memory", memory)
        data = _embedded(export_html(path, tmp_path / "live.html").path.read_text())
    assert data["range"] == [0, 40] and len(data["actions"]) == 40 and data["run"]["episodes"][0]["steps"] == 40
