"""``LongplayEnv``: the Gymnasium env over any :class:`~longplay.envs.game.Game` backend.

## Description
A long-horizon, Pokemon-style game, one button press per step. The env is glue: the game backend decides
what a button does; the env turns the game into observations, a sparse milestone reward and episode ends.

## Action Space
``Discrete(8)``: up, down, left, right, a, b, start, select (``longplay.envs.Button`` values).
With ``noop=True``, ``Discrete(9)`` where action 8 presses nothing. ``step`` takes what
``Discrete.contains`` takes, but a bool, and a whole float too (``3.0``, a policy's float output, names
action 3); 3.7, ``True`` or an index out of range raise a one-line ``ValueError``.

## Observation
``obs_mode`` picks one or several (joined with ``+``, e.g. ``"pixels+text"``, giving a ``Dict``):

* ``pixels``: ``uint8`` screen, (144, 160, 3); ``grayscale=True`` gives (144, 160, 1); ``downsample=k``
  divides both sides by ``k`` (block mean).
* ``symbolic``: the backend's ``Dict`` (for quest: visible tile kinds, visible entities, a state vector).
* ``text``: the backend's text view, a string for language models.

## Rewards
Sparse: the first time in an episode that a milestone is reached, its weight (1.0 by default).
Shaping terms live in wrappers (``longplay.envs.wrappers``), never here.

## Termination
``terminated`` when the game is finished (the last milestone of the world); ``truncated`` after
``max_episode_steps`` steps (``None``: never).

## Info
``step`` (steps this episode), ``milestones`` (id -> step reached, in the order reached),
``new_milestones`` (ids reached on this step), ``progress`` (fraction of the catalog reached).

## Starting from a saved state
``reset(seed=..., options={"state": game.save_state()})`` starts the episode from that state: what it already
holds counts as reached at step 0 and pays nothing. The only reset option is ``state``.
"""

from __future__ import annotations

import copy
import string
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ClosedEnvironmentError, ResetNeeded

from longplay.envs.checks import action_index, check_downsample, check_flag, is_int
from longplay.envs.game import SCREEN_HEIGHT, SCREEN_WIDTH, Button, Game, GameError

OBS_MODES = ("pixels", "symbolic", "text")
TEXT_CHARSET = frozenset(string.printable)
TEXT_MAX_LENGTH = 8192
_ACTION_BUTTONS: tuple[Button | None, ...] = (*Button, None)


def parse_obs_mode(obs_mode: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Splits ``"pixels+text"`` (or a sequence) into valid mode names; raises ``ValueError`` otherwise."""
    if isinstance(obs_mode, str):
        modes = tuple(obs_mode.split("+"))
    else:  # --set obs_mode=5 or =null: no sequence of names
        modes = tuple(obs_mode) if isinstance(obs_mode, (tuple, list)) else ()
    bad = [m for m in modes if m not in OBS_MODES]
    if bad or not modes or len(set(modes)) != len(modes):
        raise ValueError(f"invalid observation mode {obs_mode!r}; valid modes: {', '.join(OBS_MODES)} "
                         "(or several joined with '+')")
    return modes


#: ITU-R 601 luma weights of red, green and blue in 8-bit fixed point (0.299, 0.587, 0.114 times 256; they sum
#: to 256, so white stays 255).
LUMA_WEIGHTS = (77, 150, 29)
LUMA_SHIFT = 8


def integer_luma(red: Any, green: Any, blue: Any) -> Any:
    """``(77 R + 150 G + 29 B) >> 8`` over integer arrays of at least 16 bits (numpy or torch alike: 255 * 256
    needs 16): the one grayscale formula of :func:`grayscale_frame` and of ``ppo-device``'s frames on the
    device."""
    r, g, b = LUMA_WEIGHTS
    return (red * r + green * g + blue * b) >> LUMA_SHIFT


def grayscale_frame(frame: np.ndarray) -> np.ndarray:
    """A ``uint8`` (H, W, 3) frame as (H, W, 1) ITU-R 601 luma, in integers: exact, fast, reproducible; the
    grayscale of ``LongplayEnv(grayscale=True)`` and of the pixel wrappers alike."""
    wide = frame.astype(np.uint16)
    return integer_luma(wide[..., 0], wide[..., 1], wide[..., 2]).astype(np.uint8)[..., None]


def downsample_frame(frame: np.ndarray, k: int) -> np.ndarray:
    """A ``uint8`` (H, W, C) frame with both sides divided by ``k`` (which divides them): the mean of each k x k
    block, truncated; the downsample of ``LongplayEnv(downsample=k)`` and of the pixel wrappers alike."""
    h, w, c = frame.shape
    return frame.reshape(h // k, k, w // k, k, c).mean(axis=(1, 3), dtype=np.float32).astype(np.uint8)


#: The largest reset seed: a replay keeps seeds as SQLite integers (int64), and the quest game reads a seed modulo
#: 2**64, so seeds 0 and 2**64 would play the same episode.
MAX_SEED = 2**63 - 1

#: The keys ``LongplayEnv.reset`` takes in ``options``.
RESET_OPTIONS = ("state",)


def start_state_option(options: dict[str, Any] | None) -> bytes | None:
    """The start state ``options`` name (``{"state": bytes}``), or None; raises ``ValueError`` with one line for
    an unknown key or a state that is not bytes."""
    if options is None:
        return None
    if not isinstance(options, dict):
        raise ValueError(f"reset options must be a dict, not {type(options).__name__}; valid keys: "
                         f"{', '.join(RESET_OPTIONS)}")
    unknown = sorted(str(k) for k in options if k not in RESET_OPTIONS)
    if unknown:
        raise ValueError(f"unknown reset option{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                         f"valid: {', '.join(RESET_OPTIONS)}")
    state = options.get("state")
    if state is None:
        return None
    if not isinstance(state, (bytes, bytearray, memoryview)):
        raise ValueError(f"reset option 'state' must be bytes from game.save_state(), not {type(state).__name__}")
    return bytes(state)


def check_start_state(env: gym.Env, start_state: bytes | None) -> None:
    """Raises a one-line ``ValueError`` when the game refuses ``start_state`` (None: nothing to check): a trial
    reset, since the game can tell only by loading it."""
    if start_state is not None:
        env.reset(options={"state": start_state})


def steps_refused(env: gym.Env) -> bool:
    """Whether ``env`` refuses steps after a reset that raised: a :class:`LongplayEnv` does only where it had no
    episode to go on with (its ``refused_start``); an env that does not say is taken to."""
    return getattr(env.unwrapped, "refused_start", "") is not None


class LongplayEnv(gym.Env):
    """A Gymnasium env over a :class:`Game`; see the module docstring for spaces, reward and episode ends."""

    metadata = {"render_modes": ["rgb_array", "human", "ansi"], "render_fps": 30}
    #: Set by :meth:`close`: the game may have released what it plays on (an emulator), so nothing plays on.
    closed: bool = False

    def __init__(
        self,
        game: Game,
        obs_mode: str | tuple[str, ...] = "symbolic",
        render_mode: str | None = None,
        max_episode_steps: int | None = None,
        noop: bool = False,
        grayscale: bool = False,
        downsample: int = 1,
    ) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"invalid render_mode {render_mode!r}; valid: "
                             f"{', '.join(self.metadata['render_modes'])}")
        check_flag("noop", noop)
        check_flag("grayscale", grayscale)
        check_downsample(downsample, (SCREEN_HEIGHT, SCREEN_WIDTH))
        if max_episode_steps is not None and (not is_int(max_episode_steps) or max_episode_steps < 1):
            raise ValueError(f"invalid max_steps {max_episode_steps!r} (the env's own step limit); must be an integer "
                             ">= 1 or None")
        self.game = game
        self.obs_modes = parse_obs_mode(obs_mode)
        self.render_mode = render_mode
        self.max_episode_steps = max_episode_steps
        self.noop = bool(noop)
        self.grayscale = bool(grayscale)
        self.downsample = int(downsample)  # a numpy int too
        self.action_space = spaces.Discrete(9 if noop else 8)
        self.catalog = game.milestones()
        self._weights = tuple(m.weight for m in self.catalog)
        per_mode = {m: self._mode_space(m) for m in self.obs_modes}
        self.observation_space = per_mode[self.obs_modes[0]] if len(per_mode) == 1 else spaces.Dict(per_mode)
        self._steps = 0
        self._mask = 0
        self._reached: dict[str, int] = {}
        self._playing = False  # whether an episode is under way (a reset succeeded)
        #: Why steps are refused: a reset's start state was refused with no episode under way to go on with.
        self.refused_start: str | None = None
        #: The save state the current episode was reset to (``reset(options={"state": ...})``), or None for a plain
        #: reset: what a recorder keeps, whichever wrapper passed the option.
        self.reset_state: bytes | None = None
        self._window: Any = None

    # ------------------------------------------------------------------------------------------ spaces
    def _mode_space(self, mode: str) -> spaces.Space:
        if mode == "pixels":
            h, w = SCREEN_HEIGHT // self.downsample, SCREEN_WIDTH // self.downsample
            return spaces.Box(0, 255, (h, w, 1 if self.grayscale else 3), np.uint8)
        if mode == "symbolic":
            return self.game.symbolic_space()
        return spaces.Text(max_length=TEXT_MAX_LENGTH, min_length=0, charset=TEXT_CHARSET)

    def _pixels(self) -> np.ndarray:
        frame = self.game.frame()
        if self.grayscale:
            frame = grayscale_frame(frame)
        return downsample_frame(frame, self.downsample) if self.downsample > 1 else frame

    def _text(self) -> str:
        text = self.game.text()
        return text if len(text) <= TEXT_MAX_LENGTH else text[:TEXT_MAX_LENGTH]

    def _observe(self) -> Any:
        if len(self.obs_modes) == 1:
            mode = self.obs_modes[0]
            if mode == "symbolic":
                return self.game.symbolic()
            return self._pixels() if mode == "pixels" else self._text()
        obs: dict[str, Any] = {}
        for mode in self.obs_modes:
            obs[mode] = (self.game.symbolic() if mode == "symbolic"
                         else self._pixels() if mode == "pixels" else self._text())
        return obs

    # ------------------------------------------------------------------------------------------ API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        """Starts an episode. The same ``seed`` (and ``options``) gives the same episode, bit for bit. A seed is an
        int in ``0..MAX_SEED`` (2**63-1); ``None`` draws one from ``np_random``, which a seeded reset seeded.

        ``options={"state": data}`` starts the episode from ``data``, bytes of ``game.save_state()``: the
        state is loaded in place of the game's reset (it holds the whole game). Milestones the state already holds
        count as reached at step 0 and are not paid again; ``info["step"]`` is 0. The state carries the
        game's own randomness (quest's random key, the emulator), so the seed only seeds ``np_random``.
        A state the game refuses (corrupt, another game's, another world's) raises a one-line
        ``ValueError`` and changes nothing: the episode under way goes on (game, counters and ``np_random`` as
        they were). With none under way (the first reset), the env refuses steps until a reset succeeds.
        A gymnasium ``TimeLimit`` above the env (``gymnasium.make(..., max_episode_steps=N)``) zeroes its own
        count before the env sees the reset, so after a refusal it allows N more steps (the env's own limit
        keeps its count).
        """
        self._check_open()
        if type(seed) is int and seed > MAX_SEED:  # gymnasium refuses the rest (a negative seed, a float) itself
            raise ValueError(f"invalid seed {seed}; use an int in 0..2**63-1 or None")
        state = start_state_option(options)  # bad options are refused before anything changes
        # A game refuses a state without changing (the Game protocol): a refusal puts back only np_random.
        kept = None if state is None else (copy.deepcopy(self._np_random), self._np_random_seed)
        super().reset(seed=seed)
        # Drawn with a start state too: np_random goes on as it did when the game was reset first.
        game_seed = seed if seed is not None else int(self.np_random.integers(0, MAX_SEED))
        if state is None:
            self.game.reset(game_seed)
        else:
            try:
                self.game.load_state(state)
            except GameError as exc:
                self._np_random, self._np_random_seed = kept
                if not self._playing:
                    self.refused_start = str(exc)
                raise ValueError(f"cannot start from this state: {exc}") from None
        self.reset_state = state
        self.refused_start = None
        self._playing = True
        if self.game.milestones() is not self.catalog:  # a new procedural world per episode, or the state's
            self.catalog = self.game.milestones()
            self._weights = tuple(m.weight for m in self.catalog)
        self._steps = 0
        self._mask = self.game.milestone_mask()
        self._reached = {self.catalog[i].id: 0 for i in range(len(self.catalog)) if self._mask >> i & 1}
        if self.render_mode == "human":
            self.render()
        return self._observe(), self._info(())

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Presses the button ``action`` names and returns (obs, reward, terminated, truncated, info)."""
        self._check_open()
        if self.refused_start is not None:  # played on, the episode would start from a state nobody chose
            raise ResetNeeded(f"the last reset failed (cannot start from this state: {self.refused_start}): "
                              "reset again before stepping")
        index = action_index(action)
        if not 0 <= index < self.action_space.n:
            raise ValueError(f"invalid action {action!r}; valid: 0..{self.action_space.n - 1}")
        self.game.press(_ACTION_BUTTONS[index])
        self._steps += 1
        reward = 0.0
        new: tuple[str, ...] = ()
        mask = self.game.milestone_mask()
        if mask != self._mask:
            fresh = mask & ~self._mask
            self._mask |= mask
            ids = []
            for i in range(fresh.bit_length()):
                if fresh >> i & 1:
                    milestone = self.catalog[i]
                    reward += self._weights[i]
                    self._reached[milestone.id] = self._steps
                    ids.append(milestone.id)
            new = tuple(ids)
        terminated = self.game.finished()
        truncated = self.max_episode_steps is not None and self._steps >= self.max_episode_steps
        if self.render_mode == "human":
            self.render()
        return self._observe(), reward, terminated, truncated and not terminated, self._info(new)

    def _info(self, new: tuple[str, ...]) -> dict[str, Any]:
        return {
            "step": self._steps,
            "milestones": dict(self._reached),
            "new_milestones": new,
            "progress": len(self._reached) / len(self.catalog) if self.catalog else 0.0,
        }

    def render(self) -> Any:
        """``rgb_array``: the frame; ``ansi``: the text view; ``human``: a window (needs pygame)."""
        self._check_open()
        if self.render_mode == "rgb_array":
            return self.game.frame()
        if self.render_mode == "ansi":
            return self.game.text()
        if self.render_mode == "human":
            from longplay.envs.window import Window

            if self._window is None:
                self._window = Window(title="longplay")
            self._window.show(self.game.frame())
        return None

    def _check_open(self) -> None:
        if self.closed:  # a Game Boy env's emulator is gone: PyBoy's AttributeError named no cause
            raise ClosedEnvironmentError(f"this {type(self).__name__} is closed (close() released its game): "
                                         "make a new env")

    def close(self) -> None:
        """Closes the window and the game (idempotent); ``reset``, ``step`` and ``render`` then raise
        ``gymnasium.error.ClosedEnvironmentError``, for every backend alike."""
        self.closed = True
        if self._window is not None:
            self._window.close()
            self._window = None
        close = getattr(self.game, "close", None)
        if close is not None:
            close()
