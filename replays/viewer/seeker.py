"""Random access to the states of one episode, with in-memory waypoints between the replay's keyframes.

``ReplayReader.seek`` reaches a step from the last keyframe before it (every 4,096 steps by default): up to
4,095 button presses for a step just before a keyframe. A viewer scrubbing through a run asks for many such
steps, so the :class:`EpisodeSeeker` also keeps a save state every ``every`` steps (256 by default) once it
has walked past them (or been given them by the trajectory pass, which walks the whole episode anyway), and
starts from the nearest of those: any frame then costs at most ``every`` presses. States are identical to the
reader's (the same deterministic game, the same recorded buttons); a test checks frames against
``ReplayReader.frame_at``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping
from typing import Any

from longplay.envs.game import Game
from longplay.replays.reader import ACTION_BUTTONS, EnvFactory, ReplayReader, make_env
from longplay.replays.schema import CorruptReplayError

#: Steps between waypoints.
DEFAULT_WAYPOINT_EVERY = 256
#: Most bytes of waypoint save states kept per episode (beyond it, no new waypoints are kept).
DEFAULT_WAYPOINT_BYTES = 64 << 20


class EpisodeSeeker:
    """Puts a game of its own at any step of one episode of a replay (see the module docstring).

    Args:
        reader: The replay; its keyframes are read through it (hold whatever lock guards the reader).
        episode: Which episode.
        env_factory: Builds the env from the header (default :func:`~longplay.replays.reader.make_env`).
        every: Steps between waypoints.
        max_bytes: Most bytes of waypoints kept.
    """

    def __init__(self, reader: ReplayReader, episode: int, env_factory: EnvFactory | None = None, *,
                 every: int = DEFAULT_WAYPOINT_EVERY, max_bytes: int = DEFAULT_WAYPOINT_BYTES) -> None:
        self.episode = episode
        self.info = reader.episode(episode)
        self.reset_options = reader.reset_options(episode)
        self.actions = reader.actions(episode)
        self.every = max(1, every)
        self.max_bytes = max_bytes
        self._keyframe: Callable[[int], bytes] = lambda step: reader.keyframe(episode, step)
        self._keyframe_steps = list(reader.keyframe_steps(episode))
        self._waypoints: dict[int, bytes] = {}
        self._waypoint_steps: list[int] = []
        self._bytes = 0
        self.env = (env_factory or make_env)(reader.header)
        self._reset()

    @property
    def game(self) -> Game:
        """The seeker's game (read from it; press nothing on it)."""
        return self.env.unwrapped.game  # type: ignore[attr-defined]

    @property
    def last_step(self) -> int:
        """The episode's last step."""
        return len(self.actions)

    def close(self) -> None:
        """Closes the env."""
        self.env.close()

    def _reset(self) -> None:
        self.env.reset(seed=self.info.seed, options=self.reset_options)
        self._at = 0

    def add_waypoints(self, states: Mapping[int, bytes]) -> None:
        """Adds save states known to be the episode's states at their steps (from the trajectory pass)."""
        for step, state in sorted(states.items()):
            self._keep(step, state)

    def _keep(self, step: int, state: bytes) -> None:
        if step in self._waypoints or self._bytes + len(state) > self.max_bytes:
            return
        self._waypoints[step] = state
        bisect.insort(self._waypoint_steps, step)
        self._bytes += len(state)

    def seek(self, step: int) -> Game:
        """The game at ``step`` (after ``step`` actions); raises ``ValueError`` when out of range."""
        if not 0 <= step <= self.last_step:
            raise ValueError(f"step {step} is out of range: episode {self.episode} has steps 0..{self.last_step}")
        i = bisect.bisect_right(self._waypoint_steps, step) - 1
        waypoint = self._waypoint_steps[i] if i >= 0 else -1
        k = bisect.bisect_right(self._keyframe_steps, step) - 1
        keyframe = self._keyframe_steps[k] if k >= 0 else -1
        base = max(waypoint, keyframe, 0)
        game = self.game
        if not base <= self._at <= step:  # walking on from where the game is would be longer: reload
            if base == waypoint:
                game.load_state(self._waypoints[base])
            elif base == keyframe:
                game.load_state(self._keyframe(base))
            else:
                self._reset()
            self._at = base
        press, actions, every = game.press, self.actions, self.every
        at = self._at
        self._at = -1  # unknown until the walk succeeds
        try:
            while at < step:
                press(ACTION_BUTTONS[actions[at]])
                at += 1
                if at % every == 0 and at not in self._waypoints:
                    self._keep(at, game.save_state())
        except IndexError:
            raise CorruptReplayError(f"corrupt replay: episode {self.episode}: the action at step {at} is not a "
                                     "button") from None
        self._at = step
        return game


def walk_positions(env: Any, info: Any, reset_options: dict[str, Any] | None, actions: bytes,
                   probe_of: Callable[[Game], Callable[[], Any]], every: int = DEFAULT_WAYPOINT_EVERY,
                   max_bytes: int = DEFAULT_WAYPOINT_BYTES) -> tuple[list[Any], dict[int, bytes]]:
    """Resets ``env`` for the episode ``info`` (with its ``reset_options``, the reader's) and presses every
    action: ``probe()`` after each step (step 0 first) and a save state every ``every`` steps (up to
    ``max_bytes``), for an :class:`EpisodeSeeker`."""
    env.reset(seed=info.seed, options=reset_options)
    game = env.unwrapped.game
    probe = probe_of(game)
    press, save = game.press, game.save_state
    rows = [probe()]
    append = rows.append
    states: dict[int, bytes] = {}
    kept = 0
    step = 0
    try:
        for action in actions:
            press(ACTION_BUTTONS[action])
            append(probe())
            step += 1
            if step % every == 0 and kept < max_bytes:
                state = save()
                states[step] = state
                kept += len(state)
    except IndexError:
        raise CorruptReplayError(f"corrupt replay: episode {info.episode}: the action at step {step} is not a "
                                 "button") from None
    return rows, states
