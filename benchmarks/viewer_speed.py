"""Viewer figures on the built-in game: run page ready, frame latency, comparison page for 20 runs.

Targets (issue 8), for a 100,000-step replay:
    * the run page ready in at most 1 s: page, script, style, run data, the first frame and the step's
      details on screen (the trajectory and map follow; their time is reported beside);
    * the frame of any step served in at most 50 ms;
    * the comparison page for 20 runs in at most 2 s (curves drawn, table filled).

Run:
    .venv/bin/python benchmarks/viewer_speed.py                       # 100,000 steps, 20 runs
    .venv/bin/python benchmarks/viewer_speed.py --steps 20000 --json out.json --check
    .venv/bin/python benchmarks/viewer_speed.py --folder /tmp/viewer-bench   # keep (and reuse) the replays

The replays are made first (a 100,000-step random run with no truncation; then oracle, explorer and
random runs and a few LM runs with the offline model, up to ``--runs`` in all). Each page is timed on a
*fresh* ``longplay view`` process (a subprocess: no replay is open and nothing derived from one is cached;
timing starts once the server's warm-up, which imports the envs and builds each world once, reports done
on ``/api/health``), in headless Chromium when Playwright and Chromium are installed, else by
making the page's requests over HTTP in the order the page makes them. Frames are timed over HTTP on a
kept-alive connection: random steps, then the worst case (the step before each keyframe, reached from far
away, so the most buttons are pressed from the keyframe).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from _args import output_file, output_folder, positive_int
from _checks import finish

TARGETS = {"run_page_s": 1.0, "frame_ms": 50.0, "compare_s": 2.0}
ENV_ID = "longplay/QuestMini-v0"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


# ============================================================================================ replays


def make_big_replay(folder: Path, steps: int) -> Path:
    """A random run of ``steps`` steps in one episode (no truncation)."""
    import longplay.envs  # noqa: F401
    from longplay.replays.recorder import Recorder

    path = folder / f"big-random-{steps}.lpr"
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    with Recorder(gym.make(ENV_ID, max_steps=None), path, agent="random") as rec:
        rec.reset(seed=0)
        for action in rng.integers(0, 8, steps).tolist():
            rec.step(action)
    return path


def make_other_runs(folder: Path, count: int) -> list[Path]:
    """``count`` more runs: LM runs (offline model), oracle, explorer and random, on several seeds."""
    from longplay.agents.base import make_agent
    from longplay.agents.cli import main as longplay_main
    from longplay.agents.runner import run
    from longplay.replays.recorder import Recorder

    plan = []
    for i in range(count):
        kind = ("lm", "oracle", "explorer", "random")[i % 4]
        plan.append((kind, i // 4))
    paths = []
    for kind, seed in plan:
        path = folder / f"{kind}-seed{seed}.lpr"
        if not path.exists():
            if kind == "lm":
                runs_dir = folder / f".lm-{seed}"
                with contextlib.redirect_stdout(io.StringIO()):  # its summary names files moved right after
                    code = longplay_main(["run", "--env", ENV_ID, "--agent", "lm", "--provider", "offline",
                                          "--scaffold", "full", "--steps", "400", "--seed", str(seed), "--runs-dir",
                                          str(runs_dir), "--quiet"])
                if code != 0:
                    raise RuntimeError(f"the LM run failed ({code})")
                (made,) = runs_dir.glob("*.lpr")
                made.rename(path)
                shutil.rmtree(runs_dir)
            else:
                agent = make_agent(kind)
                env = Recorder(gym.make(ENV_ID, obs_mode=agent.obs_mode), path, agent=agent.name)
                try:
                    run(env, agent, 3000 if kind == "oracle" else 5000, seed=seed, progress=False)
                finally:
                    env.close()
        paths.append(path)
    return paths


# ============================================================================================ server


@contextmanager
def fresh_server(folder: Path) -> Iterator[str]:
    """A new ``longplay view`` process over ``folder``; yields its URL once it answers."""
    process = subprocess.Popen([sys.executable, "-m", "longplay.replays.cli", "view", str(folder), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and url is None:
            line = process.stdout.readline()  # type: ignore[union-attr]
            if not line:
                raise RuntimeError("the viewer exited: " + process.stderr.read())  # type: ignore[union-attr]
            if line.startswith("open "):
                url = line.split()[1]
        if url is None:
            raise RuntimeError("the viewer did not start")
        client = Client(url)
        while time.monotonic() < deadline and not json.loads(client.get("/api/health"))["warm"]:
            time.sleep(0.1)  # the server's warm-up (imports, worlds): a second or two after it prints its URL
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


class Client:
    """A kept-alive HTTP connection to the viewer."""

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def get(self, path: str, **params: Any) -> bytes:
        query = urllib.parse.urlencode(params, doseq=True)
        self.conn.request("GET", path + ("?" + query if query else ""))
        response = self.conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} -> {response.status}: {body[:200]!r}")
        return body

    def timed(self, path: str, **params: Any) -> float:
        start = time.perf_counter()
        self.get(path, **params)
        return time.perf_counter() - start


# ============================================================================================ measures


def browser() -> Any:
    """A started headless Chromium (Playwright), or None when either is missing."""
    chromium = os.environ.get("LONGPLAY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        return None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    playwright = sync_playwright().start()
    return playwright, playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)


MARK_S = "(name) => { const m = performance.getEntriesByName(name)[0]; return m ? m.startTime / 1000 : null; }"


def run_page_in_browser(chrome: Any, url: str, run_id: str) -> dict[str, float]:
    """Seconds from navigation start to the run page ready (the page's own ``longplay-ready`` mark: first
    frame and step details shown) and to the map drawn (``longplay-map``); ``wall_s``: the same as Playwright
    sees it, with the browser's own overheads."""
    page = chrome.new_page(viewport={"width": 1500, "height": 1000})
    start = time.perf_counter()
    page.goto(url + "run?" + urllib.parse.urlencode({"id": run_id}))
    page.wait_for_selector("body[data-ready='1']", timeout=60_000)
    wall = time.perf_counter() - start
    page.wait_for_selector("#map[data-map]", timeout=60_000)
    out = {"ready_s": page.evaluate(MARK_S, "longplay-ready"), "map_s": page.evaluate(MARK_S, "longplay-map"),
           "wall_s": wall}
    page.close()
    return out


def run_page_over_http(url: str, run_id: str) -> dict[str, float]:
    """The run page's requests, in its order: page, style, script, run data; frame and details; trajectory."""
    client = Client(url)
    start = time.perf_counter()
    for path in ("/run", "/static/style.css", "/static/app.js"):
        client.get(path)
    client.get("/api/run", id=run_id)
    client.get("/api/frame.png", id=run_id, step=0)
    client.get("/api/step", id=run_id, step=0)
    ready = time.perf_counter() - start
    area = json.loads(client.get("/api/trajectory", id=run_id))["areas"][0]
    client.get("/api/area.png", id=run_id, map=area["map_id"])
    return {"ready_s": ready, "map_s": time.perf_counter() - start, "wall_s": ready}


def frame_latencies(url: str, run_id: str, steps: int, samples: int, keyframe_every: int) -> dict[str, Any]:
    """Milliseconds per frame request: random steps, then each keyframe's previous step reached from afar."""
    client = Client(url)
    client.get("/api/frame.png", id=run_id, step=0)
    rng = np.random.default_rng(1)
    random_ms = [client.timed("/api/frame.png", id=run_id, step=int(s)) * 1000
                 for s in rng.integers(0, steps + 1, samples)]
    worst_ms = []
    for key in range(keyframe_every, steps + 1, keyframe_every):
        client.get("/api/frame.png", id=run_id, step=steps - key if steps - key != key - 1 else 0)  # go far away
        worst_ms.append(client.timed("/api/frame.png", id=run_id, step=key - 1) * 1000)
    step_ms = [client.timed("/api/step", id=run_id, step=int(s)) * 1000 for s in rng.integers(0, steps + 1, 50)]
    return {"median": statistics.median(random_ms), "p95": float(np.percentile(random_ms, 95)),
            "max": max(random_ms), "worst_case_max": max(worst_ms, default=None),
            "worst_case_median": statistics.median(worst_ms) if worst_ms else None,
            "step_details_median": statistics.median(step_ms), "step_details_max": max(step_ms)}


def compare_in_browser(chrome: Any, url: str, ids: list[str]) -> float:
    """Seconds from navigation start to the comparison page with every curve drawn and the table filled
    (the page's ``longplay-ready`` mark)."""
    page = chrome.new_page(viewport={"width": 1500, "height": 1000})
    page.goto(url + "compare?" + urllib.parse.urlencode({"id": ids}, doseq=True))
    page.wait_for_selector(f"#chart[data-curves='{len(ids)}']", timeout=60_000)
    page.wait_for_selector("#ttm tbody tr", timeout=60_000)
    seconds = page.evaluate(MARK_S, "longplay-ready")
    page.close()
    return seconds


def compare_over_http(url: str, ids: list[str]) -> float:
    """The comparison page's requests: page, style, script, the run list, the comparison."""
    client = Client(url)
    start = time.perf_counter()
    for path in ("/compare", "/static/style.css", "/static/app.js", "/api/runs"):
        client.get(path)
    client.get("/api/compare", id=ids)
    return time.perf_counter() - start


# ============================================================================================ main


def measure(folder: Path, steps: int, runs: int, samples: int, use_browser: bool) -> dict[str, Any]:
    """Makes the replays (unless present) and measures every figure."""
    from longplay.replays.reader import ReplayReader

    t = time.perf_counter()
    big = make_big_replay(folder, steps)
    others = make_other_runs(folder, runs - 1)
    made_s = time.perf_counter() - t
    with ReplayReader(big) as reader:
        keyframe_every = reader.header["recorder"]["keyframe_every"]
        recorded = reader.num_steps()
    big_id = big.name
    ids = [big_id] + [p.relative_to(folder).as_posix() for p in others]
    chrome = browser() if use_browser else None
    if chrome:  # the browser's first page costs a start-up that is no part of any page
        chrome[1].new_page().close()
    figures: dict[str, Any] = {"steps": recorded, "runs": len(ids), "replay_bytes": big.stat().st_size,
                               "made_s": made_s, "keyframe_every": keyframe_every,
                               "method": "chromium" if chrome else "http"}
    try:
        with fresh_server(folder) as url:
            cold = run_page_in_browser(chrome[1], url, big_id) if chrome else run_page_over_http(url, big_id)
            warm = run_page_in_browser(chrome[1], url, big_id) if chrome else run_page_over_http(url, big_id)
            figures["run_page_cold"], figures["run_page_warm"] = cold, warm
            figures["frame_ms"] = frame_latencies(url, big_id, recorded, samples, keyframe_every)
        with fresh_server(folder) as url:
            figures["compare_cold_s"] = compare_in_browser(chrome[1], url, ids) if chrome else \
                compare_over_http(url, ids)
            figures["compare_warm_s"] = compare_in_browser(chrome[1], url, ids) if chrome else \
                compare_over_http(url, ids)
            figures["compare_api_warm_s"] = Client(url).timed("/api/compare", id=ids)
    finally:
        if chrome:
            chrome[1].close()
            chrome[0].stop()
    return figures


def checks(figures: dict[str, Any]) -> dict[str, bool]:
    """Each target of the issue, met or not (cold figures: a fresh server, nothing cached)."""
    frame = max(figures["frame_ms"]["max"], figures["frame_ms"]["worst_case_max"] or 0.0)
    return {
        "run page ready <= 1 s": figures["run_page_cold"]["ready_s"] <= TARGETS["run_page_s"],
        "any frame <= 50 ms": frame <= TARGETS["frame_ms"],
        f"comparison of {figures['runs']} runs <= 2 s": figures["compare_cold_s"] <= TARGETS["compare_s"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=positive_int, default=100_000, help="steps of the big replay")
    parser.add_argument("--runs", type=positive_int, default=20, help="runs on the comparison page")
    parser.add_argument("--samples", type=positive_int, default=200, help="random frames to time")
    parser.add_argument("--folder", type=output_folder, default=None, help="make (or reuse) the replays here")
    parser.add_argument("--no-browser", action="store_true", help="time over HTTP even when Chromium is there")
    parser.add_argument("--json", type=output_file, default=None, help="also write the figures here")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        f = measure(folder, args.steps, args.runs, args.samples, not args.no_browser)
    met = checks(f)
    fr = f["frame_ms"]
    print(f"{f['steps']:,}-step replay ({f['replay_bytes'] / 1e3:.0f} KB, keyframe every {f['keyframe_every']}); "
          f"{f['runs']} runs compared; timed in {f['method']} against a fresh `longplay view` process")
    waits = f"; as Playwright waits: {f['run_page_cold']['wall_s']:.3f} s cold" if f["method"] == "chromium" else ""
    print(f"  run page ready            {f['run_page_cold']['ready_s']:.3f} s cold, "
          f"{f['run_page_warm']['ready_s']:.3f} s warm (trajectory and map drawn: "
          f"{f['run_page_cold']['map_s']:.3f} s cold, {f['run_page_warm']['map_s']:.3f} s warm{waits})")
    print(f"  machine load              {os.getloadavg()[0]:.1f} (1-minute load average) on {os.cpu_count()} CPUs")
    worst = (f"median {fr['worst_case_median']:.1f} ms, max {fr['worst_case_max']:.1f} ms"
             if fr["worst_case_max"] is not None else "none: no keyframe after step 0")
    print(f"  frame (random step)       median {fr['median']:.1f} ms, p95 {fr['p95']:.1f} ms, max {fr['max']:.1f} ms; "
          f"worst case (before a keyframe, from afar) {worst}")
    print(f"  step details              median {fr['step_details_median']:.1f} ms, max {fr['step_details_max']:.1f} ms")
    print(f"  comparison page           {f['compare_cold_s']:.3f} s cold, {f['compare_warm_s']:.3f} s warm "
          f"(the comparison request alone, warm: {f['compare_api_warm_s']:.3f} s)")
    return finish(f, met, args.json, args.check)


if __name__ == "__main__":
    sys.exit(main())
