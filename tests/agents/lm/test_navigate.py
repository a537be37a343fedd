"""``navigate_to`` on the built-in game: paths over the tiles the model was shown, markers, early stops."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

import longplay.envs  # noqa: F401 - registers the envs
from longplay.agents.lm.config import BudgetConfig, LMConfig, ProviderConfig
from longplay.agents.lm.loop import LMRun
from longplay.agents.lm.messages import Message, ModelRequest, ToolCall
from longplay.agents.lm.navigation import DIRECTIONS, STEPS, UNSEEN, Plan, SeenMap, TileRules, find_path
from longplay.agents.lm.providers import ScriptedProvider
from longplay.scaffolds import build_scaffold


def seen_map(rules: TileRules, rows: list[str], tiles: dict[str, int], entities: dict[str, int],
             land: int = 1) -> SeenMap:
    """A seen map of one screen drawn as ``rows`` (a character a cell): each character's tile kind from ``tiles``
    (``land`` for the rest) and what stands on it from ``entities`` (nothing for the rest)."""
    seen = SeenMap(rules)
    seen.update(0, 0, 0, np.array([[tiles.get(c, land) for c in row] for row in rows], np.uint8),
                np.array([[entities.get(c, 0) for c in row] for row in rows], np.uint8))
    return seen


def make(scaffold: str = "minimal") -> LMRun:
    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    config = LMConfig(provider=ProviderConfig(provider="scripted", model="scripted"), budget=BudgetConfig())
    run = LMRun(env, ScriptedProvider([Message("assistant", [])]), build_scaffold(scaffold), config)
    run.start()
    run.observe()  # what the model is shown first: the text view's map goes into the seen map
    return run


def call(run: LMRun, name: str, **args: object) -> tuple[str, bool]:
    result, _ = run.toolbox.run(ToolCall("t", name, dict(args), json.dumps(args)))
    return result.content, result.is_error


def far_tile(run: LMRun) -> tuple[int, int]:
    """A standable seen tile at least three steps away."""
    pos = run.driver.position()
    seen = run.driver.seen
    grid = seen.grids[pos.map_id]
    best = None
    for gy in range(grid.tiles.shape[0]):
        for gx in range(grid.tiles.shape[1]):
            x, y = gx + grid.x0, gy + grid.y0
            code = int(grid.tiles[gy, gx])
            if (
                code == UNSEEN
                or code in seen.rules.warps
                or not seen.rules.passable[code]
                or grid.entities[gy, gx]
            ):
                continue
            path = find_path(seen, pos.map_id, (pos.x, pos.y), (x, y))
            if path and len(path.steps) >= 3 and (best is None or len(path.steps) > best[0]):
                best = (len(path.steps), (x, y))
    assert best is not None
    return best[1]


def test_adapter_reads_the_position_the_game_reports() -> None:
    run = make()
    pos, state = run.driver.position(), run.driver.game.state()
    assert (pos.map_id, pos.x, pos.y, pos.facing, pos.mode) == (
        state.map_id,
        state.x,
        state.y,
        state.facing,
        state.mode.value,
    )


def test_the_adapter_gives_no_screen_in_a_battle() -> None:
    """In a battle the frame shows the battle, not the map: the symbolic view still holds the map around the player,
    but the seen map must not take it as seen (the model was shown none of it)."""
    from longplay.agents.lm.adapters import QuestAdapter
    from longplay.envs.quest.game import VECTOR_FIELDS

    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    obs, _ = env.reset(seed=0)
    adapter = QuestAdapter()
    assert adapter.screen(obs) is not None
    vector = obs["vector"].copy()
    vector[VECTOR_FIELDS.index("mode")] = adapter._MODES.index("battle")
    assert adapter.position({**obs, "vector": vector}).mode == "battle"
    assert adapter.screen({**obs, "vector": vector}) is None


def test_navigate_to_a_seen_tile_arrives() -> None:
    run = make()
    target = far_tile(run)
    text, error = call(run, "navigate_to", x=target[0], y=target[1])
    assert not error and text.startswith(f"Arrived at ({target[0]}, {target[1]})"), text
    pos = run.driver.position()
    assert (pos.x, pos.y) == target


def test_navigate_to_unknown_tiles_or_outside_walking_is_refused() -> None:
    run = make()
    text, error = call(run, "navigate_to", x=500, y=500)
    assert error and "no known path" in text and run.driver.steps == 0
    text, error = call(run, "navigate_to")
    assert error and "give x and y" in text
    call(run, "press_buttons", buttons=["start"])
    text, error = call(run, "navigate_to", x=1, y=1)
    assert error and "only navigate while walking; now: menu" in text


def test_navigate_to_a_marker() -> None:
    run = make("map_memory")
    target = far_tile(run)
    assert not call(run, "place_marker", label="spot", x=target[0], y=target[1])[1]
    text, error = call(run, "navigate_to", marker="spot")
    assert not error and "Arrived" in text
    assert "no marker 'nowhere'" in call(run, "navigate_to", marker="nowhere")[0]


def test_navigate_stops_when_the_map_changes() -> None:
    run = make()
    pos = run.driver.position()
    seen = run.driver.seen
    grid = seen.grids[pos.map_id]
    doors = [
        (gx + grid.x0, gy + grid.y0)
        for gy in range(grid.tiles.shape[0])
        for gx in range(grid.tiles.shape[1])
        if int(grid.tiles[gy, gx]) in seen.rules.warps
    ]
    if not doors:
        pytest.skip("no exit in view at the start of this world")
    text, error = call(run, "navigate_to", x=doors[0][0], y=doors[0][1])
    assert not error and "entered map" in text and run.driver.position().map_id != pos.map_id


def test_navigate_to_a_clerk_behind_the_counter_faces_it_across_the_counter() -> None:
    from longplay.envs.quest.constants import EntityKind, MapKind, MenuKind

    run = make()
    game = run.driver.game
    state, world = game.raw, game.world
    shop = next(i for i, m in enumerate(world.maps) if m.kind == MapKind.SHOP)
    clerk = next(e for e in world.entities if e.map == shop and e.kind == EntityKind.CLERK)
    state.map, state.x, state.y = shop, clerk.x, clerk.y + 4  # inside the shop, the counter between
    run.driver.obs = game.symbolic()
    run.observe()  # the whole shop is in view
    text, error = call(run, "navigate_to", x=clerk.x, y=clerk.y)
    # it was refused: "no known path ... explore toward it first", with every tile of the shop in view
    assert not error and text.startswith(f"Arrived across the counter from ({clerk.x}, {clerk.y}), facing it"), text
    pos = run.driver.position()
    assert (pos.x, pos.y, pos.facing) == (clerk.x, clerk.y + 2, "up")
    call(run, "press_buttons", buttons=["a"])
    while state.dialog:
        call(run, "press_buttons", buttons=["a"])
    assert state.menu == MenuKind.SHOP


def canonical_run() -> tuple[LMRun, Any, Any, Any]:
    """(an LM run started on the canonical world with a model that says nothing, its game, the game's raw state,
    its world): the tests move the player and call the tools themselves."""
    env = gym.make("longplay/QuestCanon-v0", obs_mode="symbolic")
    config = LMConfig(provider=ProviderConfig(provider="scripted", model="scripted"), budget=BudgetConfig())
    run = LMRun(env, ScriptedProvider([Message("assistant", [])]), build_scaffold("minimal"), config)
    run.start()
    game = run.driver.game
    return run, game, game.raw, game.world


def test_navigate_to_walks_on_water_once_the_player_can_swim() -> None:
    from longplay.envs.quest.constants import Ability, Tile
    from longplay.envs.quest.overworld import has_ability

    run, game, state, world = canonical_run()
    road = next(i for i, m in enumerate(world.maps) if m.name == "Ashmarsh Road")
    assert [world.maps[road].tile(x, 7) for x in (11, 12, 13, 14)] == [Tile.GROUND] + [Tile.WATER] * 3
    state.map, state.x, state.y = road, 11, 7  # on the shore of a lake
    state.set_event(world.badge_events[world.ability_badge[Ability.SWIM]])
    assert has_ability(state, world, Ability.SWIM)
    run.driver.obs = game.symbolic()
    run.observe()
    text, error = call(run, "navigate_to", x=14, y=7)
    # it stopped on the shore: "Arrived next to (14, 7), facing it.", as if the water were a wall
    assert not error and text.startswith("Arrived at (14, 7)"), text
    assert (state.x, state.y, state.surfing) == (14, 7, True)
    text, error = call(run, "navigate_to", x=11, y=7)
    assert not error and text.startswith("Arrived at (11, 7)") and not state.surfing, text


def test_a_map_walked_through_within_a_turn_is_a_map_visited() -> None:
    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    config = LMConfig(provider=ProviderConfig(provider="scripted", model="scripted"), budget=BudgetConfig())
    provider = ScriptedProvider([Message("assistant", [])])
    run = LMRun(env, provider, build_scaffold("map_memory"), config)
    run.start()
    run.observe()
    home = run.driver.position().map_id
    seen = run.driver.seen
    grid = seen.grids[home]
    mats = [(gx + grid.x0, gy + grid.y0) for gy, gx in zip(*(grid.tiles == 11).nonzero(), strict=True)]  # exit mat
    out = {"x": int(mats[0][0]), "y": int(mats[0][1])}
    back = {"buttons": ["up", "up"]}  # out of the door and straight back in
    provider.script = [Message("assistant", [ToolCall("1", "navigate_to", out, json.dumps(out)),
                                             ToolCall("2", "press_buttons", back, json.dumps(back))])]
    run.play_turn()
    assert run.driver.position().map_id == home
    town = next(m for m in run.driver.maps_entered if m != home)
    memory = run.scaffold.get("map_memory")
    # the town was missing: "Maps visited: 5 (Home)" after a turn that left the house (a milestone) and came back
    assert memory.visited == [home, town]
    name = run.driver.game.world.maps[town].name
    assert memory.section()[1].splitlines()[-1].endswith(f", {town} ({name})")
    assert memory.snapshot()["maps"][str(town)]["name"] == name


def test_the_loop_needs_the_symbolic_view_of_quest() -> None:
    env = gym.make("longplay/QuestMini-v0", obs_mode="text")
    config = LMConfig(provider=ProviderConfig(provider="scripted", model="scripted"))
    with pytest.raises(ValueError, match="obs_mode='symbolic'"):
        LMRun(env, ScriptedProvider([Message("assistant", [])]), build_scaffold("minimal"), config)


def seen_tiles(seen) -> dict[tuple[int, int, int], int]:  # type: ignore[no-untyped-def]
    """Every seen tile, by (map, x, y)."""
    return {(m, gx + g.x0, gy + g.y0): int(g.tiles[gy, gx]) for m, g in seen.grids.items()
            for gy, gx in zip(*(g.tiles != UNSEEN).nonzero(), strict=True)}


def test_a_screenshot_only_run_maps_the_screens_the_model_was_shown() -> None:
    # every press's screen went into the seen map, also those inside a press sequence that the model never saw:
    # navigate_to and the map memory used tiles that had never been on a screenshot it was shown
    from longplay.agents.lm.adapters import QuestAdapter
    from longplay.agents.lm.config import ObservationConfig
    from longplay.envs.quest.constants import TILE_ENCOUNTER, TILE_WALKABLE, Direction, MapKind
    from longplay.envs.quest.overworld import entity_at, world_index

    adapter = QuestAdapter()
    shown = SeenMap(adapter.rules)

    def model(request: ModelRequest) -> Message:
        screen = adapter.screen(run.driver.obs)  # what this request's screenshot shows
        shown.update(screen.map_id, screen.x0, screen.y0, screen.tiles, screen.entities)
        args = {"buttons": ["right"] * 5 + ["left"] * 5}  # four or five tiles out, four back (a press turns)
        return Message("assistant", [ToolCall(f"c{run.turn}", "press_buttons", args, json.dumps(args))])

    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    config = LMConfig(provider=ProviderConfig(provider="scripted", model="scripted"), budget=BudgetConfig(max_turns=3),
                      observation=ObservationConfig(screenshot=True, text=False))
    run = LMRun(env, ScriptedProvider([model]), build_scaffold("minimal"), config)
    run.start()
    game = run.driver.game
    state, world = game.raw, game.world
    town = next(i for i, m in enumerate(world.maps) if m.kind == MapKind.TOWN)
    area = world.maps[town]

    def free(x: int, y: int) -> bool:
        tile = area.tile(x, y)
        return (TILE_WALKABLE[tile] and not TILE_ENCOUNTER[tile] and (town, x, y) not in world_index(world).warps
                and entity_at(state, world, town, x, y) < 0)

    spot = next((x, y) for y in range(area.height) for x in range(area.width - 8)
                if all(free(x + i, y) for i in range(8)))
    state.map, (state.x, state.y), state.facing = town, spot, Direction.RIGHT
    run.driver.obs = game.symbolic()
    run.run()
    assert run.counters.turns == 3 and (state.x, state.y) == (spot[0] + 1, spot[1])
    assert seen_tiles(run.driver.seen) == seen_tiles(shown)


def test_find_path_pushes_a_boulder_only_when_there_is_no_way_around() -> None:
    boulder = 7
    rules = TileRules(passable=(False, True, True), chars=("#", ".", "D"), warps=frozenset({2}),
                      pushable=frozenset({boulder}))

    def seen_of(rows: list[str]) -> SeenMap:
        return seen_map(rules, rows, {"#": 0, "D": 2}, {"B": boulder, "P": 1})

    corridor = seen_of(["#####",
                        "..B..",
                        "#####"])
    # without the ability, or with it: the boulder was a wall ("no known path ... explore toward it first")
    assert find_path(corridor, 0, (0, 1), (3, 1)) is None
    assert find_path(corridor, 0, (0, 1), (3, 1), shove=True).steps == ["right", "right", "right"]  # pushed twice
    assert find_path(corridor, 0, (0, 1), (4, 1), shove=True) is None  # it would have to leave the map seen
    for beyond in ("#", "P", "B", "D"):  # onto a wall, a person, another boulder, a door: it does not move
        blocked = seen_of(["#####", f"..B{beyond}.", "#####"])
        assert find_path(blocked, 0, (0, 1), (4, 1), shove=True) is None, beyond
    around = seen_of(["#...#",
                      "..B..",
                      "#####"])
    assert find_path(around, 0, (0, 1), (4, 1), shove=True).steps == ["right", "up", "right", "right", "down", "right"]
    # a pushed boulder stands where it was pushed to: pushed down twice, it stands on the tile below the junction
    niche = seen_of(["#.#",
                     "#B#",
                     "...",
                     "#.#"])
    assert find_path(niche, 0, (1, 0), (1, 3), shove=True) is None  # pushed down it blocks the only way on
    assert find_path(niche, 0, (1, 0), (2, 2), shove=True).steps == ["down", "down", "right"]  # pushed twice, aside


def _brammarsh_lane_and_its_boulder(world: Any) -> tuple[int, int]:
    """The canonical world's Brammarsh Lane (a map with a ledge and a boulder) and its boulder's entity index."""
    from longplay.envs.quest.constants import EntityKind

    lane = next(i for i, m in enumerate(world.maps) if m.name == "Brammarsh Lane")
    return lane, next(e for e in world.entities if e.map == lane and e.kind == EntityKind.BOULDER).index


def test_navigate_to_pushes_a_boulder_once_the_party_can_shove() -> None:
    from longplay.envs.quest.constants import Ability

    run, game, state, world = canonical_run()
    lane, index = _brammarsh_lane_and_its_boulder(world)
    rock = world.entities[index]
    # a wall with one gap, the boulder in it, a niche on each side of it: pushed left from below, it clears the gap
    assert (rock.x, rock.y) == (4, 10)
    state.map, state.x, state.y = lane, 5, 12
    run.driver.obs = game.symbolic()
    run.observe()
    text, error = call(run, "navigate_to", x=4, y=8)
    assert error and "no known path" in text and run.driver.steps == 0  # no shove yet: the boulder is a wall
    state.set_event(world.badge_events[world.ability_badge[Ability.SHOVE]])
    text, error = call(run, "navigate_to", x=4, y=8)
    # it was refused the same way with the ability
    assert not error and text.startswith("Arrived at (4, 8)"), text
    assert (state.entity_x[rock.index], state.entity_y[rock.index]) == (3, 10)
    assert state.has_event(world.ev_first_shove)


def shove_run(boulder: tuple[int, int] | None = None, at: tuple[int, int] = (5, 12)) -> tuple[LMRun, int, int]:
    """A run on the canonical world's Brammarsh Lane (a wall with one gap at (4, 9); below it a boulder at (4, 10)
    between two niches) with the shove ability, the player at ``at``, the boulder at ``boulder`` (default its own
    place), everything around in view; returns the run, the lane and the boulder's entity index."""
    from longplay.envs.quest.constants import Ability

    run, game, state, world = canonical_run()
    lane, rock = _brammarsh_lane_and_its_boulder(world)
    if boulder is not None:
        state.entity_x[rock], state.entity_y[rock] = boulder
    state.map, (state.x, state.y) = lane, at
    state.set_event(world.badge_events[world.ability_badge[Ability.SHOVE]])
    run.driver.obs = game.symbolic()
    run.observe()
    return run, lane, rock


def test_after_a_push_navigate_to_knows_where_the_boulder_went() -> None:
    """The seen map kept the boulder where it was seen before the push: the next navigate_to took the gap it was
    pushed out of for blocked ('no known path ... explore toward it first', the way clear in the game) and the tile
    it was pushed onto for free land. The seen map follows the boulders the agent's own presses push."""
    from longplay.envs.quest.constants import Sprite

    run, lane, rock = shove_run()
    state, seen = run.driver.game.raw, run.driver.seen
    text, error = call(run, "navigate_to", x=4, y=8)  # up the niche, the boulder pushed left, through the gap
    assert not error and text.startswith("Arrived at (4, 8).") and "Pushed the boulder at (4, 10) to (3, 10)" in text
    assert (state.entity_x[rock], state.entity_y[rock]) == (3, 10)
    assert (seen.entity(lane, 4, 10), seen.entity(lane, 3, 10)) == (0, Sprite.BOULDER)
    text, error = call(run, "navigate_to", x=5, y=12)  # back down through the gap the push cleared
    assert not error and text.startswith("Arrived at (5, 12)."), text
    assert "Pushed" not in text and (state.entity_x[rock], state.entity_y[rock]) == (3, 10)


def test_a_pushed_boulder_is_pushed_again_when_it_must_be_and_gone_around_when_it_can_be() -> None:
    """A pushed boulder stands where it went, and the game pushes it again by the same rule (any number of times,
    each onto free land): a later plan pushes it again when no way around is known, and goes around it when one
    is. The seen map had it where it was seen before the push, so a later plan walked into it as free land."""
    from longplay.envs.quest.constants import Direction, Sprite

    run, lane, rock = shove_run(boulder=(4, 9), at=(4, 10))  # the boulder in the gap, the player below it
    state, seen = run.driver.game.raw, run.driver.seen
    state.facing = Direction.UP
    text, error = call(run, "press_buttons", buttons=["up"])  # one push: the boulder above the gap, still in the way
    assert not error and "Pushed the boulder at (4, 9) to (4, 8)." in text, text
    assert (seen.entity(lane, 4, 9), seen.entity(lane, 4, 8)) == (0, Sprite.BOULDER)
    text, error = call(run, "navigate_to", x=4, y=7)  # out of the gap, onto (4, 7): only by pushing it on twice
    assert not error and text.startswith("Arrived at (4, 7).") and "to (4, 6)." in text, text
    assert (state.entity_x[rock], state.entity_y[rock]) == (4, 6) and seen.entity(lane, 4, 6) == Sprite.BOULDER
    text, error = call(run, "navigate_to", x=4, y=5)  # beyond it in the open field: around it, a push cannot be undone
    assert not error and text.startswith("Arrived at (4, 5).") and "Pushed" not in text, text
    assert (state.entity_x[rock], state.entity_y[rock]) == (4, 6)


def test_find_path_goes_through_a_tree_only_when_it_can_chop_and_there_is_no_way_around() -> None:
    tree, boulder = 9, 7
    rules = TileRules(passable=(False, True), chars=("#", "."), pushable=frozenset({boulder}),
                      choppable=frozenset({tree}))

    def seen_of(rows: list[str]) -> SeenMap:
        return seen_map(rules, rows, {"#": 0}, {"t": tree, "B": boulder})

    wall = seen_of(["#####",
                    "..t..",
                    "#####"])
    # the tree was a wall, with the ability too ("no known path ... explore toward it first")
    assert find_path(wall, 0, (0, 1), (4, 1)) is None
    assert find_path(wall, 0, (0, 1), (4, 1), chop=True).steps == ["right"] * 4
    assert find_path(wall, 0, (0, 1), (2, 1), chop=True) == Plan(["right", "right"], ends_facing=True)  # faced
    around = seen_of(["#...#",
                      "..t..",
                      "#####"])
    assert find_path(around, 0, (0, 1), (4, 1), chop=True).steps == ["right", "up", "right", "right", "down", "right"]
    # a tree is chopped before a boulder is pushed (a push cannot be undone), and no boulder is pushed onto a tree
    both = seen_of(["#.t.#",
                    "..B..",
                    "#####"])
    assert find_path(both, 0, (0, 1), (4, 1), shove=True, chop=True).steps == ["right", "up", "right", "right",
                                                                              "down", "right"]
    onto = seen_of(["#####",
                    ".Bt..",
                    "#####"])
    assert find_path(onto, 0, (0, 1), (4, 1), shove=True, chop=True) is None


def test_navigate_to_chops_a_tree_in_the_way_once_the_party_can_chop() -> None:
    """With the chop ability a small tree in the only gap was a wall for navigate_to ('no known path'), while the
    game clears it for good by facing it and pressing A: the walk does that now, when no way around is known."""
    from longplay.envs.quest.constants import Ability, Direction, EntityKind

    run, game, state, world = canonical_run()
    way = next(i for i, m in enumerate(world.maps) if m.name == "Morheath Way")
    tree = next(e for e in world.entities if e.map == way and e.kind == EntityKind.CUT_TREE)
    assert (tree.x, tree.y) == (23, 8)  # the one gap in a wall of trees from the top of the map to the bottom
    state.map, state.x, state.y = way, 21, 8
    run.driver.obs = game.symbolic()
    run.observe()
    text, error = call(run, "navigate_to", x=25, y=8)
    assert error and "no known path" in text and run.driver.steps == 0  # no chop yet: the tree is a wall
    state.set_event(world.badge_events[world.ability_badge[Ability.CHOP]])
    text, error = call(run, "navigate_to", x=23, y=8)  # the tree itself: faced, as a person is, not chopped
    assert not error and text.startswith("Arrived next to (23, 8), facing it.") and not state.done[tree.index]
    state.x, state.y, state.facing = 22, 7, Direction.UP  # above the tile before the tree: it turns twice
    run.driver.obs = game.symbolic()
    steps = run.driver.steps
    text, error = call(run, "navigate_to", x=25, y=8)
    assert not error and text.startswith("Arrived at (25, 8). Chopped the tree at (23, 8) down."), text
    assert state.done[tree.index] and state.has_event(world.ev_first_chop) and (state.x, state.y) == (25, 8)
    assert run.driver.seen.entity(way, 23, 8) == 0
    assert run.driver.steps - steps == 2 + 1 + 2 + 3  # turn and step down, turn to the tree, A, A, three steps on
    text, error = call(run, "navigate_to", x=21, y=8)  # and back, through the cleared gap: no more A
    assert not error and text.startswith("Arrived at (21, 8).") and "Chopped" not in text, text


def test_a_tree_chopped_with_press_buttons_leaves_the_seen_map_and_the_result_says_so() -> None:
    from longplay.envs.quest.constants import Ability, Direction, Sprite

    run, game, state, world = canonical_run()
    way = next(i for i, m in enumerate(world.maps) if m.name == "Morheath Way")
    state.map, state.x, state.y, state.facing = way, 22, 8, Direction.RIGHT  # facing the tree at (23, 8)
    run.driver.obs = game.symbolic()
    run.observe()
    text, error = call(run, "press_buttons", buttons=["a", "a"])  # without the ability: "It could be chopped."
    assert not error and "Chopped" not in text and run.driver.seen.entity(way, 23, 8) == Sprite.CUT_TREE
    state.set_event(world.badge_events[world.ability_badge[Ability.CHOP]])
    text, error = call(run, "press_buttons", buttons=["a", "a"])
    assert not error and "Chopped the tree at (23, 8) down." in text and run.driver.seen.entity(way, 23, 8) == 0


def test_find_path_knows_an_exit_at_the_maps_edge_for_a_warp() -> None:
    """A route's exit is a plain passable tile at the map's edge (quest: ground beside the void outside the map),
    and the game moves the player to the next map there as a door does, and never lets a boulder or a hop land on
    it. The planner took it for plain land: a walk through it left the map, a hop onto it or a push onto it was
    refused and planned again."""
    boulder = 7
    rules = TileRules(passable=(False, False, True, False), chars=(" ", "#", ".", "v"), ledges=frozenset({3}),
                      outside=frozenset({0}), pushable=frozenset({boulder}))

    def seen_of(rows: list[str]) -> SeenMap:
        return seen_map(rules, rows, {" ": 0, "#": 1, "v": 3}, {"B": boulder}, land=2)

    loop = seen_of(["## ##",
                    "#...#",
                    "#.#.#",
                    "#...#",
                    "#####"])
    assert find_path(loop, 0, (1, 1), (2, 1)).steps == ["right"]  # the exit is a goal ...
    # ... never a way through: it went right, right, out of the map at (2, 1)
    assert find_path(loop, 0, (1, 1), (3, 1)).steps == ["down", "down", "right", "right", "up", "up"]
    hop = seen_of(["#.#",
                   "#v#",
                   "#. "])
    assert find_path(hop, 0, (1, 0), (1, 2)) is None  # it hopped onto the exit, which the game refuses
    niche = seen_of(["#.##",
                     "#B.#",
                     "#.##",
                     "# ##"])  # the boulder's only way on is down, onto the exit: the game leaves it where it is
    assert find_path(niche, 0, (1, 0), (2, 1), shove=True) is None  # it pushed it down, then went right



def test_the_quest_rules_know_every_warp_of_the_canonical_world() -> None:
    """The planner knows a warp from the tiles seen: a door, a mat, or a passable tile beside the void outside the
    map (a route's exit: 34 of the canonical world's 130 warps, plain ground, which it took for land)."""
    from longplay.agents.lm.adapters import QuestAdapter
    from longplay.envs.quest.render import PAD, padded_tiles
    from longplay.envs.quest.worldgen import canonical_world

    world = canonical_world()
    seen = SeenMap(QuestAdapter().rules)
    for map_id in range(len(world.maps)):
        found = seen.warp_cells(padded_tiles(world, map_id))
        warps = {(x + PAD, y + PAD) for m, x, y in ((w.map, w.x, w.y) for w in world.warps) if m == map_id}
        assert {(int(x), int(y)) for y, x in zip(*found.nonzero(), strict=True)} == warps, world.maps[map_id].name


def test_find_path_pushes_as_few_times_as_it_can_then_walks_as_little_as_it_can() -> None:
    """The search with pushes was shortest by moves: straight at the boulder it pushed it along twice (two pushes
    that cannot be undone, the boulder ending against the wall) where stepping round below pushed it aside once."""
    boulder = 7
    rows = ["...B",
            "..B.",
            "BB.."]
    seen = SeenMap(TileRules(passable=(False, True), chars=("#", "."), pushable=frozenset({boulder})))
    seen.update(0, 0, 0, np.ones((3, 4), np.uint8), np.array([[boulder * (c == "B") for c in r] for r in rows],
                                                              np.uint8))
    # it went left, left: the boulder at (2, 1) pushed onto the goal, then on to (0, 1)
    assert find_path(seen, 0, (3, 1), (1, 1), shove=True).steps == ["down", "left", "up", "left"]  # pushed up, once


def test_find_path_hops_a_ledge_only_when_nothing_stands_on_it_or_a_tree_it_chops_first() -> None:
    """Someone standing on a ledge tile blocks the hop, as on any tile (the game's move checks entities first): the
    planner hopped through a person there, and through a small tree without the chop ability. With it, a tree on
    the ledge is chopped first, as one on a walked tile is, when there is no way around."""
    tree, person = 9, 2
    rules = TileRules(passable=(False, True, False), chars=("#", ".", "v"), ledges=frozenset({2}),
                      choppable=frozenset({tree}))

    def seen_of(rows: list[str]) -> SeenMap:
        return seen_map(rules, rows, {"#": 0, "v": 2, "t": 2, "P": 2}, {"t": tree, "P": person})

    blocked = seen_of(["..",
                       "Pv",
                       ".."])
    assert find_path(blocked, 0, (0, 0), (0, 2)).steps == ["right", "down", "left"]  # it hopped through the person
    assert find_path(seen_of([".", "P", "."]), 0, (0, 0), (0, 2)) is None
    felled = seen_of([".", "t", "."])
    assert find_path(felled, 0, (0, 0), (0, 2)) is None  # it hopped through the tree: no chop ability
    assert find_path(felled, 0, (0, 0), (0, 2), chop=True).steps == ["down"]  # the walker chops it, then hops
    assert find_path(seen_of(["..", "tv", ".."]), 0, (0, 0), (0, 2), chop=True).steps == ["right", "down", "left"]


def screenshot_run() -> LMRun:
    """An LM run on QuestMini whose model is shown screenshots only, started, nothing observed yet."""
    from longplay.agents.lm.config import ObservationConfig

    env = gym.make("longplay/QuestMini-v0", obs_mode="symbolic")
    config = LMConfig(provider=ProviderConfig(provider="scripted", model="scripted"), budget=BudgetConfig(),
                      observation=ObservationConfig(screenshot=True, text=False))
    run = LMRun(env, ScriptedProvider([Message("assistant", [])]), build_scaffold("minimal"), config)
    run.start()
    return run


def test_the_seen_map_skips_what_a_text_box_or_menu_hides_on_the_screenshot() -> None:
    """The seen map of a screenshot-only run took the whole 10x9 view from the symbolic observation, also the cells
    the start menu or a text box hid on the screenshot the model was shown: the map memory and navigate_to used
    tiles the model had never seen. Hidden cells are skipped now, and what was seen of them before is kept."""
    from longplay.envs.quest.constants import PLAYER_VIEW_X, PLAYER_VIEW_Y
    from longplay.envs.quest.dialog import Msg, say

    run = screenshot_run()
    driver, game = run.driver, run.driver.game
    pos = driver.position()
    x0, y0 = pos.x - PLAYER_VIEW_X, pos.y - PLAYER_VIEW_Y

    def seen_cells() -> set[tuple[int, int]]:
        return {(x - x0, y - y0) for m, x, y in seen_tiles(driver.seen) if m == pos.map_id}

    view = {(c, r) for r in range(9) for c in range(10)}
    call(run, "press_buttons", buttons=["start"])
    run.observe()
    assert seen_cells() == view - {(c, r) for r in range(4) for c in range(5, 10)}  # the menu, top right
    call(run, "press_buttons", buttons=["b"])
    run.observe()
    assert seen_cells() == view
    before = seen_tiles(driver.seen)
    say(game.raw, (Msg.BLOCKED_TREE, 0, 0))  # a text box over the bottom three rows
    driver.obs = game.symbolic()
    assert driver.position().mode == "dialog"
    run.observe()
    assert seen_tiles(driver.seen) == before  # seen before: kept as it was
    fresh = screenshot_run()
    say(fresh.driver.game.raw, (Msg.BLOCKED_TREE, 0, 0))
    fresh.driver.obs = fresh.driver.game.symbolic()
    fresh.observe()
    assert {(x - x0, y - y0) for _, x, y in seen_tiles(fresh.driver.seen)} == view - {
        (c, r) for r in range(6, 9) for c in range(10)}


def test_the_cells_the_quest_adapter_takes_for_hidden_are_those_the_frame_draws_a_box_over() -> None:
    from longplay.agents.lm.adapters import QuestAdapter
    from longplay.envs.quest.constants import TILE_PX, MenuKind
    from longplay.envs.quest.dialog import Msg
    from longplay.envs.quest.render import render_shades

    run = screenshot_run()
    game, adapter = run.driver.game, QuestAdapter()
    state, world = game.raw, game.world
    plain = render_shades(world, state)
    for menu, dialog in ((MenuKind.START, []), (MenuKind.NONE, [(Msg.BLOCKED_TREE, 0, 0)]),
                         (MenuKind.START, [(Msg.BLOCKED_TREE, 0, 0)])):
        state.menu, state.dialog = menu, list(dialog)
        covered = render_shades(world, state)
        hidden = adapter.screen(game.symbolic()).tiles == UNSEEN
        for r in range(9):
            for c in range(10):
                cell = np.s_[r * TILE_PX:(r + 1) * TILE_PX, c * TILE_PX:(c + 1) * TILE_PX]
                assert bool(hidden[r, c]) == bool((covered[cell] != plain[cell]).any()), (menu, dialog, r, c)
    state.menu, state.dialog = MenuKind.PARTY, []  # every other menu covers the whole screen
    assert adapter.screen(game.symbolic()) is None


def _lane_with_an_unseen_boulder(at: tuple[int, int], facing: int, boulder: tuple[int, int]) -> tuple[LMRun, Any]:
    """A run on the canonical world's Brammarsh Lane with the player at ``at`` facing ``facing``, that has seen the
    lane, then the lane's boulder moved to ``boulder`` where the run did not see it go; returns the run and the
    game's state."""
    run, game, state, world = canonical_run()
    lane, rock = _brammarsh_lane_and_its_boulder(world)
    assert [world.maps[lane].tile(x, 16) for x in (4, 5, 6)] == [1, 6, 6]  # the lane the tests were written for
    state.map, (state.x, state.y), state.facing = lane, at, facing
    run.driver.obs = game.symbolic()
    run.observe()
    state.entity_x[rock], state.entity_y[rock] = boulder
    return run, state


def test_a_hop_the_game_refuses_is_not_planned_again() -> None:
    """A hop refused (here a boulder on the landing the seen map did not know of) marked the ledge tile blocked, which
    the planner did not look at for a hop: it planned the same hop seven more times, one press each, and stopped
    ('the way kept being blocked'). It goes round the ledge now."""
    from longplay.envs.quest.constants import Direction

    # on the landing, unseen: a ledge below row 15 (ground, then ledges at x 5 and 6 on row 16)
    run, state = _lane_with_an_unseen_boulder(at=(6, 15), facing=Direction.DOWN, boulder=(6, 17))
    text, error = call(run, "navigate_to", x=6, y=18)
    assert not error and text.startswith("Arrived at (6, 18)."), text
    assert run.driver.steps == 8  # the refused hop, then left, over the ledge beside it and round the boulder


def test_a_goal_found_taken_is_faced_not_walked_into_again() -> None:
    """The last step of a walk failed (the goal taken since it was seen: here by a boulder): the plan after it ended
    facing the goal, and the walk took that last direction for a step, pressed it, failed again, and planned the
    same seven times over ('the way kept being blocked'). It stops next to the goal facing it now."""
    from longplay.envs.quest.constants import Direction

    run, state = _lane_with_an_unseen_boulder(at=(3, 4), facing=Direction.RIGHT, boulder=(6, 4))  # on the goal
    text, error = call(run, "navigate_to", x=6, y=4)
    assert not error and text.startswith("Arrived next to (6, 4), facing it."), text
    assert (state.x, state.y) == (5, 4) and run.driver.steps == 3  # two steps and the one into the boulder


def test_find_path_with_pushes_gives_up_at_once_on_a_goal_no_push_can_open() -> None:
    """With boulders in open ground the search with pushes tried every way of pushing them (its cap of 200k states,
    1-2 s a call) before it gave up on a goal they could not open the way to: one walled off, or one behind a gap
    whose boulder is wedged by another on the far side. A check on tiles alone now tells those apart first."""
    from longplay.agents.lm.navigation import MAX_PUSH_STATES, _search

    boulder = 7
    rules = TileRules(passable=(False, True), chars=("#", "."), pushable=frozenset({boulder}))

    def seen_of(rows: list[str]) -> SeenMap:
        return seen_map(rules, rows, {"#": 0}, {"B": boulder})

    field = [".B..B...B...",
             "......B.....",
             "..B.....B...",
             "....B.......",
             ".B....B..B..",
             "............"]
    walled = seen_of([row + "#..." for row in field])

    def beside(right: list[str]) -> SeenMap:
        return seen_of([row + east for row, east in zip(field, right, strict=True)])

    wedged = beside(["#.#.", "#...", "BB#.", "#...", "#...", "#..."])  # the gap's boulder has another beyond it
    open_gap = beside(["#.#.", "#...", "B...", "#...", "#...", "#..."])
    for seen, goal in ((walled, (14, 2)), (wedged, (15, 2)), (wedged, (14, 0))):
        stats: dict[str, int] = {}
        assert _search(seen, 0, (0, 0), goal, frozenset(), False, True, stats=stats) is None
        assert stats["states"] < 100 < MAX_PUSH_STATES, (goal, stats)
    stats = {}
    path = _search(open_gap, 0, (0, 0), (15, 2), frozenset(), False, True, stats=stats)  # the gap's boulder pushed in
    assert path is not None and stats["states"] > 1


def test_a_boulder_pushed_beyond_the_tiles_seen_is_kept_on_the_seen_map() -> None:
    """A boulder pushed onto a tile outside the seen grid (the screen's edge) was dropped from the seen map until that
    tile was seen: the map's memory lost it, and the push looked like it had taken the boulder away."""
    boulder = 7
    seen = SeenMap(TileRules(passable=(False, True), chars=("#", "."), pushable=frozenset({boulder})))
    entities = np.zeros((3, 3), np.uint8)
    entities[1, 2] = boulder
    seen.update(0, 0, 0, np.ones((3, 3), np.uint8), entities)
    seen.move_entity(0, (2, 1), (3, 1))  # pushed right, off the screen seen
    assert (seen.entity(0, 2, 1), seen.entity(0, 3, 1)) == (0, boulder)
    assert seen.tile(0, 3, 1) == UNSEEN and seen.seen_count(0) == 9  # the tile itself is not taken for seen
    seen.move_entity(0, (3, 1), (3, 0))  # pushed on from there
    assert (seen.entity(0, 3, 1), seen.entity(0, 3, 0)) == (0, boulder)
    restored = SeenMap(seen.rules)
    restored.load_state_dict(json.loads(json.dumps(seen.state_dict())))
    assert restored.entity(0, 3, 0) == boulder
    seen.update(0, 1, 0, np.ones((3, 3), np.uint8), np.zeros((3, 3), np.uint8))  # a screen shows it gone since
    assert seen.entity(0, 3, 0) == 0


#: The tile and entity codes of :func:`random_plans`' maps.
RANDOM_RULES = TileRules(passable=(False, True, False, True, False, True, False),
                         chars=("#", ".", "v", "D", "=", "~", " "), ledges=frozenset({2}), warps=frozenset({3}),
                         counters=frozenset({4}), swim=frozenset({5}), outside=frozenset({6}),
                         pushable=frozenset({8}), choppable=frozenset({9}))


def random_plans(seed: int, count: int) -> list[tuple[SeenMap, tuple[int, int], tuple[int, int], set[tuple[int, int]],
                                                      bool, Any]]:
    """``count`` plans :func:`find_path` found on small random seen maps (walls, ledges, doors, counters, water, the
    void beyond an edge, unseen tiles; people, boulders and trees; tiles found blocked; every ability on or off): each
    as (seen map, start, goal, blocked tiles, swim, plan)."""
    rng = np.random.default_rng(seed)
    plans = []
    while len(plans) < count:
        h, w = rng.integers(3, 8, 2)
        tiles = rng.choice([0, 1, 2, 3, 4, 5, 6, UNSEEN], (h, w), p=[.1, .5, .08, .04, .06, .1, .04, .08])
        tiles = tiles.astype(np.uint8)
        entities = rng.choice([0, 7, 8, 9], (h, w), p=[.8, .07, .07, .06]).astype(np.uint8)
        seen = SeenMap(RANDOM_RULES)
        seen.update(0, 0, 0, tiles, entities)
        start = (int(rng.integers(w)), int(rng.integers(h)))
        goal = (int(rng.integers(w)), int(rng.integers(h)))
        cells = [(int(rng.integers(w)), int(rng.integers(h))) for _ in range(rng.integers(3))]
        blocked = set(cells) | ({goal} if rng.random() < 0.1 else set())
        swim, shove, chop = (bool(b) for b in rng.random(3) < 0.5)
        plan = find_path(seen, 0, start, goal, blocked, swim, shove, chop)
        if plan is not None and start != goal:
            plans.append((seen, start, goal, blocked, swim, plan))
    return plans


def test_a_plan_ends_facing_the_goal_exactly_when_the_goal_is_no_tile_to_stand_on() -> None:
    """The walker kept its own copy of the planner's rule for whether a plan's last direction only faces the goal; the
    plan says so now (it said what the copy said over these plans). Walked on the seen map, a plan that ends facing
    ends next to the goal or across a counter from it, its last direction toward it; any other ends on the goal."""
    facing = 0
    for seen, start, goal, blocked, swim, plan in random_plans(0, 2000):
        code = seen.tile(0, *goal)
        walkable = seen.rules.passable[code] or (swim and code in seen.rules.swim)  # a plan's goal was seen
        standable = walkable and not seen.entity(0, *goal) and goal not in blocked
        x, y = start
        walked = plan.steps[:-1] if plan.ends_facing else plan.steps
        for direction in walked:
            dx, dy = STEPS[DIRECTIONS.index(direction)]
            x, y = x + dx, y + dy
            if seen.tile(0, x, y) in seen.rules.ledges:  # hopped: lands one tile beyond
                y += 1
        if plan.ends_facing:
            dx, dy = STEPS[DIRECTIONS.index(plan.steps[-1])]
            across = seen.tile(0, x + dx, y + dy) in seen.rules.counters and (x + 2 * dx, y + 2 * dy) == goal
            assert not standable and ((x + dx, y + dy) == goal or across), (start, goal, plan)
        else:
            assert standable and (x, y) == goal, (start, goal, plan)
        facing += plan.ends_facing
    assert 200 < facing < 1800


def test_navigate_to_stops_at_its_most_presses_and_press_buttons_at_the_step_budget() -> None:
    """One navigate_to spends at most max_navigate_steps presses, and says it stopped there; press_buttons presses
    no further than the run's step budget, and tells the model the budget is spent."""
    run = make()
    run.config.tools.max_navigate_steps = 2
    x, y = far_tile(run)
    text, error = call(run, "navigate_to", x=x, y=y)
    assert not error and "Stopped after 2 steps (the most one navigate_to may take)." in text, text
    assert run.driver.steps == 2
    run.driver.max_steps = 4
    text, error = call(run, "press_buttons", buttons=["b", "b", "b", "b"])
    assert not error and text.endswith(" The step budget is spent."), text
    assert run.driver.steps == 4
