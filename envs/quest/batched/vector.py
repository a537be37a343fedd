"""``BatchedVectorEnv``: the batched engine as a :class:`gymnasium.vector.VectorEnv` (numpy in and out).

``gymnasium.make_vec("longplay/QuestMini-v0", num_envs=N, vectorization_mode="vector_entry_point")`` builds
one (the quest ids register this class as their ``vector_entry_point``); any keyword of
:class:`~longplay.envs.quest.batched.engine.BatchedQuest` passes through (``device="cuda"``,
``world_seeds=[...]``). Autoreset is ``SAME_STEP``: a finished env's observation is already its next
episode's first one, and its last one is in ``info["final_obs"]`` (``info["_final_obs"]`` marks which); its last
info is in ``info["final_info"]`` (``milestones``, ``milestones_reached``, ``episode_return``, ``episode_length``
and ``episode``, each with its ``_`` mask), laid out as Gymnasium's own vector envs lay it out. ``milestones`` there
is the ended episode's count; ``milestones_reached`` names them as a ``SyncVectorEnv`` of reference envs lays out
their ``milestones`` (id -> step reached): a bool array (and its ``_`` mask) per id that an ending env reached,
set where it did (the engine keeps no step).

Episode statistics of the envs that just ended, valid where ``info["final_info"]["_episode"]`` is set:
``info["final_info"]["episode"]["r"]`` (return = milestones reached), ``["l"]`` (length) and ``["t"]`` (the episode's
wall-clock seconds, from its reset to its last step, as ``RecordEpisodeStatistics`` times them), where a
``SyncVectorEnv`` of reference envs each under ``RecordEpisodeStatistics`` puts them. The top level has no
``episode`` key, as Gymnasium's vector envs have none, so that
``gymnasium.wrappers.vector.RecordEpisodeStatistics`` (which refuses an info that already holds one) can wrap this
env and write ``info["episode"]`` itself. ``info["milestones"]`` (with its ``_milestones`` mask: every env) is every
env's milestone count now: for an env that just ended, its new episode's (as ``reset`` gives it, the way
Gymnasium's ``SAME_STEP`` vector envs put the new episode's reset info at the top level); the ended episode's count
is in ``info["final_info"]["milestones"]``.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from longplay.envs.checks import check_flag
from longplay.envs.quest.batched.engine import DEFAULT_WORLD_POOL, BatchedQuest, check_seed, int_in
from longplay.envs.quest.constants import NUM_SPRITES, NUM_TILES, VIEW_H, VIEW_W


def single_observation_space(obs_mode: str) -> spaces.Space:
    """One env's observation space: the reference env's (``QuestGame.symbolic_space`` or pixels)."""
    if obs_mode == "pixels":
        return spaces.Box(0, 255, (144, 160, 3), np.uint8)
    return spaces.Dict({
        "tiles": spaces.Box(0, NUM_TILES - 1, (VIEW_H, VIEW_W), np.uint8),
        "entities": spaces.Box(0, NUM_SPRITES - 1, (VIEW_H, VIEW_W), np.uint8),
        "vector": spaces.Box(-1.0, 1e7, (32,), np.float32),
    })


class BatchedVectorEnv(gym.vector.VectorEnv):
    """N quest games in one :class:`BatchedQuest` behind the Gymnasium vector API.

    Args:
        num_envs: How many games.
        size, world_seed, world, obs_mode, max_episode_steps, noop, palette: as the reference ``QuestEnv``.
            ``world_seed=None`` (a new world per reset seed in the reference) plays a pool of
            ``world_pool`` worlds with seeds ``0 .. world_pool - 1`` (env ``i`` plays world ``i % world_pool``).
        device: Where the engine runs; observations come back as numpy arrays.
        world_seeds: An explicit pool of world seeds (overrides ``world_seed``).
        render_mode: ``None``, ``"rgb_array"`` (exact reference frames, one per env) or ``"ansi"`` (the reference
            text view of each env).
        autoreset_mode: ``AutoresetMode.SAME_STEP`` (its one mode; any other is refused in one line).
        compile: ``torch.compile`` the engine's step (:meth:`BatchedQuest.compile`): about 10x the env steps/s
            at 64 envs on CPU, after a first compilation of a minute or two.
        **engine_kwargs: More :class:`BatchedQuest` arguments.
    """

    metadata = {"render_modes": ["rgb_array", "ansi"], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, num_envs: int = 1, size: str | None = None, world_seed: int | None = 0,
                 world: str = "procedural", obs_mode: str = "symbolic",
                 max_episode_steps: int | str | None = "auto", noop: bool = False, palette: Any = None,
                 device: str | torch.device = "cpu", world_seeds: list[int] | None = None,
                 world_pool: int = DEFAULT_WORLD_POOL, render_mode: str | None = None,
                 grayscale: bool = False, downsample: int = 1, compile: bool = False,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP, **engine_kwargs: Any) -> None:
        check_flag("compile", compile)  # "no" would compile, by its truth
        if autoreset_mode not in (AutoresetMode.SAME_STEP, AutoresetMode.SAME_STEP.value):  # as SyncVectorEnv names it
            raise ValueError(f"the batched engine autoresets in the same step (AutoresetMode.SAME_STEP) only, got "
                             f"{autoreset_mode!r}: read a done env's last observation in info['final_obs']")
        if grayscale or downsample != 1:
            raise ValueError("the batched engine serves full-size RGB pixels or symbolic observations; "
                             "grayscale and downsample are not supported (apply them on the device)")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"invalid render_mode {render_mode!r}; valid: {', '.join(self.metadata['render_modes'])}")
        if not int_in(num_envs, 1):  # before anything is built
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        self.engine = BatchedQuest(num_envs, size=size, world_seed=world_seed, device=device, obs_mode=obs_mode,
                                   max_episode_steps=max_episode_steps, world_seeds=world_seeds, world=world,
                                   noop=noop, final_obs=True, palette=palette, world_pool=world_pool,
                                   **engine_kwargs)
        if compile:
            self.engine.compile()
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.single_observation_space = single_observation_space(obs_mode)
        self.single_action_space = spaces.Discrete(9 if noop else 8)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._np_random_seed: int | None = None
        self._needs_reset = True
        self._milestone_ids = world_milestone_ids(self.engine)
        #: when each env's episode started (``time.perf_counter``): ``final_info``'s ``episode["t"]``
        self._episode_started = np.zeros(num_envs)

    # ------------------------------------------------------------------------------------------ API
    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        """Resets every env; env ``i`` plays the reference episode of seed ``seed + i`` (``seed``, an int in
        ``0..2**62`` as the engine's ``reset`` takes, drawn from the vector env's generator when ``None``). A list
        of seeds, one per env, must be ``[s, s + 1, ...]`` (what the engine plays) or all ``None``. ``options``
        must be empty (see :func:`check_no_options`)."""
        self._check_open()
        check_no_options(options)
        if isinstance(seed, (list, tuple, np.ndarray)):
            seed = _base_seed(list(seed), self.num_envs)
        check_seed(seed)  # before the generator is reseeded
        if seed is not None:
            self._np_random, self._np_random_seed = gym.utils.seeding.np_random(int(seed))
        base = int(seed) if seed is not None else int(self.np_random.integers(0, 2**31 - 1))
        obs = self.engine.reset(base)
        self._needs_reset = False
        self._episode_started[:] = time.perf_counter()
        return to_numpy(obs), self._milestone_info()

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """One press per env; ``SAME_STEP`` autoreset (see the module docstring)."""
        self._check_open()
        if self._needs_reset:
            raise gym.error.ResetNeeded("call reset() before step()")
        acts = check_actions(actions, self.num_envs, self.single_action_space.n)
        obs, reward, terminated, truncated, info = self.engine.step(torch.as_tensor(acts, device=self.engine.device))
        done = (terminated | truncated).cpu().numpy()
        # the count now: a just-ended env's new episode's (the engine's info holds the ended one's, for final_info)
        out: dict[str, Any] = self._milestone_info()
        if done.any():
            final = to_numpy(info["final_obs"])
            finals = np.empty(self.num_envs, dtype=object)
            for i in np.flatnonzero(done):
                finals[i] = final[i] if not isinstance(final, dict) else {k: v[i] for k, v in final.items()}
            out["final_obs"], out["_final_obs"] = finals, done
            reached = _reached_by_id(info["milestones_reached"].cpu().numpy(), done, self.engine.world_of,
                                     self._milestone_ids)
            now = time.perf_counter()
            seconds = np.round(now - self._episode_started, 6)
            self._episode_started[done] = now  # the new episodes start here (same-step autoreset)
            out["final_info"], out["_final_info"] = _final_info(info, done, reached, seconds), done
        return (to_numpy(obs), reward.cpu().numpy(), terminated.cpu().numpy(), truncated.cpu().numpy(), out)

    def _milestone_info(self) -> dict[str, np.ndarray]:
        """Every env's milestone count now, with its ``_milestones`` mask (every env), as Gymnasium's vector envs
        give each info key."""
        return {"milestones": self.engine.milestones.cpu().numpy(), "_milestones": np.ones(self.num_envs, bool)}

    def render(self) -> tuple[np.ndarray, ...] | tuple[str, ...] | None:
        """``rgb_array``: the exact reference frame of every env; ``ansi``: every env's text view (as a
        ``SyncVectorEnv`` of reference envs gives them)."""
        if self.render_mode not in self.metadata["render_modes"]:
            return None
        self._check_open()
        if self._needs_reset:  # as the reference env: before reset every env's state is all zeros, no game
            raise gym.error.ResetNeeded("call reset() before render()")
        view = self.engine.text if self.render_mode == "ansi" else self.engine.frame
        return tuple(view(i) for i in range(self.num_envs))

    def close_extras(self, **kwargs: Any) -> None:
        self.engine = None  # type: ignore[assignment]

    def _check_open(self) -> None:
        if self.engine is None:
            raise gym.error.ClosedEnvironmentError("this BatchedVectorEnv is closed (its engine was freed by "
                                                   "close()): make a new one")


def _final_info(info: dict[str, Any], done: np.ndarray, reached: dict[str, np.ndarray],
                seconds: np.ndarray) -> dict[str, Any]:
    """The ending envs' last info laid out as Gymnasium's vector envs lay out ``final_info`` in ``SAME_STEP`` mode
    (``SyncVectorEnv``'s ``_add_info``): each key an array over the envs, valid where its ``_key`` mask is set,
    zero elsewhere; ``episode`` a dict of such arrays, as ``RecordEpisodeStatistics`` under each env writes it;
    ``milestones_reached`` the ids ``reached`` (:func:`_reached_by_id`); ``seconds`` each episode's wall-clock time."""

    def ending(values: np.ndarray) -> np.ndarray:
        return np.where(done, values, np.zeros_like(values))

    # each copied to the host once; ending() still makes episode's and the top-level arrays apart, as before
    episode_return, episode_length = info["episode_return"].cpu().numpy(), info["episode_length"].cpu().numpy()
    stats = {"r": episode_return, "l": episode_length, "t": seconds}
    episode = {key: ending(values) for key, values in stats.items()}
    return {"milestones": ending(info["milestones"].cpu().numpy()), "_milestones": done,
            "milestones_reached": reached, "_milestones_reached": done,
            "episode_return": ending(episode_return), "_episode_return": done,
            "episode_length": ending(episode_length), "_episode_length": done,
            "episode": {**episode, **{f"_{key}": done for key in episode}}, "_episode": done}


def _reached_by_id(reached: np.ndarray, done: np.ndarray, world_of: np.ndarray,
                   ids: list[list[str]]) -> dict[str, np.ndarray]:
    """The milestones the ending envs' episodes reached (``reached``: the engine's ``milestones_reached``), one
    bool array per id with its ``_id`` mask, as ``SyncVectorEnv`` lays out the reference envs' ``milestones``
    (id -> step): the ids some ending env reached, each set where it did (the engine keeps no step)."""
    by_id: dict[str, np.ndarray] = {}
    for world, names in enumerate(ids):
        ending = done & (world_of == world)
        for column, name in enumerate(names):
            hit = ending & reached[:, column]
            if hit.any():
                by_id[name] = by_id[name] | hit if name in by_id else hit  # (worlds share ids: left_house)
    return {**by_id, **{f"_{name}": hit.copy() for name, hit in by_id.items()}}


def world_milestone_ids(engine: BatchedQuest) -> list[tuple[str, ...]]:
    """Each world's milestone ids in catalog order (:attr:`World.milestone_ids`, the columns of the engine's
    ``info["milestones_reached"]``), by the engine's world index."""
    return [world.milestone_ids for world in engine.worlds]


def check_actions(actions: Any, num_envs: int, num_actions: int) -> np.ndarray:
    """``actions`` as int64 [num_envs], each a valid action as the reference env checks it (``0..n-1``: the
    engine itself would take any other value as pressing nothing); a clear ``ValueError`` otherwise."""
    acts = np.asarray(actions)
    if acts.shape != (num_envs,):
        raise ValueError(f"expected {num_envs} actions, got shape {acts.shape}")
    if not np.issubdtype(acts.dtype, np.integer):  # as the engine refuses them: 3.7 is no action 3
        raise ValueError(f"actions must be integers (action indices), got dtype {acts.dtype}")
    acts = acts.astype(np.int64)
    bad = (acts < 0) | (acts >= num_actions)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"invalid action {acts[i]} for env {i}; valid: 0..{num_actions - 1}")
    return acts


def check_no_options(options: Any) -> None:
    """Raises ``ValueError`` (one line) on reset options: the engine has none to honour (a start state is put in
    with ``engine.load_states``), and ignoring them would play fresh episodes where the caller asked for others.
    ``None`` and empty ones (``{}``, a list of ``{}`` per env) pass."""
    per_env = options if isinstance(options, (list, tuple)) else [options]
    if all(o is None or (isinstance(o, dict) and not o) for o in per_env):
        return
    raise ValueError(f"the batched engine takes no reset options, got {options!r:.80}: every env plays a new "
                     "episode of its seed (put start states in with engine.load_states)")


def _base_seed(seeds: list[Any], num_envs: int) -> int | None:
    """The base seed of a per-env list of seeds (env ``i`` plays seed ``base + i``), or ``None`` for all ``None``."""
    if len(seeds) != num_envs:
        raise ValueError(f"expected {num_envs} seeds, one per env, got {len(seeds)}")
    if all(s is None for s in seeds):
        return None
    # the range is check_seed's to refuse, with the bound in its message: [2**62 + 1, 2**62 + 2] is seed + i
    if not all(int_in(s, 0) for s in seeds) \
            or [int(s) for s in seeds] != list(range(int(seeds[0]), int(seeds[0]) + num_envs)):
        raise ValueError(f"the batched engine plays seed + i in env i: pass one int or the seeds [s, s + 1, ..., "
                         f"s + {num_envs - 1}], got {seeds[:4]}{' ...' if num_envs > 4 else ''}")
    return int(seeds[0])


def to_numpy(obs: dict[str, torch.Tensor]) -> Any:
    """The engine's observation on the host: a bare image for pixels alone (as the reference env's), else a dict."""
    if set(obs) == {"pixels"}:
        return obs["pixels"].cpu().numpy()
    return {k: v.cpu().numpy() for k, v in obs.items()}


__all__ = ["BatchedVectorEnv", "check_actions", "check_no_options", "single_observation_space",
           "to_numpy", "world_milestone_ids"]
