"""``BatchedVecEnv``: the batched engine as a Stable-Baselines3 ``VecEnv``, so SB3 trains on thousands of
games from one process.

    from stable_baselines3 import PPO
    from longplay.envs.quest.batched.sb3 import BatchedVecEnv

    env = BatchedVecEnv(256, size="mini", device="cpu")
    PPO("MultiInputPolicy", env).learn(100_000)

Observations are numpy (SB3 moves them to its own device). Done envs auto-reset in the same step, as SB3
expects: ``infos[i]["terminal_observation"]`` is the episode's last observation, ``infos[i]["episode"]``
(``{"r", "l"}``) feeds SB3's episode statistics and ``infos[i]["TimeLimit.truncated"]`` marks truncation.
Every env's ``infos[i]["milestones"]`` is its episode's milestone count (for an env that just ended, the ended
episode's: the count of its terminal step, as a ``DummyVecEnv`` of reference envs gives that step's info); a done
env's ``infos[i]["milestones_reached"]`` names them (ids in catalog order), so the learners log each milestone's
rate as over reference envs, whose ``info["milestones"]`` names them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.error import ClosedEnvironmentError, ResetNeeded
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices, VecEnvObs, VecEnvStepReturn

from longplay.envs.checks import check_flag
from longplay.envs.quest.batched.engine import BatchedQuest, check_seed, int_in
from longplay.envs.quest.batched.vector import (
    check_actions,
    check_no_options,
    single_observation_space,
    to_numpy,
    world_milestone_ids,
)

#: ``env_method`` names and the engine accessor each calls with the env's index (``render``: the env's frame)
PER_ENV_METHODS = {"text": "text", "frame": "frame", "render": "frame", "state_of": "state_of",
                   "world_of_env": "world_of_env"}
#: the engine-wide settings ``set_attr`` changes, each read by the engine as it runs: ``max_episode_steps`` (the
#: episodes that start after the change) and ``full_pass_share`` (CPU battle passes). The rest is fixed at
#: construction: the spaces (``obs_mode``, ``noop``), ``final_obs`` (the terminal observations SB3 needs), the
#: worlds, tables and device. (SB3 itself sets none: seeds and reset options go through ``seed`` and
#: ``set_options``, and ``render_mode`` is only read.)
SETTABLE_ATTRS = ("max_episode_steps", "full_pass_share")
#: the engine's [num_envs] attributes: ``get_attr`` gives each env its own entry
PER_ENV_ATTRS = ("milestones", "episode", "episode_return", "episode_length", "episode_limit", "base_seed",
                 "world_of")


def set_attr_value(vec_env: Any, attr_name: str, value: Any, indices: VecEnvIndices, settable: Sequence[str],
                   per_env: Sequence[str] = ()) -> Any:
    """The value ``vec_env.set_attr(attr_name, value, indices)`` sets on ``vec_env.engine``: the rule both batched
    SB3 adapters (this module's ``BatchedVecEnv``, the learners' ``TorchBatchedVecEnv`` over the toy engine)
    follow. Only an engine-wide setting the engine reads as it runs (one of ``settable``) is set, for every env
    at once. Refused in one line: a per-env attribute (``per_env``, the engine's bookkeeping), what is fixed at
    construction (the spaces, ``render_mode`` ...), a name the engine does not have (``AttributeError``, which
    SB3's ``has_attr`` reads), ``indices`` naming only some envs, and a value the engine's constructor would
    refuse (``max_episode_steps``: an int in ``1..2**31-1`` or None; ``full_pass_share``: a number in [0, 1])."""
    owner = type(vec_env).__name__
    if attr_name in per_env:
        raise ValueError(f"{owner}.set_attr({attr_name!r}): the engine's per-env bookkeeping, not set through SB3 "
                         "(write env.engine's tensor if you mean to)")
    if attr_name not in settable:
        names = f"settable: {', '.join(settable)}"
        if attr_name != "render_mode" and not hasattr(vec_env.engine, attr_name):
            raise AttributeError(f"{owner}.set_attr({attr_name!r}): no such attribute; {names}")
        raise ValueError(f"{owner}.set_attr({attr_name!r}): fixed at construction, or the engine's per-env state "
                         f"(make another {owner}); {names}")
    chosen = list(vec_env._get_indices(indices))
    if sorted(chosen) != list(range(vec_env.num_envs)):
        raise ValueError(f"{owner}.set_attr({attr_name!r}) sets an engine-wide attribute, for all "
                         f"{vec_env.num_envs} envs at once; indices {chosen} name only some of them")
    if attr_name == "max_episode_steps":  # as BatchedQuest(max_episode_steps=...) takes it
        if value is not None and not int_in(value, 1, 2**31 - 1):
            raise ValueError(f"invalid max_episode_steps {value!r}; must be an int in 1..2**31-1 or None")
        return None if value is None else int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"invalid {attr_name} {value!r}; must be a number in [0, 1]")
    return value


def sb3_step_infos(info: dict[str, Any], terminated: torch.Tensor, truncated: torch.Tensor,
                   to_host: Callable[[dict[str, torch.Tensor]], Any],
                   milestone_ids: Callable[[int], Sequence[str]] | None = None) -> tuple[np.ndarray, list[dict]]:
    """SB3's ``dones`` and ``infos`` of one step of a batched engine (its ``info``, ``terminated``,
    ``truncated``), with the keys the module docstring lists; each only where the engine's ``info`` has what it
    needs (the toy stand-in names no milestones; an engine without ``final_obs`` gives no terminal observation).

    ``to_host``: the adapter's own conversion of an observation (called once, for ``final_obs``, and only when
    an env is done); ``milestone_ids(i)``: env ``i``'s milestone ids, the columns of its
    ``info["milestones_reached"]``.
    """
    done = (terminated | truncated).cpu().numpy()
    # the count before any reset (the ended episode's, for a done env): what the learners log per episode
    infos: list[dict[str, Any]] = ([{"milestones": int(count)} for count in info["milestones"].tolist()]
                                   if "milestones" in info else [{} for _ in range(len(done))])
    if not done.any():
        return done, infos
    returns = info["episode_return"].cpu().numpy()
    lengths = info["episode_length"].cpu().numpy()
    final = to_host(info["final_obs"]) if "final_obs" in info else None
    cut = truncated.cpu().numpy()
    reached = info["milestones_reached"].cpu().numpy() \
        if milestone_ids is not None and "milestones_reached" in info else None
    for i in np.flatnonzero(done):
        infos[i]["episode"] = {"r": float(returns[i]), "l": int(lengths[i])}
        if final is not None:  # what SB3 bootstraps a cut episode's value from
            infos[i]["terminal_observation"] = final[i] if not isinstance(final, dict) \
                else {k: v[i] for k, v in final.items()}
            infos[i]["TimeLimit.truncated"] = bool(cut[i])
        if reached is not None:
            infos[i]["milestones_reached"] = [m for m, hit in zip(milestone_ids(i), reached[i], strict=False) if hit]
    return done, infos


class BatchedVecEnv(VecEnv):
    """N quest games behind SB3's ``VecEnv`` (arguments as :class:`BatchedQuest`).

    ``seed``: the base seed of the first :meth:`reset` (env ``i`` plays ``seed + i``; ``None``: drawn at random);
    each later reset starts after every episode played since the one before (auto-resets included), unless
    :meth:`seed` names the next base.
    ``stagger=True``: after each :meth:`reset`, every env's first episode is truncated after a random number
    of steps (seeded; 1 to ``max_episode_steps``), so envs started together do not stay in lockstep for the
    whole run. ``compile=True``: ``torch.compile`` the engine's step (:meth:`BatchedQuest.compile`; about 10x
    the env steps/s at 64 envs on CPU, 2.5x SB3's training steps/s). ``render_mode="rgb_array"``: ``render()``
    tiles every env's exact frame (what ``VecVideoRecorder`` needs); :meth:`get_images` works either way.
    """

    def __init__(self, num_envs: int, seed: int | None = 0, stagger: bool = False, compile: bool = False,
                 render_mode: str | None = None, **engine_kwargs: Any) -> None:
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"invalid render_mode {render_mode!r}; valid: None, rgb_array")
        self._render_mode = render_mode  # read by VecEnv.__init__ through get_attr
        check_seed(seed)  # here, not at the first reset (in SB3's learn, far from the call)
        check_flag("stagger", stagger)  # "no" would stagger, by its truth
        check_flag("compile", compile)
        engine_kwargs["final_obs"] = True
        self.engine = BatchedQuest(num_envs, **engine_kwargs)
        if compile:
            self.engine.compile()
        obs_space = single_observation_space(self.engine.obs_mode)
        action_space = spaces.Discrete(9 if self.engine.noop else 8)
        super().__init__(num_envs, obs_space, action_space)
        #: the base seed of the next reset; None after a reset: the seeds after every episode played since
        self._seed: int | None = int(np.random.default_rng().integers(0, 2**31 - 1) if seed is None else seed)
        self.stagger = stagger
        self._actions: torch.Tensor | None = None
        self._milestone_ids = world_milestone_ids(self.engine)  # each world's, by the milestones_reached columns

    @property
    def _open_engine(self) -> BatchedQuest:
        """The engine, or ``ClosedEnvironmentError`` (one line) after :meth:`close`, as ``BatchedVectorEnv``."""
        if self.engine is None:
            raise ClosedEnvironmentError("this BatchedVecEnv is closed (its engine was freed by close()): make a "
                                         "new one")
        return self.engine

    def reset(self) -> VecEnvObs:
        """Resets every env (env ``i`` with reference seed ``seed + i``; :meth:`seed` sets the base). Without a
        :meth:`seed` call since the last reset, the base is the first seed after every episode played since
        (auto-resets included), so no episode is played twice."""
        engine = self._open_engine
        if self._seed is None:  # env i's k-th episode since the last reset played base + i + k * num_envs
            self._seed = int(engine.base_seed[0]) + self.num_envs * (int(engine.episode.max()) + 1)
        obs = to_numpy(engine.reset(self._seed))
        if self.stagger and engine.max_episode_steps:
            engine.stagger_episode_ends(engine.max_episode_steps, torch.Generator().manual_seed(self._seed))
        self._seed = None
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        if not self._open_engine.started:  # as BatchedVectorEnv refuses it (the engine names its own reset(seed))
            raise ResetNeeded("call reset() before step()")
        acts = np.asarray(actions)
        if acts.shape == (self.num_envs, 1):  # SB3's [N, 1] of a Discrete space; any other shape is refused
            acts = acts.reshape(self.num_envs)
        acts = check_actions(acts, self.num_envs, self.action_space.n)
        self._actions = torch.as_tensor(acts, device=self.engine.device)

    def step_wait(self) -> VecEnvStepReturn:
        assert self._actions is not None, "step_async first"
        obs, reward, terminated, truncated, info = self._open_engine.step(self._actions)
        done, infos = sb3_step_infos(info, terminated, truncated, to_numpy,
                                     lambda i: self._milestone_ids[self.engine.world_of[i]])
        return to_numpy(obs), reward.cpu().numpy(), done, infos

    def close(self) -> None:
        """Frees the engine (its state and tables); a later call but :meth:`close` raises
        ``ClosedEnvironmentError``."""
        self.engine = None  # type: ignore[assignment]
        self._actions = None

    def seed(self, seed: int | None = None) -> Sequence[int | None]:
        """Sets the base seed of the next :meth:`reset` (an int in ``0..2**62``, as the engine's ``reset``)."""
        check_seed(seed)  # refused here, not at the next reset
        if seed is not None:
            self._seed = int(seed)
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def set_options(self, options: list[dict] | dict | None = None) -> None:
        """Refuses options (``ValueError``, one line): the engine has none to honour, and SB3's ``VecEnv`` would
        keep them for a :meth:`reset` that ignores them. ``None`` and empty ones pass."""
        check_no_options(options)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        """The attribute of each env in ``indices``: an engine-wide one (``obs_mode``, ``noop``,
        ``max_episode_steps``, ...) is the same for every env; a per-env one (:data:`PER_ENV_ATTRS`) is that
        env's entry (``get_attr("milestones", [2])`` is env 2's count)."""
        if attr_name == "render_mode":
            return [self._render_mode for _ in self._get_indices(indices)]
        value = getattr(self._open_engine, attr_name)
        if attr_name in PER_ENV_ATTRS:
            rows = np.asarray(value.cpu() if isinstance(value, torch.Tensor) else value)
            return [rows[i].item() for i in self._get_indices(indices)]
        return [value for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        """Sets an engine-wide setting (:data:`SETTABLE_ATTRS`), so for every env at once; refuses the rest in one
        line (:func:`set_attr_value`: ``noop``, for one, would leave the action space as it was)."""
        engine = self._open_engine
        value = set_attr_value(self, attr_name, value, indices, SETTABLE_ATTRS, PER_ENV_ATTRS)
        setattr(engine, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: VecEnvIndices = None,
                   **method_kwargs: Any) -> list[Any]:
        """SB3's contract: the method of each env in ``indices``, results in their order. The games have no env
        objects: each of :data:`PER_ENV_METHODS` is the engine's accessor called with that env's index first
        (``env_method("text", indices=[3])`` is env 3's text view; ``"render"`` is its frame); any other name
        raises (call engine-wide methods on ``env.engine``)."""
        if method_name not in PER_ENV_METHODS:
            raise AttributeError(f"BatchedVecEnv.env_method({method_name!r}): no per-env method of that name; "
                                 f"supported: {', '.join(PER_ENV_METHODS)} (each called with the env's index); "
                                 "call engine-wide methods on env.engine")
        method = getattr(self._open_engine, PER_ENV_METHODS[method_name])
        try:
            inspect.signature(method).bind(0, *method_args, **method_kwargs)
        except TypeError as e:
            raise TypeError(f"BatchedVecEnv.env_method({method_name!r}) calls engine.{method.__name__}(i, ...) "
                            f"with each env's index i first: {e}") from None
        return [method(i, *method_args, **method_kwargs) for i in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        """Every env's exact frame (what :meth:`render` tiles); ``ResetNeeded`` before :meth:`reset`, as the
        reference env."""
        if not self._open_engine.started:  # the engine would name its own reset(seed)
            raise ResetNeeded("call reset() before render()")
        return [self.engine.frame(i) for i in range(self.num_envs)]


__all__ = ["PER_ENV_ATTRS", "PER_ENV_METHODS", "SETTABLE_ATTRS", "BatchedVecEnv", "sb3_step_infos"]
