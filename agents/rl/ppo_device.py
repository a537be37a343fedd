"""``longplay train --learner ppo-device``: PPO with everything on the device, in one file (CleanRL style).

The batched engine steps ``num_envs`` games as tensors on the device; this learner keeps the rollout
storage, the advantages (GAE) and the updates there too, so nothing crosses to the host inside the loop
except one small read of the episode statistics per iteration. Read it top to bottom:

1. build the engine (quest's batched engine, or the toy stand-in), the network and Adam;
2. each iteration: anneal the learning rate, roll out ``n_steps`` steps (sample actions with the
   Gumbel-max trick, accumulate finished episodes' statistics in device tensors), compute GAE, then
   ``n_epochs`` passes of clipped-PPO minibatch updates;
3. log ``charts/`` and ``losses/``, save ``checkpoints/step_<N>.pt`` (weights, Adam state, iteration, step,
   RNG) every ``checkpoint_every`` steps, and play evaluation episodes on the reference env, recorded as
   replays (the same evaluation as the SB3 learner); with ``select_episodes``, also score the policy over that
   many episodes of the batched engine and keep the best as ``checkpoints/best.pt`` (:class:`BestCheckpoint`).

``torch_compile=True`` compiles the engine's step (when it offers ``compile()``) and, on CUDA, the network
(on CPU the compiled network trained slower than the plain one: ``benchmarks/rl_speed.py --network``);
``cuda_graph=True`` (CUDA) replays the engine's step as a CUDA graph (``BatchedQuest.capture_graph``). Adam
runs fused (one kernel per parameter; on CPU the default is a Python loop over tensors). Pixels
are grayscaled, downsampled and stacked on the device with the same arithmetic as
:mod:`longplay.envs.wrappers.pixels`. Shaping (novelty over (map, x, y),
maps, lead level, healing, blackouts, damage dealt, badges) is computed on the device from the symbolic ``vector``,
and the event term from the engine's count of event flags.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from longplay.agents.rl.archive import StartArchive
from longplay.agents.rl.batched import make_engine, reference_spaces
from longplay.agents.rl.config import TrainConfig, apply_torch_threads, resolve_device
from longplay.agents.rl.milestone_rates import SELECT_SEED, milestone_rates, milestone_slots, rates_engine
from longplay.agents.rl.networks import ActorCritic, describe_space
from longplay.agents.rl.policy_agent import DEVICE_FORMAT, LoadedPolicy
from longplay.agents.rl.runlog import SELECT_TAG, RunLog
from longplay.agents.rl.sb3_train import TrainResult, latest_checkpoint, run_folder, start_run_folder
from longplay.agents.rl.stamps import EpisodeStamps
from longplay.envs.env import integer_luma
from longplay.envs.wrappers.buttons import button_subset
from longplay.envs.wrappers.shaping import LEVEL_STAGE, TERMS, ShapingWeights, parse_shaping
from longplay.replays.files import write_atomically


# ============================================================================================== observations
class DevicePixels:
    """Grayscale, block-mean downsampling and frame stacking of ``uint8`` (N, H, W, 3) frames, on the
    device."""

    def __init__(self, config: TrainConfig, num_envs: int, shape: tuple[int, int, int],
                 device: torch.device) -> None:
        h, w, c = shape
        self.gray, self.k, self.stack = config.grayscale, config.downsample, config.frame_stack
        self.channels = 1 if self.gray and c == 3 else c
        self.buffer = torch.zeros((num_envs, h // self.k, w // self.k, self.channels * self.stack),
                                  dtype=torch.uint8, device=device)

    def frame(self, pixels: torch.Tensor) -> torch.Tensor:
        """One preprocessed frame per env (:func:`~longplay.envs.env.integer_luma` as ``LongplayEnv``'s
        ``grayscale_frame``, then block mean, truncated)."""
        x = pixels
        if self.gray and x.shape[-1] == 3:
            x = x.to(torch.int32)
            x = integer_luma(x[..., 0], x[..., 1], x[..., 2]).unsqueeze(-1)
        if self.k > 1:
            n, h, w, c = x.shape
            x = x.float().reshape(n, h // self.k, self.k, w // self.k, self.k, c).mean(dim=(2, 4))
        return x.to(torch.uint8)

    def reset(self, pixels: torch.Tensor) -> torch.Tensor:
        """Fills every env's stack with its first frame."""
        self.buffer.copy_(self.frame(pixels).repeat(1, 1, 1, self.stack))
        return self.buffer.clone()

    def push(self, pixels: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        """Adds a frame; envs whose episode just restarted get their stack refilled with it."""
        frame = self.frame(pixels)
        shifted = torch.cat([self.buffer[..., self.channels:], frame], dim=-1)
        restarted = frame.repeat(1, 1, 1, self.stack)
        self.buffer.copy_(torch.where(done.view(-1, 1, 1, 1), restarted, shifted))
        return self.buffer.clone()


# ============================================================================================== shaping
class DeviceShaping:
    """The shaping terms of :mod:`longplay.envs.wrappers.shaping`, from the symbolic ``vector`` on the device.

    Novelty uses a per-env hashed table of (map, x, y) (``2**table_bits`` slots,
    :class:`~longplay.agents.rl.stamps.EpisodeStamps`: a new episode forgets its tiles without clearing the
    table); ``novelty_decay`` counts visits in one table shared by every env (each visit adds
    ``1 / num_envs``), and ``map`` keeps a per-env table of the map ids entered this episode. ``level`` follows
    the lead creature's level (the vector has no party sum); ``level_cap`` applies to the lead's levels gained. Event
    flags are not in the vector: the ``event`` term counts them with ``flags``, a function returning each env's
    number of flags set (the batched quest engine's ``flag_count``: story events and trainers beaten), read
    after the step like the vector.
    """

    FIELDS = ("map", "x", "y", "badges", "lead_level", "party_hp", "party_max_hp", "party_size", "milestones",
              "battle_kind", "enemy_species", "enemy_level", "enemy_hp", "enemy_max_hp")
    MAP_SLOTS = 4096  # the map term's hashed table of (stage, map) (map ids alone without map_by_stage)

    def __init__(self, weights: ShapingWeights, num_envs: int, device: torch.device,
                 table_bits: int = 14, flags: Callable[[], torch.Tensor] | None = None) -> None:
        if weights.event and flags is None:
            raise ValueError("shaping term 'event' needs event flags, which this engine does not count; set "
                             "event=0 or train on the batched quest engine")
        self.flags = flags if weights.event else None
        from longplay.envs.quest.game import VECTOR_FIELDS

        self.w = weights
        self.index = {name: VECTOR_FIELDS.index(name) for name in self.FIELDS}
        self.slots = 1 << table_bits
        self.tiles = EpisodeStamps(num_envs, self.slots, device)
        # novelty_decay: episodes per env that stood on each slot, shared by every env.
        self.visits = torch.zeros(self.slots, device=device)
        self.visit_weight = 1.0 / num_envs
        # map: the (stage, map) slots each env's episode entered; map_decay: as visits, per slot.
        self.maps = EpisodeStamps(num_envs, self.MAP_SLOTS, device)
        self.map_visits = torch.zeros(self.MAP_SLOTS, device=device)
        self.prev: dict[str, torch.Tensor] = {}
        self.best_level = torch.zeros(num_envs, device=device)
        self.base_level = torch.zeros(num_envs, device=device)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The lifelong counts (``novelty_decay``'s and ``map_decay``'s), for checkpoints; the per-episode tables
        start afresh with the envs' episodes on resume."""
        return {"visits": self.visits.clone(), "map_visits": self.map_visits.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restores :meth:`state_dict` (a checkpoint of a run with the same table sizes)."""
        for name in ("visits", "map_visits"):
            if name in state and state[name].shape == getattr(self, name).shape:
                getattr(self, name).copy_(state[name])

    def _get(self, vector: torch.Tensor, name: str) -> torch.Tensor:
        return vector[:, self.index[name]]

    def _stage(self, vector: torch.Tensor) -> torch.Tensor:
        """The stage ``*_by_stage`` count by: milestones reached, plus lead level // ``stage_level`` if set."""
        stage = self._get(vector, "milestones").long()
        if self.w.stage_level:
            stage = stage + torch.div(self._get(vector, "lead_level").long(), self.w.stage_level,
                                      rounding_mode="floor") * LEVEL_STAGE
        return stage

    def _slot(self, vector: torch.Tensor) -> torch.Tensor:
        key = (self._get(vector, "map").long() * 1_000_003 + self._get(vector, "y").long() * 4099
               + self._get(vector, "x").long())
        if self.w.novelty_by_stage:
            key = key + self._stage(vector) * 1_000_000_007
        return torch.remainder(key * 2654435761, self.slots)

    def _map_slot(self, vector: torch.Tensor) -> torch.Tensor:
        index = self._get(vector, "map").long()
        if self.w.map_by_stage:
            return torch.remainder((index + self._stage(vector) * 1_000_003) * 2654435761, self.MAP_SLOTS)
        return index.clamp(0, self.MAP_SLOTS - 1)

    def _decayed(self, new: torch.Tensor, counts: torch.Tensor, slot: torch.Tensor, decay: float,
                 live: torch.Tensor) -> torch.Tensor:
        """``new`` as a reward, divided by ``sqrt(1 + decay * n)`` (``n``: ``counts`` at ``slot``, episodes per
        env that were there before), counting this visit."""
        paid = new.float()
        if decay:
            paid = paid / torch.sqrt(1.0 + decay * counts[slot])
            counts.index_add_(0, slot, new.float() * live * self.visit_weight)
        return paid

    def _level_curve(self, gained: torch.Tensor) -> torch.Tensor:
        """Levels gained as the level term counts them: linear up to ``level_cap``, then ``1 / slope`` a level
        (the wrapper's ``_Tracker.level_reward``)."""
        cap = self.w.level_cap
        if cap is None:
            return gained
        return torch.where(gained <= cap, gained, cap + (gained - cap) / self.w.level_slope_after_cap)

    def _hp(self, vector: torch.Tensor) -> torch.Tensor:
        return self._get(vector, "party_hp") / self._get(vector, "party_max_hp").clamp(min=1)

    def _enemy(self, vector: torch.Tensor) -> torch.Tensor:
        """(N, 4): the enemy on the field as (species, level, hp, max_hp); max_hp -1 out of battle."""
        enemy = torch.stack([self._get(vector, f"enemy_{k}") for k in ("species", "level", "hp", "max_hp")], 1)
        out = (self._get(vector, "battle_kind") == 0) | (enemy[:, 3] <= 0)
        return torch.where(out[:, None], enemy.new_tensor([-1.0, -1.0, 0.0, -1.0]), enemy)

    def _current(self, vector: torch.Tensor) -> dict[str, torch.Tensor]:
        """What :attr:`prev` remembers, read from ``vector``."""
        current = {"hp": self._hp(vector), "size": self._get(vector, "party_size"),
                   "badges": self._get(vector, "badges"), "enemy": self._enemy(vector)}
        if self.flags is not None:
            current["flags"] = self.flags().to(vector.dtype)
        return current

    def _restart(self, vector: torch.Tensor, where: torch.Tensor, current: dict[str, torch.Tensor]) -> None:
        """Envs ``where`` start an episode at ``vector`` (``current``: :meth:`_current` of it)."""
        self.base_level = torch.where(where, self._get(vector, "lead_level"), self.base_level)
        self.best_level = torch.where(where, 0.0, self.best_level)
        for name, value in current.items():
            mask = where.view(-1, *([1] * (value.dim() - 1)))
            self.prev[name] = torch.where(mask, value, self.prev[name]) if name in self.prev else value.clone()

    def reset(self, vector: torch.Tensor) -> None:
        """Starts every env's episode at ``vector``."""
        self._restart(vector, torch.ones_like(self.best_level, dtype=torch.bool), self._current(vector))
        self.tiles.first(self._slot(vector))
        self.maps.first(self._map_slot(vector))

    def __call__(self, vector: torch.Tensor, done: torch.Tensor) -> dict[str, torch.Tensor]:
        """Each term's reward this step (0 where the episode just ended: ``vector`` is the next start)."""
        w, live = self.w, (~done).float()
        self.tiles.new_episode(done)  # finished envs forget their tiles and maps
        self.maps.new_episode(done)
        slot = self._slot(vector)
        novelty = self._decayed(self.tiles.first(slot), self.visits, slot, w.novelty_decay, live)
        gained = self._level_curve((self._get(vector, "lead_level") - self.base_level).clamp(min=0))
        level_gain = (gained - self.best_level).clamp(min=0)
        self.best_level = torch.maximum(self.best_level, gained)
        current = self._current(vector)
        hp, size, badges, enemy = current["hp"], current["size"], current["badges"], current["enemy"]
        healed = (hp > self.prev["hp"]) & (size == self.prev["size"])
        heal = torch.where(healed & (self.prev["hp"] > 0), hp - self.prev["hp"], 0.0)
        death = (healed & (self.prev["hp"] <= 0)).float()
        new_badges = (badges - self.prev["badges"]).clamp(min=0)
        before = self.prev["enemy"]
        same = (enemy[:, 3] > 0) & (enemy[:, :2] == before[:, :2]).all(1) & (enemy[:, 3] == before[:, 3])
        damage = torch.where(same, (before[:, 2] - enemy[:, 2]).clamp(min=0) / enemy[:, 3].clamp(min=1), 0.0)
        if w.damage_by_level:
            damage = damage * (enemy[:, 1] / self._get(vector, "lead_level").clamp(min=1)).clamp(max=1.0)
        self.prev.update(hp=hp, size=size, badges=torch.maximum(self.prev["badges"], badges), enemy=enemy)
        event = torch.zeros_like(hp)
        if self.flags is not None:
            event = (current["flags"] - self.prev["flags"]).clamp(min=0)
            self.prev["flags"] = current["flags"]
        map_slot = self._map_slot(vector)
        map_paid = self._decayed(self.maps.first(map_slot), self.map_visits, map_slot, w.map_decay,
                                 live)
        terms = {"novelty": w.novelty * novelty, "map": w.map * map_paid, "level": w.level * level_gain,
                 "heal": w.heal * heal, "death": w.death * death, "damage": w.damage * damage,
                 "event": w.event * event, "badge": w.badge * new_badges}
        self._restart(vector, done, current)
        return {k: v * w.scale * live for k, v in terms.items()}


# ============================================================================================== milestones
class DeviceMilestones:
    """Which catalog milestones the finished episodes reached, from the engine's ``info["milestones_reached"]``.

    Gives ``charts/milestone_rate/<id>`` (the fraction of finished episodes that reached each milestone), as
    the SB3 learner logs. The engine resets a finished env within the step, so its flags have lost the
    episode's last step; the step's info holds the ended episode's milestones, that step's included (the
    finish that terminates it, and a milestone reached on the step a truncation cuts it), without a host sync.
    ``charts/milestone_now/<id>`` reads the running episodes' flags when it is logged. Over a pool of worlds
    (``world_seeds``), whose catalogs differ in ids, order and length, each env's columns count as its own
    world's milestones, by id.

    With archive starts, an episode started from an archived state has that state's milestones from its first
    step, so ``milestone_rate`` mixes in where the archive put it; the rates of the episodes that started at the
    world's start alone are ``charts/milestone_rate_from_start/<id>`` (``step`` is told which ended episodes
    those were: the archive's ``ended_from_start``).
    """

    def __init__(self, engine: Any, device: torch.device) -> None:
        self.engine = engine
        self.ids, slots = milestone_slots(engine)
        self.columns = slots.shape[1]
        #: env i's column j counts as milestone ids[slot_of[i * columns + j]] (flat, as index_add_ takes it)
        self.slot_of = slots.to(device).reshape(-1)
        self.totals = torch.zeros(len(self.ids) + 1, device=device)
        # with archive starts: the totals of the episodes that began at the world's start
        self.totals_from_start = torch.zeros(len(self.ids) + 1, device=device)
        self.episodes_from_start = torch.zeros((), device=device)

    @staticmethod
    def available(engine: Any) -> bool:
        """True for an engine with event flags and milestone catalogs (quest's, not the toy's)."""
        worlds = getattr(engine, "worlds", None)
        state = getattr(engine, "state", None)
        return bool(worlds) and hasattr(state, "events")

    def _count(self, totals: torch.Tensor, columns: torch.Tensor) -> None:
        """Adds each env's ``columns`` (bool [N, >= columns], its world's milestones) to ``totals`` by id."""
        totals.index_add_(0, self.slot_of, columns[:, :self.columns].reshape(-1).to(totals.dtype))

    def step(self, done: torch.Tensor, reached: torch.Tensor, from_start: torch.Tensor | None = None) -> None:
        """Counts the episodes that ended this step (``reached``: the step's ``info["milestones_reached"]``;
        ``from_start``: which of the ended episodes began at the world's start, when an archive starts some
        elsewhere)."""
        self._count(self.totals, reached & done[:, None])
        if from_start is not None:
            self._count(self.totals_from_start, reached & from_start[:, None])
            self.episodes_from_start += from_start.sum()

    def rates(self, episodes: float) -> dict[str, float]:
        """``charts/milestone_rate/<id>`` over ``episodes`` finished episodes (and ``milestone_rate_from_start``
        over those that began at the world's start, when there were any); zeroes the totals."""
        rates = {f"charts/milestone_rate/{m}": float(v) / episodes
                 for m, v in zip(self.ids, self.totals[:-1].tolist(), strict=True)}
        from_start = float(self.episodes_from_start)
        if from_start:
            rates.update({f"charts/milestone_rate_from_start/{m}": float(v) / from_start
                          for m, v in zip(self.ids, self.totals_from_start[:-1].tolist(), strict=True)})
        self.totals.zero_()
        self.totals_from_start.zero_()
        self.episodes_from_start.zero_()
        return rates

    def running(self) -> dict[str, float]:
        """``charts/milestone_now/<id>``: the fraction of running episodes that have reached each milestone
        (long episodes end rarely)."""
        events = self.engine.state.events  # (a world's events past its milestones count in the unused slot)
        now = torch.zeros_like(self.totals)
        self._count(now, events)
        return {f"charts/milestone_now/{m}": v / len(events) for m, v in zip(self.ids, now[:-1].tolist(),
                                                                             strict=True)}


# ============================================================================================== helpers
class BestCheckpoint:
    """``select_episodes``: scores the policy at each evaluation by how many of ``select_episodes`` episodes
    from the world's start finish the world, then by milestones per episode (``MilestoneRates.score``, from
    :func:`~longplay.agents.rl.milestone_rates.milestone_rates` on a batched engine of its own on the CPU,
    episodes seeded from ``SELECT_SEED``), and saves ``checkpoints/best.pt`` when the score beats the best so
    far (kept in ``best.json``, so a resumed run goes on comparing with it). The training RNG is not touched:
    a run trains the same with selection on or off."""

    def __init__(self, config: TrainConfig, run_dir: Path) -> None:
        self.config = config
        self.path = run_dir / "best.json"
        self.engine = rates_engine(config, config.select_episodes)
        self.best = None
        if self.path.is_file():
            try:
                self.best = json.loads(self.path.read_text())
                float(self.best["finished"]), float(self.best["mean"]), int(self.best["step"])
            except (ValueError, KeyError, TypeError):
                raise ValueError(f"cannot read {self.path} (the best checkpoint's rates); move it away to start "
                                 "the selection afresh") from None

    def score(self, policy: LoadedPolicy, step: int, save: Callable[[], Path]) -> dict[str, float]:
        """Plays ``policy``; calls ``save()`` on a new best. Returns ``charts/select/...`` scalars."""
        rates = milestone_rates(policy, self.engine, self.config.eval_steps, SELECT_SEED)
        if self.best is None or rates.score > (self.best["finished"], self.best["mean"]):
            save()
            self.best = {"step": step, **rates.as_dict()}
            text = json.dumps(self.best, indent=1) + "\n"
            write_atomically(self.path, lambda p: p.write_text(text))  # a kill here keeps the best so far
        return {"charts/select/milestones": rates.mean, SELECT_TAG: rates.finished,
                "charts/select/best_finished": self.best["finished"],
                "charts/select/best_milestones": self.best["mean"],
                **{f"charts/select/rate/{n}": rates.rate(n) for n in rates.names}}


def same_archive_cells(saved: dict[str, Any], config: TrainConfig) -> bool:
    """True when a checkpoint's config (``saved``, a dict) archived by the same cells as ``config``: the same
    kind, and for place cells squares of the same size (the archive carries on; else a new one starts)."""
    return (saved.get("archive_cell", TrainConfig.archive_cell),
            saved.get("archive_cell_tiles", TrainConfig.archive_cell_tiles)) == \
        (config.archive_cell, config.archive_cell_tiles)


def _checkpoint(path: Path, net: nn.Module, optimizer: torch.optim.Optimizer, config: TrainConfig,
                description: dict[str, Any], n_actions: int, global_step: int, iteration: int,
                extra: dict[str, Any], latest: bool = True) -> Path:
    """Saves everything a resume needs to ``path``; with ``latest`` it becomes ``latest.txt`` and the oldest
    ``step_*.pt`` beyond ``keep_checkpoints`` go (``best.pt`` is saved with ``latest=False``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    saved = {"format": DEVICE_FORMAT, "version": 1, "config": config.to_dict(), "description": description,
             "n_actions": n_actions, "model": net.state_dict(), "optimizer": optimizer.state_dict(),
             "step": global_step, "iteration": iteration, "rng": rng, **extra}
    write_atomically(path, lambda p: torch.save(saved, p))
    if not latest:
        return path
    write_atomically(path.parent / "latest.txt", lambda p: p.write_text(path.name + "\n"))
    if config.keep_checkpoints > 0:
        for old in sorted(path.parent.glob("step_*.pt"))[:-config.keep_checkpoints]:
            old.unlink()
    return path


#: The config fields that shape the network (and its optimizer state): a checkpoint differing in one does not load.
NETWORK_FIELDS = ("env_id", "env_kwargs", "obs_mode", "buttons", "features_dim", "frame_stack", "grayscale",
                  "downsample")


def _network_differences(saved: dict[str, Any], config: TrainConfig, exc: Exception) -> str:
    """The network fields a checkpoint's config (``saved``) sets otherwise than ``config``, as ``name A -> B``;
    else the first line of torch's error ``exc``."""
    said = [f"{name} {saved[name]!r} -> {getattr(config, name)!r}" for name in NETWORK_FIELDS
            if name in saved and saved[name] != getattr(config, name)]
    return ", ".join(said) if said else str(exc).strip().splitlines()[0]


def _eval_policy(net: nn.Module, config: TrainConfig, description: dict[str, Any], step: int) -> LoadedPolicy:
    return LoadedPolicy(copy.deepcopy(net).cpu(), config, description, step)


# ============================================================================================== train
def train(config: TrainConfig, run_dir: str | Path | None = None, resume: str | Path | None = None,
          engine: Any = None, eval_env_factory: Any = None) -> TrainResult:
    """Trains (or, with ``resume``, continues) a run on the batched engine; see the module docstring.

    Args:
        config: The run's settings (validated here).
        run_dir: The run folder (default ``runs_dir/train/<run_name>``).
        resume: A ``step_<N>.pt`` checkpoint to continue from (weights, Adam state, iteration, step, RNG).
        engine: A batched engine to train on (default: :func:`~longplay.agents.rl.batched.make_engine`).
        eval_env_factory: Builds evaluation envs (default: ``gymnasium.make(config.env_id)``).
    """
    from tqdm import tqdm

    from longplay.agents.rl.evaluation import evaluate, evaluation_due

    config.validate()
    device = torch.device(resolve_device(config.device))
    if config.cuda_graph and engine is None and device.type != "cuda":  # (an engine given refuses for itself)
        raise ValueError(f"cuda_graph needs a CUDA device (the run's device is {device.type}); on CPU, "
                         "--torch-compile is the fast step")
    apply_torch_threads(config.torch_threads)
    run_name = config.run_name = config.run_name or config.default_run_name()
    run_dir = Path(run_dir) if run_dir else run_folder(config)
    start_run_folder(config, run_dir, resume, eval_env_factory)
    torch.manual_seed(config.seed)

    # -------------------------------------------------------------- 1. engine, network, optimizer
    engine = engine if engine is not None else make_engine(config, str(device))
    obs_space, action_space = reference_spaces(config, engine)
    n_envs, n_actions = int(engine.num_envs), int(action_space.n)
    # The policy's action i presses button presses[i] (config.buttons; all of them by default).
    buttons = button_subset(config.buttons or tuple(range(n_actions)), n_actions)
    presses = torch.tensor(buttons, dtype=torch.long, device=device)
    n_actions = len(buttons)
    pixels = None
    if config.obs_mode == "pixels":
        pixels = DevicePixels(config, n_envs, tuple(obs_space["pixels"].shape), device)
        description = {"pixels": {"kind": "image", "shape": list(pixels.buffer.shape[1:])}}
    else:
        description = describe_space(obs_space)
    net = ActorCritic(description, n_actions, config.features_dim).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate, eps=1e-5, fused=True)
    policy = torch.compile(net) if config.torch_compile and device.type != "cpu" else net
    if config.torch_compile and hasattr(engine, "compile"):
        engine.compile()  # BatchedQuest compiles its step
    weights = parse_shaping(config.shaping)
    shaping = DeviceShaping(weights, n_envs, device, flags=getattr(engine, "flag_count", None)) \
        if weights.enabled() else None
    milestones = DeviceMilestones(engine, device) if DeviceMilestones.available(engine) else None
    archive = StartArchive(engine, config.archive_starts, config.archive_capacity, config.seed,
                           config.archive_cell, config.archive_episode_steps, config.archive_explore_steps,
                           buttons, frontier=config.archive_frontier, cell_tiles=config.archive_cell_tiles,
                           focus=config.archive_focus) if config.archive_starts else None

    selection = BestCheckpoint(config, run_dir) if config.select_episodes else None

    num_iterations = config.final_step // config.batch_size
    iteration, global_step = 1, 0
    if resume is not None:
        state = torch.load(resume, map_location=device, weights_only=False)
        if state.get("format") != DEVICE_FORMAT:
            raise ValueError(f"not a ppo-device checkpoint: {resume}")
        try:
            net.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError) as exc:  # torch's many-line list of mismatched tensors
            raise ValueError(f"cannot resume {resume}: its network does not fit this run's "
                             f"({_network_differences(state.get('config', {}), config, exc)}); a checkpoint of "
                             "another run?") from None
        optimizer.param_groups[0]["fused"] = True  # (a checkpoint from before it was fused says otherwise)
        iteration, global_step = int(state["iteration"]) + 1, int(state["step"])
        torch.set_rng_state(state["rng"]["torch"])
        if archive is not None and "archive" in state and same_archive_cells(state["config"], config):
            archive.load_state_dict(state["archive"])  # (a curriculum step to other cells starts a new archive)
        if shaping is not None and "shaping" in state:
            shaping.load_state_dict(state["shaping"])
        if "cuda" in state["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    runlog = RunLog(run_dir, resume_step=global_step if resume is not None else None)
    if resume is None:
        runlog.text("config", "```\n" + json.dumps(config.to_dict(), indent=2) + "\n```")

    # Rollout storage, all on the device, in the engine's dtypes.
    T = config.n_steps
    raw = engine.reset(seed=config.seed + global_step)
    if config.max_episode_steps and hasattr(engine, "stagger_episode_ends"):
        # Stagger the first episodes' ends. Envs that start together and are cut at the same step stay in
        # lockstep for the whole run: late in every round all of them are far from the start, the batches
        # hold no early-game states and the policy forgets the way out of town (seen on QuestMini).
        engine.stagger_episode_ends(config.max_episode_steps)
    if config.cuda_graph:  # after the reset it needs; every step replays it (its outputs are copied before the next)
        if not hasattr(engine, "capture_graph"):
            raise ValueError(f"cuda_graph: the engine {type(engine).__name__} cannot capture its step")
        engine.capture_graph()
    next_obs = {"pixels": pixels.reset(raw["pixels"])} if pixels else dict(raw)
    if shaping is not None:
        shaping.reset(next_obs["vector"])
    storage = {k: torch.zeros((T, *v.shape), dtype=v.dtype, device=device) for k, v in next_obs.items()}
    actions = torch.zeros((T, n_envs), dtype=torch.long, device=device)
    logprobs = torch.zeros((T, n_envs), device=device)
    rewards = torch.zeros((T, n_envs), device=device)
    dones = torch.zeros((T, n_envs), device=device)
    values = torch.zeros((T, n_envs), device=device)
    next_done = torch.zeros(n_envs, device=device)
    # Finished episodes' statistics, summed on the device and read once per iteration.
    stat_names = ["count", "return", "length", "milestones", "milestones_max"]
    stat_names += [f"shaping/{k}" for k in TERMS] if shaping else []
    stats = {k: torch.zeros((), device=device) for k in stat_names}
    episode_shaping = {k: torch.zeros(n_envs, device=device) for k in stat_names if k.startswith("shaping/")}

    next_checkpoint = (global_step // config.checkpoint_every + 1) * config.checkpoint_every
    next_eval = (global_step // config.eval_every + 1) * config.eval_every if config.eval_every > 0 else None
    last_saved: Path | None = None
    bar = tqdm(total=config.final_step, initial=global_step, unit="step",
               disable=not config.progress, dynamic_ncols=True, leave=False)
    t0, s0 = time.perf_counter(), global_step

    def save(name: str | None = None, completed: int | None = None) -> Path:
        """A checkpoint after ``completed`` iterations (default: the one running, ``iteration``)."""
        path = run_dir / "checkpoints" / (name or f"step_{global_step:012d}.pt")
        extra = {"archive": archive.state_dict()} if archive is not None else {}
        if shaping is not None:
            extra["shaping"] = shaping.state_dict()
        return _checkpoint(path, net, optimizer, config, description, n_actions, global_step,
                           iteration if completed is None else completed, extra, latest=name is None)

    def score_now(policy_copy: Any, completed: int) -> None:
        """``select_episodes``' score of the policy after ``completed`` iterations (saved as best.pt if best)."""
        assert selection is not None
        runlog.scalars(selection.score(policy_copy, global_step, lambda: save("best.pt", completed)), global_step)

    def evaluate_now(completed: int) -> None:
        """The evaluation (and ``select_episodes``' score) of the policy after ``completed`` iterations."""
        policy_copy = _eval_policy(net, config, description, global_step)
        runlog.scalars(evaluate(policy_copy, config, global_step, run_dir, run_name, eval_env_factory), global_step)
        if selection is not None:
            score_now(policy_copy, completed)

    # resumed at a checkpoint whose evaluation the run was killed in: played first
    # (the evaluations and selections played are RunLog's, from its one read of metrics.jsonl)
    if resume is not None and evaluation_due(config, runlog.evaluated_steps(), global_step, config.final_step):
        evaluate_now(iteration - 1)
    elif resume is not None and selection is not None and state["config"].get("select_episodes") \
            and global_step in runlog.evaluated_steps() and global_step not in runlog.evaluated_steps(SELECT_TAG):
        # killed in the selection's episodes, after the evaluation's result was logged: without its score the
        # checkpoint could never become best.pt
        score_now(_eval_policy(net, config, description, global_step), iteration - 1)

    # -------------------------------------------------------------- 2. iterations
    while iteration <= num_iterations:
        # set every iteration: a resumed optimizer carries the rate it was saved with (annealed or another run's)
        optimizer.param_groups[0]["lr"] = config.learning_rate * (
            1.0 - (iteration - 1) / num_iterations if config.anneal_lr else 1.0)

        for t in range(T):
            global_step += n_envs
            for k, v in next_obs.items():
                storage[k][t] = v
            dones[t] = next_done
            with torch.no_grad():
                logits, value = policy(next_obs)
                # Gumbel-max: a categorical sample without a host sync.
                gumbel = -torch.log(-torch.log(torch.rand_like(logits).clamp_(1e-20, 1.0)))
                action = torch.argmax(logits + gumbel, dim=-1)
                logprob = torch.log_softmax(logits, dim=-1).gather(1, action[:, None]).squeeze(1)
            values[t], actions[t], logprobs[t] = value, action, logprob
            raw, reward, terminated, truncated, info = engine.step(presses[action])
            done = terminated | truncated
            if archive is not None:
                archive.record(reward, done)
                if archive.restart(done):  # some finished envs start their next episode from the archive
                    raw = engine.observe()
            next_obs = {"pixels": pixels.push(raw["pixels"], done)} if pixels else dict(raw)
            reward = reward.float()
            if shaping is not None:
                terms = shaping(next_obs["vector"], done)
                for name, term in terms.items():
                    reward = reward + term
                    episode_shaping[f"shaping/{name}"] += term
            rewards[t] = reward
            if milestones is not None:
                milestones.step(done, info["milestones_reached"],
                                archive.ended_from_start if archive is not None else None)
            next_done = done.float()
            stats["count"] += next_done.sum()
            stats["return"] += (info["episode_return"].float() * next_done).sum()
            stats["length"] += (info["episode_length"].float() * next_done).sum()
            finished_milestones = info["milestones"].float() * next_done
            stats["milestones"] += finished_milestones.sum()
            stats["milestones_max"] = torch.maximum(stats["milestones_max"], finished_milestones.max())
            for name, total in episode_shaping.items():
                stats[name] += (total * next_done).sum()
                total.mul_(1.0 - next_done)

        # GAE, on the device. (Truncated episodes are treated as ended, as in CleanRL.)
        with torch.no_grad():
            _, next_value = policy(next_obs)
            advantages = torch.zeros_like(rewards)
            last = torch.zeros(n_envs, device=device)
            for t in reversed(range(T)):
                not_done = 1.0 - (next_done if t == T - 1 else dones[t + 1])
                following = next_value if t == T - 1 else values[t + 1]
                delta = rewards[t] + config.gamma * following * not_done - values[t]
                last = delta + config.gamma * config.gae_lambda * not_done * last
                advantages[t] = last
            returns = advantages + values

        # Clipped-PPO updates over shuffled minibatches.
        b_obs = {k: v.reshape(-1, *v.shape[2:]) for k, v in storage.items()}
        b_actions, b_logprobs = actions.reshape(-1), logprobs.reshape(-1)
        b_advantages, b_returns, b_values = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)
        clipfracs, approx_kl = [], torch.zeros((), device=device)
        for _epoch in range(config.n_epochs):
            order = torch.randperm(config.batch_size, device=device)
            for start in range(0, config.batch_size, config.minibatch_size):
                mb = order[start:start + config.minibatch_size]
                logits, new_value = policy({k: v[mb] for k, v in b_obs.items()})
                log_probs = torch.log_softmax(logits, dim=-1)
                new_logprob = log_probs.gather(1, b_actions[mb, None]).squeeze(1)
                entropy = -(log_probs.exp() * log_probs).sum(-1)
                log_ratio = new_logprob - b_logprobs[mb]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()
                    clipfracs.append(((ratio - 1.0).abs() > config.clip_range).float().mean())
                adv = b_advantages[mb]
                if config.norm_adv:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss = torch.max(-adv * ratio,
                                    -adv * ratio.clamp(1 - config.clip_range, 1 + config.clip_range)).mean()
                v_loss = 0.5 * ((new_value - b_returns[mb]) ** 2).mean()
                entropy_loss = entropy.mean()
                loss = pg_loss - config.ent_coef * entropy_loss + config.vf_coef * v_loss
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(net.parameters(), config.max_grad_norm)
                optimizer.step()
            if config.target_kl is not None and approx_kl.item() > config.target_kl:
                break

        # ---------------------------------------------------------- 3. logs, checkpoints, evaluations
        explained = 1 - (b_returns - b_values).var() / b_returns.var().clamp(min=1e-8)
        host = {k: float(v) for k, v in stats.items()}  # the one host sync of the iteration
        scalars = {
            "charts/learning_rate": optimizer.param_groups[0]["lr"],
            "charts/SPS": (global_step - s0) / max(time.perf_counter() - t0, 1e-9),
            "losses/value_loss": float(v_loss.detach()), "losses/policy_loss": float(pg_loss.detach()),
            "losses/entropy": float(entropy_loss.detach()), "losses/approx_kl": float(approx_kl),
            "losses/clipfrac": float(torch.stack(clipfracs).mean()),
            "losses/explained_variance": float(explained),
        }
        if host["count"] > 0:
            n = host["count"]
            scalars.update({"charts/episodic_return": host["return"] / n,
                            "charts/episodic_length": host["length"] / n, "charts/episodes": n,
                            "charts/milestones": host["milestones"] / n,
                            "charts/milestones_max": host["milestones_max"]})
            scalars.update({f"charts/{k}": v / n for k, v in host.items() if k.startswith("shaping/")})
            if milestones is not None:
                scalars.update(milestones.rates(n))
            for v in stats.values():
                v.zero_()
        # Episodes can outlast many iterations: also log where the running ones are.
        now = info["milestones"].float()
        scalars.update({"charts/milestones_now": float(now.mean()),
                        "charts/milestones_now_max": float(now.max())})
        if milestones is not None:
            scalars.update(milestones.running())
        if archive is not None:
            scalars.update(archive.summary())
        runlog.scalars(scalars, global_step)
        bar.update(config.batch_size)
        if global_step >= next_checkpoint or iteration == num_iterations:
            last_saved = save()
            next_checkpoint = (global_step // config.checkpoint_every + 1) * config.checkpoint_every
        if (next_eval is not None and global_step >= next_eval) or (iteration == num_iterations
                                                                     and config.eval_every != -1):
            evaluate_now(iteration)
            if next_eval is not None:
                next_eval = (global_step // config.eval_every + 1) * config.eval_every
        iteration += 1

    bar.close()
    runlog.close()
    if last_saved is None:  # resumed a run that was already complete
        last_saved = latest_checkpoint(run_dir, ".pt")
    assert last_saved is not None
    return TrainResult(run_dir, global_step, last_saved, time.perf_counter() - t0, s0)
