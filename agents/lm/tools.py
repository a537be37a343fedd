"""Tools the model acts through: ``press_buttons``, ``navigate_to``, and whatever the scaffold adds.

A tool is a :class:`~longplay.agents.lm.messages.ToolSpec` (name, description, JSON schema) and a handler.
:class:`Toolbox` checks every call against its schema before the handler runs, so an unknown tool, a bad
argument type or unparseable JSON becomes an error message the model reads (:class:`ToolError`), never a
crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from longplay.agents.lm.config import ToolConfig
from longplay.agents.lm.driver import Driver
from longplay.agents.lm.messages import ToolCall, ToolResult, ToolSpec
from longplay.agents.lm.navigation import DIRECTIONS, STEPS, find_path
from longplay.envs.game import BUTTON_NAMES


class ToolError(Exception):
    """A problem the model should read and fix (bad arguments, impossible request)."""


Handler = Callable[[dict[str, Any]], str]


def validate(schema: dict[str, Any], value: Any, where: str = "arguments") -> str | None:
    """Checks ``value`` against the JSON-schema subset tools use; returns the first problem, or ``None``.

    Supports ``type`` (object, array, string, integer, number, boolean), ``properties``, ``required``,
    ``additionalProperties: false``, ``enum``, ``items``, ``minItems``, ``maxItems``, ``minimum``,
    ``maximum``, ``maxLength``.

    >>> validate({"type": "integer", "minimum": 0}, -1, "x")
    'x must be >= 0, got -1'
    """
    kind = schema.get("type")
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }
    if kind in checks and not checks[kind](value):
        article = "an" if kind in ("object", "array", "integer") else "a"
        return f"{where} must be {article} {kind}, got {_show(value)}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where} must be one of {', '.join(map(str, schema['enum']))}; got {_show(value)}"
    if kind == "object":
        props = schema.get("properties", {})
        for name in schema.get("required", ()):
            if name not in value:
                return f"{where} is missing {name!r}"
        for name, item in value.items():
            if name not in props:
                if schema.get("additionalProperties", True) is False:
                    return f"{where} has an unknown argument {name!r} (valid: {', '.join(props) or 'none'})"
                continue
            problem = validate(props[name], item, name)
            if problem:
                return problem
    elif kind == "array":
        if "minItems" in schema and len(value) < schema["minItems"]:
            return f"{where} needs at least {schema['minItems']} item(s), got {len(value)}"
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            return f"{where} takes at most {schema['maxItems']} items, got {len(value)}"
        if "items" in schema:
            for i, item in enumerate(value):
                problem = validate(schema["items"], item, f"{where}[{i}]")
                if problem:
                    return problem
    elif kind in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{where} must be >= {schema['minimum']}, got {value}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{where} must be <= {schema['maximum']}, got {value}"
    elif kind == "string" and "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"{where} is longer than {schema['maxLength']} characters"
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class Tool:
    """A tool: what the model reads about it, and the function that runs it."""

    spec: ToolSpec
    handler: Handler


class Toolbox:
    """The tools of one run, by name; runs calls and turns every failure into a readable error."""

    def __init__(self, tools: list[Tool]) -> None:
        self.tools: dict[str, Tool] = {}
        for tool in tools:
            if tool.spec.name in self.tools:
                raise ValueError(f"two tools are called {tool.spec.name!r}")
            self.tools[tool.spec.name] = tool

    @property
    def specs(self) -> list[ToolSpec]:
        """The specs, in the order given."""
        return [t.spec for t in self.tools.values()]

    def run(self, call: ToolCall) -> tuple[ToolResult, bool]:
        """Runs one call. Returns the result and whether the call itself was malformed (unknown tool, bad
        JSON, bad arguments): those count as failures of the model. A :class:`ToolError` from the handler
        (a request the game cannot satisfy) is an error result but not a malformed call."""
        tool = self.tools.get(call.name)
        if tool is None:
            return ToolResult(
                call.id,
                call.name,
                f"error: unknown tool {call.name!r}; valid tools: {', '.join(self.tools)}",
                True,
            ), True
        if call.arguments is None:
            return ToolResult(
                call.id,
                call.name,
                f"error: {call.parse_error or 'arguments did not parse'}; "
                "send a JSON object matching the tool's schema",
                True,
            ), True
        problem = validate(tool.spec.parameters, call.arguments)
        if problem:
            return ToolResult(call.id, call.name, f"error: {call.name}: {problem}", True), True
        try:
            return ToolResult(call.id, call.name, tool.handler(call.arguments)), False
        except ToolError as exc:
            return ToolResult(call.id, call.name, f"error: {call.name}: {exc}", True), False


# ============================================================================================ built-in tools


def _where(driver: Driver) -> str:
    return driver.status_line()


def _milestone_note(driver: Driver, before: int) -> str:
    new = driver.new_milestones[before:]
    if not new:
        return ""
    catalog = {m.id: m.name for m in driver.game.milestones()}
    return (
        " New milestone"
        + ("s" if len(new) > 1 else "")
        + ": "
        + "; ".join(catalog.get(m, m) for m in new)
        + "."
    )


def _field_note(driver: Driver, before: int) -> str:
    """What the presses since ``before`` pushed and chopped: the model is told, as the seen map follows it."""
    return "".join(" " + move.note() for move in driver.field_moves[before:])


def _limit_note(driver: Driver) -> str:
    if driver.episode_over:
        return " The episode is over."
    if not driver.can_press():
        return " The step budget is spent."
    return ""


def press_buttons_tool(driver: Driver, config: ToolConfig) -> Tool:
    """``press_buttons``: a short sequence of buttons, pressed in order."""
    spec = ToolSpec(
        "press_buttons",
        f"Press up to {config.max_buttons} buttons in order, one game step each. "
        "Pressing a direction you are not facing only turns you; press it again to walk. "
        "A talks / confirms / advances text, B cancels, START opens the menu.",
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["buttons"],
            "properties": {
                "buttons": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": config.max_buttons,
                    "items": {"type": "string", "enum": list(BUTTON_NAMES)},
                    "description": 'buttons to press, e.g. ["up", "up", "a"]',
                }
            },
        },
    )

    def handler(args: dict[str, Any]) -> str:
        before, moves = len(driver.new_milestones), len(driver.field_moves)
        pressed = []
        for name in args["buttons"]:
            if not driver.press(name):
                break
            pressed.append(name)
        if not pressed:
            raise ToolError("no button pressed." + _limit_note(driver))
        return (
            f"Pressed {', '.join(pressed)}.{_field_note(driver, moves)} Now: {_where(driver)}."
            f"{_milestone_note(driver, before)}{_limit_note(driver)}"
        )

    return Tool(spec, handler)


def navigate_to_tool(
    driver: Driver, config: ToolConfig, resolve_marker: Callable[[str], tuple[int, int, int]] | None = None
) -> Tool:
    """``navigate_to``: walk to a tile of the current map along a path over the tiles seen so far."""
    props: dict[str, Any] = {
        "x": {"type": "integer", "description": "target column (map coordinates)"},
        "y": {"type": "integer", "description": "target row (map coordinates)"},
    }
    text = (
        "Walk to tile (x, y) of the current map, along the shortest path over tiles you have seen. "
        "If the target is a person, sign or counter, you stop next to it, facing it (then press A); "
        "for a clerk or healer behind a counter, in front of the counter. "
        "Once you can chop, a small tree in the way is chopped down (A) when no way around it is known; "
        "once you can shove, a boulder in the way is pushed when no way around it is known. "
        "Stops early when a text box, menu or battle opens, or the map changes."
    )
    if resolve_marker is not None:
        props["marker"] = {"type": "string", "description": "a marker's label, instead of x and y"}
        text += " Give `marker` instead of x and y to walk to a marker you placed."
    spec = ToolSpec(
        "navigate_to", text, {"type": "object", "additionalProperties": False, "properties": props}
    )

    def handler(args: dict[str, Any]) -> str:
        start = driver.position()
        assert start is not None and driver.seen is not None
        if "marker" in args and resolve_marker is not None:
            map_id, x, y = resolve_marker(args["marker"])
            if map_id != start.map_id:
                raise ToolError(
                    f"marker {args['marker']!r} is on map {map_id}; you are on map {start.map_id}"
                )
        elif "x" in args and "y" in args:
            x, y = args["x"], args["y"]
        else:
            raise ToolError("give x and y" + (" (or marker)" if resolve_marker else ""))
        if start.mode != "overworld":
            raise ToolError(f"you can only navigate while walking; now: {start.mode} (press buttons first)")
        before, moves = len(driver.new_milestones), len(driver.field_moves)
        outcome = _walk(driver, config, start.map_id, (x, y))
        return (f"{outcome}{_field_note(driver, moves)} Now: {_where(driver)}.{_milestone_note(driver, before)}"
                f"{_limit_note(driver)}")

    return Tool(spec, handler)


def _facing(here: tuple[int, int], goal: tuple[int, int]) -> str:
    """The outcome of a walk that ends facing ``goal``: next to it, or across a counter from it."""
    gx, gy = goal
    if abs(here[0] - gx) + abs(here[1] - gy) == 1:
        return f"Arrived next to ({gx}, {gy}), facing it."
    return f"Arrived across the counter from ({gx}, {gy}), facing it."


def _chop(driver: Driver, config: ToolConfig, direction: str, spent: int) -> tuple[int, str | None]:
    """Chops down the tree a walk goes through next, as a player does: turns to face it, presses A, and A through
    the text that says so. Returns the walk's presses so far and why it must stop, if it must (a tree that was not
    chopped is found blocked by the step into it, and the walk plans again)."""

    def press(button: str) -> str | None:
        nonlocal spent
        if spent >= config.max_navigate_steps:
            return f"Stopped after {spent} steps (the most one navigate_to may take)."
        if not driver.press(button):
            return f"Stopped after {spent} steps."
        spent += 1
        return None

    now = driver.position()
    assert now is not None
    for button in ([direction] if now.facing != direction else []) + ["a"]:  # face the tree, chop it
        stop = press(button)
        if stop is not None:
            return spent, stop
    for _ in range(3):  # the text box that says so (one page)
        now = driver.position()
        assert now is not None
        if now.mode != "dialog":
            break
        stop = press("a")
        if stop is not None:
            return spent, stop
    now = driver.position()
    assert now is not None
    if now.mode != "overworld":
        return spent, f"Stopped after {spent} steps: a {now.mode} started."
    return spent, None


def _walk(driver: Driver, config: ToolConfig, map_id: int, goal: tuple[int, int]) -> str:
    """Follows a path to ``goal``, re-planning around tiles that turn out blocked; returns what happened."""
    seen = driver.seen
    assert seen is not None
    swim, shove, chop = driver.can_swim(), driver.can_shove(), driver.can_chop()
    blocked: set[tuple[int, int]] = set()
    spent = 0
    gx, gy = goal
    for _ in range(8):  # re-plans
        pos = driver.position()
        assert pos is not None
        here = (pos.x, pos.y)
        if here == goal:
            return f"Arrived at ({gx}, {gy})."
        plan = find_path(seen, map_id, here, goal, blocked, swim, shove, chop)
        if plan is None:
            if spent == 0:
                raise ToolError(
                    f"no known path from ({here[0]}, {here[1]}) to ({gx}, {gy}): only tiles you have "
                    "seen are used; explore toward it first"
                )
            return f"Stopped after {spent} steps: no known path on to ({gx}, {gy})."
        moved = True
        for i, direction in enumerate(plan.steps):
            face_only = i == len(plan.steps) - 1 and plan.ends_facing
            d = DIRECTIONS.index(direction)
            target = (here[0] + STEPS[d][0], here[1] + STEPS[d][1])
            moved = False
            if chop and not face_only and seen.entity(map_id, *target) in seen.rules.choppable:
                spent, stop = _chop(driver, config, direction, spent)
                if stop is not None:
                    return stop
            for _attempt in range(2):  # a press may only turn the player
                now = driver.position()
                assert now is not None
                if face_only and now.facing == direction:
                    return _facing(here, goal)
                if spent >= config.max_navigate_steps:
                    return f"Stopped after {spent} steps (the most one navigate_to may take)."
                was_facing = now.facing == direction
                if not driver.press(direction):
                    return f"Stopped after {spent} steps."
                spent += 1
                now = driver.position()
                assert now is not None
                if now.map_id != map_id:
                    return f"Stopped after {spent} steps: entered map {now.map_id}."
                if now.mode != "overworld":
                    return f"Stopped after {spent} steps: a {now.mode} started."
                if (now.x, now.y) != here:  # a boulder pushed on stands where it went on the seen map too
                    moved = True
                    here = (now.x, now.y)
                    break
                if face_only:
                    return _facing(here, goal)
                if was_facing:  # facing the way and still here: something is in the way
                    break
            if not moved:
                blocked.add(target)
                break
        if here == goal:
            return f"Arrived at ({gx}, {gy})."
        if moved:  # the whole path walked but the goal moved away (a ledge, a push): plan again
            continue
    return f"Stopped after {spent} steps: the way kept being blocked."
