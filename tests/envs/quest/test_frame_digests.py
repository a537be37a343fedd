"""Pixels and text of the quest game stay byte for byte what they were: digests along fixed runs.

``data/frame_digests.json`` holds, per scenario, the buttons pressed and running SHA-256 digests of every
frame (two palettes and the shade image) and every text view along the run, written by an earlier renderer.
The test replays the buttons and compares, so a faster renderer must draw exactly the same bytes.

Scenarios cover the overworld on every map of the canonical world (map edges, swimming, every facing),
text boxes, every menu, battles with their sub-screens (the oracle with random presses mixed in), a chopped
tree and pushed boulders.

Rewrite the file only when the look is meant to change (it records the oracle's buttons too)::

    .venv/bin/python tests/envs/quest/test_frame_digests.py
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from longplay.envs.game import Button
from longplay.envs.quest import engine, overworld, render, savestate, textview, worldgen
from longplay.envs.quest.battle import BattleMsg
from longplay.envs.quest.constants import (
    DX,
    DY,
    NUM_ITEMS,
    BattleKind,
    BattlePhase,
    EntityKind,
    Item,
    MenuKind,
    Tile,
)
from longplay.envs.quest.dialog import Msg
from longplay.envs.quest.game import QuestGame
from longplay.envs.quest.party import make_mon
from longplay.envs.quest.state import Battle, QuestState, World

DIGESTS = Path(__file__).parent / "data" / "frame_digests.json"
CHECKPOINT = 250  # screens per recorded digest: a mismatch is located to within this many screens
PALETTES = (None, "sepia")


@dataclass(frozen=True)
class Scenario:
    """A run of screens: a game played by a driver, or a tour of hand-set states."""

    game: dict  # QuestGame keyword arguments
    seed: int
    driver: str  # "oracle" (with ``random_share`` of presses random), "random" or "tour"
    steps: int = 0
    random_share: float = 0.0


SCENARIOS = {
    "mini_oracle_mixed": Scenario({"size": "mini", "world_seed": 0}, 0, "oracle", 2500, 0.2),
    "small_oracle_chop": Scenario({"size": "small", "world_seed": 9}, 9, "oracle", 3700),
    "canon_random": Scenario({"world": "canonical"}, 0, "random", 3000),
    "canon_tour": Scenario({"world": "canonical"}, 0, "tour"),
}


# ============================================================================================= drivers


def record_buttons(scenario: Scenario) -> list[int]:
    """The buttons a driver presses (the oracle is asked only when the digests are rewritten)."""
    rng = np.random.default_rng(scenario.seed)
    if scenario.driver == "random":
        return [int(b) for b in rng.integers(0, 8, scenario.steps)]
    from longplay.agents.oracle import OracleAgent
    from longplay.envs.quest.game import QuestEnv

    env = QuestEnv(**scenario.game, max_steps=None)
    agent = OracleAgent()
    obs, info = env.reset(seed=scenario.seed)
    agent.reset(env, obs, info, scenario.seed)
    buttons = []
    for _ in range(scenario.steps):
        button = agent.act(obs, info)
        if rng.random() < scenario.random_share:
            button = int(rng.integers(0, 8))
        buttons.append(button)
        obs, _, terminated, _, info = env.step(button)
        if terminated:
            break
    return buttons


def played(scenario: Scenario, buttons: list[int]) -> Iterator[tuple[World, QuestState]]:
    """The state after reset and after every press."""
    game = QuestGame(**scenario.game)
    game.reset(scenario.seed)
    yield game.world, game.raw
    for button in buttons:
        game.press(button)
        yield game.world, game.raw


def tour(scenario: Scenario) -> Iterator[tuple[World, QuestState]]:
    """Hand-set states: every map at its corners, edges and a grid inside (every facing, swimming on
    water); a tree chopped and each boulder pushed with the engine, all abilities won; then every menu
    and battle screen."""
    world = QuestGame(**scenario.game).world
    state = engine.new_state(world, scenario.seed)
    for m in world.maps:
        xs = sorted({-1, 0, 1, m.width // 2, m.width - 2, m.width - 1, m.width, *range(0, m.width, 7)})
        ys = sorted({-1, 0, 1, m.height // 2, m.height - 2, m.height - 1, m.height, *range(0, m.height, 5)})
        for k, (y, x) in enumerate((y, x) for y in ys for x in xs):
            state.map, state.x, state.y, state.facing = m.index, x, y, k % 4
            state.surfing = m.tile(x, y) == Tile.WATER
            yield world, state
    state.surfing = False
    for ev in world.badge_events:
        state.set_event(ev)
    for e in world.entities:
        if e.kind not in (EntityKind.BOULDER, EntityKind.CUT_TREE) or not overworld.visible(state, world, e.index):
            continue
        for direction in range(4):  # stand next to it, facing it, and push or chop
            x, y = state.entity_x[e.index] - DX[direction], state.entity_y[e.index] - DY[direction]
            if world.maps[e.map].tile(x, y) in (Tile.VOID, Tile.WATER):
                continue
            state.map, state.x, state.y, state.facing = e.map, x, y, direction
            state.dialog, state.menu = [], 0
            yield world, state
            # a walking button's value is its Direction's
            button = int(Button.A) if e.kind == EntityKind.CUT_TREE else direction
            for _ in range(3):
                engine.step(state, world, button)
                yield world, state
            break
    yield from _menus_and_battles(world, state)


def _menus_and_battles(world: World, state: QuestState) -> Iterator[tuple[World, QuestState]]:
    """Every menu and battle phase with the cursor on every row and past it, with and without a text box."""
    state.party = [make_mon(s, level) for s, level in ((0, 5), (7, 31), (12, 100))]
    state.party[1].hp = 0
    state.bag = [k % 3 * 7 for k in range(NUM_ITEMS)]
    state.money = 123456
    for menu in list(MenuKind)[1:]:
        for cursor, pages in itertools.product(range(9), ([], [(Msg.NOT_ENOUGH_MONEY, 0, 0)])):
            state.menu, state.menu_cursor, state.dialog = menu, cursor, pages
            state.menu_choice = Item.TONIC if menu == MenuKind.BAG_TARGET else cursor % len(world.shops)
            yield world, state
    state.menu, state.dialog = MenuKind.NONE, []
    messages = [(BattleMsg.WILD_APPEARED, 3, 0), (BattleMsg.GO, 0, 0)]
    for kind, phase, cursor in itertools.product((BattleKind.WILD, BattleKind.TRAINER), BattlePhase, range(6)):
        enemy = [make_mon(cursor * 5, 4 + cursor), make_mon(2, 50)]
        enemy[1].hp = 0
        state.battle = Battle(kind=kind, trainer=cursor if kind == BattleKind.TRAINER else -1, enemy=enemy,
                              player_active=cursor % 3, phase=phase, cursor=cursor,
                              messages=messages[cursor % 2:])
        yield world, state
    state.battle = Battle()


# ============================================================================================= digests


def digests(screens: Iterator[tuple[World, QuestState]]) -> dict[str, list[str]]:
    """Running digests of the frames (per palette), shade images and text views, one every CHECKPOINT."""
    outputs: dict[str, Callable[[World, QuestState], bytes]] = {
        f"frame_{p or 'default'}": (lambda w, s, p=p: render.render_frame(w, s, p).tobytes()) for p in PALETTES}
    outputs["shades"] = lambda w, s: render.render_shades(w, s).tobytes()
    outputs["text"] = lambda w, s: textview.text_view(w, s).encode()
    chains = {name: hashlib.sha256() for name in outputs}
    found: dict[str, list[str]] = {name: [] for name in outputs}
    count = 0
    for world, state in screens:
        for name, output in outputs.items():
            chains[name].update(output(world, state))
        count += 1
        if count % CHECKPOINT == 0:
            for name in outputs:
                found[name].append(chains[name].hexdigest()[:16])
    for name in outputs:
        found[name].append(chains[name].hexdigest()[:16])
    found["screens"] = [str(count)]
    return found


def screens_of(name: str, recorded: dict) -> Iterator[tuple[World, QuestState]]:
    scenario = SCENARIOS[name]
    return tour(scenario) if scenario.driver == "tour" else played(scenario, recorded["buttons"])


def final_state_hash(name: str, recorded: dict) -> str:
    *_, (_, last) = screens_of(name, recorded)
    return savestate.state_hash(last).hex()


def write_digests() -> None:
    table = {}
    for name, scenario in SCENARIOS.items():
        entry: dict = {"buttons": "".join(map(str, record_buttons(scenario)))} if scenario.driver != "tour" else {}
        recorded = {"buttons": [int(c) for c in entry.get("buttons", "")]}
        entry["state_hash"] = final_state_hash(name, recorded)
        entry["digests"] = digests(screens_of(name, recorded))
        table[name] = entry
        print(name, entry["digests"]["screens"][0], "screens")
    DIGESTS.parent.mkdir(exist_ok=True)
    DIGESTS.write_text(json.dumps(table, indent=1) + "\n")


# ============================================================================================= tests


@pytest.fixture(scope="module")
def table() -> dict:
    return json.loads(DIGESTS.read_text())


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_screens_are_unchanged(table: dict, name: str) -> None:
    entry = table[name]
    recorded = {"buttons": [int(c) for c in entry.get("buttons", "")]}
    if final_state_hash(name, recorded) != entry["state_hash"]:
        pytest.fail(f"{name}: the game reaches other states than when the digests were written (the engine or "
                    f"the worlds changed); rewrite them from a renderer you trust (see the module docstring)")
    found = digests(screens_of(name, recorded))
    assert found["screens"] == entry["digests"]["screens"]
    for output, expected in entry["digests"].items():
        got = found[output]
        first = next((i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b), None)
        assert first is None, (f"{name}: {output} differs from screen {first * CHECKPOINT} on "
                               f"(within the next {CHECKPOINT} screens)")


def test_the_tour_covers_what_it_claims() -> None:
    """Every canonical map, swimming, a chopped tree and a pushed boulder are in the tour."""
    world = worldgen.canonical_world()
    maps, swimming, chopped, pushed = set(), False, False, False
    start = engine.new_state(world, 0)
    for _, state in tour(SCENARIOS["canon_tour"]):
        maps.add(state.map)
        swimming |= state.surfing
        for e in world.entities:
            if e.kind == EntityKind.CUT_TREE:
                chopped |= bool(state.done[e.index])
            elif e.kind == EntityKind.BOULDER:
                pushed |= (state.entity_x[e.index], state.entity_y[e.index]) != (start.entity_x[e.index],
                                                                                  start.entity_y[e.index])
    assert maps == set(range(len(world.maps))) and swimming and chopped and pushed


if __name__ == "__main__":
    write_digests()
