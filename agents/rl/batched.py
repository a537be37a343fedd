"""Connecting the learners to a batched torch engine: the quest engine (issue 6) or the toy stand-in.

A batched engine has the interface of ``longplay.envs.quest.batched.BatchedQuest``: ``reset(seed) -> obs``
and ``step(actions) -> (obs, reward, terminated, truncated, info)``, every value a tensor on the engine's
device with a leading env dimension, same-step autoreset and per-env episode statistics in ``info``
(``episode_return``, ``episode_length``, ``milestones``: valid where the episode ended).

:func:`make_engine` builds one for a :class:`TrainConfig`; :class:`TorchBatchedVecEnv` shows any such engine
to Stable-Baselines3 as a ``VecEnv`` (used for the toy stand-in, and for quest when the engine does not bring
its own ``longplay.envs.quest.batched.sb3.BatchedVecEnv``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from longplay.agents.rl.config import TrainConfig

ENGINE_MISSING = ("the batched engine (longplay.envs.quest.batched, issue 6) is not installed yet; "
                  "train with --learner ppo --vec-env subproc meanwhile")


#: The env options (``--set``) the batched engine takes; any other would reach the evaluation env only.
ENGINE_OPTIONS = ("size", "world_seed", "world", "palette")


def quest_env_spec(config: TrainConfig) -> tuple[str, dict[str, Any]]:
    """The registered (entry point, kwargs) of the run's env; ``ValueError`` (one line) when it is not a quest env,
    which the batched engine cannot run."""
    from longplay.envs.registration import ENV_SPECS

    entry = ENV_SPECS.get(config.env_id)
    if entry is None or "quest" not in entry[0]:
        raise ValueError(f"the batched engine runs quest envs only; {config.env_id!r} is not one "
                         f"(valid: {', '.join(k for k, v in ENV_SPECS.items() if 'quest' in v[0])})")
    return entry


def quest_engine_kwargs(config: TrainConfig) -> dict[str, Any]:
    """``size``, ``world_seed``, ``world`` (and ``palette`` when given) of a quest env id: its registered
    defaults updated by ``env_kwargs``.

    Raises ``ValueError`` (one line) for an env the engine cannot run, and for an env option it does not take:
    the run would train without it and evaluate with it (``noop=true``: 9 actions against the policy's 8).
    """
    entry = quest_env_spec(config)
    other = [key for key in config.env_kwargs if key not in ENGINE_OPTIONS]
    if other:
        raise ValueError(f"the batched engine does not take the env option {other[0]!r} (it takes "
                         f"{', '.join(ENGINE_OPTIONS)}); train with --learner ppo --vec-env subproc for it")
    kwargs = {**entry[1], **config.env_kwargs}
    engine = {"size": kwargs.get("size"), "world_seed": kwargs.get("world_seed", 0),
              "world": kwargs.get("world", "procedural")}
    if "palette" in config.env_kwargs:
        engine["palette"] = config.env_kwargs["palette"]
    return engine


def make_engine(config: TrainConfig, device: str, final_obs: bool = False) -> Any:
    """The batched engine for ``config`` on ``device`` (``vec_env="toy"``: the toy stand-in); ``final_obs``: each
    finished episode's last observation in ``info["final_obs"]`` (what SB3 bootstraps a cut episode from).

    Raises ``ValueError`` (one line) when the quest engine is not installed or cannot run the env.
    """
    max_steps = config.max_episode_steps
    if config.vec_env == "toy":
        from longplay.agents.rl.toy import ToyBatched

        return ToyBatched(config.num_envs, device=device, obs_mode=config.obs_mode, final_obs=final_obs,
                          **({"max_episode_steps": max_steps} if max_steps else {}))
    kwargs = quest_engine_kwargs(config)
    try:
        from longplay.envs.quest.batched import BatchedQuest
    except ImportError:
        raise ValueError(ENGINE_MISSING) from None
    return BatchedQuest(config.num_envs, device=device, obs_mode=config.obs_mode, final_obs=final_obs,
                        **({"max_episode_steps": max_steps} if max_steps else {}), **kwargs)


def reference_spaces(config: TrainConfig, engine: Any) -> tuple[spaces.Space, spaces.Space]:
    """One env's observation and action spaces: the engine's, else the reference env's (same shapes)."""
    obs_space = getattr(engine, "single_observation_space", None)
    action_space = getattr(engine, "single_action_space", None)
    if obs_space is None or action_space is None:
        env = gym.make(config.env_id, obs_mode=config.obs_mode, **config.env_kwargs)
        obs_space, action_space = env.observation_space, env.action_space
        env.close()
        if not isinstance(obs_space, spaces.Dict):
            obs_space = spaces.Dict({"pixels": obs_space})
    return obs_space, action_space


#: The engine settings :meth:`TorchBatchedVecEnv.set_attr` changes, each read by the engine as it runs
#: (``max_episode_steps``: the episodes cut from the next step on). The rest is fixed at construction (the spaces,
#: the device, the number of envs) or is the engine's per-env state.
SETTABLE_ATTRS = ("max_episode_steps",)


def _numpy(x: Any) -> np.ndarray:
    return x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)


try:
    from stable_baselines3.common.vec_env.base_vec_env import VecEnv

    from longplay.envs.quest.batched.sb3 import sb3_step_infos, set_attr_value
except ImportError:  # pragma: no cover - the rl extra is missing
    VecEnv = object  # type: ignore[assignment,misc]


class TorchBatchedVecEnv(VecEnv):  # type: ignore[misc,valid-type]
    """Any batched torch engine as a Stable-Baselines3 ``VecEnv`` (observations and rewards to numpy).

    A ``{"pixels": ...}`` observation is handed on as a bare image, like the reference env's pixels.
    Every env's ``info["milestones"]`` is its episode's count (a finished env's: the ended episode's); finished
    envs also get ``info["episode"] = {"r", "l"}``, and, from an engine built with ``final_obs=True``,
    ``terminal_observation`` and ``TimeLimit.truncated``, which SB3 bootstraps a cut episode's value from: the
    keys quest's ``BatchedVecEnv`` gives, built by the same ``sb3_step_infos``.
    """

    def __init__(self, engine: Any, config: TrainConfig) -> None:
        obs_space, action_space = reference_spaces(config, engine)
        self.bare_pixels = isinstance(obs_space, spaces.Dict) and list(obs_space.spaces) == ["pixels"]
        if self.bare_pixels:
            obs_space = obs_space["pixels"]
        self.engine = engine  # before VecEnv.__init__, which asks for the render mode
        super().__init__(engine.num_envs, obs_space, action_space)
        self.seed_value = config.seed
        self._actions: Any = None

    def _obs(self, obs: dict[str, Any]) -> Any:
        if self.bare_pixels:
            return _numpy(obs["pixels"])
        return {k: _numpy(v) for k, v in obs.items()}

    def reset(self) -> Any:
        seed = self._seeds[0] if self._seeds and self._seeds[0] is not None else self.seed_value
        self._reset_seeds()
        return self._obs(self.engine.reset(seed=seed))

    def step_async(self, actions: np.ndarray) -> None:
        import torch

        self._actions = torch.as_tensor(np.asarray(actions), dtype=torch.long, device=self.engine.device)

    def step_wait(self) -> Any:
        obs, reward, terminated, truncated, info = self.engine.step(self._actions)
        done, infos = sb3_step_infos(info, terminated, truncated, self._obs)
        return self._obs(obs), _numpy(reward).astype(np.float32), done, infos

    def close(self) -> None:
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        """The engine's attribute, the same for every env in ``indices``; ``AttributeError`` when it has none
        (SB3's ``has_attr`` relies on it), except ``render_mode``: None (the engine does not render)."""
        value = None if attr_name == "render_mode" else getattr(self.engine, attr_name)
        return [value] * len(list(self._get_indices(indices)))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        """Sets an engine-wide setting (:data:`SETTABLE_ATTRS`), so for every env at once; refuses the rest in one
        line, by the rule quest's ``BatchedVecEnv.set_attr`` follows (``set_attr_value``: ``obs_mode``, for one,
        would leave the spaces as they were)."""
        setattr(self.engine, attr_name, set_attr_value(self, attr_name, value, indices, SETTABLE_ATTRS))

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        raise NotImplementedError("the batched engine has no per-env methods")

    def env_is_wrapped(self, wrapper_class: Any, indices: Any = None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))

    def get_images(self) -> list[np.ndarray]:
        return []


def make_sb3_vec_env(config: TrainConfig, device: str) -> Any:
    """An SB3 ``VecEnv`` over the batched engine: quest's own adapter when it ships one, else ours. With
    ``torch_compile``, the engine's step is compiled (at 64 envs SB3 then trains 2.5x faster)."""
    vec_env: Any = None
    if config.vec_env == "batched":
        quest_kwargs = quest_engine_kwargs(config)
        try:
            from longplay.envs.quest.batched.sb3 import BatchedVecEnv
        except ImportError:
            try:
                import longplay.envs.quest.batched  # noqa: F401
            except ImportError:
                raise ValueError(ENGINE_MISSING) from None
        else:
            vec_env = BatchedVecEnv(config.num_envs, seed=config.seed, stagger=True, device=device,
                                    obs_mode=config.obs_mode,
                                    **({"max_episode_steps": config.max_episode_steps}
                                       if config.max_episode_steps else {}), **quest_kwargs)
    if vec_env is None:
        vec_env = TorchBatchedVecEnv(make_engine(config, device, final_obs=True), config)
    if config.torch_compile and hasattr(vec_env.engine, "compile"):
        vec_env.engine.compile()
    return vec_env
