"""End to end in a real headless Chromium (Debian ``chromium`` driven by Playwright): run list, run page,
scrubbing, milestones, LM turns and memory, the comparison page and an exported page.

Screenshots go to ``test-artifacts/viewer/`` at the repository root. Skipped, with the reason, when
Playwright or Chromium is missing (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the viewer needs uvicorn: pip install 'longplay[viewer]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need playwright: pip install playwright")

CHROMIUM = os.environ.get("LONGPLAY_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "viewer"
TIMEOUT_MS = 15_000

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium)")

#: A hash of the pixels an <img> shows (to tell one frame from another).
FRAME_HASH = """(img) => {
  const c = document.createElement('canvas');
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d');
  g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height).data;
  let h = 0;
  for (let i = 0; i < d.length; i += 1) h = (Math.imul(h, 31) + d[i]) >>> 0;
  return h;
}"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        try:
            # Scrollbars drawn as a user's browser draws them: Playwright hides them in headless mode by default.
            chromium = playwright.chromium.launch(
                executable_path=CHROMIUM, ignore_default_args=["--hide-scrollbars"],
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        except Exception as e:  # noqa: BLE001 - a browser that cannot start here is an environment problem
            pytest.skip(f"chromium at {CHROMIUM} does not start: {str(e).splitlines()[0]}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(viewer_runs: Any) -> Iterator[str]:
    from longplay.replays.viewer.server import ServerThread

    with ServerThread(viewer_runs.root) as url:
        yield url


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.errors = errors
    yield tab
    context.close()
    assert not errors, errors


def shot(tab: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / name), full_page=True)


def frame_step(tab: Any) -> int:
    return int(tab.get_attribute("#frame", "data-step") or -1)


def wait_until(check: Any, what: str, timeout_s: float = TIMEOUT_MS / 1000) -> None:
    """Polls ``check()`` from Python (the pages' CSP forbids the eval behind ``wait_for_function``)."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_run_list_run_page_scrub_and_milestones(page: Any, server: str) -> None:
    page.goto(server)
    page.wait_for_selector("#runs tbody tr")
    assert page.locator("#runs tbody tr").count() == 5
    assert page.locator("#unreadable li").count() == 3 and "upgrade longplay" in page.inner_text("#unreadable")
    page.fill("#filter", "oracle")
    assert page.locator("#runs tbody tr").count() == 1
    page.fill("#filter", "")
    page.click("th[data-key=steps]")  # sort by steps, largest first
    steps = [int(t.split()[0].replace(",", "")) for t in page.locator("#runs tbody td:nth-child(7)").all_inner_texts()]
    assert steps == sorted(steps, reverse=True) and len(steps) == 5
    shot(page, "01-run-list.png")

    page.click("#runs tbody tr[data-id='sub/quest-oracle.lpr'] a")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#frame[data-step='0']")
    first = page.eval_on_selector("#frame", FRAME_HASH)
    page.wait_for_selector("#map[data-map]")
    shot(page, "02-run-page.png")

    total = int(page.inner_text("#step-total").replace(",", ""))
    later = total * 3 // 4
    page.locator("#scrubber").fill(str(later))  # scrub to a later step
    page.wait_for_selector(f"#frame[data-step='{later}']")
    assert page.eval_on_selector("#frame", FRAME_HASH) != first  # the frame changed
    assert page.input_value("#step-input") == str(later) and f"{later} of {total}" in page.inner_text("#state")
    shot(page, "03-scrubbed.png")

    milestones = page.locator("#milestones li[data-step]")
    assert milestones.count() >= 3
    target = milestones.nth(1)
    step = int(target.get_attribute("data-step"))
    target.locator("button").click()  # jump to the milestone
    page.wait_for_selector(f"#frame[data-step='{step}']")
    assert "reached" in (target.get_attribute("class") or "")
    assert page.input_value("#scrubber") == str(step)
    page.keyboard.press("]")  # the next milestone, by keyboard
    wait_until(lambda: frame_step(page) > step, "the next milestone")
    shot(page, "04-milestone.png")

    page.select_option("#speed", "500")
    page.click("#play")
    wait_until(lambda: frame_step(page) >= total - 20, "playback to reach the end")
    page.wait_for_selector("#play:has-text('Play')")  # stopped by itself at the end
    # the last frame follows the step it was asked for (the frame in flight finishes first: latest wins)
    page.wait_for_selector(f"#frame[data-step='{total}']")


def test_lm_run_shows_turns_and_memory(page: Any, server: str, viewer_runs: Any) -> None:
    page.goto(server + "run?id=fake-lm.lpr&step=57")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#turn .turn")
    turn = page.inner_text("#turn")
    assert "started at step 50" in turn and "rate limited (429)" in turn and "press_buttons" in turn
    assert "Spent up to here: 6 turns" in turn
    assert viewer_runs.hostile in page.text_content("#turn pre.response")  # shown as text ...
    assert page.evaluate("window.__pwned") is None  # ... and never run
    memory = page.inner_text("#memory")
    assert "notes as of step 40" in memory and "find the exit" in memory
    assert page.locator("#timeline line[stroke='#c0392b']").count() == 1  # the failed turn on the timeline
    shot(page, "05-lm-run.png")
    page.click("#turn .turn-nav button:has-text('next turn')")
    page.wait_for_selector("#frame[data-step='60']")
    wait_until(lambda: "started at step 60" in page.inner_text("#turn"), "the next turn's details")
    page.keyboard.press("ArrowLeft")
    page.wait_for_selector("#frame[data-step='59']")


def test_comparison_page_draws_curves(page: Any, server: str) -> None:
    page.goto(server + "compare?id=fake-random-0.lpr&id=fake-random-1.lpr&id=fake-lm.lpr")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#chart[data-curves='3']")
    assert page.locator("#chart .legend li").count() == 3
    table = page.inner_text("#ttm")
    assert "Pressed 100 buttons" in table and "100" in table
    assert page.locator("#ttm table.km").count() == 1  # two random runs: the group medians show
    shot(page, "06-compare-steps.png")
    page.click("#axis button[data-axis=tokens]")
    page.wait_for_selector("#chart[data-curves='1']")  # only the LM run has a tokens axis
    shot(page, "07-compare-tokens.png")
    page.click("#pick li[data-id='sub/quest-oracle.lpr'] input")
    page.click("#axis button[data-axis=steps]")
    page.wait_for_selector("#chart[data-curves='4']")
    assert "axis=" not in page.url and page.url.count("id=") == 4


def test_exported_page_works_offline(page: Any, viewer_runs: Any, tmp_path: Path) -> None:
    from longplay.replays.viewer.html_export import export_html

    out = export_html(viewer_runs.root / "sub" / "quest-oracle.lpr", tmp_path / "quest.html", max_frames=100).path
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(out.as_uri())
    page.wait_for_selector("body[data-ready='1']")
    first = page.eval_on_selector("#frame", FRAME_HASH)
    page.locator("#scrubber").fill("301")
    page.wait_for_selector("#frame[data-step='301']")
    assert page.get_attribute("#frame", "data-frame-step") == "300"  # the nearest embedded frame
    assert page.eval_on_selector("#frame", FRAME_HASH) != first and not page.is_hidden("#frame-note")
    page.wait_for_selector("#map[data-map]")
    shot(page, "08-exported.png")
    assert all(url.startswith(("file:", "data:", "blob:")) for url in requests), requests


def test_an_exported_lm_run_counts_turns_as_the_viewer_does(page: Any, viewer_runs: Any, tmp_path: Path) -> None:
    from longplay.replays.viewer.html_export import export_html

    out = export_html(viewer_runs.root / "fake-lm.lpr", tmp_path / "lm.html", max_frames=50).path
    page.goto(out.as_uri() + "#step=57")
    page.wait_for_selector("body[data-ready='1']")
    page.locator("#scrubber").fill("57")
    page.wait_for_selector("#turn .turn")
    assert "Spent up to here: 6 turns" in page.inner_text("#turn")  # the summary's call at step 25 is no turn


def test_comparison_page_fits_the_window_with_many_runs(page: Any, server: str) -> None:
    # The time-to-milestone table grows a column per run; it scrolls inside its panel, and the page (and the
    # chart) keep the window's width instead of stretching to the table's.
    page.set_viewport_size({"width": 1000, "height": 800})
    page.goto(server + "compare")
    page.wait_for_selector("body[data-ready='1']")
    assert int(page.get_attribute("#chart", "data-curves")) >= 5
    assert page.evaluate("document.documentElement.scrollWidth") <= 1000
    assert page.eval_on_selector("#chart", "svg => svg.getBoundingClientRect().right") <= 1000


def test_comparison_page_with_no_run_selected(page: Any, server: str) -> None:
    page.goto(server + "compare?id=fake-random-0.lpr&id=fake-lm.lpr")
    page.wait_for_selector("#chart[data-curves='2']")
    page.click("#pick-none")
    page.wait_for_selector("#chart[data-curves='0']")  # an empty chart, and no script error (the fixture checks)
    assert page.locator("#chart .legend li").count() == 0 and "id=" not in page.url
    page.click("#pick li[data-id='fake-lm.lpr'] input")
    page.wait_for_selector("#chart[data-curves='1']")


def test_comparison_curve_highlight_follows_the_pointer(page: Any, server: str) -> None:
    page.goto(server + "compare?id=fake-random-0.lpr&id=fake-random-1.lpr&id=fake-lm.lpr")
    page.wait_for_selector("#chart[data-curves='3']")
    page.eval_on_selector("#chart", "svg => svg.scrollIntoView()")
    x, y = page.eval_on_selector("#chart path.curve", """path => {
      const p = path.getPointAtLength(path.getTotalLength() * 0.6), m = path.getScreenCTM();
      return [p.x * m.a + m.e, p.y * m.d + m.f]; }""")
    page.mouse.move(x - 40, y - 40)
    page.mouse.move(x, y, steps=8)
    page.mouse.move(x + 0.5, y)  # moving along the curve
    wait_until(lambda: page.locator("#chart path.curve.focus").count() == 1, "the hovered curve to stand out")
    assert page.locator("#chart path.curve.dim").count() == 2
    page.mouse.move(x, y + 300, steps=8)  # and away: every curve back to normal
    wait_until(lambda: page.locator("#chart path.curve.focus, #chart path.curve.dim").count() == 0,
               "the highlight to go when the pointer leaves")


def test_run_page_in_a_narrow_window(page: Any, server: str) -> None:
    # Below two columns' width the panels stack, each the window's width, instead of squeezing the map and
    # state panels into a sliver beside the screen.
    page.set_viewport_size({"width": 700, "height": 900})
    page.goto(server + "run?id=sub/quest-oracle.lpr&step=120")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#map[data-map]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 700
    for panel in ["#map", "#state"]:
        width = page.eval_on_selector(panel, "node => node.closest('.panel').getBoundingClientRect().width")
        assert width >= 500, (panel, width)
    shot(page, "09-run-narrow.png")


def test_each_episode_lists_the_milestones_of_its_own_world(page: Any, tmp_path: Path) -> None:
    """longplay/Quest-v0 plays a world per reset seed: the run page's list of milestones not reached, and the
    count in its header, are each episode's world's, not the first episode's."""
    import gymnasium as gym

    from longplay.replays.reader import ReplayReader
    from longplay.replays.recorder import Recorder
    from longplay.replays.viewer.server import ServerThread

    (tmp_path / "runs").mkdir()
    path = tmp_path / "runs" / "quest-v0.lpr"
    with Recorder(gym.make("longplay/Quest-v0"), path, agent="random") as rec:
        for seed in (1, 3):
            rec.reset(seed=seed)
            for action in range(30):
                rec.step(action % 8)
    with ReplayReader(path) as reader:
        first, second = ({m["id"]: m["name"] for m in reader.catalog(e)} for e in (0, 1))
    own = sorted(set(second.values()) - set(first.values()))
    assert own, "the two worlds name their milestones alike"
    with ServerThread(tmp_path / "runs") as url:
        page.goto(url + "run?id=quest-v0.lpr&episode=1")
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector("#milestones li")
        listed = page.locator("#milestones li span:last-child").all_inner_texts()
        assert sorted(listed) == sorted(second.values()) and own[0] in listed
        page.select_option("#episode", "0")
        wait_until(lambda: sorted(page.locator("#milestones li span:last-child").all_inner_texts())
                   == sorted(first.values()), "the first episode's milestones")
        assert f"/ {len(first)}" in page.inner_text("#run-meta")


def test_comparison_page_draws_one_chart_per_env_with_each_groups_auc(page: Any, viewer_runs: Any,
                                                                     tmp_path: Path) -> None:
    """Runs of different envs were drawn on one set of axes (a 300-step fake game beside a 400-step QuestMini run,
    x to the longest of all, y to the largest catalog) and no AUC showed: each env gets a chart of its own, with
    its groups' AUC over its own window on the chosen axis, and a group started from a save state says so."""
    import hashlib
    import json
    import urllib.request

    import gymnasium as gym

    from longplay.replays.recorder import Recorder
    from longplay.replays.viewer.server import ServerThread

    root = tmp_path / "runs"
    root.mkdir()
    for name in ("fake-random-0.lpr", "fake-random-1.lpr", "fake-lm.lpr"):
        shutil.copyfile(viewer_runs.root / name, root / name)
    shutil.copyfile(viewer_runs.root / "sub" / "quest-oracle.lpr", root / "quest-oracle.lpr")
    env = gym.make("longplay/QuestMini-v0")
    env.reset(seed=0)
    for action in (1, 1, 3):
        env.step(action)
    state = env.unwrapped.game.save_state()
    env.close()
    with Recorder(gym.make("longplay/QuestMini-v0"), root / "quest-from-state.lpr", agent="random") as rec:
        rec.reset(seed=1, options={"state": state})
        for action in range(120):
            rec.step(action % 8)
    digest = hashlib.sha256(state).hexdigest()
    ids = "&".join(f"id={name}" for name in ("fake-random-0.lpr", "fake-random-1.lpr", "fake-lm.lpr",
                                              "quest-oracle.lpr", "quest-from-state.lpr"))
    with ServerThread(root) as url:
        with urllib.request.urlopen(url + "api/compare?" + ids) as response:
            groups = {g["group"]: g for g in json.load(response)["groups"]}
        page.goto(url + "compare?" + ids)
        page.wait_for_selector("body[data-ready='1']")
        page.wait_for_selector("#chart[data-curves='5']")
        panels = page.locator("#chart figure.env-panel")
        assert [panels.nth(i).get_attribute("data-env") for i in range(panels.count())] == \
            ["LongplayTest/Fake-v0", "longplay/QuestMini-v0"]
        fake, quest = (page.locator(f"#chart figure.env-panel[data-env='{env_id}']")
                       for env_id in ("LongplayTest/Fake-v0", "longplay/QuestMini-v0"))
        assert fake.locator("svg path.curve").count() == 3 and quest.locator("svg path.curve").count() == 2
        # each chart's x axis ends at its own env's longest run: the 300-step run reaches the right edge
        right = ("svg => Math.max(...Array.from(svg.querySelectorAll('path.curve'), "
                 "p => p.getBBox().x + p.getBBox().width))")
        for panel in (fake, quest):
            assert abs(panel.locator("svg").evaluate(right) - 882) < 1  # 900 wide, less an 18 margin
        assert "AUC window 0 … 300 steps" in fake.locator("figcaption").inner_text()
        assert "AUC window 0 … 400 steps" in quest.locator("figcaption").inner_text()
        from_state = f"QuestMini-v0: random from state {digest[:8]}"
        for panel, group in ((fake, "Fake-v0: random"), (fake, "Fake-v0: lm / m1 / notes+goals"),
                             (quest, "QuestMini-v0: oracle"), (quest, from_state)):
            row = panel.locator(f"table.auc tr[data-group='{group}'] td").all_inner_texts()
            auc = groups[group]["auc"]["steps"]
            assert row[1:] == [str(groups[group]["runs"]), f"{auc['value']:.3f}",
                               f"{auc['ci_low']:.3f} … {auc['ci_high']:.3f}", f"0 … {auc['horizon']:,.0f} steps"], row
        badge = quest.locator(f"table.auc tr[data-group='{from_state}'] .badge.state")
        assert badge.inner_text() == f"from state {digest[:8]}" and digest in badge.get_attribute("title")
        assert quest.locator(".badge.state").count() == 1 and fake.locator(".badge.state").count() == 0
        assert page.locator("#ttm table.ttm:not(.km)").count() == 2  # a time-to-milestone table per env
        shot(page, "10-compare-per-env.png")
        page.click("#axis button[data-axis=tokens]")
        page.wait_for_selector("#chart[data-curves='1']")  # only the LM run has a tokens axis
        lm = fake.locator("table.auc tr[data-group='Fake-v0: lm / m1 / notes+goals'] td").all_inner_texts()
        tokens = groups["Fake-v0: lm / m1 / notes+goals"]["auc"]["tokens"]
        assert lm[2] == f"{tokens['value']:.3f}" and lm[4].endswith(" tokens")
        assert fake.locator("table.auc tr[data-group='Fake-v0: random'] td").nth(2).inner_text() == "n/a"
        assert "No run of QuestMini-v0 has a tokens axis" in quest.inner_text()


@pytest.fixture(scope="module")
def compare_server(compare_runs: Any) -> Iterator[str]:
    from longplay.replays.viewer.server import ServerThread

    with ServerThread(compare_runs.root) as url:
        yield url


def test_run_list_and_run_page_mark_a_run_from_a_save_state(page: Any, compare_server: str,
                                                             compare_runs: Any) -> None:
    mark = "from state " + compare_runs.state_digest[:8]
    page.goto(compare_server)
    page.wait_for_selector("body[data-ready='1']")
    for name in ("quest-explorer-state-0.lpr", "quest-explorer-state-1.lpr"):
        badge = page.locator(f"#runs tr[data-id='{name}'] .badge.state")
        assert badge.inner_text() == mark and compare_runs.state_digest in badge.get_attribute("title")
    assert page.locator("#runs .badge.state").count() == 2
    page.fill("#filter", mark)  # the mark filters too
    assert page.locator("#runs tbody tr").count() == 2
    shot(page, "11-run-list-from-state.png")
    page.goto(compare_server + "run?id=quest-explorer-state-0.lpr")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("#run-meta .badge.state").inner_text() == mark


def _path_points(d: str) -> list[tuple[float, float]]:
    import re

    return [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+) (-?[\d.]+)", d)]


def _chart_points(xs: list[float], ys: list[float], xmax: float, catalog: int) -> list[float]:
    """Where a two-env comparison chart (300 high) draws points (x, y), flattened: x from 0 to ``xmax`` over
    56 .. 882, y from 0 to ``catalog`` milestones over 254 .. 14."""
    return [v for x, y in zip(xs, ys, strict=True) for v in (56 + x / xmax * 826, 254 - y / catalog * 240)]


def test_comparison_chart_draws_each_configurations_median_and_band(page: Any, compare_server: str,
                                                                    compare_runs: Any) -> None:
    """/api/compare gave each configuration's median curve and its bootstrap interval, and the page drew neither:
    each configuration of several runs gets its median curve and band, in the color its runs share."""
    import json
    import urllib.request

    with urllib.request.urlopen(compare_server + "api/compare") as response:
        data = json.load(response)
    page.goto(compare_server + "compare")
    page.wait_for_selector("body[data-ready='1']")
    several = [g for g in data["groups"] if g["runs"] > 1]
    assert {g["group"] for g in several} == {"Fake-v0: random", "QuestMini-v0: explorer",
                                             "QuestMini-v0: explorer from state " + compare_runs.state_digest[:8]}
    assert page.locator("#chart path.median").count() == len(several) == page.locator("#chart path.band").count()
    shot(page, "12-compare-medians.png")
    for g in several:
        panel = page.locator(f"#chart figure.env-panel[data-env='{g['env']}']")
        median = panel.locator(f"path.median[data-group='{g['group']}']")
        band = panel.locator(f"path.band[data-group='{g['group']}']")
        colors = set(panel.locator("path.curve").evaluate_all(
            "(paths, ids) => paths.filter(p => ids.includes(p.dataset.run)).map(p => p.getAttribute('stroke'))",
            [r["id"] for r in data["runs"] if r["group"] == g["group"]]))
        assert len(colors) == 1 and median.get_attribute("stroke") in colors and band.get_attribute("fill") in colors
        # the chart's scale: x from 0 to the env's longest run over 56 .. 882, y from 0 to its largest catalog over
        # 254 .. 14 (300 high, two envs)
        runs = [r for r in data["runs"] if r["env_id"] == g["env"]]
        xmax = max(r["end"]["steps"] for r in runs)
        catalog = max(r["catalog_size"] for r in runs)
        points = _path_points(median.get_attribute("d"))
        medians = [p["median"] for p in g["median_curve"]["steps"] if p["median"] is not None]
        # each milestone's rise, at its median (SVG y runs down; a rise of several milestones at one x counts each)
        rises = [x for (x, y), (_, y_next) in zip(points, points[1:], strict=False)
                 for _ in range(round((y - y_next) / 240 * catalog))]
        assert rises == pytest.approx([56 + m / xmax * 826 for m in medians], abs=0.06)
        horizon = max(r["end"]["steps"] for r in data["runs"] if r["group"] == g["group"])
        assert points[-1] == pytest.approx((56 + horizon / xmax * 826, 254 - len(medians) / catalog * 240), abs=0.06)
        # the page draws the points the API sends (compare's median_band_impl, as the PNG does), nothing of its own:
        # the median through (x, median), the band out along its upper edge and back along its lower one
        sent = g["median_band"]["steps"]
        median_at = _chart_points(sent["x"], sent["median"], xmax, catalog)
        assert [v for p in points for v in p] == pytest.approx(median_at, abs=0.06)
        outline = _chart_points(sent["x"] + sent["x"][::-1], sent["upper"] + sent["lower"][::-1], xmax, catalog)
        assert [v for p in _path_points(band.get_attribute("d")) for v in p] == pytest.approx(outline, abs=0.06)
    assert page.locator("#chart path.median[data-group='QuestMini-v0: oracle']").count() == 0  # one run: no median


def test_comparison_tables_by_configuration_are_per_env(page: Any, compare_server: str, compare_runs: Any) -> None:
    """The "By configuration" medians were one table for every env (rows "QuestMini-v0: explorer" beside
    "Fake-v0: random", a row per configuration and milestone), though the charts, the AUC tables and the per-run
    tables are per env: each env now has its own, a column per configuration of that env and a row per milestone
    of its catalog, as the per-run table above it."""
    import json
    import urllib.request

    with urllib.request.urlopen(compare_server + "api/compare") as response:
        data = json.load(response)
    page.goto(compare_server + "compare")
    page.wait_for_selector("body[data-ready='1']")
    tables = page.locator("#ttm table.km")
    assert [tables.nth(i).get_attribute("data-env") for i in range(tables.count())] == \
        ["longplay/QuestMini-v0", "LongplayTest/Fake-v0"]
    for env in data["envs"]:
        table = page.locator(f"#ttm table.km[data-env='{env['env_id']}']")
        columns = table.locator("thead th[data-group]").evaluate_all("ths => ths.map(th => th.dataset.group)")
        assert sorted(columns) == sorted(env["groups"])
        assert table.locator("tbody tr td:first-child").all_inner_texts() == [m["name"] for m in env["catalog"]]
        for row in (r for r in data["time_to_milestone"] if r["axis"] == "steps" and r["group"] in env["groups"]):
            column = columns.index(row["group"]) + 2
            milestone = [m["id"] for m in env["catalog"]].index(row["milestone"]) + 1
            cell = table.locator(f"tbody tr:nth-child({milestone}) td:nth-child({column})").inner_text()
            median = "not reached" if row["median"] is None else f"{row['median']:,.0f}"
            assert cell.startswith(median) and cell.endswith(f"{row['reached']}/{row['runs']}"), (row, cell)
    explorer = page.locator("#ttm table.km th[data-group='QuestMini-v0: explorer']").inner_text()
    assert explorer.startswith("explorer") and "QuestMini" not in explorer and "4 runs" in explorer
    state = page.locator(f"#ttm table.km th[data-group='QuestMini-v0: explorer from state "
                         f"{compare_runs.state_digest[:8]}'] .badge.state")
    assert state.inner_text() == "from state " + compare_runs.state_digest[:8]
    shot(page, "13-compare-by-configuration.png")


def test_comparison_tables_mark_a_killed_run(page: Any, compare_server: str) -> None:
    """A killed run (its recorder never closed the episode) sat in its configuration like a run that used its
    budget, and only the chart's censoring tick, which every run that did not finish gets, told anything: the
    AUC and by-configuration tables say how many of a configuration's runs were killed, the per-run table and the
    legend which one; compare's numbers stay as they are (a killed run is censored at its last step)."""
    import json
    import urllib.request

    with urllib.request.urlopen(compare_server + "api/compare") as response:
        data = json.load(response)
    explorer = next(g for g in data["groups"] if g["group"] == "QuestMini-v0: explorer")
    assert (explorer["runs"], explorer["complete_runs"]) == (4, 3)
    page.goto(compare_server + "compare")
    page.wait_for_selector("body[data-ready='1']")
    row = page.locator("table.auc tr[data-group='QuestMini-v0: explorer'] td")
    assert row.nth(1).evaluate("td => td.firstChild.textContent") == "4"
    assert row.nth(1).locator(".badge.killed").inner_text() == "1 killed"
    assert row.nth(2).inner_text() == f"{explorer['auc']['steps']['value']:.3f}"
    assert page.locator("table.auc .badge.killed").count() == 1  # the other configurations were all closed
    assert "1 killed" in page.locator("table.km th[data-group='QuestMini-v0: explorer']").inner_text()
    killed = page.locator("#ttm table.ttm:not(.km) th .badge.killed")
    assert killed.count() == 1 and killed.inner_text() == "killed"
    assert killed.evaluate("b => b.closest('th').dataset.key") == "quest-explorer-killed.lpr#0"
    legend = page.locator("#chart .legend li[data-key='quest-explorer-killed.lpr#0']").inner_text()
    assert legend.endswith("· killed") and page.locator("#chart .legend li:has-text('killed')").count() == 1
    shot(page, "14-compare-killed.png")


def test_a_wide_time_to_milestone_table_scrolls_in_view(page: Any, compare_server: str) -> None:
    """The per-run table, a column per run, is wider than the page with a few runs: it scrolled sideways in its
    box with nothing to say so where scrollbars are overlays (hidden until scrolled: macOS, or headless
    Chromium's default), and scrolling took the milestone names out of view. Its box draws its scrollbar, shades
    the edge that has more columns beyond it, and keeps the milestone column in place; the last column can be
    scrolled into view."""
    page.set_viewport_size({"width": 1000, "height": 800})
    page.goto(compare_server + "compare")
    page.wait_for_selector("body[data-ready='1']")
    box = page.locator("#ttm .table-scroll:has(table[data-env='longplay/QuestMini-v0']:not(.km))")
    size = box.evaluate("b => ({scroll: b.scrollWidth, client: b.clientWidth, bar: b.offsetHeight - b.clientHeight})")
    assert size["scroll"] > size["client"] and size["bar"] == 10, size  # the styled scrollbar, 10 px high
    assert page.evaluate("document.documentElement.scrollWidth") <= 1000  # the page itself does not scroll
    assert box.get_attribute("class").split() == ["table-scroll", "overflows", "more-right"]
    shadow = box.evaluate("b => getComputedStyle(b).boxShadow")
    assert "inset" in shadow, shadow
    first = box.locator("tbody tr:first-child td:first-child")
    left = box.evaluate("b => b.getBoundingClientRect().left")
    box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
    wait_until(lambda: "more-left" in box.get_attribute("class"), "the box to notice the scroll")
    assert "more-right" not in box.get_attribute("class")
    assert first.evaluate("td => td.getBoundingClientRect().left") == pytest.approx(left, abs=1)  # still in view
    last = box.locator("thead th:last-child")
    assert last.evaluate("th => th.getBoundingClientRect().right") <= box.evaluate(
        "b => b.getBoundingClientRect().right") + 1
    shot(page, "15-compare-table-scrolled.png")


def test_comparison_page_in_a_narrow_window(page: Any, compare_server: str) -> None:
    """Below about 940 px the AUC table under each chart (no wrapping, a 95% interval and a window column) was
    wider than the chart's panel beside the run picker: it ran out of its panel and the whole page scrolled
    sideways. The picker goes above the charts, and a table still too wide scrolls in its own box."""
    for width in (900, 600):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(compare_server + "compare")
        page.wait_for_selector("body[data-ready='1']")
        assert page.evaluate("document.documentElement.scrollWidth") <= width, width
        for table in page.locator("#chart table.auc").all():
            right = table.evaluate("t => t.closest('.table-scroll').getBoundingClientRect().right")
            assert right <= table.evaluate("t => t.closest('.panel').getBoundingClientRect().right"), width
    shot(page, "16-compare-narrow.png")


def test_comparison_tables_mark_a_run_stopped_before_its_budget(page: Any, compare_server: str) -> None:
    """A run stopped by Ctrl+C (its recorder closed it as one that used its budget) sat in its configuration like
    one that used it: from the budget its replay records, the tables and the legend mark it as killed runs are."""
    page.goto(compare_server + "compare")
    page.wait_for_selector("body[data-ready='1']")
    row = page.locator("table.auc tr[data-group='QuestMini-v0: explorer'] td")
    assert row.nth(1).locator(".badge.stopped").inner_text() == "1 stopped early"
    assert page.locator("table.auc .badge.stopped").count() == 1
    assert "1 stopped early" in page.locator("table.km th[data-group='QuestMini-v0: explorer']").inner_text()
    stopped = page.locator("#ttm table.ttm:not(.km) th .badge.stopped")
    assert stopped.count() == 1 and stopped.inner_text() == "stopped early"
    assert stopped.evaluate("b => b.closest('th').dataset.key") == "quest-explorer-2.lpr#0"
    legend = page.locator("#chart .legend li[data-key='quest-explorer-2.lpr#0']").inner_text()
    assert legend.endswith("· stopped early")
    assert page.locator("#chart .legend li:has-text('stopped early')").count() == 1


def test_the_run_page_shows_the_budget_and_marks_a_run_stopped_before_it(page: Any, compare_server: str) -> None:
    """The run page showed neither the budget a run had nor that it stopped before it (only the comparison did): its
    header gives the budget and marks the run `stopped early` or `killed` as the comparison's tables do."""
    expected = {  # name: (budget chip, badges)
        "quest-explorer-0.lpr": ("budget 1,500 steps", []),
        "quest-explorer-2.lpr": ("budget 3,000 steps", ["stopped early"]),
        "quest-explorer-killed.lpr": (None, ["killed"]),
        "quest-oracle.lpr": (None, []),
    }
    for name, (budget, badges) in expected.items():
        page.goto(compare_server + "run?id=" + name)
        page.wait_for_selector("body[data-ready='1']")
        chips = page.locator("#run-meta .chip").all_inner_texts()
        assert [c for c in chips if c.startswith("budget")] == ([budget] if budget else []), name
        assert page.locator("#run-meta .badge.stopped, #run-meta .badge.killed").all_inner_texts() == badges, name
        if name == "quest-explorer-2.lpr":
            assert "before its budget was used" in page.locator("#run-meta .badge.stopped").get_attribute("title")
            shot(page, "17-run-page-stopped-early.png")


def test_the_comparison_page_names_a_picked_run_it_left_out(page: Any, record: Any, as_killed: Any) -> None:
    """A picked run whose only episode holds no recorded step (killed after a reset, or still waiting on its first
    model call) vanished from the page with no word: the page lists compare's note on it."""
    from longplay.replays.viewer.server import ServerThread

    root = record(100, name="runs/done.lpr").parent
    as_killed(record(50, seed=1, name="runs/killed.lpr"), lose_steps=True)
    with ServerThread(root) as url:
        page.goto(url + "compare?id=done.lpr&id=killed.lpr")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#compare-notes").is_visible()
        assert page.locator("#compare-notes li").all_inner_texts() == [
            "killed.lpr: left out episode 0: it holds no recorded step (the run was killed, or is still being "
            "recorded)"]
        assert page.locator("#chart .legend li").count() == 1
        page.locator("#pick li[data-id='killed.lpr'] input").uncheck()  # only the run compare keeps: no note
        wait_until(lambda: page.locator("#compare-notes").is_hidden(), "the note to go")


def test_the_comparison_page_clears_unreadable_runs_of_an_earlier_pick(page: Any, record: Any) -> None:
    """A picked run deleted since the list was loaded is listed as unreadable; the list stayed on the page after the
    run was unpicked, since only a comparison with some unreadable run wrote it."""
    from longplay.replays.viewer.server import ServerThread

    root = record(100, name="runs/kept.lpr").parent
    gone = record(50, seed=1, name="runs/gone.lpr")
    with ServerThread(root) as url:
        page.goto(url + "compare?id=kept.lpr")
        page.wait_for_selector("body[data-ready='1']")
        assert page.locator("#compare-unreadable").is_hidden()
        gone.unlink()
        page.locator("#pick li[data-id='gone.lpr'] input").check()
        wait_until(lambda: page.locator("#compare-unreadable").is_visible(), "the deleted run to be named")
        assert page.locator("#compare-unreadable li[data-id='gone.lpr']").count() == 1
        page.locator("#pick li[data-id='gone.lpr'] input").uncheck()
        wait_until(lambda: page.locator("#compare-unreadable").is_hidden(), "the list to go with the run")


def test_the_run_list_shows_each_runs_budget_and_marks_as_its_run_page_does(page: Any, compare_server: str) -> None:
    """The run list showed no budget and no `stopped early` / `killed` mark (only `status: recording`), so a run
    stopped by Ctrl+C looked like one that used its budget: a Budget column (sorted by the step limit) and the run
    page's badges, which the filter finds."""
    page.goto(compare_server)
    page.wait_for_selector("body[data-ready='1']")
    expected = {  # name: (budget cell, badges)
        "quest-explorer-0.lpr": ("1,500 steps", []),
        "quest-explorer-2.lpr": ("3,000 steps", ["stopped early"]),
        "quest-explorer-killed.lpr": ("—", ["killed"]),
        "quest-oracle.lpr": ("—", []),
    }
    for name, (budget, badges) in expected.items():
        row = page.locator(f"#runs tr[data-id='{name}']")
        assert row.locator("td.budget").inner_text() == budget, name
        assert row.locator(".badge.stopped, .badge.killed").all_inner_texts() == badges, name
    page.click("#runs th[data-key='budget']")  # numbers sort largest first
    ids = [row.get_attribute("data-id") for row in page.locator("#runs tbody tr").all()]
    assert ids.index("quest-explorer-2.lpr") < ids.index("quest-explorer-0.lpr")
    page.click("#runs th[data-key='budget']")
    ids = [row.get_attribute("data-id") for row in page.locator("#runs tbody tr").all()]
    assert ids.index("quest-explorer-0.lpr") < ids.index("quest-explorer-2.lpr")
    page.fill("#filter", "stopped early")
    assert [row.get_attribute("data-id") for row in page.locator("#runs tbody tr").all()] == ["quest-explorer-2.lpr"]
    page.fill("#filter", "killed")
    assert [row.get_attribute("data-id") for row in page.locator("#runs tbody tr").all()] == [
        "quest-explorer-killed.lpr"]
    page.fill("#filter", "")
    shot(page, "18-run-list-budget-and-marks.png")


def test_the_run_list_sorts_runs_without_a_value_last_both_ways(page: Any, compare_server: str) -> None:
    """Runs with no budget sorted first when the Budget column was sorted smallest first (and last largest first):
    runs without a value come last in both directions."""
    page.goto(compare_server)
    page.wait_for_selector("body[data-ready='1']")
    for direction in ("desc", "asc"):
        page.click("#runs th[data-key='budget']")
        assert page.locator(f"#runs th[data-key='budget'].sorted-{direction}").count() == 1
        budgets = page.locator("#runs tbody td.budget").all_inner_texts()
        given = [b for b in budgets if b != "—"]
        assert len(given) >= 2 and budgets[:len(given)] == given and budgets[len(given):], (direction, budgets)


def test_the_compare_button_says_when_more_runs_are_selected_than_compare_takes(
        page: Any, compare_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run list let you select more runs than the server compares at once (200) and only said so after the
    click, on an error page: the button is disabled, with the reason, before it."""
    from longplay.replays.viewer import server

    monkeypatch.setattr(server, "MAX_COMPARE", 2)
    page.goto(compare_server)
    page.wait_for_selector("body[data-ready='1']")
    boxes = page.locator("#runs tbody td.sel input")
    boxes.nth(0).check()
    boxes.nth(1).check()
    assert page.locator("#compare-selected").is_enabled() and page.locator("#compare-limit").is_hidden()
    boxes.nth(2).check()
    assert page.locator("#compare-selected").is_disabled()
    assert page.locator("#compare-limit").inner_text() == "select at most 2 runs to compare"
    assert page.get_attribute("#compare-selected", "title") == "compare at most 2 runs at once: 3 are selected"
    boxes.nth(2).uncheck()
    assert page.locator("#compare-selected").is_enabled() and page.locator("#compare-limit").is_hidden()


def test_a_run_still_recording_is_marked_recording_not_killed(page: Any, record: Any, as_killed: Any,
                                                              recording: Any) -> None:
    """A researcher watching a live run saw it marked `killed` (tooltip: "or still being recorded") in the run list,
    on its run page and in the comparison: a run written recently is marked `recording`, with when it last wrote."""
    from longplay.replays.viewer.server import ServerThread

    root = record(50, seed=1, name="runs/done.lpr").parent
    as_killed(record(100, name="runs/killed.lpr"))
    rec = recording(root / "live.lpr", 60, seed=2, agent="lm")
    try:
        with ServerThread(root) as url:
            page.goto(url)
            page.wait_for_selector("body[data-ready='1']")
            marks = {name: page.locator(f"#runs tr[data-id='{name}'] .badge.killed, "
                                        f"#runs tr[data-id='{name}'] .badge.recording").all_inner_texts()
                     for name in ("live.lpr", "killed.lpr", "done.lpr")}
            assert marks == {"live.lpr": ["recording"], "killed.lpr": ["killed"], "done.lpr": []}
            title = page.get_attribute("#runs tr[data-id='live.lpr'] .badge.recording", "title")
            assert "still being recorded: its replay was last written " in title and " s ago" in title
            assert "status:" not in page.locator("#runs tr[data-id='killed.lpr']").inner_text()
            page.fill("#filter", "recording")
            assert [r.get_attribute("data-id") for r in page.locator("#runs tbody tr").all()] == ["live.lpr"]
            shot(page, "19-run-list-recording.png")
            page.goto(url + "run?id=live.lpr")
            page.wait_for_selector("body[data-ready='1']")
            assert page.locator("#run-meta .badge.recording").count() == 1
            assert page.locator("#run-meta .badge.killed").count() == 0
            page.goto(url + "compare?id=live.lpr&id=killed.lpr")
            page.wait_for_selector("body[data-ready='1']")
            legend = page.locator("#chart .legend li").all_inner_texts()
            assert any(t.endswith(" · recording") for t in legend) and any(t.endswith(" · killed") for t in legend)
    finally:
        rec.close()
