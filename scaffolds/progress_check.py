"""Progress check: tells the agent, in its prompt, when its last turns reached nothing new (a stuck loop).

Agents on Pokemon-style games lose thousands of steps in loops: walking into the same wall, reopening the same
menu, talking to the same person. The harnesses of the public runs added a check for it; this is that check,
without a model call: after every turn it reads the game's state, and when the last ``turns`` turns reached no
milestone and ended on no place (map, x, y) that no earlier turn of the run ended on, a "Progress check"
section says so, with where those turns ended, the game modes they ended in and the buttons pressed most. The
section goes away at the next new place or milestone; while the agent stays stuck it is rewritten every
``turns`` turns.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Any

from longplay.agents.lm.history import Exchange
from longplay.envs.game import BUTTON_NAMES
from longplay.scaffolds.base import Component


def _span(values: Any) -> str:
    """``"5"`` or ``"5-7"``: the range of some coordinates."""
    values = list(values)
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low}-{high}"


@dataclass
class ProgressCheck(Component):
    """A prompt section when the last ``turns`` turns reached no milestone and ended on no new place."""

    name = "progress_check"
    version = "2"  # 2: places are grouped by map id (a shared map name carries the id)

    turns: int = 30
    """Turns without a new place or milestone before the agent is told (and between reminders)."""
    top_buttons: int = 3
    """The most-pressed buttons the message names."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.require_at_least(turns=2, top_buttons=1)
        self.visited: set[tuple[int, int, int]] = set()  # (map, x, y) where some turn ended
        # per turn: [turn, steps before it, steps after it, map, x, y, map name, mode, made progress]
        self.recent: deque[list[Any]] = deque(maxlen=self.turns)
        self.milestones = 0
        self.message = ""
        self.stuck_since = 0  # the first turn of the stretch without progress (0: not stuck)
        self.told_at = 0  # the turn the message was last written
        self.times_stuck = 0
        self._steps_before = 0

    def before_turn(self) -> None:
        assert self.ctx is not None
        self._steps_before = self.ctx.driver.steps

    def after_turn(self, exchange: Exchange) -> None:
        assert self.ctx is not None
        driver = self.ctx.driver
        state = driver.game.state()
        place = (state.map_id, state.x, state.y)
        progress = place not in self.visited or len(driver.milestones) > self.milestones
        self.visited.add(place)
        self.milestones = len(driver.milestones)
        self.recent.append([self.ctx.turn, self._steps_before, driver.steps, *place, state.map_name, state.mode.value,
                            progress])
        if progress:
            self.stuck_since = 0
            if self.message:
                self.message, self.told_at = "", 0
                self.changed()
            return
        if not self.stuck_since:
            self.stuck_since = self.ctx.turn
        stuck_for = self.ctx.turn - self.stuck_since + 1
        if stuck_for >= self.turns and (not self.told_at or self.ctx.turn - self.told_at >= self.turns):
            if not self.told_at:
                self.times_stuck += 1
            self.message = self._message(stuck_for, bytes(driver.actions))
            self.told_at = self.ctx.turn
            self.changed()

    def _message(self, stuck_for: int, actions: bytes) -> str:
        window = list(self.recent)
        pressed = Counter(actions[window[0][1]:window[-1][2]])
        names = [*BUTTON_NAMES, "nothing"]
        buttons = ", ".join(f"{names[a] if a < len(names) else a} {n}"
                            for a, n in pressed.most_common(self.top_buttons))
        # By map id: names repeat (the canonical world has two "Harcrest House"), and spans over two maps mean nothing
        maps: dict[int, tuple[str, list[tuple[int, int]]]] = {}
        for record in window:
            maps.setdefault(record[3], (record[6], []))[1].append((record[4], record[5]))
        shared = {name for name, n in Counter(name for name, _ in maps.values()).items() if n > 1}
        where = "; ".join(f"{name}{f', map {map_id}' if name in shared else ''} "
                          f"(x {_span(x for x, _ in spots)}, y {_span(y for _, y in spots)})"
                          for map_id, (name, spots) in maps.items())
        places = len({(r[3], r[4], r[5]) for r in window})
        modes = ", ".join(f"{mode} {n}" for mode, n in Counter(r[7] for r in window).most_common())
        return (f"No milestone and no new place for {stuck_for} turns (since turn {self.stuck_since}). The last "
                f"{len(window)} turns ended on {places} place{'s' if places != 1 else ''}: {where}; in "
                f"{modes}. Buttons pressed most: {buttons or 'none'}. What you are doing is not working: try "
                "something different (another exit or direction, another person, the menu, B to leave a screen), "
                "and check your notes and goals against what you see.")

    def section(self) -> tuple[str, str] | None:
        return ("Progress check", self.message) if self.message else None

    def state_dict(self) -> dict[str, Any]:
        return {"visited": sorted(list(p) for p in self.visited), "recent": list(self.recent),
                "milestones": self.milestones, "message": self.message, "stuck_since": self.stuck_since,
                "told_at": self.told_at, "times_stuck": self.times_stuck}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.visited = {(m, x, y) for m, x, y in state["visited"]}
        self.recent = deque(state["recent"], maxlen=self.turns)
        self.milestones, self.message = state["milestones"], state["message"]
        self.stuck_since, self.told_at, self.times_stuck = state["stuck_since"], state["told_at"], state["times_stuck"]

    def snapshot(self) -> dict[str, Any]:
        return {"message": self.message, "times_stuck": self.times_stuck, "places": len(self.visited)}
