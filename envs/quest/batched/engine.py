"""``BatchedQuest``: N quest games stepped at once in torch, on CPU or CUDA, with the reference engine's rules.

A step is a flat chain over the state (mirroring :func:`longplay.envs.quest.engine.step`): advance the tick,
draw every random slot, route each env's button by what has its attention (battle, text box, menu,
overworld) with masks, run every subsystem on all envs with its mask, start the battles and queue the pages
they asked for, then count milestones, end and auto-reset episodes, and observe. Nothing in a step reads a
value back to the host, and every shape is fixed, so ``torch.compile`` and CUDA graphs apply.

Battle passes (CPU, ``battle_pass``): the battle rules are about half of a step's operations, yet most envs
are not in a battle. On CPU (at every size where the native kernels build, else from 8,192 envs), the step finds the
envs that need the rare rules (in a battle, starting one, or healed; ``nonzero`` between the graphs) and runs
those rules on them only, in one
pass over their battle fields gathered into a smaller state and written back (their number rounded up to a
multiple of ``battle_pass``; no pass when there are none; over every env, masked, when there are more than
``full_pass_share`` of the envs). The envs whose episode ended are then reset row by row, and the party
writes of the overworld and menus are written between the graphs. That reads counts and indices on the host
(free on CPU). Four compiled graphs then make a step: the rules before the battle press, the pass (dynamic
shapes) or the rules over every env, the episode ends, the observation. On CUDA the step stays one graph
with no host read.

Native kernels (CPU, ``native``): the rules before the battle press, the episode ends and the symbolic
observation have C++ versions (:mod:`~longplay.envs.quest.batched.native_route`,
:mod:`~longplay.envs.quest.batched.native`), one pass per env with ordinary branches, built with the system's
C++ compiler on first use. Where they build, the CPU step with passes runs them between the compiled pass
and resets (the same state and outputs: the tests step both in lockstep), 4-5x the steps/s of the compiled
torch step at 16,384-65,536 envs and 5-13x at 256-4,096 (where ``"auto"`` now has passes).

Seeds: ``reset(seed)`` starts env ``i``'s first episode with the reference seed ``seed + i``; an env's
``k``-th episode (``k = 0, 1, ...``, counting auto-resets) uses ``seed + i + k * num_envs``. So env ``i``'s
``k``-th episode is exactly ``QuestGame.reset(seed + i + k * num_envs)`` in the env's world, and seeds never
repeat across envs or episodes.

Worlds: ``world_seed`` gives all envs one world; ``world_seeds=[s0, s1, ...]`` builds a pool and env ``i``
plays world ``world_seeds[i % len(world_seeds)]`` in every episode; ``world_seed=None`` (a new world per reset
seed in the reference) is the pool of seeds ``0 .. world_pool - 1``; ``worlds=[World, ...]`` passes worlds directly
(tests, hand-made worlds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from longplay.envs.checks import check_flag, is_int
from longplay.envs.env import MAX_SEED
from longplay.envs.quest import art
from longplay.envs.quest.batched import battle, dialog, menus, overworld
from longplay.envs.quest.batched.common import (
    BKIND,
    EFFECT,
    MENU,
    Ctx,
    MonWrites,
    Say,
    apply_say,
    dialog_length,
    first_able,
    gather_mon,
    heal_party,
)
from longplay.envs.quest.batched.native import NativeFinish, NativeObserver, native_available, optional_kernel
from longplay.envs.quest.batched.native_route import NativeRoute
from longplay.envs.quest.batched.render import PixelRenderer, symbolic_view
from longplay.envs.quest.batched.rng import draw_all, episode_keys
from longplay.envs.quest.batched.state import (
    HP,
    LEVEL,
    MAX_HP,
    SPECIES,
    BatchedState,
    documents,
    empty_state,
    is_env_index,
    load_states,
    quest_state,
)
from longplay.envs.quest.batched.tables import ContentTables, WorldTables
from longplay.envs.quest.constants import NUM_ITEMS, PARTY_SIZE, EntityKind
from longplay.envs.quest.state import QuestState, World

OBS_MODES = ("symbolic", "pixels")
DEFAULT_MAX_STEPS = {"mini": 20_000, "small": 200_000, "standard": 1_000_000}
VECTOR_SIZE = 32
#: What a ``reset`` base seed leaves free below the reference env's ``MAX_SEED`` (2**63-1): env ``i``'s ``k``-th
#: episode plays reference seed ``seed + i + k * num_envs``, which must stay a seed the reference env (and int64)
#: takes.
EPISODE_SEED_HEADROOM = 2**62 - 1
#: The largest ``reset`` base seed, 2**62 (``check_seed``'s message says it).
MAX_BASE_SEED = MAX_SEED - EPISODE_SEED_HEADROOM
NUM_BUTTONS = 8
#: ``world_seed=None`` (the reference's new world per reset seed) plays a pool of this many worlds, seeds 0, 1, ...
DEFAULT_WORLD_POOL = 16
# Inductor settings for the step on CPU (measured on a 2-core AVX2 CPU, docs/batched.md "Speed"): scalar C++
# loops (inductor's vector code emulates boolean masks and table gathers lane by lane: 0.76x eager, against
# 1.45x for scalar loops), and intermediates realized once they take 8 ops instead of 30 (fewer
# recomputations of inlined producers in their consumers' loops: 1.6-1.8x eager). Not used on CUDA, where
# they were not measured.
CPU_INDUCTOR_OPTIONS: dict[str, Any] = {"cpp.simdlen": 1, "realize_opcount_threshold": 8}
#: The state fields the battle press reads or writes, with the dialog fields its pages go to: a battle pass
#: (``BatchedQuest(battle_pass=...)``) gathers these for its envs and writes them back. The box, the biggest
#: array, is not among them: a caught creature bound for it is written by the caller.
BATTLE_FIELDS = ("party_count", "party", "box_count", "bag", "money", "events", "done", "dialog_first",
                 "dialog_texts", "dialog_extra", "dialog_extras", "dialog_head", "dialog_effect", "dialog_arg",
                 "battle_kind", "battle_trainer", "battle_entity", "enemy_count", "enemy", "enemy_active",
                 "player_active", "battle_phase", "battle_cursor", "messages", "message_count", "message_head",
                 "outcome", "turns", "overflow")
_STATE_FIELDS = tuple(f.name for f in dataclasses.fields(BatchedState))
# the state fields a new episode starts at 0 (besides those with other values: ``_episode_start``)
_ZEROED_AT_START = ("party_count", "box_count", "ward_steps", "dialog_texts", "dialog_extras", "dialog_head",
                    "dialog_first", "dialog_arg", "menu", "menu_cursor", "menu_choice", "enemy_count",
                    "enemy_active", "player_active", "battle_phase", "battle_cursor", "message_count",
                    "message_head", "outcome", "turns", "battle_kind")
# what a step changes besides the state (``warm_up`` puts them back)
_BOOKKEEPING = ("episode", "episode_return", "episode_length", "episode_limit", "milestones")
# "auto" battle passes without the native kernels: on CPU from this many envs on, rounded to an eighth of the envs
# (below it, the pass's fixed cost, about 1 ms, is a noticeable part of a compiled torch step; with the native
# kernels the step with passes is the fast one at every size)
AUTO_PASS_MIN_ENVS = 8192
AUTO_PASSES = 8
# when more envs than this share of them need the rare rules, a step runs those rules over every env (masked)
# instead of a pass: gathering and writing back their fields then costs more than the masked envs (measured on
# the oracle's games, a third of env steps in a battle: a pass was 0.87x the rules over every env)
FULL_PASS_SHARE = 0.25


@dataclass
class _Routed:
    """What the rules before the battle press hand to the rest of a step (:meth:`BatchedQuest._route`)."""

    in_battle: torch.Tensor
    rnd: torch.Tensor
    say_overworld: Say
    wild: overworld.Wild
    healer: torch.Tensor
    trainer: dialog.TrainerStart
    whiteout: torch.Tensor
    say_menu: Say
    party_writes: MonWrites  # the caller writes them (a capsule's partner, a menu's swap or heal)

    def subset(self, idx: torch.Tensor) -> _Routed:
        """What the rare rules read (:meth:`BatchedQuest._rare_rules`) of the envs ``idx``."""
        wild, trainer = self.wild, self.trainer
        return dataclasses.replace(
            self, in_battle=self.in_battle[idx], rnd=self.rnd[idx], healer=self.healer[idx],
            whiteout=self.whiteout[idx], wild=overworld.Wild(wild.mask[idx], wild.species[idx], wild.level[idx]),
            trainer=dialog.TrainerStart(trainer.mask[idx], trainer.trainer[idx], trainer.entity[idx]))


def int_in(value: Any, low: int, high: int | None = None) -> bool:
    """Whether ``value`` is an int as :func:`~longplay.envs.checks.is_int` takes it (numpy ints too, not a bool)
    in ``low..high`` (``high=None``: no bound)."""
    return is_int(value) and low <= value and (high is None or value <= high)


def check_seed(seed: Any) -> None:
    """``ValueError`` (one line) unless ``seed`` is a reset seed the engine takes: None, or an int in
    ``0..MAX_BASE_SEED`` (2**62; numpy ints too). The adapters check it before they act on it."""
    if seed is not None and not int_in(seed, 0, MAX_BASE_SEED):
        raise ValueError(f"invalid seed {seed!r}; use an int in 0..2**62 or None")


def _world_seed(seed: Any, name: str) -> int:
    """A world seed as the reference ``QuestGame`` takes it (a non-negative int; numpy ints too)."""
    if not int_in(seed, 0):
        raise ValueError(f"invalid {name} {seed!r}; use a non-negative int")
    return int(seed)


def _resolve_worlds(size: str | None, world_seed: int | None, world_seeds: Sequence[int] | None, world: str,
                    worlds: Sequence[World] | None, pool: int) -> tuple[World, ...]:
    """The worlds the envs play: ``worlds``, else the canonical world, ``world_seeds``, ``world_seed``'s world, or for
    ``world_seed=None`` a pool of ``pool`` procedural worlds (seeds ``0 .. pool - 1``)."""
    if worlds is not None:
        if not worlds:
            raise ValueError("worlds must hold at least one World")
        for w in worlds:
            if not isinstance(w, World):
                raise ValueError(f"worlds must hold World objects, got {w!r:.80}")
        return tuple(worlds)
    from longplay.envs.quest import worldgen
    from longplay.envs.quest.game import world_size

    if world == "canonical" and world_seeds is not None:
        raise ValueError("world='canonical' is one fixed world; world_seeds (a pool of procedural worlds) "
                         "cannot go with it")
    size = world_size(size, world_seed, world)
    if world == "canonical":
        return (worldgen.canonical_world(),)
    if world_seeds is None and world_seed is None:  # a new world per reset seed in the reference: a fixed pool here
        world_seeds = range(pool)
    if world_seeds is not None:
        if isinstance(world_seeds, (str, bytes)) or not isinstance(world_seeds, (Sequence, np.ndarray)):
            raise ValueError(f"world_seeds must be a list of world seeds (ints >= 0), got {world_seeds!r:.80}")
        if not len(world_seeds):
            raise ValueError("world_seeds must name at least one world")
        return tuple(worldgen.build_world(size, _world_seed(s, "world_seeds entry")) for s in world_seeds)
    return (worldgen.build_world(size, _world_seed(world_seed, "world_seed")),)


def keep_freed_memory() -> bool:
    """Asks glibc's ``malloc`` to keep the memory a process frees for its next allocations: every block from
    the heap, none mapped on its own, and no trimming (``mallopt``: ``M_MMAP_MAX`` 0, ``M_TRIM_THRESHOLD`` the
    largest). By default glibc maps each block of 128 KB or more (an observation or a state column of
    thousands of envs) on its own, unmaps it when freed and faults it in again, page by page, on the next
    step. Process-wide: the process's resident memory then stays at its peak. Returns whether it was set
    (False where the C library is not glibc).

    Measured in alternating runs (docs/batched.md "Speed"): compiled, 1.4x the symbolic steps/s at 4,096 envs,
    1.0-1.3x at 65,536, and 4.6x the pixel steps/s at 4,096.
    """
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # from glibc's malloc.h
    return bool(libc.mallopt(m_mmap_max, 0)) & bool(libc.mallopt(m_trim_threshold, 2**31 - 1))


def _battle_pass_size(battle_pass: int | str | None, num_envs: int, device: torch.device, native: bool = False
                      ) -> int | None:
    """What the battle pass is rounded to, or ``None`` for one branch-free battle press over every env.
    ``native``: the native kernels are here (``"auto"`` then has passes at every size)."""
    if battle_pass == "auto":
        if device.type == "cpu" and native:  # the native route runs in the step with passes
            return max(1, num_envs // AUTO_PASSES)
        auto = device.type == "cpu" and num_envs >= AUTO_PASS_MIN_ENVS and num_envs % AUTO_PASSES == 0
        return num_envs // AUTO_PASSES if auto else None
    if battle_pass is None:
        return None
    if not int_in(battle_pass, 1):
        raise ValueError(f"invalid battle_pass {battle_pass!r}; must be 'auto', None or an int >= 1")
    battle_pass = int(battle_pass)  # numpy's ints too
    if device.type != "cpu":
        raise ValueError(f"battle_pass={battle_pass} needs a CPU device (a pass reads which envs need the "
                         f"battle rules on the host); on {device.type} leave it 'auto' or None")
    return battle_pass if battle_pass < num_envs else None


class BatchedQuest:
    """N quest games on one device (see the module docstring for seeds and worlds).

    Args:
        num_envs: How many games.
        size: ``mini`` (the default), ``small`` or ``standard`` (procedural worlds; canonical is ``standard``).
        world_seed: The world every env plays (ignored with ``world_seeds`` or ``worlds``); ``None`` (a new world
            per reset seed in the reference env, ``longplay/Quest-v0``): a pool of ``world_pool`` worlds, seeds
            ``0 .. world_pool - 1`` (env ``i`` plays world ``i % world_pool``; no more than ``num_envs``).
        device: ``"cpu"``, ``"cuda"``, ... every tensor in and out lives there.
        obs_mode: ``"symbolic"`` (``tiles``, ``entities``, ``vector``) or ``"pixels"``.
        max_episode_steps: Truncation (``"auto"``: by size, as the reference env; ``None``: never).
        world_seeds: A pool of world seeds; env ``i`` plays ``world_seeds[i % len]``.
        world: ``"procedural"`` or ``"canonical"`` (the fixed standard world).
        worlds: Explicit :class:`World` objects (a pool, as ``world_seeds``).
        noop: Accept action 8 as "press nothing" (the reference env's ``noop=True``).
        final_obs: Also return each finished episode's last observation in ``info["final_obs"]``.
        palette: Pixel palette (see :func:`longplay.envs.quest.art.palette_array`).
        battle_pass: CPU only: run the rare rules (the battle press, battle starts, heals) on the envs that
            need them only, in one pass of their number rounded up to a multiple of this (none when no env
            needs them; over every env, masked, above ``full_pass_share`` of the envs), and reset ended
            episodes row by row, instead of on every env with a mask. ``"auto"``: on CPU, an eighth of the
            envs (at least 1) at every size where the native kernels are here (``native``: the step with
            passes is the one they run in; 5-13x the steps/s of one press over every env at 256-4,096 envs,
            compiled), else from :data:`AUTO_PASS_MIN_ENVS` envs on, else off; ``None``: off (one
            branch-free graph over every env, as always on CUDA). The results are the same either way; with
            passes the step reads which envs need the rules and which episodes ended on the host.
        world_pool: How many worlds ``world_seed=None`` plays (:data:`DEFAULT_WORLD_POOL`).
        keep_memory: On CPU, call :func:`keep_freed_memory` (process-wide): a step's buffers are then reused
            instead of being mapped and faulted in anew every step (4.6x the pixel steps/s at 4,096 envs).
        native: The native CPU kernels (built with the system's C++ compiler on first use; the same results
            as the torch ops): the rules before the battle press (:mod:`~longplay.envs.quest.batched.
            native_route`) and the episode ends (:mod:`~longplay.envs.quest.batched.native`) in the step with
            battle passes, and the symbolic observation. ``"auto"``: on CPU where they build (then
            ``battle_pass="auto"`` has passes at every size), else the torch ops (``native_reason`` and
            ``native_route_reason`` say why); ``True``: required
            (:class:`~longplay.envs.quest.batched.native.NativeUnavailable` where they do not apply or build);
            ``False``: the torch ops only.
    """

    def __init__(self, num_envs: int, size: str | None = None, world_seed: int | None = 0,
                 device: str | torch.device = "cpu", obs_mode: str = "symbolic",
                 max_episode_steps: int | str | None = "auto", world_seeds: Sequence[int] | None = None,
                 world: str = "procedural", worlds: Sequence[World] | None = None, noop: bool = False,
                 final_obs: bool = False, palette: object = None, battle_pass: int | str | None = "auto",
                 keep_memory: bool = True, world_pool: int = DEFAULT_WORLD_POOL,
                 native: bool | str = "auto") -> None:
        if not int_in(num_envs, 1):
            raise ValueError(f"num_envs must be an int >= 1, got {num_envs!r}")
        if obs_mode not in OBS_MODES:
            raise ValueError(f"invalid obs_mode {obs_mode!r}; valid: {', '.join(OBS_MODES)}")
        if native not in (True, False, "auto") or not isinstance(native, (bool, str)):
            raise ValueError(f"invalid native {native!r}; must be 'auto', True or False")
        for name, flag in (("noop", noop), ("final_obs", final_obs), ("keep_memory", keep_memory)):
            check_flag(name, flag)  # as the reference env: "no" would be read by its truth
        self.num_envs = num_envs = int(num_envs)
        try:
            self.device = torch.device(device)
        except (RuntimeError, TypeError):  # torch's messages list twenty device types, or six lines of overloads
            raise ValueError(f"invalid device {device!r}; use 'cpu', 'cuda' or 'cuda:N'") from None
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} requested but torch sees no CUDA device (use device='cpu')")
        art.palette_array(palette)  # a bad palette fails here, as in the reference env, not at the first frame
        #: the pixel palette of observations and of :meth:`frame`
        self.palette = palette
        self.obs_mode = obs_mode
        self.noop = bool(noop)
        self.final_obs = bool(final_obs)
        if not int_in(world_pool, 1):
            raise ValueError(f"world_pool must be an int >= 1, got {world_pool!r}")
        self.worlds = _resolve_worlds(size, world_seed, world_seeds, world, worlds, min(num_envs, int(world_pool)))
        self.size = self.worlds[0].size
        if max_episode_steps == "auto":
            max_episode_steps = DEFAULT_MAX_STEPS.get(self.size, 20_000)
        # an int (the reference env refuses floats and bools too), within the int32 step counters
        if max_episode_steps is not None and not int_in(max_episode_steps, 1, 2**31 - 1):
            raise ValueError(f"invalid max_episode_steps {max_episode_steps!r}; must be an int in 1..2**31-1, "
                             "'auto' or None")
        self.max_episode_steps = None if max_episode_steps is None else int(max_episode_steps)
        self.tables = WorldTables.build(self.worlds, self.device)
        self.content = ContentTables.build(self.device)
        t = self.tables
        self.world_of = np.arange(num_envs) % len(self.worlds)
        w = torch.as_tensor(self.world_of, device=self.device, dtype=torch.int64)
        w32 = w.to(torch.int32)
        self.ctx = Ctx(t=t, c=self.content, world=w, map_base=w32 * t.num_maps,
                       ent_base=w32 * (t.num_entities + 1), trainer_base=w32 * t.num_trainers,
                       shop_base=w32 * t.num_shops)
        self.state = empty_state(num_envs, t, battle.message_capacity(self.content), self.device)
        self.env_ids = torch.arange(num_envs, device=self.device, dtype=torch.int64)
        self.base_seed = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self.episode = torch.zeros(num_envs, dtype=torch.int64, device=self.device)
        self.episode_return = torch.zeros(num_envs, dtype=torch.float32, device=self.device)
        self.episode_length = torch.zeros(num_envs, dtype=torch.int32, device=self.device)
        # the step at which each env's episode is truncated (max_episode_steps, or less for a staggered first one)
        self.episode_limit = torch.full((num_envs,), self.max_episode_steps or 0, dtype=torch.int32,
                                        device=self.device)
        self.milestones = torch.zeros(num_envs, dtype=torch.int32, device=self.device)
        self._event_slots = torch.arange(t.num_events + 3, device=self.device, dtype=torch.int32)
        #: the columns of ``info["milestones_reached"]``: the most milestones of any world (events 0 .. n-1)
        self.milestone_columns = max(x.milestone_count for x in self.worlds)
        # only the first milestone_columns event slots can be milestones, so the mask stops there
        self._milestone_mask = self._event_slots[None, :self.milestone_columns] < t.milestones[w][:, None]
        # flag_count's masks, per env: its world's story events and trainers (a trainer is beaten once done)
        events = torch.tensor([len(x.events) for x in self.worlds], device=self.device)
        self._event_mask = self._event_slots[None, :] < events[w][:, None]
        trainers = torch.zeros((len(self.worlds), t.num_entities + 1), dtype=torch.bool)
        for i, x in enumerate(self.worlds):
            trainers[i, [e.index for e in x.entities if e.kind == EntityKind.TRAINER]] = True
        self._trainer_mask = trainers.to(self.device)[w]
        self._pixels = PixelRenderer(self.device, palette, self.tables) if obs_mode == "pixels" else None
        # the record columns the vector shows of the enemy (of creatures on the player's side: all but species)
        self._stat_cols = torch.tensor([SPECIES, LEVEL, HP, MAX_HP], dtype=torch.int64, device=self.device)
        self._key_items = torch.nonzero(self.content.item_key[:NUM_ITEMS] > 0).flatten()  # bag columns
        kernels = native is not False and self.device.type == "cpu" and native_available()
        self.battle_pass = _battle_pass_size(battle_pass, num_envs, self.device, native=kernels)
        #: with battle passes: from this share of the envs on, the rare rules run over every env instead
        self.full_pass_share = FULL_PASS_SHARE
        if keep_memory and self.device.type == "cpu":
            keep_freed_memory()
        self._step_fn = self._step_in_passes if self.battle_pass else self._step
        #: the native observation kernel (``None``: the torch ops observe) and, without it, why
        self._native, self.native_reason = optional_kernel(NativeObserver, self, native)
        # the episode ends of the CPU step with passes
        self._native_finish, _ = optional_kernel(NativeFinish, self, native)
        #: the native route kernel of the step with battle passes (``None``: the torch route) and, without it, why
        self._native_route, self.native_route_reason = (optional_kernel(NativeRoute, self, native) if self.battle_pass
                                                        else (None, "battle_pass=None"))
        self._route_fn = self._native_route.route if self._native_route else self._route_and_count
        self._pass_fn = self._battle_pass
        self._finish_fn = self._finish_native if self._native_finish else self._finish_routed
        self._all_fn, self._observe_fn = self._battle_all, self._observe_now
        self._graph: Any = None  # capture_graph()'s CUDA graph
        # the state is all zeros until reset() or load_states() into every env: no game, so step refuses it
        self._unstarted = np.ones(num_envs, dtype=bool)

    # ------------------------------------------------------------------------------------------ API
    def reset(self, seed: int | None = 0) -> dict[str, torch.Tensor]:
        """Starts every env's first episode (env ``i`` with reference seed ``seed + i``); returns obs.

        ``seed``: an int in ``0..MAX_BASE_SEED`` (2**62: the seeds ``seed + i + k * num_envs`` stay within the
        reference env's ``0..MAX_SEED``, 2**63-1), or
        ``None`` for one drawn at random.
        """
        check_seed(seed)
        if seed is None:
            seed = int(np.random.default_rng().integers(0, 2**31 - 1))
        self.base_seed.fill_(int(seed))
        self.episode.zero_()
        everyone = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        self._reset_envs(everyone)
        self._unstarted[:] = False
        return self._observe_now()

    def step(self, actions: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor,
                                                     torch.Tensor, dict[str, Any]]:
        """Presses one button per env; returns ``(obs, reward, terminated, truncated, info)`` on the device.

        Done envs are reset in the same step (``obs`` is their new episode's first observation); ``info``
        holds ``episode_return``, ``episode_length`` and ``milestones`` of the episode that ended (valid
        where done), ``milestones_reached`` (bool [N, :attr:`milestone_columns`]: column ``j`` is whether the
        episode holds its world's ``j``-th milestone, that of the episode that ended where done: its last
        step's included, which the state has lost to the reset), and ``final_obs`` when asked for.
        ``actions``: [N] integers (a tensor on any device, numpy or a list); values outside the buttons press
        nothing (see :meth:`advance`). A wrong shape or a float or bool dtype raises before the state is touched (no
        values are read, so nothing waits for the device), and so does a step before :meth:`reset` (or
        :meth:`load_states` into every env).
        """
        if not self.started:  # host-side flags: checked outside the compiled graphs, reads no tensor
            raise RuntimeError("BatchedQuest.step before reset(): call reset(seed) first "
                               "(or load_states into every env)")
        try:
            actions = torch.as_tensor(actions, device=self.device)
        except (TypeError, RuntimeError, ValueError):  # None, a str, an object array: torch's own words name no step
            raise TypeError(f"actions must be [N] integers (a tensor, numpy array or list), got {actions!r:.80}"
                            ) from None
        if actions.shape != (self.num_envs,):
            raise ValueError(f"expected actions of shape ({self.num_envs},), one per env, got {tuple(actions.shape)}")
        if actions.dtype.is_floating_point or actions.dtype.is_complex or actions.dtype == torch.bool:
            raise TypeError(f"actions must be integers (button indices), got dtype {actions.dtype}")
        if actions.dtype in (torch.uint32, torch.uint64):  # as int64 (which clamp takes; uint64 past 2**63 goes
            actions = actions.to(torch.int64)                # negative, pressing nothing as any other value)
        if actions.dtype == torch.int64:  # the step casts to int32: 2**32 must not wrap round to button 0
            actions = actions.clamp(-1, NUM_BUTTONS)  # every value outside the buttons presses nothing
        if self._graph is not None:
            return self._replay(actions)
        obs, *out, box = self._step_fn(actions)
        if box is not None:  # the battle passes have written theirs
            box.apply(self.state)
        if obs is None:  # the native kernel observes outside the step's graph
            obs = self._native.observe(self.state, self.milestones)
        return (obs, *out)  # type: ignore[return-value]

    @property
    def started(self) -> bool:
        """Whether every env has a game to step: after :meth:`reset`, or :meth:`load_states` into every env."""
        return not self._unstarted.any()

    def compile(self, bounds_checks: bool = True, **kwargs: Any) -> BatchedQuest:
        """Compiles the step with ``torch.compile`` (``kwargs`` go to it, e.g. ``dynamic=False``, or
        ``mode="reduce-overhead"`` for CUDA graphs); returns ``self``.

        On CPU, inductor gets :data:`CPU_INDUCTOR_OPTIONS` (override any of them with ``options={...}``) for
        this compilation only, except with a ``mode``, which ``torch.compile`` does not combine with ``options``:
        then they are set on inductor's global config. On CUDA, the modes that ask for CUDA graphs
        (``reduce-overhead``, ``max-autotune``) are refused: inductor skips graphs over this step (it writes its
        inputs in place), which then ran slower than the default mode on an H200 (27.9 against 36.2 million
        steps/s at 65,536 envs); :meth:`capture_graph` records the step as a graph. ``bounds_checks=False``
        leaves inductor's indirect-indexing checks out of the generated code (an out-of-range index then crashes
        instead of raising). Other backends (``backend="eager"``) take no options.
        """
        if self.device.type == "cuda" and kwargs.get("mode") in ("reduce-overhead", "max-autotune"):
            raise ValueError(f"compile(mode={kwargs['mode']!r}) gives this engine no CUDA graph (inductor skips graphs "
                             "over a step that writes its inputs in place, and runs it slower): use "
                             "compile().capture_graph() (and mode='max-autotune-no-cudagraphs' to autotune)")
        settings = {"assert_indirect_indexing": bounds_checks,
                    **(CPU_INDUCTOR_OPTIONS if self.device.type == "cpu" else {})}
        if kwargs.get("backend", "inductor") == "inductor":
            if "mode" in kwargs:
                import torch._inductor.config as inductor_config

                for key, value in {**settings, **kwargs.get("options", {})}.items():
                    setattr(inductor_config, key, value)
            else:
                kwargs["options"] = {**settings, **kwargs.get("options", {})}
        if self.battle_pass:  # the rules before the battle press, a pass or all envs, episode ends, observation
            self._route_fn = (self._native_route.route if self._native_route
                              else torch.compile(self._route_and_count, **kwargs))
            # one graph for every pass size (passes are rounded to a multiple of battle_pass)
            self._pass_fn = torch.compile(self._battle_pass, **{**kwargs, "dynamic": True})
            self._all_fn = torch.compile(self._battle_all, **kwargs)
            self._observe_fn = self._observe_now if self._native else torch.compile(self._observe, **kwargs)
            self._finish_fn = self._finish_native if self._native_finish else torch.compile(self._finish_routed,
                                                                                             **kwargs)
        else:
            self._step_fn = torch.compile(self._step, **kwargs)
        self._graph = None  # a captured graph holds the step compiled before: capture again
        return self

    def capture_graph(self) -> BatchedQuest:
        """CUDA only: records one step in a CUDA graph, which every later :meth:`step` replays; returns ``self``.

        A step is hundreds of kernels (eager) or dozens (compiled), each launched from Python: below a few
        hundred thousand envs the GPU waits on the launches. A replay launches them all at once. Call
        :meth:`compile` first to record the compiled step (the eager one otherwise); compiling again drops the
        graph. ``compile(mode="reduce-overhead")`` does not get there: inductor refuses CUDA graphs over a step
        that writes its inputs in place, as this one does.

        The step then keeps every state tensor in the storage it had at the capture (a tensor the step
        rebinds is copied back, :meth:`_step_in_place`), and what :meth:`reset`, :meth:`load_states` and the
        others rebind is copied in before the next replay. The tests check that step and that bookkeeping on
        CPU, and that a step makes no tensor from host data (a copy the capture cannot hold);
        ``benchmarks/batched_gpu.py`` compares each engine it captures with the uncaptured step before timing
        it (``parity.compare_batched``). The tensors a step returns (observation, reward, terminated,
        truncated and ``info``'s) are the graph's own buffers, overwritten by the next step: clone what you
        keep past it. Capturing leaves every env as it was, as :meth:`warm_up` does. Needs :meth:`reset`
        (or :meth:`load_states` into every env) first. The settings a step reads as plain values
        (``max_episode_steps``, ``final_obs``, ``noop``) are fixed into the graph: capture again after changing
        one.
        """
        if self.device.type != "cuda":
            raise ValueError(f"capture_graph needs a CUDA device (this engine is on {self.device.type}); "
                             "on CPU, compile() is the fast step")
        if not self.started:
            raise RuntimeError("BatchedQuest.capture_graph before reset(): call reset(seed) first "
                               "(or load_states into every env)")
        self._graph = None
        held = self._held_tensors()
        kept = {key: t.clone() for key, t in held.items()}
        actions = torch.full((self.num_envs,), -1, dtype=torch.int64, device=self.device)  # presses no button
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(2):  # compiles a compiled step, and settles the caching allocator, before the capture
                self._step_in_place(actions)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            out = self._step_in_place(actions)
        for key, t in held.items():  # the envs as they were (the capture itself ran nothing)
            t.copy_(kept[key])
        self._graph, self._graph_actions, self._graph_out, self._graph_held = graph, actions, out, held
        return self

    def _held_tensors(self) -> dict[tuple[bool, str], torch.Tensor]:
        """Every tensor a step can rebind, by (a state field?, name): the state's fields and the bookkeeping."""
        held = {(True, name): t for name, t in self.state.tensors().items()}
        held.update({(False, name): getattr(self, name) for name in _BOOKKEEPING})
        return held

    def _write_back(self, held: dict[tuple[bool, str], torch.Tensor]) -> None:
        """Copies each tensor rebound since ``held`` was taken back into ``held``'s, and rebinds that one."""
        for (in_state, name), t in held.items():
            owner = self.state if in_state else self
            now = getattr(owner, name)
            if now is not t:
                t.copy_(now)
                setattr(owner, name, t)

    def _step_in_place(self, actions: torch.Tensor) -> tuple[Any, ...]:
        """One step that leaves every state tensor in its storage (what a CUDA graph replays); CUDA's step
        (no battle passes) only. Returns ``(obs, reward, terminated, truncated, info)``."""
        held = self._held_tensors()
        obs, *out, box = self._step_fn(actions)
        self._write_back(held)
        if box is not None:  # a caught creature into the box, written outside the compiled step (as step does)
            box.apply(self.state)
        if obs is None:  # a native kernel (CPU only: never in a CUDA graph) observes after the step
            obs = self._native.observe(self.state, self.milestones)
        return (obs, *out)

    def _replay(self, actions: torch.Tensor) -> tuple[Any, ...]:
        self._write_back(self._graph_held)  # what reset(), load_states() and the others rebound, into the graph's
        self._graph_actions.copy_(actions)
        self._graph.replay()
        obs, reward, terminated, truncated, info = self._graph_out
        return dict(obs), reward, terminated, truncated, dict(info)

    def warm_up(self) -> BatchedQuest:
        """Runs the step's graphs once each, the battle pass and the rare rules over every env included, and
        puts every env back as it was; returns ``self``.

        A compiled step compiles its graphs at their first call, and the battle pass's first call comes at
        the first step with an env in a battle, starting one or healed (the rules over every env: the first
        step with many): seconds of compiling in the middle of a run (a benchmark's timed steps, the first
        battle of a training run). This call brings them all forward. The envs, their episodes and their
        random draws are unchanged by it.
        """
        kept = {name: t.clone() for name, t in self.state.tensors().items()}
        books = {name: getattr(self, name).clone() for name in _BOOKKEEPING}
        nothing = torch.full((self.num_envs,), -1, dtype=torch.int64, device=self.device)  # presses no button
        if self.battle_pass:
            button = nothing.to(torch.int32)
            routed, in_pass, _ = self._route_fn(button)
            self._pass_fn(self._pass_rows(in_pass, 0), button, routed)  # no env of it needs the rules: no change
            self._all_fn(button, routed)
            self._finish_fn(routed)
            self._observe_fn()
        else:
            self._step_fn(nothing)
        for name, t in kept.items():
            setattr(self.state, name, t)
        for name, t in books.items():
            setattr(self, name, t)
        return self

    # ------------------------------------------------------------------------------------------ the step
    def _step(self, actions: torch.Tensor) -> tuple[Any, ...]:
        button = actions.to(torch.int32)
        box = self.advance(button)
        return (*self._end_step(), box)

    def _end_step(self) -> tuple[Any, ...]:
        """Milestones and rewards, episode ends and auto-resets, and the observation, after the rules."""
        reward, terminated, truncated, info, done = self._end_episodes()
        self._reset_envs(done)
        obs = None if self._native else self._observe()  # step() has the native kernel observe after the graph
        return obs, reward, terminated, truncated, info

    def _end_episodes(self) -> tuple[Any, ...]:
        """Milestones and rewards, and the episodes that end (``done``), before their reset."""
        s = self.state
        reached = self._milestones_reached(s.events)
        count = reached.sum(1, dtype=torch.int32)
        reward = (count - self.milestones).to(torch.float32)
        self.milestones = count
        self.episode_return = self.episode_return + reward
        self.episode_length = self.episode_length + 1
        terminated = s.finished.clone()
        # a limit of 0 never truncates (no max_episode_steps; an archived start may still set one)
        truncated = (self.episode_limit > 0) & (self.episode_length >= self.episode_limit) & ~terminated
        done = terminated | truncated
        info: dict[str, Any] = {"episode_return": self.episode_return.clone(),
                                "episode_length": self.episode_length.clone(), "milestones": count.clone(),
                                "milestones_reached": reached}
        if self.final_obs:
            info["final_obs"] = self._observe()
        self.episode = self.episode + done.to(torch.int64)
        return reward, terminated, truncated, info, done

    def _milestones_reached(self, events: torch.Tensor, env: torch.Tensor | None = None) -> torch.Tensor:
        """Which of its world's milestones each env's ``events`` hold (every env, or the rows ``env``):
        bool [N, :attr:`milestone_columns`]."""
        mask = self._milestone_mask if env is None else self._milestone_mask[env]
        return events[:, :self.milestone_columns] & mask

    def advance(self, button: torch.Tensor) -> battle.BoxWrite:
        """The game rules of one press per env (``engine.step``): no episode bookkeeping, no observation.

        ``button`` is int32 [N]; values 0..7 press a button, anything else (the no-op) only advances time.
        Returns the write into the box that the caller applies (:class:`battle.BoxWrite`).
        """
        s, cx = self.state, self.ctx
        routed = self._route(button)
        routed.party_writes.apply(s.party)
        box = self._rare_rules(s, cx, button, routed)
        self._queue_pages(routed)
        return box

    def _route(self, button: torch.Tensor) -> _Routed:
        """The rules before the battle press: the tick, each env's route (battle, text box, menu, overworld),
        the random draws, and the overworld, dialog and menu presses."""
        s, cx = self.state, self.ctx
        s.tick = s.tick + 1
        live = (button >= 0) & (button < NUM_BUTTONS) & ~s.finished
        in_battle = live & (s.battle_kind != BKIND.NONE)
        in_dialog = live & ~in_battle & (dialog_length(s) > 0)
        in_menu = live & ~in_battle & ~in_dialog & (s.menu != MENU.NONE)
        in_overworld = live & ~in_battle & ~in_dialog & ~in_menu
        rnd = draw_all(s.key, s.tick)
        able = first_able(s.party, s.party_count) >= 0
        say_overworld, wild, healer, partner = overworld.press(s, cx, in_overworld, button, rnd, able)
        trainer, whiteout = dialog.press(s, cx, in_dialog, button)
        say_menu, chosen = menus.press(s, cx, in_menu, button)
        return _Routed(in_battle, rnd, say_overworld, wild, healer, trainer, whiteout, say_menu, partner + chosen)

    def _queue_pages(self, routed: _Routed) -> None:
        """The pages the overworld and the menus asked for, queued after the rare rules (those touch other
        envs, so the battle's own pages may be queued before or after them)."""
        apply_say(self.state, routed.say_overworld)
        apply_say(self.state, routed.say_menu)

    # ------------------------------------------------------------------------------------------ battle passes
    def _route_and_count(self, button: torch.Tensor) -> tuple[_Routed, torch.Tensor, torch.Tensor]:
        """:meth:`_route`, then which envs need the rare rules (``in_pass``, bool [N]; :meth:`_in_pass`) and how
        many (``count``, a 0-d tensor)."""
        routed = self._route(button)
        in_pass = self._in_pass(routed)
        return routed, in_pass, in_pass.sum()

    def _pass_rows(self, in_pass: torch.Tensor, count: int) -> torch.Tensor:
        """The envs of a pass (int64, distinct): the ``count`` envs in ``in_pass``, then others up to a multiple
        of ``battle_pass`` (at least one), so that passes come in few sizes. Outside the graphs (its shape
        depends on the data)."""
        rows = min(self.num_envs, -(-max(count, 1) // self.battle_pass) * self.battle_pass)
        inside = torch.nonzero(in_pass).flatten()
        if rows <= count:
            return inside
        return torch.cat([inside, torch.nonzero(~in_pass).flatten()[:rows - count]])

    @staticmethod
    def _in_pass(routed: _Routed) -> torch.Tensor:
        """The envs a pass runs the rare rules for: in a battle (its press), starting one, or healed."""
        return routed.in_battle | routed.wild.mask | routed.trainer.mask | routed.healer | routed.whiteout

    def _battle_pass(self, idx: torch.Tensor, button: torch.Tensor, routed: _Routed
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The rare rules for the envs ``idx`` (int64 [P], distinct): the battle press and the pages it
        queues, then the battles started and the parties healed (:meth:`advance`'s order), on their
        :data:`BATTLE_FIELDS` gathered into a smaller state and written back; returns their box write
        (mask, slot, record), which the caller applies (the box is not gathered)."""
        s = self.state
        sub = BatchedState(**{name: getattr(s, name).index_select(0, idx) if name in BATTLE_FIELDS else None
                              for name in _STATE_FIELDS})
        box = self._rare_rules(sub, self.ctx.subset(idx), button[idx], routed.subset(idx))
        for name in BATTLE_FIELDS:
            getattr(s, name).index_copy_(0, idx, getattr(sub, name))
        return box.mask, box.slot, box.record

    def _battle_all(self, button: torch.Tensor, routed: _Routed) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The rare rules over every env, masked (when many envs need them: ``full_pass_share``)."""
        box = self._rare_rules(self.state, self.ctx, button, routed)
        return box.mask, box.slot, box.record

    @staticmethod
    def _rare_rules(s: BatchedState, cx: Ctx, button: torch.Tensor, routed: _Routed) -> battle.BoxWrite:
        """The battle press and the pages it queues, then the battles started and the parties healed
        (:meth:`advance`'s order); returns the write into the box."""
        say, box = battle.press(s, cx, routed.in_battle, button, routed.rnd)
        apply_say(s, say)
        battle.start(s, cx, routed.wild, routed.trainer)
        # healing touches only envs that start no battle and read no party afterwards in this step
        heal_party(s, cx, routed.healer | routed.whiteout)
        return box

    def _finish_routed(self, routed: _Routed) -> tuple[Any, ...]:
        """The rest of a step after the rare rules, before the resets (:meth:`_end_episodes`)."""
        self._queue_pages(routed)
        return self._end_episodes()

    def _finish_native(self, routed: _Routed) -> tuple[Any, ...]:
        """:meth:`_finish_routed` by the native kernel (one pass per env)."""
        return self._native_finish.finish(self, (routed.say_overworld, routed.say_menu))

    def _step_in_passes(self, actions: torch.Tensor) -> tuple[Any, ...]:
        """The step with the rare rules run on the envs that need them only (CPU; see
        ``BatchedQuest(battle_pass=...)``) and the envs that end reset row by row: the same results as
        :meth:`_step`."""
        s = self.state
        button = actions.to(torch.int32)  # step() has put the actions on the device
        routed, in_pass, count = self._route_fn(button)
        # the route's party writes, outside its graph: written in it, the party would be copied there
        if routed.party_writes.mask.shape[1]:  # the native route writes its party records itself (no columns)
            routed.party_writes.apply_where_set(s.party)
        count = int(count)  # a CPU tensor: reading it waits for nothing
        if count > self.full_pass_share * self.num_envs:  # many: the rules over every env, masked
            battle.BoxWrite(*self._all_fn(button, routed)).apply(s)
        elif count:  # one pass over the envs that need the rules, rounded up to a multiple of battle_pass
            idx = self._pass_rows(in_pass, count)
            mask, slot, record = self._pass_fn(idx, button, routed)
            s.box.index_put_((idx, torch.where(mask, slot, s.box.shape[1] - 1).long()), record)
        reward, terminated, truncated, info, done = self._finish_fn(routed)
        ended = done.nonzero().flatten()  # few envs end in a step: reset those rows only
        if ended.numel():
            self._reset_rows(ended)
        return self._observe_fn(), reward, terminated, truncated, info, None

    def _episode_start(self, env: torch.Tensor | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """What a new episode starts with (``engine.new_state``, with the documented seeds): the state fields
        and the engine's bookkeeping, for the envs ``env`` (int64 [K]; ``None``: every env). Values are
        tensors with a leading env dimension or scalars. Party, box and enemy slots past their counts are
        never read: a reset only zeroes the counts."""
        cx = self.ctx

        def rows(t: torch.Tensor) -> torch.Tensor:
            return t if env is None else t[env]

        ids = self.env_ids if env is None else env
        start = rows(cx.env_start)
        events = rows(cx.env_init_events)
        state: dict[str, Any] = {
            "key": episode_keys(rows(self.base_seed) + ids + rows(self.episode) * self.num_envs), "tick": 0,
            "map": start[:, 0], "x": start[:, 1], "y": start[:, 2], "facing": start[:, 3],
            "respawn": rows(cx.env_respawn), "events": events, "done": False, "bag": 0, "money": 3000,
            "surfing": False, "finished": False, "overflow": False, "dialog_effect": EFFECT.NONE,
            "battle_trainer": -1, "battle_entity": -1,
            **{name: 0 for name in _ZEROED_AT_START}}
        books = {"episode_return": 0.0, "episode_length": 0, "episode_limit": self.max_episode_steps or 0,
                 "milestones": self._milestones_reached(events, env).sum(1, dtype=torch.int32)}
        return state, books

    def _reset_envs(self, mask: torch.Tensor) -> None:
        """Starts a new episode where ``mask`` (:meth:`_episode_start`), branch-free over every env."""
        s, cx = self.state, self.ctx
        state, books = self._episode_start(None)
        for owner, values in ((s, state), (self, books)):
            for name, value in values.items():
                old = getattr(owner, name)
                setattr(owner, name, torch.where(mask.view(-1, *[1] * (old.dim() - 1)), value, old))
        if self.tables.num_boulders:
            s.boulder_xy[:, :-1] = torch.where(mask[:, None, None], cx.env_boulder_xy, s.boulder_xy[:, :-1])

    def _reset_rows(self, env: torch.Tensor) -> None:
        """:meth:`_reset_envs` of the envs ``env`` (int64 [K]) only, written into their rows in place."""
        s, cx = self.state, self.ctx
        state, books = self._episode_start(env)
        for owner, values in ((s, state), (self, books)):
            for name, value in values.items():
                t = getattr(owner, name)
                value = torch.as_tensor(value, dtype=t.dtype, device=t.device).expand(len(env), *t.shape[1:])
                t.index_copy_(0, env, value.contiguous())
        if self.tables.num_boulders:
            s.boulder_xy[:, :-1].index_copy_(0, env, cx.env_boulder_xy[env])

    # ------------------------------------------------------------------------------------------ observations
    def _observe_now(self) -> dict[str, torch.Tensor]:
        """The observation by the native kernel where there is one, else by the torch ops."""
        if self._native is not None:
            return self._native.observe(self.state, self.milestones)
        return self._observe()

    def _observe(self) -> dict[str, torch.Tensor]:
        """The observation by the torch ops."""
        s, cx = self.state, self.ctx
        if self._pixels is not None:
            return {"pixels": self._pixels.frames(s, cx)}
        tiles, entities = symbolic_view(s, cx)
        return {"tiles": tiles, "entities": entities, "vector": self.vector()}

    def stagger_episode_ends(self, limit: int, generator: torch.Generator | None = None) -> None:
        """Truncates every env's current episode after a random number of steps from 1 to ``limit``, so envs
        reset together are not all truncated together (and stay out of lockstep); later episodes run to
        ``max_episode_steps``, and ``episode_length`` counts the steps really played. ``generator``: a seeded
        CPU generator (default: torch's global generator on the engine's device)."""
        if not int_in(limit, 1, 2**31 - 1):  # within the int32 episode limits
            raise ValueError(f"stagger_episode_ends needs a limit >= 1 (an int up to 2**31-1), got {limit!r}")
        shape, dtype = (self.num_envs,), self.episode_length.dtype
        if generator is None:
            skipped = torch.randint(0, limit, shape, device=self.device, dtype=dtype)
        else:
            skipped = torch.randint(0, limit, shape, generator=generator, dtype=dtype).to(self.device)
        self.episode_limit = self.episode_length + limit - skipped

    def observe(self) -> dict[str, torch.Tensor]:
        """Every env's observation now (``reset`` and ``step`` return it; after :meth:`load_states`, read it
        here)."""
        return self._observe_now()

    def vector(self) -> torch.Tensor:
        """The symbolic ``vector`` [N, 32] float32 (:data:`longplay.envs.quest.game.VECTOR_FIELDS`)."""
        s, cx = self.state, self.ctx
        in_battle = s.battle_kind != BKIND.NONE
        pages = dialog_length(s)
        mode = torch.where(in_battle, 3, torch.where(pages > 0, 1, torch.where(s.menu != MENU.NONE, 2, 0)))
        badges = s.events.gather(1, cx.env_badge_cols).sum(1)
        party = s.party[:, :PARTY_SIZE]
        valid = cx.slots[None, :] < s.party_count[:, None]
        lead_stats = party[:, 0].index_select(1, self._stat_cols[1:]) * (s.party_count > 0)[:, None]
        use_active = in_battle & (s.player_active < s.party_count)
        active = gather_mon(s.party, s.player_active).index_select(1, self._stat_cols[1:])
        active_stats = torch.where(use_active[:, None], active, lead_stats)
        has_enemy = in_battle & (s.enemy_count > 0)
        enemy = gather_mon(s.enemy, s.enemy_active).index_select(1, self._stat_cols)
        enemy_stats = torch.where(has_enemy[:, None], enemy, cx.no_enemy)
        party_hp = (party[:, :, HP] * valid).sum(1, dtype=torch.int32)
        party_max = (party[:, :, MAX_HP] * valid).sum(1, dtype=torch.int32)
        key_items = (s.bag.index_select(1, self._key_items) > 0).sum(1, dtype=torch.int32)
        abilities = s.events.gather(1, cx.env_ability_col).sum(1)
        cols = [mode, s.facing, s.map, s.x, s.y, s.surfing, s.money, badges, s.party_count, s.menu, s.menu_cursor,
                s.battle_kind, s.battle_phase, s.battle_cursor, pages, s.ward_steps]
        # every field is a small integer: gathered as integers, converted to float32 once
        tail = [party_hp, party_max, s.box_count, self.milestones, key_items, abilities]
        return torch.cat([torch.stack(cols, 1), lead_stats, active_stats, enemy_stats, torch.stack(tail, 1)],
                         1).to(torch.float32)

    def lead_level(self) -> torch.Tensor:
        """[N] int32: the level of each env's first party creature (0 without a party)."""
        s = self.state
        return s.party[:, 0, LEVEL] * (s.party_count > 0)

    def flag_count(self) -> torch.Tensor:
        """[N] int32: how many flags each env's ``GameState.flags`` holds (story events set and trainers beaten),
        for the device's ``event`` shaping term; flags are never cleared within an episode."""
        s = self.state
        return ((s.events & self._event_mask).sum(1, dtype=torch.int32)
                + (s.done & self._trainer_mask).sum(1, dtype=torch.int32))

    # ------------------------------------------------------------------------------------------ reference
    def _check_env(self, i: Any, accessor: str) -> None:
        """``IndexError`` (one line) unless ``i`` names an env as ``load_states`` takes it: an int (numpy's too,
        not a bool) in ``-num_envs..num_envs-1``."""
        if not is_env_index(i, self.num_envs):
            raise IndexError(f"{accessor}: no env {i!r}; envs are ints in 0..{self.num_envs - 1}")

    def _check_game(self, i: Any, accessor: str) -> None:
        """:meth:`_check_env`, and a ``RuntimeError`` (one line) where env ``i`` has no game yet (before
        :meth:`reset` or :meth:`load_states` into it its state is all zeros: no map, no party)."""
        self._check_env(i, accessor)
        if self._unstarted[i]:
            raise RuntimeError(f"BatchedQuest.{accessor}({i!r}): env {i!r} has no game yet: call reset(seed) first "
                               "(or load_states into it)")

    def documents(self, envs: list[int] | None = None) -> list[dict[str, Any]]:
        """``savestate.state_document`` of envs (all by default): what state hashes are computed from."""
        for i in envs if envs is not None else ():
            self._check_env(i, "documents")
        return documents(self.state, self.tables, self.world_of, envs)

    def state_of(self, i: int) -> QuestState:
        """Env ``i``'s state as a reference :class:`QuestState` (parity, text view, save states); refused for an
        env with no game yet (before :meth:`reset`)."""
        self._check_game(i, "state_of")
        return quest_state(self.documents([i])[0])

    def world_of_env(self, i: int) -> World:
        """The world env ``i`` plays."""
        self._check_env(i, "world_of_env")
        return self.worlds[int(self.world_of[i])]

    def load_states(self, envs: list[int], states: list[QuestState]) -> None:
        """Puts reference states into env slots (each in that env's world); the episode's return, length and
        truncation restart (it runs up to ``max_episode_steps`` again, whatever :meth:`stagger_episode_ends` had
        set). The count of the env's episodes goes on, so its next auto-reset plays the seed that count gives
        (``seed + i + k * num_envs``; the module docstring). Before :meth:`reset`, the engine steps once every
        env has a state (their auto-resets then play base seed 0)."""
        if len(envs) != len(states):
            raise ValueError(f"load_states needs one state per env: {len(envs)} envs, {len(states)} states")
        load_states(self.state, self.tables, self.world_of, envs, states)
        self._unstarted[list(envs)] = False
        idx = torch.as_tensor(envs, device=self.device, dtype=torch.int64)
        self.episode_return[idx] = 0.0
        self.episode_length[idx] = 0
        self.episode_limit[idx] = self.max_episode_steps or 0
        count = self._milestones_reached(self.state.events).sum(1, dtype=torch.int32)
        self.milestones[idx] = count[idx]

    def text(self, i: int) -> str:
        """The reference text view of env ``i``."""
        from longplay.envs.quest.textview import text_view

        self._check_game(i, "text")
        return text_view(self.world_of_env(i), self.state_of(i))

    def frame(self, i: int, palette: object = None) -> np.ndarray:
        """The reference (exact) frame of env ``i``, in ``palette`` (default: the engine's own)."""
        from longplay.envs.quest.render import render_frame

        self._check_game(i, "frame")
        return render_frame(self.world_of_env(i), self.state_of(i), self.palette if palette is None else palette)

    def state_bytes_per_env(self) -> int:
        """Bytes of dynamic state per env (world tables excluded), including episode counters."""
        extra = sum(t.element_size() for t in (self.base_seed, self.episode, self.episode_return,
                                               self.episode_length, self.episode_limit, self.milestones))
        return self.state.nbytes_per_env() + extra

    @property
    def single_observation_space(self) -> Any:
        """One env's observation space (the reference env's), as a ``gymnasium.spaces.Dict``."""
        from gymnasium import spaces

        from longplay.envs.quest.batched.vector import single_observation_space

        space = single_observation_space(self.obs_mode)
        return space if isinstance(space, spaces.Dict) else spaces.Dict({"pixels": space})

    @property
    def single_action_space(self) -> Any:
        """``Discrete(8)`` buttons (``Discrete(9)`` with ``noop``)."""
        from gymnasium import spaces

        return spaces.Discrete(NUM_BUTTONS + 1 if self.noop else NUM_BUTTONS)


__all__ = ["AUTO_PASS_MIN_ENVS", "BATTLE_FIELDS", "BatchedQuest", "BatchedState", "CPU_INDUCTOR_OPTIONS",
           "DEFAULT_MAX_STEPS", "DEFAULT_WORLD_POOL", "keep_freed_memory"]
