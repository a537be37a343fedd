"""The ``ppo`` agent: a trained policy playing through the same interface as every other agent.

``longplay run --agent ppo --checkpoint PATH`` loads any checkpoint either learner writes (a
Stable-Baselines3 ``.zip``, a ``ppo-device`` ``.pt``, or an exported policy) and plays it; without a
checkpoint it plays the small QuestMini policy shipped in ``longplay/agents/rl/checkpoints``. Training's
evaluation episodes use this same agent, so what is recorded during training is what users replay later.

The agent applies the observation pipeline the policy was trained with (grayscale, downsampling and frame
stacking for pixels) to the env's raw observations, so it needs no special env settings.

>>> agent = PPOAgent()                                                  # doctest: +SKIP
>>> agent.obs_mode                                                      # doctest: +SKIP
'symbolic'
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from longplay.agents.rl.config import TrainConfig

#: The policy shipped with the package (see ``checkpoints/README.md`` for how it was trained).
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "questmini_ppo.zip"
POLICY_FORMAT = "longplay-policy"
DEVICE_FORMAT = "longplay-ppo-device"


class CheckpointError(ValueError):
    """A checkpoint that cannot be loaded (missing, foreign or corrupt); the message is one line."""


class LoadedPolicy:
    """A policy network with the settings it was trained with.

    Attributes:
        net: The :class:`~longplay.agents.rl.networks.ActorCritic`, in eval mode.
        config: The training config (observation pipeline, env, learner).
        description: The observation description the network was built for.
        step: The training step the weights come from.
    """

    def __init__(self, net: Any, config: TrainConfig, description: dict[str, Any], step: int = 0,
                 source: str = "") -> None:
        self.net = net.eval()
        self.config = config
        self.description = description
        self.step = step
        self.source = source

    @property
    def device(self) -> Any:
        """Where the weights live."""
        return next(self.net.parameters()).device

    def logits(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """Action logits for one observation (already through the pipeline), as float64."""
        import torch

        with torch.no_grad():
            batch = {k: torch.as_tensor(np.asarray(v)[None], device=self.device) for k, v in obs.items()}
            logits, _ = self.net(batch)
        return logits[0].double().cpu().numpy()


# ============================================================================================== loading
def policy_state(net: Any, config: TrainConfig, description: dict[str, Any], n_actions: int,
                 step: int) -> dict[str, Any]:
    """The dict :func:`load_policy` reads: weights plus everything needed to rebuild the network."""
    return {"format": POLICY_FORMAT, "version": 1, "config": config.to_dict(), "description": description,
            "n_actions": n_actions, "step": step,
            "model": {k: v.detach().cpu() for k, v in net.state_dict().items()}}


def save_policy(path: str | Path, policy: LoadedPolicy) -> Path:
    """Writes only the policy (no optimizer): the small file to ship or share."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n_actions = int(policy.net.policy_head.out_features)
    torch.save(policy_state(policy.net, policy.config, policy.description, n_actions, policy.step), path)
    return path


def actor_critic_from_sb3(model: Any) -> LoadedPolicy:
    """The SB3 PPO model's policy as an :class:`ActorCritic` (same weights, one copy of the encoder)."""
    from longplay.agents.rl.networks import ActorCritic

    config = TrainConfig.from_dict(getattr(model, "longplay_config", {}) or {})
    description = getattr(model, "longplay_description", None)
    if description is None:
        raise CheckpointError("this SB3 checkpoint was not written by longplay train "
                              "(no observation description)")
    n_actions = int(model.action_space.n)
    net = ActorCritic(description, n_actions, config.features_dim)
    renames = {"features_extractor.encoder.": "encoder.", "action_net.": "policy_head.",
               "value_net.": "value_head."}
    state = {}
    for key, value in model.policy.state_dict().items():
        for old, new in renames.items():
            if key.startswith(old):
                state[new + key[len(old):]] = value
    net.load_state_dict(state)
    return LoadedPolicy(net.to(model.device), config, description, int(model.num_timesteps))


def load_policy(path: str | Path, device: str = "cpu") -> LoadedPolicy:
    """Loads a policy from any longplay checkpoint: SB3 ``.zip``, ``ppo-device`` ``.pt`` or exported policy.

    Raises :class:`CheckpointError` with one line when the file is missing or not a longplay checkpoint, or
    when torch (or Stable-Baselines3, for its checkpoints) is not installed.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except zipfile.BadZipFile:
        raise CheckpointError(f"not a longplay checkpoint (not a zip or torch file): {path}") from None
    if "data" in names and "policy.pth" in names:  # Stable-Baselines3's format
        try:
            from stable_baselines3 import PPO
        except ImportError as exc:  # a base install: name the extra, not a traceback
            raise CheckpointError(f"{path} is a Stable-Baselines3 checkpoint; loading it needs the rl extra: "
                                  f"pip install 'longplay[rl]' ({exc})") from None

        try:
            model = PPO.load(path, device=device)
        except Exception as exc:  # noqa: BLE001 - SB3 raises many kinds; the user needs one line
            raise CheckpointError(f"cannot load SB3 checkpoint {path}: {exc}") from None
        loaded = actor_critic_from_sb3(model)
        loaded.source = str(path)
        return loaded
    try:
        import torch
    except ImportError as exc:  # a base install (the shipped policy too needs torch)
        raise CheckpointError(f"the ppo agent needs torch: pip install 'longplay[rl]' ({exc})") from None

    from longplay.agents.rl.networks import ActorCritic

    try:
        data = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"cannot load checkpoint {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") not in (POLICY_FORMAT, DEVICE_FORMAT):
        raise CheckpointError(f"not a longplay checkpoint: {path}")
    config = TrainConfig.from_dict(data["config"])
    net = ActorCritic(data["description"], int(data["n_actions"]), config.features_dim)
    net.load_state_dict(data["model"])
    return LoadedPolicy(net.to(device), config, data["description"], int(data.get("step", 0)), str(path))


# ============================================================================================== agent
class ObsPipeline:
    """Turns the env's raw observations into what the policy was trained on (see the module docstring)."""

    def __init__(self, config: TrainConfig, description: dict[str, Any]) -> None:
        from longplay.envs.wrappers.pixels import FrameStacker

        self.config = config
        self.description = description
        self.pixels = config.obs_mode == "pixels"
        self.stacker = FrameStacker(config.frame_stack) if self.pixels else None

    def _frame(self, obs: Any) -> np.ndarray:
        from longplay.envs.wrappers.pixels import preprocess_pixels

        if isinstance(obs, dict) and "pixels" not in obs:
            raise ValueError("this policy reads pixels; make the env with obs_mode='pixels'")
        frame = obs["pixels"] if isinstance(obs, dict) else obs
        target = tuple(self.description["pixels"]["shape"])
        per_frame = target[-1] // self.config.frame_stack
        if frame.shape[:2] != target[:2] or frame.shape[-1] != per_frame:
            frame = preprocess_pixels(frame, self.config.grayscale, self.config.downsample)
        return frame

    def reset(self, obs: Any) -> dict[str, np.ndarray]:
        """The first observation of an episode."""
        if self.stacker is None:
            return self._select(obs)
        return {"pixels": self.stacker.reset(self._frame(obs))}

    def step(self, obs: Any) -> dict[str, np.ndarray]:
        """Every later observation."""
        if self.stacker is None:
            return self._select(obs)
        return {"pixels": self.stacker.push(self._frame(obs))}

    def _select(self, obs: Any) -> dict[str, np.ndarray]:
        if not isinstance(obs, dict):
            raise ValueError("this policy reads symbolic observations; make the env with obs_mode='symbolic'")
        return {k: obs[k] for k in self.description}


class PPOAgent:
    """Plays a trained PPO policy (see the module docstring).

    Args:
        checkpoint: A checkpoint path (default: the shipped QuestMini policy).
        device: Where to run the network (``cpu`` is plenty for one env).
        deterministic: Take the most likely action instead of sampling (sampling is the default: PPO
            policies are trained stochastic and sampling avoids getting stuck against a wall).
        policy: An already loaded policy (used by training's evaluation); overrides ``checkpoint``.
    """

    name = "ppo"

    def __init__(self, checkpoint: str | Path | None = None, device: str = "cpu", deterministic: bool = False,
                 policy: LoadedPolicy | None = None, **_: Any) -> None:
        if policy is None:
            if checkpoint is None and not DEFAULT_CHECKPOINT.is_file():
                raise CheckpointError("no checkpoint given and no shipped policy found; "
                                      "pass --checkpoint PATH")
            policy = load_policy(checkpoint or DEFAULT_CHECKPOINT, device)
        self.policy = policy
        self.deterministic = deterministic
        self.obs_mode = policy.config.obs_mode
        self.pipeline = ObsPipeline(policy.config, policy.description)
        from longplay.envs.wrappers.buttons import parse_buttons

        #: The env action of each policy action (the buttons the policy was trained to press).
        self.buttons = parse_buttons(policy.config.buttons) or None
        self.rng = np.random.default_rng(0)
        self._started = False

    @property
    def model_name(self) -> str:
        """What replays record as the model: the checkpoint's file name and training step."""
        name = Path(self.policy.source).stem if self.policy.source else "ppo"
        return f"{name}@{self.policy.step}"

    @property
    def trained_env_id(self) -> str:
        """The env id the policy was trained on (a run on another id is a generalisation test, which
        ``longplay run`` notes)."""
        return self.policy.config.env_id

    def reset(self, env: gym.Env, obs: Any, info: dict[str, Any], seed: int) -> None:
        """Seeds the action sampling with the episode seed; restarts the frame stack.

        Raises ``ValueError`` (one line) when the env's symbolic observations are not the ones the policy
        was trained on (other shapes, or other tile and sprite kinds), or when the policy presses actions the
        env does not have (trained with ``noop``, played without).
        """
        if not self.pipeline.pixels:
            self._check_space(env.observation_space)
        self._check_actions(env.action_space)
        self.rng = np.random.default_rng(seed)
        self._policy_obs = self.pipeline.reset(obs)
        self._started = True

    def _check_space(self, space: Any) -> None:
        from longplay.agents.rl.networks import describe_space

        try:
            given = describe_space(space)
        except ValueError:
            given = {}
        wanted = self.policy.description
        bad = [k for k, d in wanted.items() if given.get(k) != d]
        if bad:
            def short(d: dict[str, Any] | None) -> str:
                if d is None:
                    return "missing"
                return f"{d['shape']}" + (f" of {d['classes']} kinds" if "classes" in d else "")

            diffs = "; ".join(f"{k}: policy {short(wanted[k])}, env {short(given.get(k))}" for k in bad)
            raise ValueError(f"this policy (trained on {self.policy.config.env_id}) does not read this env's "
                             f"observations ({diffs})")

    def _check_actions(self, space: Any) -> None:
        # here, not at the first press of the missing action: a sampled policy presses it at some random step,
        # after a replay of the steps before was written
        env_actions = getattr(space, "n", None)
        presses = self.buttons or range(int(self.policy.net.policy_head.out_features))
        if env_actions is not None and max(presses) >= env_actions:
            noop = self.policy.config.env_kwargs.get("noop")
            hint = " (--set noop=true)" if noop else ""
            raise ValueError(f"this policy (trained on {self.policy.config.env_id}) presses actions 0..{max(presses)}, "
                             f"this env has 0..{int(env_actions) - 1}: make the env as it was trained{hint}")

    def act(self, obs: Any, info: dict[str, Any]) -> int:
        """Samples (or, deterministic, picks the best) action for ``obs``."""
        policy_obs = self._policy_obs if self._started else self.pipeline.step(obs)
        self._started = False
        logits = self.policy.logits(policy_obs)
        if self.deterministic:
            choice = int(np.argmax(logits))
        else:
            p = np.exp(logits - logits.max())
            choice = int(self.rng.choice(len(p), p=p / p.sum()))
        return self.buttons[choice] if self.buttons else choice
