"""Tool schemas, validation and the toolbox's error answers; the seen map and path-finding."""

from __future__ import annotations

import numpy as np
import pytest

from longplay.agents.lm.messages import ToolCall, ToolSpec
from longplay.agents.lm.navigation import Plan, SeenMap, TileRules, find_path
from longplay.agents.lm.tools import Tool, Toolbox, ToolError, validate

SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["buttons"],
    "properties": {
        "buttons": {
            "type": "array",
            "minItems": 1,
            "maxItems": 3,
            "items": {"type": "string", "enum": ["a", "b"]},
        },
        "n": {"type": "integer", "minimum": 0},
    },
}


@pytest.mark.parametrize(
    "args, problem",
    [
        ({"buttons": ["a"]}, None),
        ({}, "missing 'buttons'"),
        ({"buttons": "a"}, "must be an array"),
        ({"buttons": []}, "at least 1"),
        ({"buttons": ["a"] * 4}, "at most 3"),
        ({"buttons": ["c"]}, "must be one of a, b"),
        ({"buttons": [1]}, "must be a string"),
        ({"buttons": ["a"], "n": True}, "must be an integer"),
        ({"buttons": ["a"], "n": -1}, ">= 0"),
        ({"buttons": ["a"], "x": 1}, "unknown argument 'x'"),
    ],
)
def test_validate(args: dict, problem: str | None) -> None:
    result = validate(SCHEMA, args)
    assert (result is None) if problem is None else (problem in (result or ""))


def test_toolbox_answers_every_failure_with_text() -> None:
    def handler(args: dict) -> str:
        if args["buttons"] == ["b"]:
            raise ToolError("cannot press b now")
        return "ok"

    box = Toolbox([Tool(ToolSpec("press", "d", SCHEMA), handler)])
    assert box.run(ToolCall("1", "press", {"buttons": ["a"]}))[0].content == "ok"
    result, malformed = box.run(ToolCall("2", "fly", {}))
    assert result.is_error and malformed and "unknown tool 'fly'; valid tools: press" in result.content
    result, malformed = box.run(ToolCall("3", "press", None, "{bad", "not valid JSON"))
    assert result.is_error and malformed and "not valid JSON" in result.content
    result, malformed = box.run(ToolCall("4", "press", {"buttons": 7}))
    assert result.is_error and malformed and "must be an array" in result.content
    result, malformed = box.run(ToolCall("5", "press", {"buttons": ["b"]}))
    assert result.is_error and not malformed and "cannot press b now" in result.content
    with pytest.raises(ValueError, match="two tools"):
        Toolbox([Tool(ToolSpec("t", "", {}), handler), Tool(ToolSpec("t", "", {}), handler)])


RULES = TileRules(
    passable=(False, True, True, True),
    chars=("#", ".", "v", "D"),
    ledges=frozenset({2}),
    warps=frozenset({3}),
)


def _seen(rows: list[str], entities: set[tuple[int, int]] = frozenset()) -> SeenMap:
    codes = {"#": 0, ".": 1, "v": 2, "D": 3}
    tiles = np.array([[codes[c] for c in row] for row in rows], np.uint8)
    ent = np.zeros_like(tiles)
    for x, y in entities:
        ent[y, x] = 2
    seen = SeenMap(RULES)
    seen.update(7, 10, 20, tiles, ent)  # top-left at map (10, 20)
    return seen


def test_find_path_walls_entities_ledges_and_doors() -> None:
    seen = _seen(["....#", ".##.#", "...D.", "vvv..", "....."])
    assert find_path(seen, 7, (10, 20), (13, 20)).steps == ["right"] * 3
    assert find_path(seen, 7, (10, 20), (99, 99)) is None  # never seen
    assert find_path(seen, 7, (10, 20), (10, 24)).steps == ["down"] * 3  # hops the ledge at (10, 23)
    assert find_path(seen, 7, (11, 24), (11, 22)) is None  # ledges are one way
    assert find_path(seen, 7, (12, 22), (13, 22)).steps == ["right"]  # a door is a goal ...
    detour = find_path(seen, 7, (12, 22), (14, 22))  # ... never a way through: around, over the ledge
    assert detour is not None and detour.steps == ["down", "right", "up", "right", "up"]



def test_find_path_never_crosses_a_ledge_sideways_or_upward() -> None:
    """Ledges are crossed moving down only: walked into from the side or from below, a ledge is a wall (the hop
    lands one tile below the ledge, which from the side would be a diagonal move)."""
    seen = _seen([".v.", "#.#", "#.#"])
    assert find_path(seen, 7, (10, 20), (11, 21)) is None  # right into the ledge at (11, 20): no way down from there
    assert find_path(seen, 7, (12, 20), (11, 22)) is None  # from the other side too
    assert find_path(seen, 7, (11, 22), (10, 20)) is None  # up to it from below
    assert find_path(seen, 7, (10, 20), (12, 20)) is None  # nor across it

def test_find_path_to_an_entity_stops_next_to_it_facing_it() -> None:
    seen = _seen(["....."], entities={(3, 0)})
    assert find_path(seen, 7, (10, 20), (13, 20)) == Plan(["right", "right", "right"], ends_facing=True)


def test_find_path_to_someone_behind_a_counter_stops_in_front_of_the_counter() -> None:
    rules = TileRules(passable=(False, True, False), chars=("#", ".", "="), counters=frozenset({2}))
    seen = SeenMap(rules)
    tiles = np.array([[1, 1, 0], [2, 2, 2], [1, 1, 1], [1, 1, 1]], np.uint8)  # a clerk at (1, 0), counter row 1
    ent = np.zeros_like(tiles)
    ent[0, 1] = 2
    seen.update(0, 0, 0, tiles, ent)
    assert find_path(seen, 0, (1, 3), (1, 0)) == Plan(["up", "up"], ends_facing=True)  # to (1, 2), facing the clerk
    assert find_path(seen, 0, (0, 3), (0, 0)) is None  # the floor behind the counter is out of reach


def test_find_path_crosses_water_only_with_the_swim_ability() -> None:
    rules = TileRules(
        passable=(False, True, False, False), chars=("#", ".", "~", "v"), ledges=frozenset({3}), swim=frozenset({2})
    )
    seen = SeenMap(rules)
    tiles = np.array([[1, 2, 2, 1], [3, 3, 3, 3], [2, 1, 1, 1]], np.uint8)
    seen.update(0, 0, 0, tiles, np.zeros_like(tiles))
    assert find_path(seen, 0, (0, 0), (3, 0)) is None  # the lake is in the way
    assert find_path(seen, 0, (0, 0), (3, 0), swim=True).steps == ["right"] * 3
    assert find_path(seen, 0, (0, 0), (2, 0), swim=True).steps == ["right"] * 2  # a water tile is a goal too
    assert find_path(seen, 0, (0, 0), (1, 2), swim=True).steps == ["right", "down"]  # hops the ledge from the water
    assert find_path(seen, 0, (0, 0), (0, 2), swim=True).steps == ["right", "down", "left"]  # never lands in water


def test_seen_map_grows_renders_and_round_trips() -> None:
    seen = _seen([".."])
    seen.update(7, 40, 5, np.ones((2, 2), np.uint8), np.zeros((2, 2), np.uint8))  # far away: grows
    assert seen.tile(7, 41, 6) == 1 and seen.tile(7, 10, 20) == 1 and seen.tile(7, 30, 30) == 255
    text = seen.render(7, (10, 20), (2, 1), {(11, 20): "1"})
    assert text.splitlines()[2] == "  20 ??@1?"
    copy = SeenMap(RULES)
    copy.load_state_dict(seen.state_dict())
    assert copy.render(7, (40, 5), (3, 3)) == seen.render(7, (40, 5), (3, 3))
    assert copy.seen_count() == seen.seen_count() == 6
