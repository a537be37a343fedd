"""The part of the loop that presses buttons: the env, the latest observation, the step budget, the seen map.

Every button a tool presses goes through :meth:`Driver.press`, which steps the env (the replay recorder
sees each step), keeps the observation, notes new milestones and refuses to go past the step budget or the end
of the episode. The seen map is fed only with what the model is shown (:meth:`Driver.observe`,
:meth:`Driver.observe_text_view`), never with the screens inside a press sequence or a walk; the one thing a
press changes on it is what a field ability did to a seen entity: where a boulder it pushed stands now, and a tree
it chopped gone (:class:`FieldMove`; the tools tell the model so).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from longplay.agents.lm.adapters import GameAdapter, Position
from longplay.agents.lm.navigation import DIRECTIONS, STEPS, SeenMap
from longplay.envs.game import Button, GameState, parse_button
from longplay.replays.recorder import sigint_held


@dataclass(frozen=True)
class FieldMove:
    """A seen entity a press moved by a field ability: a boulder pushed (``kind`` ``push``, from ``at`` to ``to``),
    or a tree chopped down (``chop``, ``to`` ``None``)."""

    kind: str
    map_id: int
    at: tuple[int, int]
    to: tuple[int, int] | None = None

    def note(self) -> str:
        """One sentence for the tool result."""
        x, y = self.at
        if self.to is None:
            return f"Chopped the tree at ({x}, {y}) down."
        return f"Pushed the boulder at ({x}, {y}) to ({self.to[0]}, {self.to[1]})."


class Driver:
    """Steps ``env`` for the tools (see the module docstring).

    Args:
        env: The env (a replay :class:`~longplay.replays.recorder.Recorder` around it, usually).
        adapter: Reads positions and screens, or ``None`` for backends without one.
        max_steps: Most env steps of the whole run (``None``: no limit).
        reset_options: The env's reset options (``{"state": bytes}``: the episode starts from that save state).
    """

    def __init__(self, env: gym.Env, adapter: GameAdapter | None, max_steps: int | None,
                 reset_options: dict[str, Any] | None = None) -> None:
        self.env = env
        self.reset_options = reset_options
        self.game = env.unwrapped.game
        self.adapter = adapter
        self.seen: SeenMap | None = SeenMap(adapter.rules) if adapter is not None else None
        self.max_steps = max_steps
        self.steps = 0
        self.obs: Any = None
        self.info: dict[str, Any] = {}
        self.terminated = False
        self.truncated = False
        self.new_milestones: list[str] = []
        self.milestones: dict[str, int] = {}
        #: Every action pressed this run, one byte each (checkpoints rebuild the env from them).
        self.actions = bytearray()
        #: Maps the player has stood on since this driver started (map id -> its name), in the order first
        #: entered, including one walked through within a single tool call (with an adapter only).
        self.maps_entered: dict[int, str] = {}
        #: Seen boulders the presses pushed and trees they chopped, in order.
        self.field_moves: list[FieldMove] = []

    # ------------------------------------------------------------------------------------------ episode
    def reset(self, seed: int) -> None:
        """Starts the episode."""
        self.obs, self.info = self.env.reset(seed=seed, options=self.reset_options)
        self.milestones = dict(self.info.get("milestones", {}))
        self._note_map()

    def restore(
        self,
        obs: Any,
        info: dict[str, Any],
        actions: bytes,
        terminated: bool = False,
        truncated: bool = False,
    ) -> None:
        """Takes over an env already brought to a checkpoint's state by pressing ``actions``."""
        self.obs, self.info = obs, info
        self.actions = bytearray(actions)
        self.steps = len(actions)
        self.terminated, self.truncated = terminated, truncated
        self.milestones = dict(info.get("milestones", {}))

    @property
    def episode_over(self) -> bool:
        """The game finished or the episode was truncated."""
        return self.terminated or self.truncated

    @property
    def steps_left(self) -> int | None:
        """Presses left in the step budget (``None``: unlimited)."""
        return None if self.max_steps is None else max(0, self.max_steps - self.steps)

    def can_press(self) -> bool:
        """Whether another press is allowed."""
        return not self.episode_over and (self.max_steps is None or self.steps < self.max_steps)

    # ------------------------------------------------------------------------------------------ buttons
    def press(self, button: Button | str) -> bool:
        """Presses one button; ``False`` (nothing pressed) past the budget or the end of the episode."""
        if not self.can_press():
            return False
        if isinstance(button, str):
            button = parse_button(button)
        before = self.position() if self.seen is not None and (button <= Button.RIGHT or button == Button.A) else None
        # Ctrl+C waits for the press: raised inside the step, it left the game a press ahead of the recorded
        # actions, and the replay closed on a state hash no recorded step has (verify failed the run)
        with sigint_held():
            self.obs, _, terminated, truncated, self.info = self.env.step(int(button))
            self.steps += 1
            self.actions.append(int(button))
        self.terminated, self.truncated = bool(terminated), bool(truncated)
        for milestone in self.info.get("new_milestones", ()):
            self.new_milestones.append(milestone)
            self.milestones.setdefault(milestone, self.steps)
        self._note_map()
        if before is not None and before.mode == "overworld":
            if button == Button.A:
                self._follow_chop(before)
            else:
                self._follow_push(before, STEPS[int(button)])
        return True

    def _follow_push(self, before: Position, step: tuple[int, int]) -> None:
        """Moves a boulder on the seen map where a walk onto its tile pushed it (one tile on, the game's rule).

        Without it a later plan took the tile the boulder was pushed onto for free land (walking into it pushed it
        again, a push a way around would have spared) and its old tile for blocked (a gap it was pushed out of
        stayed closed: 'no known path')."""
        assert self.seen is not None
        now = self.position()
        assert now is not None
        x, y = before.x + step[0], before.y + step[1]
        if now.map_id != before.map_id or (now.x, now.y) != (x, y):
            return  # no step, or a warp
        if self.seen.entity(before.map_id, x, y) not in self.seen.rules.pushable:
            return
        beyond = (x + step[0], y + step[1])
        self.seen.move_entity(before.map_id, (x, y), beyond)
        self.field_moves.append(FieldMove("push", before.map_id, (x, y), beyond))

    def _follow_chop(self, before: Position) -> None:
        """Takes a seen tree off the seen map when A pressed facing it with the chop ability chopped it down (the
        game hides a chopped tree for good)."""
        assert self.seen is not None
        dx, dy = STEPS[DIRECTIONS.index(before.facing)]
        x, y = before.x + dx, before.y + dy
        if self.seen.entity(before.map_id, x, y) not in self.seen.rules.choppable or not self.can_chop():
            return
        self.seen.move_entity(before.map_id, (x, y), None)
        self.field_moves.append(FieldMove("chop", before.map_id, (x, y)))

    def _note_map(self) -> None:
        pos = self.position()
        if pos is not None and pos.map_id not in self.maps_entered:
            self.maps_entered[pos.map_id] = self.game.state().map_name

    def observe(self) -> None:
        """Adds the current screen to the seen map (called when the model is shown the screenshot)."""
        if self.adapter is None or self.seen is None:
            return
        screen = self.adapter.screen(self.obs)
        if screen is not None:
            self.seen.update(screen.map_id, screen.x0, screen.y0, screen.tiles, screen.entities)

    def observe_text_view(self) -> None:
        """Adds what the text view's map shows now (called when the model is shown the text view)."""
        if self.adapter is None or self.seen is None:
            return
        screen = self.adapter.text_screen(self.game)
        if screen is not None:
            self.seen.update(screen.map_id, screen.x0, screen.y0, screen.tiles, screen.entities)

    def position(self) -> Position | None:
        """The player's position now (``None`` without an adapter)."""
        return None if self.adapter is None else self.adapter.position(self.obs)

    def can_swim(self) -> bool:
        """Whether the player may walk on water now (the swim ability; ``False`` without an adapter)."""
        return self.adapter is not None and self.adapter.can_swim(self.game)

    def can_chop(self) -> bool:
        """Whether A facing a small tree chops it down now (the chop ability; ``False`` without an adapter)."""
        return self.adapter is not None and self.adapter.can_chop(self.game)

    def can_shove(self) -> bool:
        """Whether walking into a boulder pushes it now (the shove ability; ``False`` without an adapter)."""
        return self.adapter is not None and self.adapter.can_shove(self.game)

    def status_line(self, state: GameState | None = None) -> str:
        """One line: mode, map, position, facing (from the game's typed state summary)."""
        state = state or self.game.state()
        return (
            f"{state.mode.value} | map {state.map_id} ({state.map_name}) | x {state.x}, y {state.y} | "
            f"facing {state.facing}"
        )
