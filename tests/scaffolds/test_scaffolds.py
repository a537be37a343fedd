"""Scaffold components, presets, the command-line and TOML specs, and the scaffold card."""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pytest

from longplay.agents.lm.history import Exchange, History
from longplay.agents.lm.messages import Message, Text, ToolCall, ToolResult
from longplay.agents.lm.navigation import SeenMap, TileRules
from longplay.agents.lm.tools import Toolbox
from longplay.scaffolds import (
    COMPONENTS,
    PRESETS,
    build_component,
    build_scaffold,
    load_spec_file,
    parse_spec,
)
from longplay.scaffolds.base import Scaffold


class FakeDriver:
    """Just what map memory reads from the driver."""

    def __init__(self) -> None:
        self.seen = SeenMap(TileRules(passable=(False, True), chars=("#", ".")))
        self.seen.update(3, 0, 0, np.ones((5, 5), np.uint8), np.zeros((5, 5), np.uint8))
        self.pos = (3, 2, 2)
        self.maps_entered: dict[int, str] = {}

    def position(self) -> Any:
        from longplay.agents.lm.adapters import Position

        return Position(self.pos[0], self.pos[1], self.pos[2], "down", "overworld")


class FakeContext:
    """A stand-in for the loop: records model calls and answers them."""

    def __init__(self, scaffold: Scaffold, answer: str | None = "the model's text") -> None:
        self.turn = 1
        self.driver = FakeDriver()
        self.history = History()
        self.scaffold = scaffold
        self.answer = answer
        self.calls: list[tuple[str, str]] = []

    def call_model(self, purpose: str, system: str, prompt: str, max_output_tokens: int) -> str | None:
        self.calls.append((purpose, prompt))
        return self.answer

    def sections(self, exclude: str | None = None) -> list[tuple[str, str]]:
        return self.scaffold.sections(exclude)

    def map_name(self, map_id: int) -> str:
        return f"Map{map_id}"


def exchange(turn: int, text: str = "saw things") -> Exchange:
    call = ToolCall(f"c{turn}", "press_buttons", {"buttons": ["a"]}, '{"buttons": ["a"]}')
    return Exchange(
        turn,
        turn * 3,
        [Text(f"{text} {turn}")],
        Message("assistant", [Text("thinking"), call]),
        [ToolResult(call.id, call.name, "pressed a")],
    )


def bound(spec: str, answer: str | None = "the model's text") -> tuple[Scaffold, FakeContext, Toolbox]:
    scaffold = build_scaffold(spec)
    ctx = FakeContext(scaffold, answer)
    scaffold.bind(ctx)  # type: ignore[arg-type]
    return scaffold, ctx, Toolbox(scaffold.tools())


def call(box: Toolbox, name: str, **args: Any) -> tuple[str, bool]:
    result, _ = box.run(ToolCall("x", name, args, json.dumps(args)))
    return result.content, result.is_error


# ============================================================================================ specs


def test_presets_and_card() -> None:
    assert set(PRESETS) == {"minimal", "notes", "full"}
    card = build_scaffold("full").card()
    assert [c["name"] for c in card] == ["summary", "notes", "map_memory", "goals", "critic"]
    assert all(c["version"] and isinstance(c["params"], dict) for c in card)
    json.dumps(card)  # goes into the replay header


def test_each_components_version_counts_the_changes_to_what_it_shows() -> None:
    """The card's version is all that tells runs of one component's old and new behaviour apart (parameters and
    prompt_version stay the same): map_memory lists maps entered and left within a turn (530f974), progress_check
    groups places by map id (d3fd9cb); both were still version 1, so a card could not say which of them ran."""
    versions = {name: cls.version for name, cls in COMPONENTS.items()}
    assert versions == {"window": "1", "summary": "1", "notes": "1", "map_memory": "2", "goals": "1", "critic": "1",
                        "progress_check": "2"}


def test_spec_parsing_merging_and_default_window() -> None:
    assert parse_spec("notes,window(k=5)") == [
        {"name": "window", "params": {"k": 5}},
        {"name": "notes", "params": {}},
    ]
    assert parse_spec("critic(every=3),minimal") == [
        {"name": "critic", "params": {"every": 3}},
        {"name": "window", "params": {"k": 20}},
    ]
    # Nothing bounds the history: the default window is added, and declared.
    assert [c["name"] for c in build_scaffold("goals").card()] == ["window", "goals"]


@pytest.mark.parametrize(
    "spec, message",
    [
        ("wizard", "unknown scaffold 'wizard'; presets: minimal, notes, full; components: window"),
        ("window(q=1)", "unknown parameter 'q' of scaffold 'window'; valid: k, stride"),
        ("window(k=x)", "must be a number"),
        ("window(k=2.5)", "must be an integer"),
        ("window(k=-1)", "invalid window"),
        ("window(k", "use name(key=value"),
        ("full(", "use name(key=value"),  # an unclosed "(" with nothing after it ran as plain full
        ("notes,window(", "use name(key=value"),
        # past what a deque's maxlen takes: an OverflowError traceback as the scaffold was built
        ("critic(lookback=1e20)", "parameter 'lookback' of scaffold 'critic' must be at most"),
        ("progress_check(turns=1e20)", "parameter 'turns' of scaffold 'progress_check' must be at most"),
        ("map_memory(radius_x=-5)", "invalid map_memory radius_x=-5; must be >= 0"),
        # a radius of a million drew a 2,000,001-column map into every prompt (memory ran out drawing it)
        ("map_memory(radius_x=1e6)", "invalid map_memory radius_x=1000000; must be <= 64"),
        ("map_memory(radius_y=65)", "invalid map_memory radius_y=65; must be <= 64"),
        # the second value won without a word
        ("window(k=5,k=6)", "parameter 'k' of scaffold item 'window(k=5,k=6)' given twice"),
        ("notes(max_chars=0)", "invalid notes max_chars=0; must be >= 1"),
        ("goals(max_depth=0)", "invalid goals max_depth=0"),
        ("summary(max_output_tokens=0)", "invalid summary max_output_tokens=0"),
        ("critic(max_chars=-1)", "invalid critic max_chars=-1"),
        ("notes,notes(max_chars=3)", None),
        # Two components that bound the history: one of them never acts (a window of 20 turns stays under the
        # summary's budget, so no summary was ever written, while the card declared one).
        ("window,summary", "window and summary both bound the history"),
        ("full,window(k=200)", "summary and window both bound the history"),
        ("minimal(k=5)", "preset 'minimal' takes no parameters; set them on its components (window), e.g. "
                         "minimal,window(k=5)"),
    ],
)
def test_bad_specs_are_one_line_errors(spec: str, message: str | None) -> None:
    if message is None:
        assert build_scaffold(spec).get("notes").max_chars == 3  # type: ignore[union-attr]
        return
    with pytest.raises(ValueError) as info:
        build_scaffold(spec)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_parameters_given_again_add_to_those_given_before() -> None:
    """A component named again (a later item, or a --scaffold-file table over --scaffold) changes only the parameters
    it names: the others it was given stay (they went back to their defaults, and the card declared those)."""
    assert parse_spec("window(k=5, stride=2),window(k=6)") == [{"name": "window", "params": {"k": 6, "stride": 2}}]


def test_a_scaffold_file_table_keeps_the_command_lines_other_parameters(tmp_path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[window]\nk = 7\n")
    assert load_spec_file(path, onto=parse_spec("window(k=5, stride=2)")) == [
        {"name": "window", "params": {"k": 7, "stride": 2}}]


def test_sections_come_in_the_cards_order() -> None:
    """The prompt shows the components' sections in the order the card declares them (goals before notes here)."""
    scaffold, _, _ = bound("goals,notes(max_chars=500)")
    assert [c["name"] for c in scaffold.card()] == ["window", "goals", "notes"]
    assert [title for title, _ in scaffold.sections()] == ["Goals (current first)", "Notes"]
    assert [title for title, _ in scaffold.sections(exclude="goals")] == ["Notes"]


def test_a_component_given_twice_to_a_scaffold_is_refused() -> None:
    """Two components of one name would share one memory-log entry and one card name (specs merge them; the Python
    API does not)."""
    with pytest.raises(ValueError, match="scaffold component 'notes' given twice"):
        Scaffold([build_component("notes", {}), build_component("goals", {}), build_component("notes", {})])


def test_restored_memory_already_logged_is_not_logged_again() -> None:
    """A resumed run restores which memory its replay already holds: every component was logged again at its
    first turn, a second snapshot of unchanged memory in the replay (an 'update' the viewer counts)."""
    scaffold, _, box = bound("notes")
    call(box, "add_note", title="Town", text="healer north")
    assert [name for name, _ in scaffold.changed_snapshots()] == ["notes"]
    state = json.loads(json.dumps(scaffold.state_dict()))
    twin, _, twin_box = bound("notes")
    twin.load_state_dict(state)
    assert twin.changed_snapshots() == []
    call(twin_box, "add_note", title="Cave", text="dark")
    assert [name for name, _ in twin.changed_snapshots()] == ["notes"]


def test_a_recorded_run_with_a_window_and_a_summary_is_still_built() -> None:
    spec = [{"name": "window", "params": {"k": 20}}, {"name": "summary", "params": {}}]
    assert [c["name"] for c in build_scaffold(spec, recorded=True).card()] == ["window", "summary"]


def test_toml_file(tmp_path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('preset = "notes"\n[window]\nk = 7\n[critic]\nevery = 4\n')
    spec = load_spec_file(path)
    assert spec == [
        {"name": "window", "params": {"k": 7}},
        {"name": "notes", "params": {}},
        {"name": "critic", "params": {"every": 4}},
    ]
    path.write_text("[teleporter]\n")
    with pytest.raises(ValueError, match="unknown scaffold component 'teleporter'"):
        load_spec_file(path)
    path.write_text('preset = ["notes"]\n')  # a list is no preset name: a one-line error, not a TypeError
    with pytest.raises(ValueError, match=r"unknown preset \['notes'\] in .*; presets: minimal, notes, full"):
        load_spec_file(path)
    path.write_bytes(b"\xff\xfe[window]\n")
    with pytest.raises(ValueError, match=f"invalid TOML in {path}: not UTF-8 text"):
        load_spec_file(path)


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_every_component_round_trips_its_memory(name: str) -> None:
    scaffold, ctx, box = bound(name)
    component = scaffold.get(name)
    assert component is not None
    for tool in box.specs:  # every tool schema is a JSON-schema object
        assert tool.parameters["type"] == "object"
    state = json.loads(json.dumps(scaffold.state_dict()))
    twin, twin_ctx, _ = bound(name)
    twin.load_state_dict(state)
    assert twin.state_dict() == scaffold.state_dict()
    assert build_component(name, component.params()).params() == component.params()


# ============================================================================================ components


def test_window_keeps_the_last_k_turns_with_stride() -> None:
    history = History()
    window = build_component("window", {"k": 3, "stride": 2})
    for t in range(1, 8):
        history.append(exchange(t))
        window.trim(history, lambda: 0)
        assert len(history) <= 4
    assert [e.turn for e in history.exchanges] == [5, 6, 7]


def test_notes_tools_limits_and_section() -> None:
    scaffold, _, box = bound("notes(max_chars=60, max_sections=2)")
    assert call(box, "add_note", title="Town", text="healer north") == (
        "Added note 'Town' (16/60 characters used).",
        False,
    )
    assert "exists" in call(box, "add_note", title="Town", text="again")[0]
    assert call(box, "update_note", title="Town", text="healer north, shop east")[1] is False
    assert "no section 'Cave'" in call(box, "update_note", title="Cave", text="x")[0]
    assert "over the limit of 60" in call(box, "add_note", title="Long", text="x" * 80)[0]
    call(box, "add_note", title="Team", text="lv 5")
    assert "at most 2 sections" in call(box, "add_note", title="Third", text="y")[0]
    assert scaffold.sections() == [("Notes", "### Town\nhealer north, shop east\n### Team\nlv 5")]
    assert call(box, "delete_note", title="Team") == ("Deleted note 'Team'.", False)
    assert [name for name, _ in scaffold.changed_snapshots()] == ["notes"]
    assert scaffold.changed_snapshots() == []  # logged once per change


def test_notes_may_fill_their_character_limit_exactly() -> None:
    # max_chars is the most characters of all notes together: a note that reaches it is taken, one more is refused
    scaffold, _, box = bound("notes(max_chars=20)")
    assert call(box, "add_note", title="Town", text="x" * 16) == ("Added note 'Town' (20/20 characters used).", False)
    message, refused = call(box, "update_note", title="Town", text="x" * 17)
    assert refused and "notes would hold 21 characters, over the limit of 20" in message
    assert scaffold.sections() == [("Notes", "### Town\n" + "x" * 16)]  # the refused edit changed nothing


def test_goals_stack() -> None:
    scaffold, _, box = bound("goals(max_depth=2)")
    assert "there is no goal" in call(box, "pop_goal", outcome="done")[0]
    call(box, "push_goal", goal="Win the badge")
    call(box, "push_goal", goal="Find the gym")
    assert "at most 2 goals" in call(box, "push_goal", goal="More")[0]
    assert call(box, "pop_goal", outcome="done")[0] == "Goal done: Find the gym. Current goal: Win the badge."
    assert "must be one of done, dropped" in call(box, "pop_goal", outcome="maybe")[0]
    title, text = scaffold.get("goals").section()  # type: ignore[union-attr]
    assert text == "-> Win the badge\nrecently finished: done: Find the gym"


def test_summary_replaces_history_at_budget_and_survives_failure() -> None:
    scaffold, ctx, _ = bound("summary(budget_tokens=500, keep_last=1)")
    summary = scaffold.get("summary")
    for t in range(1, 6):
        ctx.history.append(exchange(t))
    summary.trim(ctx.history, lambda: 400)  # under budget: nothing
    assert len(ctx.history) == 5 and not ctx.calls
    summary.trim(ctx.history, lambda: 900 if len(ctx.history) > 1 else 400)
    assert len(ctx.history) == 1 and ctx.calls[0][0] == "summary" and "turn 4" in ctx.calls[0][1]
    assert summary.section() == ("Progress summary (through turn 4)", "the model's text")
    ctx.answer = None  # the call fails: the history is still cut, and the summary says what was lost
    ctx.history.append(exchange(6))
    ctx.history.append(exchange(7))
    summary.trim(ctx.history, lambda: 900 if len(ctx.history) > 1 else 400)
    assert len(ctx.history) == 1
    assert summary.section()[1].endswith("(turns 5-6 were dropped without a summary)")


def test_summary_runs_only_when_the_request_exceeds_the_budget_and_is_cut_to_max_chars() -> None:
    # "whenever a request would exceed budget_tokens": a request of exactly the budget is sent as it is
    scaffold, ctx, _ = bound("summary(budget_tokens=500, keep_last=1, max_chars=10)", answer="a" * 25)
    summary = scaffold.get("summary")
    for t in range(1, 4):
        ctx.history.append(exchange(t))
    summary.trim(ctx.history, lambda: 500)
    assert len(ctx.history) == 3 and not ctx.calls
    summary.trim(ctx.history, lambda: 501 if len(ctx.history) > 1 else 100)
    assert len(ctx.history) == 1 and len(ctx.calls) == 1
    assert summary.section() == ("Progress summary (through turn 2)", "a" * 10)  # cut to max_chars characters


def test_a_summary_budget_below_the_fixed_prompt_warns_once() -> None:
    """A budget below what a request holds even after a summary (system prompt, tools, notes, the turns kept) made
    a summary call every turn once the history passed ``keep_last``: the cost doubled, silently."""
    scaffold, ctx, _ = bound("summary(budget_tokens=500, keep_last=1)")
    summary = scaffold.get("summary")
    for turn in range(1, 4):
        ctx.history.append(exchange(turn))
    with pytest.warns(UserWarning, match=r"budget_tokens=500 .*\(900 tokens") as caught:
        summary.trim(ctx.history, lambda: 900)
        ctx.history.append(exchange(4))
        summary.trim(ctx.history, lambda: 900)
    assert len(caught) == 1 and len(ctx.calls) == 2  # once, and the summaries still run
    # ... once a run: a resumed run (its memory restored from a checkpoint) does not warn again
    twin, twin_ctx, _ = bound("summary(budget_tokens=500, keep_last=1)")
    twin.load_state_dict(json.loads(json.dumps(scaffold.state_dict())))
    for turn in range(5, 8):
        twin_ctx.history.append(exchange(turn))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        twin.get("summary").trim(twin_ctx.history, lambda: 900)  # type: ignore[union-attr]


def test_critic_reviews_every_n_turns_with_the_notes() -> None:
    scaffold, ctx, box = bound("notes,critic(every=3, lookback=2)")
    call(box, "add_note", title="Plan", text="go north")
    critic = scaffold.get("critic")
    for turn in range(1, 9):
        ctx.turn = turn
        scaffold.before_turn()
        scaffold.after_turn(exchange(turn))
    assert [p for p, _ in ctx.calls] == ["critic", "critic"]  # before turns 4 and 7
    prompt = ctx.calls[-1][1]
    assert "Plan" in prompt and "go north" in prompt and "turn 6" in prompt and "turn 4" not in prompt
    assert critic.section() == ("Critic's advice (turn 7)", "the model's text")


def test_the_critic_asks_once_per_turn_even_when_the_turn_is_played_again() -> None:
    # a resume from a Ctrl-C while the turn's own call was awaited plays the turn again: its review was asked
    # for already (answered or not), and asking again diverged from the uninterrupted run
    scaffold, ctx, _ = bound("critic(every=3)")
    for turn in range(1, 4):
        ctx.turn = turn
        scaffold.before_turn()
        scaffold.after_turn(exchange(turn))
    ctx.turn, ctx.answer = 4, None  # the review fails
    scaffold.before_turn()
    twin = build_scaffold("critic(every=3)")
    twin.load_state_dict(json.loads(json.dumps(scaffold.state_dict())))  # the stop checkpoint
    twin.bind(ctx)
    twin.before_turn()  # turn 4 again
    assert [p for p, _ in ctx.calls] == ["critic"]
    old = {"recent": [], "advice": "go north", "at_turn": 4}  # a checkpoint from before asked_at was kept
    twin.get("critic").load_state_dict(old)  # type: ignore[union-attr]
    assert twin.get("critic").asked_at == 4  # type: ignore[union-attr]


def test_the_progress_check_tells_apart_maps_of_the_same_name() -> None:
    # the canonical world has two maps named "Harcrest House" (and three more such pairs): grouped by name, a loop
    # between them read as one place spanning both houses' coordinates ("Harcrest House (x 2-5, y 1-3)")
    from longplay.envs.game import GameState, Mode

    scaffold, ctx, _ = bound("progress_check(turns=4)")
    check = scaffold.get("progress_check")
    places = [(3, 2, 3), (4, 5, 1)] * 3  # turns 1-2 reach new places, turns 3-6 go back and forth

    class Game:
        def state(self) -> GameState:
            map_id, x, y = places[ctx.turn - 1]
            return GameState(map_id, "Harcrest House", x, y, "down", Mode.OVERWORLD)

    driver: Any = ctx.driver
    driver.game, driver.steps, driver.actions, driver.milestones = Game(), 0, bytearray(), {}
    for turn in range(1, 7):
        ctx.turn = turn
        scaffold.before_turn()
        driver.steps += 2
        driver.actions += bytes([2, 3])
        scaffold.after_turn(exchange(turn))
    assert ("The last 4 turns ended on 2 places: Harcrest House, map 3 (x 2, y 3); Harcrest House, map 4 "
            "(x 5, y 1); in overworld 4.") in check.message  # type: ignore[union-attr]


def test_map_memory_markers_and_rendering() -> None:
    scaffold, ctx, box = bound("map_memory(radius_x=3, radius_y=2, max_markers=2)")
    scaffold.before_turn()
    assert call(box, "place_marker", label="healer", x=4, y=2, note="rest")[0] == (
        "Marker 'healer' at (4, 2) on map 3 (Map3)."
    )
    call(box, "place_marker", label="here")
    assert "at most 2 markers" in call(box, "place_marker", label="third")[0]
    assert scaffold.get("map_memory").resolve_marker("healer") == (3, 4, 2)
    _, text = scaffold.get("map_memory").section()
    assert "   2 ?..@.1?" in text  # x from -1: unseen, the player at 2, marker 1 at 4, unseen at 5
    assert "1 = healer (4, 2): rest" in text and "Maps visited: 3 (Map3)" in text
    assert "no marker 'gym'" in call(box, "remove_marker", label="gym")[0]
    snapshot = scaffold.get("map_memory").snapshot()
    assert snapshot["maps"] == {"3": {"name": "Map3", "seen": 25}} and set(snapshot["markers"]) == {
        "healer",
        "here",
    }
