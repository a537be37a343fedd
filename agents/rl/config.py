"""``TrainConfig``: every setting of a training run, one docstring per field (CleanRL's ``Args`` style).

The command line is generated from this dataclass (``longplay train --help`` shows each docstring), the
whole config is written to ``config.json`` in the run folder, to every checkpoint and to every evaluation
replay's header, so a run can be resumed and a result traced back to its settings.

>>> config = TrainConfig(total_steps=4096, num_envs=4, n_steps=64)
>>> config.batch_size, config.minibatch_size
(256, 64)
"""

from __future__ import annotations

import ast
import inspect
import math
import re
import time
from dataclasses import asdict, dataclass, field, fields
from functools import cache
from typing import Any

LEARNERS = ("ppo", "ppo-device")
VEC_ENVS = ("subproc", "dummy", "batched", "toy")
OBS_MODES = ("symbolic", "pixels")
DEVICES = ("auto", "cpu", "cuda")
#: What an archive cell is (``archive_cell``; ``agents/rl/archive.py``).
ARCHIVE_CELLS = ("milestones", "level", "flags", "position", "position_level")


@dataclass
class TrainConfig:
    """The settings of one training run (see each field's docstring)."""

    # ------------------------------------------------------------------ what to train on
    env_id: str = "longplay/QuestMini-v0"
    """The env id (``QuestMini-v0`` is short for ``longplay/QuestMini-v0``)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for ``gymnasium.make`` (``--set KEY=VALUE``), e.g. ``world_seed=3``."""
    obs_mode: str = "symbolic"
    """``symbolic`` (multi-input policy over tiles, entities and the state vector) or ``pixels`` (CNN)."""
    max_episode_steps: int | None = 4096
    """Training episodes end after this many steps (None: the env's default, 20,000 for QuestMini)."""
    shaping: str = "none"
    """Reward shaping: ``none`` (sparse milestones), a preset (``quest``, ``novelty``, ``pokemonred-v2``) or
    ``preset,term=weight,...`` (terms: novelty, map, level, heal, death, damage, event, badge; switches and
    settings: novelty_decay, novelty_by_stage, map_decay, map_by_stage, stage_level, damage_by_level, level_cap,
    level_slope_after_cap, scale; see docs/rl.md)."""

    buttons: str = ""
    """The buttons the policy presses, comma-separated (``up,down,left,right,a,b``); empty: every button.
    Fewer buttons make exploring cheaper: START opens a menu that a random walk rarely leaves."""
    start_state: str | None = None
    """A save state file (``game.save_state()`` bytes, e.g. from ``longplay export REPLAY --state FILE``) that
    every training and evaluation episode starts from, as the PyBoy Pokemon Red projects start from a save
    state; its milestones pay nothing. ``--learner ppo`` on reference envs only (``subproc``, ``dummy``)."""
    archive_starts: float = 0.0
    """``ppo-device`` on quest: the fraction of episodes that start from a state the run's own envs reached right
    after a milestone, instead of the world's start (Go-Explore's return; ``agents/rl/archive.py``). 0: off.
    Evaluation episodes always start at the world's start."""
    archive_capacity: int = 64
    """States the archive keeps per cell (``archive_starts``)."""
    archive_cell: str = "milestones"
    """What an archive cell is: ``milestones`` (the state right after each number of milestones reached);
    ``level`` (right after the lead creature reaches each level, per number of milestones: starts from strong
    states, to practise what only a strong party can do); ``flags`` (as ``level``, and also right after each
    new event flag, such as a trainer beaten, per number of flags: starts next to a gym's leader too); or
    ``position`` (Go-Explore's cells: where an env first stood in each 4x4-tile square of each map, per number
    of milestones, at most 4 states each: starts from every place the run reached, to explore from);
    ``position_level`` (as ``position``, per 4 levels of the lead creature too: a place reached stronger is a
    new cell, so the gym walked into at level 12 is a start apart from the gym walked into at level 6)."""
    archive_episode_steps: int = 0
    """Episode limit of the episodes started from the archive (0: ``max_episode_steps``); shorter ones make
    more archived starts."""
    archive_explore_steps: int = 0
    """Go-Explore's explore phase: an archived start is first walked on by 0 to this many random presses of the
    policy's buttons (on the reference engine, before its episode begins), so starts spread past the places
    the policy itself goes, and the new places they reach become cells of their own. 0: off."""
    archive_cell_tiles: int = 4
    """Place cells: the side of a cell's square in tiles (Go-Explore's cell resolution). Smaller squares keep
    starts at more spots of a map, such as the tile before a one-tile exit, at the price of more cells."""
    archive_frontier: bool = False
    """Place cells (``position``, ``position_level``): weigh a cell within its map by how rarely envs stood in it
    too (``1 / sqrt(1 + n)``, ``n`` the times an env first stood there in an episode), Go-Explore's count
    score, so starts go to the frontier (the one square by a narrow exit) rather than spread over every
    square of a town the policy crosses anyway."""
    archive_focus: float = 0.0
    """Fraction of archived starts drawn only from the cells of the *stall*: the milestone count and map where
    episodes from the world's start most often end (over about the last 256 of them). Nine in ten of those come
    from its good cells while it has any: the cells from which a share p of 0.1 to 0.9 of the archived episodes
    get one milestone further, by ``p (1 - p)`` (reverse curriculum generation's good starts). The policy from the
    world's start is then trained most where it stops (the town it never leaves by a one-tile exit), instead
    of where the archive is largest. 0: off."""

    # ------------------------------------------------------------------ how to run it
    learner: str = "ppo"
    """``ppo`` (Stable-Baselines3 PPO) or ``ppo-device`` (rollouts and updates on the device, over the
    batched engine)."""
    vec_env: str = "subproc"
    """Env vectorisation for ``ppo``: ``subproc`` (one process per env), ``dummy`` (one process), ``batched``
    (the batched torch engine); ``ppo-device`` needs ``batched``. ``toy``: the batched toy stand-in task
    (tests and benchmarks of the learners themselves)."""
    num_envs: int = 8
    """Envs stepped in parallel."""
    total_steps: int = 1_000_000
    """Env steps to train for, all envs together, in whole updates of ``n_steps * num_envs`` steps:
    ``ppo-device`` rounds down (at least one update), SB3's ``ppo`` up. Resuming, the run's total from its
    start (not the steps to add): ``--steps`` given is at least the checkpoint's step."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda``."""
    seed: int = 0
    """Seeds torch, numpy, the envs (env ``i`` resets with ``seed + i``) and evaluation."""
    torch_compile: bool = False
    """Compile the batched engine's step with ``torch.compile`` (``ppo-device``, and ``ppo`` with ``--vec-env
    batched``: 2.5x SB3's training steps/s at 64 envs); ``ppo-device`` on CUDA compiles the policy too (on
    CPU the compiled policy trains slower than the plain one). Other settings ignore it."""
    cuda_graph: bool = False
    """``ppo-device`` on the batched quest engine, CUDA only: record the engine's step as a CUDA graph
    (``BatchedQuest.capture_graph``; the compiled step with ``torch_compile``), which every step then replays:
    below a few hundred thousand envs the GPU otherwise waits on the step's kernel launches."""
    torch_threads: int = 0
    """CPU threads torch may use (0: torch's default). Small policies with envs in other processes often
    train fastest with 1 or 2, and a busy machine punishes more."""

    # ------------------------------------------------------------------ PPO
    n_steps: int = 128
    """Rollout length per env between updates."""
    n_minibatches: int = 4
    """Minibatches per epoch (minibatch size = n_steps * num_envs / n_minibatches)."""
    n_epochs: int = 4
    """Passes over each rollout."""
    learning_rate: float = 2.5e-4
    """Adam learning rate (at the start, when annealed)."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over ``total_steps``."""
    gamma: float = 0.995
    """Discount factor (long horizons want it close to 1)."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip_range: float = 0.2
    """PPO's policy ratio clip."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient (0 or more)."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Gradient norm clip."""
    norm_adv: bool = True
    """Normalise advantages per minibatch."""
    target_kl: float | None = None
    """Stop an update's epochs early when the approximate KL exceeds this (None: never)."""

    # ------------------------------------------------------------------ network and observations
    features_dim: int = 128
    """Width of the encoder's two hidden layers (its output)."""
    frame_stack: int = 3
    """Pixels only: frames stacked along the channel axis."""
    grayscale: bool = True
    """Pixels only: one luma channel instead of RGB."""
    downsample: int = 2
    """Pixels only: divide both sides of the screen by this (2: 72x80)."""

    # ------------------------------------------------------------------ logging, checkpoints, evaluation
    runs_dir: str = "runs"
    """Training runs go to ``runs_dir/train/RUN_NAME/`` (TensorBoard logs, checkpoints, evaluation
    replays)."""
    run_name: str = ""
    """The run's name (default ``env__learner[-shaping]__seedN__time``, CleanRL style; the shaping's preset,
    or its first term that pays without one; no shaping part when the spec pays nothing)."""
    checkpoint_every: int = 100_000
    """Save a checkpoint every this many env steps (and at the end)."""
    keep_checkpoints: int = 3
    """Checkpoints kept on disk (oldest deleted first; 0 keeps all)."""
    eval_every: int = 100_000
    """Run evaluation episodes every this many env steps (0: only at the end; -1: never)."""
    eval_episodes: int = 1
    """Evaluation episodes each time."""
    eval_steps: int = 4096
    """Most steps of an evaluation episode."""
    eval_deterministic: bool = False
    """Evaluate with the most likely action instead of sampling."""
    record_eval: bool = True
    """Record each evaluation episode as a replay named with the training step."""
    select_episodes: int = 0
    """``ppo-device`` on quest, symbolic: at each evaluation also play this many episodes at once on the batched
    engine from the world's start (``eval_steps`` long) and keep the checkpoint whose episodes most often finish
    the world (QuestMini's badge), then reach the most milestones, as ``checkpoints/best.pt`` (its rates in
    ``best.json``; Stable-Baselines3's best model). A policy's success rate can fall between checkpoints; this
    keeps the best one measured. 0: off."""
    progress: bool = True
    """Show a progress bar."""

    # ------------------------------------------------------------------ derived
    @property
    def batch_size(self) -> int:
        """Env steps per update: ``n_steps * num_envs``."""
        return self.n_steps * self.num_envs

    @property
    def final_step(self) -> int:
        """The step the run ends at: ``total_steps`` in whole updates of :attr:`batch_size`, rounded down for
        ``ppo-device`` (at least one update) and up for SB3's ``ppo``."""
        if self.learner == "ppo-device":
            updates = max(self.total_steps // self.batch_size, 1)
        else:
            updates = -(-self.total_steps // self.batch_size)
        return updates * self.batch_size

    @property
    def minibatch_size(self) -> int:
        """Samples per gradient step."""
        return self.batch_size // self.n_minibatches

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-able dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """A config from :meth:`to_dict` output; unknown keys (from other versions) are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def validate(self) -> TrainConfig:
        """Raises ``ValueError`` (one line) on a bad setting; returns ``self``."""
        from longplay.envs.wrappers.buttons import parse_buttons
        from longplay.envs.wrappers.shaping import parse_shaping

        _one_of("learner", self.learner, LEARNERS)
        _one_of("vec_env", self.vec_env, VEC_ENVS)
        _one_of("obs_mode", self.obs_mode, OBS_MODES)
        _one_of("device", self.device, DEVICES)
        for name in ("num_envs", "total_steps", "n_steps", "n_minibatches", "n_epochs", "features_dim",
                     "frame_stack", "downsample", "eval_episodes", "eval_steps"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"invalid {name} {getattr(self, name)!r}; must be an int >= 1")
        # numpy's global seed (SB3 seeds it with the run's) takes 0..2**32-1; a larger seed trained on ppo-device,
        # and on SB3 failed after the run folder was made
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ValueError(f"invalid seed {self.seed!r}; must be an int in 0..2**32-1")
        for name in ("keep_checkpoints", "torch_threads"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 0:
                raise ValueError(f"invalid {name} {getattr(self, name)!r}; must be an int >= 0")
        from longplay.envs.checks import check_downsample
        from longplay.envs.game import SCREEN_HEIGHT, SCREEN_WIDTH

        check_downsample(self.downsample, (SCREEN_HEIGHT, SCREEN_WIDTH))  # the frames PixelPreprocess will get
        if self.batch_size % self.n_minibatches:
            raise ValueError(f"n_steps * num_envs ({self.batch_size}) must be divisible by n_minibatches "
                             f"({self.n_minibatches})")
        if self.max_episode_steps is not None and self.max_episode_steps < 1:
            raise ValueError(f"invalid max_episode_steps {self.max_episode_steps}; must be >= 1 or none")
        if self.checkpoint_every < 1:
            raise ValueError(f"invalid checkpoint_every {self.checkpoint_every}; must be >= 1")
        if self.eval_every < -1:
            raise ValueError(f"invalid eval_every {self.eval_every}; must be >= 1, 0 (at the end) "
                             "or -1 (never)")
        # (each check is written so that NaN fails it: every comparison with NaN is false)
        if not 0 < self.gamma <= 1:
            raise ValueError(f"invalid gamma {self.gamma}; must be in (0, 1]")
        if not 0 <= self.gae_lambda <= 1:
            raise ValueError(f"invalid gae_lambda {self.gae_lambda}; must be in [0, 1]")
        if not 0 < self.learning_rate < math.inf:
            raise ValueError(f"invalid learning_rate {self.learning_rate}; must be > 0")
        for name in ("clip_range", "max_grad_norm"):  # 0 or less: no update at all, or nonsense
            if not 0 < getattr(self, name) < math.inf:
                raise ValueError(f"invalid {name} {getattr(self, name)}; must be > 0")
        for name in ("vf_coef", "ent_coef"):  # a negative weight turns its loss around (an entropy *penalty*
            # trains the policy towards always the same button); NaN makes every loss NaN
            if not 0 <= getattr(self, name) < math.inf:
                raise ValueError(f"invalid {name} {getattr(self, name)}; must be >= 0 and finite")
        if self.target_kl is not None and not 0 < self.target_kl < math.inf:
            raise ValueError(f"invalid target_kl {self.target_kl}; must be > 0 or none")
        if not 0.0 <= self.archive_starts <= 1.0:
            raise ValueError(f"invalid archive_starts {self.archive_starts}; must be in [0, 1]")
        if self.archive_starts and self.learner != "ppo-device":
            raise ValueError("archive_starts needs --learner ppo-device (the batched engine's reference states)")
        if self.archive_cell not in ARCHIVE_CELLS:
            raise ValueError(f"invalid archive_cell {self.archive_cell!r}; valid: {', '.join(ARCHIVE_CELLS)}")
        if not isinstance(self.archive_episode_steps, int) or self.archive_episode_steps < 0:
            raise ValueError(f"invalid archive_episode_steps {self.archive_episode_steps!r}; must be an int >= 0")
        if not 0.0 <= self.archive_focus <= 1.0:
            raise ValueError(f"invalid archive_focus {self.archive_focus}; must be in [0, 1]")
        if not isinstance(self.archive_cell_tiles, int) or self.archive_cell_tiles < 1:
            raise ValueError(f"invalid archive_cell_tiles {self.archive_cell_tiles!r}; must be an int >= 1")
        if not isinstance(self.archive_explore_steps, int) or self.archive_explore_steps < 0:
            raise ValueError(f"invalid archive_explore_steps {self.archive_explore_steps!r}; must be an int >= 0")
        if not isinstance(self.archive_capacity, int) or self.archive_capacity < 1:
            raise ValueError(f"invalid archive_capacity {self.archive_capacity!r}; must be an int >= 1")
        if not isinstance(self.select_episodes, int) or self.select_episodes < 0:
            raise ValueError(f"invalid select_episodes {self.select_episodes!r}; must be an int >= 0")
        if self.select_episodes and (self.learner, self.vec_env, self.obs_mode) != ("ppo-device", "batched",
                                                                                   "symbolic"):
            raise ValueError("select_episodes needs --learner ppo-device --vec-env batched --obs-mode symbolic "
                             "(it plays the batched quest engine)")
        if self.learner == "ppo" and self.vec_env in ("batched", "toy"):  # (before the run folder is made)
            if parse_shaping(self.shaping).enabled():  # (a spec that pays nothing wraps nothing)
                raise ValueError("shaping wrappers run on the reference engine; use --vec-env subproc with "
                                 "--shaping")
            if self.buttons:
                raise ValueError("--buttons runs on the reference engine with --learner ppo; use --vec-env subproc "
                                 "(or --learner ppo-device)")
        if self.start_state is not None and (self.learner != "ppo" or self.vec_env not in ("subproc", "dummy")):
            raise ValueError("start_state needs --learner ppo with --vec-env subproc or dummy (the batched engine "
                             "starts from states of its own: load_states)")
        if self.learner == "ppo-device" and self.obs_mode != "symbolic" and parse_shaping(self.shaping).enabled():
            raise ValueError("ppo-device shaping reads the symbolic vector; use --obs-mode symbolic")
        if self.cuda_graph and (self.learner, self.vec_env) != ("ppo-device", "batched"):
            raise ValueError("cuda_graph needs --learner ppo-device --vec-env batched (it captures the batched quest "
                             "engine's step)")
        if self.learner == "ppo-device" and self.vec_env not in ("batched", "toy"):
            raise ValueError(f"ppo-device runs on the batched engine; vec_env {self.vec_env!r} is for ppo "
                             "(use --vec-env batched)")
        # ("." and ".." name the folder of every run and the one above it: the run would write among them)
        if self.run_name and (not re.fullmatch(r"[A-Za-z0-9._+-][A-Za-z0-9._+=-]*", self.run_name)
                              or self.run_name in (".", "..")):
            raise ValueError(f"invalid run_name {self.run_name!r}; use letters, digits and . _ + - = (not . or ..)")
        parse_shaping(self.shaping)
        parse_buttons(self.buttons)
        return self

    def default_run_name(self) -> str:
        """``env__learner[-shaping]__seedN__YYYYmmdd-HHMMSS`` (UTC); ``shaping`` is the spec's preset, or its
        first term that pays when it names none (``--shaping novelty=1``: ``ppo-novelty=1``). A spec that pays
        nothing (``none,novelty=0``, ``scale=0``) is no shaping: the name is the learner's alone."""
        from longplay.envs.wrappers.shaping import paying_parts

        env = self.env_id.rsplit("/", 1)[-1]
        paying = paying_parts(self.shaping)
        learner = f"{self.learner}-{paying[0]}" if paying else self.learner
        return f"{env}__{learner}__seed{self.seed}__{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"


def _one_of(name: str, value: Any, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise ValueError(f"invalid {name} {value!r}; valid: {', '.join(valid)}")


@cache
def field_docs(cls: type = TrainConfig) -> dict[str, str]:
    """Each field's docstring (the string literal under it), read from the source: the CLI's help text."""
    try:
        tree = ast.parse(inspect.getsource(cls))
    except (OSError, TypeError):  # no source (frozen app): help without docs
        return {}
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs: dict[str, str] = {}
    for node, after in zip(body, body[1:], strict=False):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                and isinstance(after.value.value, str)):
            docs[node.target.id] = " ".join(after.value.value.split())
    return docs


def apply_torch_threads(threads: int) -> None:
    """Sets torch's CPU thread count when ``threads`` > 0."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available else ``cpu``; ``cuda`` without a GPU raises ``ValueError``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but torch sees no CUDA device (use --device cpu or auto)")
    return device
