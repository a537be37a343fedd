"""Lockstep parity between the batched engine and the reference engine (the specification).

:class:`Lockstep` runs one reference :class:`~longplay.envs.quest.state.QuestState` per batched env, from
the same seeds (the batched engine's documented seed rule, auto-resets included), presses the same buttons
in both, and after every step compares every env's full state document (what ``savestate.state_hash``
hashes), reward, termination and truncation, and optionally the symbolic observation. The first mismatch
raises :class:`ParityError` naming the step, env, field and both values.

It also records how close the batched engine's fixed bounds come to being exceeded (:attr:`Lockstep.peaks`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from longplay.envs.quest import engine as ref_engine
from longplay.envs.quest import savestate
from longplay.envs.quest.batched.engine import BatchedQuest
from longplay.envs.quest.state import QuestState


class ParityError(AssertionError):
    """The two engines disagree; the message names the first differing field and step."""


def first_difference(a: Any, b: Any, path: str = "") -> str | None:
    """The path of the first difference between two JSON-like values (``None`` when equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return f"{path}.{k} (missing on one side)"
            d = first_difference(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            d = first_difference(x, y, f"{path}[{i}]")
            if d:
                return d
        if len(a) != len(b):
            return f"{path} (length {len(a)} != {len(b)})"
        return None
    return None if a == b else f"{path}: batched {a!r} != reference {b!r}"


@dataclass
class Lockstep:
    """Both engines side by side (see the module docstring).

    Args:
        batched: The engine under test (any size, world pool, device).
        check_obs_every: Compare the symbolic observation every this many steps (0: never).
        hash_every: Documents are compared (as Python values) at every step; their canonical JSON, the bytes
            ``savestate.state_hash`` hashes, every this many steps (1: every step). Equal JSON is equal hashes.
    """

    batched: BatchedQuest
    check_obs_every: int = 0
    hash_every: int = 1
    refs: list[QuestState] = field(default_factory=list)
    steps: int = 0
    env_steps: int = 0
    peaks: dict[str, int] = field(default_factory=dict)
    seen: set[str] = field(default_factory=set)  # message kinds shown (coverage)
    _seed: int = 0
    _episode: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _length: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    _games: dict[int, Any] = field(default_factory=dict)

    def reset(self, seed: int) -> None:
        """Resets both engines (env ``i`` with reference seed ``seed + i``) and compares."""
        b = self.batched
        self._seed = seed
        self._episode = np.zeros(b.num_envs, np.int64)
        self._length = np.zeros(b.num_envs, np.int64)
        obs = b.reset(seed)
        self.refs = [ref_engine.new_state(b.world_of_env(i), seed + i) for i in range(b.num_envs)]
        self.steps = 0
        self.compare(obs if self.check_obs_every else None)

    def load(self, envs: list[int], states: list[QuestState]) -> None:
        """Puts the same reference states in both engines' env slots ``envs``."""
        self.batched.load_states(envs, [_copy(s) for s in states])
        for i, s in zip(envs, states, strict=True):
            self.refs[i] = _copy(s)
            self._length[i] = 0
        self.compare(None)

    def step(self, actions: np.ndarray) -> None:
        """One press per env in both engines (actions 0..7, or 8 = no-op), then compares everything."""
        b = self.batched
        obs, reward, terminated, truncated, info = b.step(torch.as_tensor(actions, device=b.device))
        ref_reward = np.zeros(b.num_envs, np.float32)
        ref_term = np.zeros(b.num_envs, bool)
        ref_trunc = np.zeros(b.num_envs, bool)
        for i, s in enumerate(self.refs):
            world = b.world_of_env(i)
            bits = (1 << world.milestone_count) - 1
            before = s.events & bits
            a = int(actions[i])
            ref_engine.step(s, world, a if a < 8 else None)
            self._length[i] += 1
            ref_reward[i] = ((s.events & bits) & ~before).bit_count()
            ref_term[i] = s.finished
            ref_trunc[i] = (b.max_episode_steps is not None and self._length[i] >= b.max_episode_steps
                            and not s.finished)
            self._check_bounds(i, s)
            self._peak("dialog", len(s.dialog))
            self._peak("messages", len(s.battle.messages))
            self._peak("box", len(s.box))
            self._peak("party", len(s.party))
            for kind, _, _ in s.battle.messages:
                self.seen.add(f"battle:{kind}")
            for kind, _, _ in s.dialog:
                self.seen.add(f"dialog:{kind}")
            if s.surfing:
                self.seen.add("surfing")
            if ref_term[i] or ref_trunc[i]:
                self._episode[i] += 1
                seed = self._seed + i + int(self._episode[i]) * b.num_envs
                self.refs[i] = ref_engine.new_state(world, seed)
                self._length[i] = 0
        self.steps += 1
        self.env_steps += b.num_envs
        where = f"step {self.steps}"
        _check_equal(reward.cpu().numpy(), ref_reward, f"reward at {where}")
        _check_equal(terminated.cpu().numpy(), ref_term, f"terminated at {where}")
        _check_equal(truncated.cpu().numpy(), ref_trunc, f"truncated at {where}")
        check_obs = self.check_obs_every and self.steps % self.check_obs_every == 0
        self.compare(obs if check_obs else None)
        if bool(b.state.overflow.any()):
            bad = np.flatnonzero(b.state.overflow.cpu().numpy())
            raise ParityError(f"a batched bound overflowed at {where} (envs {bad})")

    def compare(self, obs: dict[str, torch.Tensor] | None) -> None:
        """Compares every env's state document (and ``obs`` if given) with the reference."""
        docs = self.batched.documents()
        hashes = self.hash_every <= 1 or self.steps % self.hash_every == 0
        for i, (doc, s) in enumerate(zip(docs, self.refs, strict=True)):
            ref = savestate.state_document(s)
            same = doc == ref
            if same and hashes:
                same = savestate.encode_document(doc) == savestate.encode_document(ref)
            if not same:
                diff = first_difference(doc, ref, "state") or "the canonical JSON (a type: bool vs int?)"
                raise ParityError(f"env {i} differs at step {self.steps}: {diff} "
                                  f"(world {self.batched.world_of_env(i).name!r}, seed rule seed {self._seed})")
        if obs is not None:
            self._compare_obs(obs)

    def _compare_obs(self, obs: dict[str, torch.Tensor]) -> None:
        from longplay.envs.quest.game import QuestGame

        arrays = {k: v.cpu().numpy() for k, v in obs.items()}
        for i, s in enumerate(self.refs):
            w = int(self.batched.world_of[i])
            game = self._games.get(w)
            if game is None:
                game = self._games[w] = _game_for(QuestGame, self.batched.worlds[w])
            game._state = s
            ref = game.symbolic()
            for key in ("tiles", "entities", "vector"):
                if not np.array_equal(arrays[key][i], ref[key]):
                    mine, theirs = arrays[key][i].ravel(), ref[key].ravel()
                    bad = np.flatnonzero(mine != theirs)[:8]
                    raise ParityError(f"obs {key!r} of env {i} differs at step {self.steps}: entries {bad} "
                                      f"batched {mine[bad]} reference {theirs[bad]}")

    def _check_bounds(self, i: int, s: QuestState) -> None:
        """The reference state fits the batched engine's fixed arrays (else the comparison would fail less
        clearly): messages, dialog (a text run, then generated pages), party, box, enemy team."""
        from longplay.envs.quest.batched.state import EXTRA_PAGES
        from longplay.envs.quest.dialog import Msg

        b = self.batched
        generated = [p for p in s.dialog if p[0] != Msg.TEXT]
        texts = len(s.dialog) - len(generated)
        if len(s.battle.messages) > b.state.messages.shape[1] or len(generated) > EXTRA_PAGES \
                or (texts and any(p[0] == Msg.TEXT for p in s.dialog[texts:])) \
                or len(s.battle.enemy) > b.tables.team_size or len(s.party) > 6 or len(s.box) > 40:
            raise ParityError(f"env {i} exceeds a batched bound at step {self.steps + 1}: "
                              f"{len(s.battle.messages)} messages, dialog {s.dialog}")

    def _peak(self, name: str, value: int) -> None:
        if value > self.peaks.get(name, -1):
            self.peaks[name] = value


def _game_for(cls: Any, world: Any) -> Any:
    """A reference QuestGame playing ``world`` (for its symbolic observation)."""
    game = cls.__new__(cls)
    game._symbolic_space = None
    game._use_world(world)
    return game


def _copy(s: QuestState) -> QuestState:
    return copy.deepcopy(s)


def _check_equal(batched: np.ndarray, reference: np.ndarray, what: str) -> None:
    if not np.array_equal(batched, reference):
        bad = np.flatnonzero(batched != reference)
        raise ParityError(f"{what}: envs {bad[:8]} batched {batched[bad[:8]]} reference {reference[bad[:8]]}")


def fuzz_actions(rng: np.random.Generator, num_envs: int, a_bias: float = 0.3) -> np.ndarray:
    """Random presses, with A more likely (it drives dialogs and battles forward)."""
    actions = rng.integers(0, 8, num_envs)
    return np.where(rng.random(num_envs) < a_bias, 4, actions)


def compare_batched(engine: BatchedQuest, other: BatchedQuest, steps: int, seed: int = 0) -> None:
    """Steps two batched engines of the same envs side by side (one captured in a CUDA graph and one not,
    say) with fuzzed presses, an episode end within every 7 steps (``stagger_episode_ends``) and a ``reset``
    halfway, and compares every state tensor (but the scratch slots, ``BatchedState.difference``), the
    observation, reward, terminated, truncated and ``info`` at every step. Raises :class:`ParityError`
    naming the first differing tensor and step; both end reset to ``seed``."""
    rng = np.random.default_rng(seed)
    for e in (engine, other):
        e.reset(seed=seed)
        e.stagger_episode_ends(7, generator=torch.Generator().manual_seed(seed))
    for k in range(steps):
        if k == steps // 2:
            for e in (engine, other):
                e.reset(seed=seed + 1)
        actions = torch.as_tensor(fuzz_actions(rng, engine.num_envs), device=engine.device)
        got, want = engine.step(actions), other.step(actions)
        field = engine.state.difference(other.state)
        if field is not None:
            raise ParityError(f"state.{field} differs at step {k}")
        pairs = [(f"obs.{name}", got[0][name], want[0][name]) for name in want[0]]
        pairs += [(name, got[i], want[i]) for i, name in ((1, "reward"), (2, "terminated"), (3, "truncated"))]
        pairs += [(f"info.{name}", got[4][name], want[4][name]) for name in want[4]]
        for name, a, b in pairs:
            if not torch.equal(a, b):
                raise ParityError(f"{name} differs at step {k}")
    for e in (engine, other):
        e.reset(seed=seed)


__all__ = ["Lockstep", "ParityError", "compare_batched", "first_difference", "fuzz_actions"]


class _RefGame:
    """What the oracle reads of a game: the live reference state of one lockstep env, and its world."""

    def __init__(self, lockstep: Lockstep, env: int) -> None:
        self._lockstep, self._env = lockstep, env
        self.world = lockstep.batched.world_of_env(env)

    @property
    def raw(self) -> QuestState:
        return self._lockstep.refs[self._env]


class OracleDriver:
    """The quest oracle (``longplay.agents.oracle``) playing every env of a :class:`Lockstep`.

    It reads the reference states (privileged, as it always does); ``noise`` replaces that fraction of its
    presses with random ones, which drives the games into states the oracle alone would avoid.
    """

    def __init__(self, lockstep: Lockstep, seed: int = 0, noise: float = 0.0) -> None:
        from types import SimpleNamespace

        from longplay.agents.oracle import OracleAgent

        self.lockstep = lockstep
        self.rng = np.random.default_rng(seed)
        self.noise = noise
        self.agents = []
        self.episodes = np.array(lockstep._episode, copy=True)
        for i in range(lockstep.batched.num_envs):
            agent = OracleAgent()
            env = SimpleNamespace(unwrapped=SimpleNamespace(game=_RefGame(lockstep, i)))
            agent.reset(env, None, {}, seed + i)  # type: ignore[arg-type]
            self.agents.append((agent, env))

    def actions(self) -> np.ndarray:
        """The next press of every env."""
        out = np.zeros(len(self.agents), np.int64)
        for i, (agent, env) in enumerate(self.agents):
            if self.lockstep._episode[i] != self.episodes[i]:  # a new episode: a fresh oracle
                agent.reset(env, None, {}, int(self.rng.integers(1 << 30)))
                self.episodes[i] = self.lockstep._episode[i]
            out[i] = agent.act(None, {})
        noisy = self.rng.random(len(out)) < self.noise
        return np.where(noisy, self.rng.integers(0, 8, len(out)), out)


def scenario_state(world: Any, seed: int, rng: np.random.Generator) -> QuestState:
    """A random but well-formed mid-game state of ``world``: a random party (levels, HP, PP), box, bag,
    money, events (so badges, abilities and gates vary), used-up entities, and the player placed next to a
    random entity (facing it), on a random walkable cell, or swimming. Fuzzing from many of these reaches
    every rule of every map without playing the game through."""
    from longplay.envs.quest import overworld, party
    from longplay.envs.quest.constants import (
        BOX_SIZE,
        DX,
        DY,
        MOVE_SLOTS,
        NUM_ITEMS,
        TILE_ENCOUNTER,
        TILE_WALKABLE,
        Tile,
    )
    from longplay.envs.quest.content import SPECIES

    s = ref_engine.new_state(world, seed)

    def mon() -> Any:
        level = int(rng.integers(2, 101) if rng.random() < 0.15 else rng.integers(2, 45))
        m = party.make_mon(int(rng.integers(len(SPECIES))), level)
        if rng.random() < 0.5 and level < 100:  # one win away from the next level (and its moves)
            m.exp = (level + 1) ** 3 - 1
        else:
            m.exp += int(rng.integers(0, max(1, (level + 1) ** 3 - level ** 3)))
        if rng.random() < 0.5:
            m.hp = int(rng.integers(0, m.max_hp + 1))
        if rng.random() < 0.2:
            m.pp = [0 if rng.random() < 0.8 else p for p in m.pp]
        for k in range(MOVE_SLOTS):
            if m.moves[k] < 0:
                m.pp[k] = 0
        return m

    s.party = [mon() for _ in range(int(rng.choice([0, 1, 1, 2, 3, 4, 5, 6, 6])))]
    if s.party and rng.random() < 0.9 and party.first_able(s.party) < 0:
        s.party[0].hp = s.party[0].max_hp
    if rng.random() < 0.15:
        s.box = [mon() for _ in range(BOX_SIZE if rng.random() < 0.5 else int(rng.integers(0, BOX_SIZE)))]
    s.bag = [0 if rng.random() < 0.4 else int(99 if rng.random() < 0.1 else rng.integers(1, 12))
             for _ in range(NUM_ITEMS)]
    s.money = int(rng.integers(0, 1_000_000) if rng.random() < 0.1 else rng.integers(0, 8000))
    for e in range(len(world.events)):
        if rng.random() < 0.4:
            s.events |= 1 << e
    for e in range(len(world.entities)):
        s.done[e] = int(rng.random() < 0.25)
    s.ward_steps = 0 if rng.random() < 0.7 else int(rng.integers(1, 101))
    healers = [e for e in world.entities if e.kind == 4]
    if healers and rng.random() < 0.5:
        h = healers[int(rng.integers(len(healers)))]
        s.respawn = (h.map, h.x, h.y + 1)
    warps = {(w.map, w.x, w.y) for w in world.warps}

    def free(m: int, x: int, y: int, water: bool = False) -> bool:
        tile = world.maps[m].tile(x, y)
        ok = tile == Tile.WATER if water else TILE_WALKABLE[tile]
        return ok and (m, x, y) not in warps and overworld.entity_at(s, world, m, x, y) < 0

    for _ in range(200):
        pick = rng.random()
        if pick < 0.55 and world.entities:
            rare = [e for e in world.entities if e.kind in (3, 4, 5, 6, 8, 9, 10)]
            pool = rare if rare and rng.random() < 0.4 else world.entities
            e = pool[int(rng.integers(len(pool)))]
            d = int(rng.integers(4))
            m, x, y = e.map, e.x - DX[d], e.y - DY[d]
            if rng.random() < 0.2:  # across a counter, or a step further away
                x, y = x - DX[d], y - DY[d]
            water = False
        else:
            m = int(rng.integers(len(world.maps)))
            x, y = int(rng.integers(world.maps[m].width)), int(rng.integers(world.maps[m].height))
            d = int(rng.integers(4))
            water = pick > 0.9
            if pick < 0.8 and not TILE_ENCOUNTER[world.maps[m].tile(x, y)]:
                continue  # mostly grass and caves: wild battles
        if free(m, x, y, water):
            s.map, s.x, s.y, s.facing, s.surfing = m, x, y, d, water
            break
    if rng.random() < 0.3 and party.first_able(s.party) >= 0:  # in a battle
        from longplay.envs.quest import battle

        trainers = [e for e in world.entities if e.kind == 2 and e.map == s.map] or \
            [e for e in world.entities if e.kind == 2]
        final = [e for e in world.entities if e.kind == 2 and world.trainers[e.trainer].event == world.ev_finish
                 and world.ev_finish >= 0]
        if final and rng.random() < 0.1:  # the last fight, with a strong team
            for m in s.party:
                m.level, m.attack, m.defense, m.hp = 100, 400, 400, m.max_hp
            e = final[0]
            battle.start_trainer(s, world, e.trainer, e.index)
        elif trainers and rng.random() < 0.5:
            e = trainers[int(rng.integers(len(trainers)))]
            battle.start_trainer(s, world, e.trainer, e.index)
        else:
            level = max(2, min(100, s.party[party.first_able(s.party)].level + int(rng.integers(-8, 5))))
            battle.start_wild(s, world, int(rng.integers(len(SPECIES))), level)
        if s.battle.kind and rng.random() < 0.6:  # skip the intro: a menu of the battle
            s.battle.messages = []
            s.battle.phase = int(rng.choice([0, 0, 1, 2, 3]))
            if s.battle.phase == 2 and rng.random() < 0.7:
                s.bag[4 + int(rng.integers(3))] = int(rng.integers(1, 5))
    elif rng.random() < 0.1 and s.party:  # a menu open
        s.menu = int(rng.integers(1, 6))
        if s.menu == 5:
            if not world.shops:
                s.menu = 1
            else:
                s.menu_choice = int(rng.integers(len(world.shops)))
        if s.menu == 4:
            s.menu_choice = int(rng.integers(0, 4))
    return s


def scenario_states(world: Any, count: int, seed: int) -> list[QuestState]:
    """``count`` :func:`scenario_state` of ``world`` (episode keys from ``seed + i``)."""
    rng = np.random.default_rng(seed)
    return [scenario_state(world, seed + i, rng) for i in range(count)]


def oracle_chunks(world: Any, seeds: list[int], steps: int, chunk: int, noise: float = 0.0
                  ) -> list[tuple[QuestState, np.ndarray]]:
    """The oracle's games cut into pieces: for each seed, the oracle plays ``steps`` presses on the reference
    engine, and every ``chunk`` presses the state and the next ``chunk`` presses are kept.

    Replaying every piece in its own env slot checks a whole long game in ``chunk`` batched steps.
    """
    from types import SimpleNamespace

    from longplay.agents.oracle import OracleAgent

    pieces: list[tuple[QuestState, np.ndarray]] = []
    rng = np.random.default_rng(seeds[0] if seeds else 0)
    for seed in seeds:
        state = ref_engine.new_state(world, seed)
        game = SimpleNamespace(raw=state, world=world)
        agent = OracleAgent()
        agent.reset(SimpleNamespace(unwrapped=SimpleNamespace(game=game)), None, {}, seed)  # type: ignore[arg-type]
        start, actions = copy.deepcopy(state), []
        for _ in range(steps):
            a = agent.act(None, {})
            if noise and rng.random() < noise:
                a = int(rng.integers(0, 8))
            actions.append(a)
            ref_engine.step(state, world, a)
            if len(actions) == chunk:
                pieces.append((start, np.array(actions)))
                start, actions = copy.deepcopy(state), []
            if state.finished:
                break
        if actions:
            pieces.append((start, np.array(actions + [8] * (chunk - len(actions)))))
    return pieces


def replay_pieces(lockstep: Lockstep, pieces: list[tuple[QuestState, np.ndarray]], fill_seed: int = 0) -> None:
    """Loads each piece's start state into its own env slot and replays its presses, all in lockstep (envs
    beyond the pieces, and presses past a piece's end, get random presses)."""
    n = lockstep.batched.num_envs
    if len(pieces) > n:
        raise ValueError(f"{len(pieces)} pieces need as many envs, have {n}")
    lockstep.load(list(range(len(pieces))), [p[0] for p in pieces])
    length = max(len(p[1]) for p in pieces)
    rng = np.random.default_rng(fill_seed)
    for t in range(length):
        actions = fuzz_actions(rng, n)
        for i, (_, acts) in enumerate(pieces):
            actions[i] = acts[t] if t < len(acts) else 4  # A pages on through what the script started
        lockstep.step(actions)


#: Message templates the reference engine defines but never queues (so coverage cannot include them).
UNUSED_MESSAGES = frozenset({"dialog:SWIM_START", "dialog:SHOVED", "dialog:BLOCKED_WATER"})


def message_coverage(seen: set[str]) -> tuple[set[str], set[str]]:
    """(the message templates ``seen`` holds, every template the rules can queue), by name (``battle:NAME``,
    ``dialog:NAME``), from the ``battle:N`` / ``dialog:N`` keys :attr:`Lockstep.seen` collects."""
    from longplay.envs.quest.battle import BattleMsg
    from longplay.envs.quest.dialog import Msg

    names = {f"battle:{int(k)}": f"battle:{k.name}" for k in BattleMsg}
    names |= {f"dialog:{int(k)}": f"dialog:{k.name}" for k in Msg}
    return {names[k] for k in seen if k in names}, set(names.values()) - UNUSED_MESSAGES

_UP, _DOWN, _LEFT, _RIGHT, _A = 0, 1, 2, 3, 4


def targeted_states(world: Any, seed: int) -> list[tuple[QuestState, list[int]]]:
    """Hand-set situations, each with its press script, that reach every rule fuzzing reaches only rarely:
    catching into the party, the box and past a full box, a trainer's creature that can't be caught,
    running, struggling, no PP, reviving and healing items, levelling up and learning moves, losing (the
    whiteout), a gym leader's badge and the abilities it unlocks, the final win, chopping a tree, pushing
    a boulder, swimming (and leaving the water by a ledge or a boulder), the bag (Ward Spray, items of no
    use, targets), the shop (too poor, bag full), and the edges of rules where a neighbouring rule would
    play differently (see the last block).
    """
    from longplay.envs.quest import battle, party
    from longplay.envs.quest.constants import DX, DY, MAX_MONEY, TILE_WALKABLE, Item, Rng, Tile
    from longplay.envs.quest.content import SPECIES
    from longplay.envs.quest.rng import rand

    rng = np.random.default_rng(seed)
    out: list[tuple[QuestState, list[int]]] = []
    base = ref_engine.new_state(world, seed)

    def fresh(level: int = 30, count: int = 1) -> QuestState:
        s = copy.deepcopy(base)
        s.key = ref_rng_key(seed + len(out))
        s.party = [party.make_mon(int(rng.integers(len(SPECIES))), level) for _ in range(count)]
        return s

    def wild_battle(s: QuestState, level: int, phase: int, cursor: int) -> QuestState:
        battle.start_wild(s, world, int(rng.integers(len(SPECIES))), level)
        s.battle.messages, s.battle.phase, s.battle.cursor = [], phase, cursor
        return s

    def encounter_tick(s: QuestState, m: int) -> int:
        """The first tick whose next step on map ``m``'s grass starts a wild encounter (the draw under its rate)."""
        rate = world.maps[m].encounter_rate
        return next(t for t in range(100_000) if rand(s.key, t + 1, Rng.ENCOUNTER) & 255 < rate)

    # catching: into the party, the box, past a full box; a strong foe breaks free
    easiest = max(range(len(SPECIES)), key=lambda sp: SPECIES[sp].catch_rate)
    for party_size, box_size, foe_hp in ((2, 0, 1), (6, 39, 1), (6, 40, 1), (3, 0, -1)):
        s = fresh(20, party_size)
        s.box = [party.make_mon(0, 5) for _ in range(box_size)]
        s.bag = [0] * len(s.bag)
        s.bag[Item.PRIME_ORB if foe_hp == 1 else Item.ORB] = 3
        if foe_hp == 1:
            battle.start_wild(s, world, easiest, 12)
            s.battle.messages, s.battle.phase, s.battle.cursor = [], 0, 1
            s.battle.enemy[0].hp = 1
        else:
            wild_battle(s, 12, 0, 1)
        out.append((s, [_A] * 30))
    # switching creatures (COME_BACK, GO), missing (low-accuracy moves, many turns)
    s = wild_battle(fresh(20, 3), 20, 3, 1)
    out.append((s, [_A] * 20))
    from longplay.envs.quest.content import MOVES

    wild = min(range(len(MOVES)), key=lambda m: MOVES[m].accuracy)
    for _ in range(3):
        s = wild_battle(fresh(40, 1), 40, 0, 0)
        s.party[0].moves[0], s.party[0].pp[0] = wild, MOVES[wild].pp
        s.party[0].hp = s.party[0].max_hp = 999
        s.battle.enemy[0].hp = s.battle.enemy[0].max_hp = 999
        out.append((s, [_A] * 45))
    # a trainer's creature can't be caught; can't run from a trainer; running from a wild one
    trainers = [e for e in world.entities if e.kind == 2]
    for cursor, bag_item in ((1, Item.ORB), (3, None)):
        s = fresh(30, 2)
        s.bag = [0] * len(s.bag)
        if bag_item is not None:
            s.bag[bag_item] = 2
        e = trainers[int(rng.integers(len(trainers)))]
        battle.start_trainer(s, world, e.trainer, e.index)
        s.battle.messages, s.battle.phase, s.battle.cursor = [], 0, cursor
        out.append((s, [_A] * 12))
    for slow in (True, False):
        s = wild_battle(fresh(15, 2), 15, 0, 3)
        if slow:
            s.party[0].speed, s.battle.enemy[0].speed = 5, 200
        out.append((s, [_A] * 12))
    # struggling (no PP at all) and a move with no PP left
    s = wild_battle(fresh(20, 1), 20, 0, 0)
    s.party[0].pp = [0, 0, 0, 0]
    out.append((s, [_A] * 25))
    s = wild_battle(fresh(20, 1), 20, 1, 0)
    s.party[0].pp[0] = 0
    out.append((s, [_A, _A, _DOWN, _A] + [_A] * 12))
    # items in battle: a revival herb on a fainted member, a tonic at full HP (no effect), a tonic that heals
    for item, hurt in ((Item.REVIVAL_HERB, False), (Item.TONIC, False), (Item.STRONG_TONIC, True)):
        s = fresh(25, 3)
        s.party[2].hp = 0
        s.bag = [0] * len(s.bag)
        s.bag[item] = 2
        wild_battle(s, 25, 0, 1)
        if hurt:
            s.party[0].hp = max(1, s.party[0].hp // 3)
        out.append((s, [_A] * 14))
    # levelling up into a learned move: a creature one point short of a level at which it learns a move
    learners = [(sp, at) for sp, spec in enumerate(SPECIES) for at, _ in spec.learnset if 3 <= at <= 60]
    for _ in range(3):
        sp, at = learners[int(rng.integers(len(learners)))]
        s = fresh(at - 1, 1)
        s.party[0] = party.make_mon(sp, at - 1)
        s.party[0].exp = at ** 3 - 1
        s.party[0].attack = 999
        wild_battle(s, max(2, at - 5), 1, 0)
        s.battle.enemy[0].hp = 1
        s.battle.enemy[0].speed = 1
        out.append((s, [_A] * 20))
    # losing everything: the whiteout
    s = wild_battle(fresh(5, 1), 60, 1, 0)
    s.party[0].hp, s.party[0].speed = 1, 1
    s.battle.enemy[0].attack, s.battle.enemy[0].speed = 999, 999
    out.append((s, [_A] * 20))
    # a gym leader's badge (and the abilities it unlocks), and the final win
    finals = [e for e in trainers if world.trainers[e.trainer].badge >= 0
              or (world.ev_finish >= 0 and world.trainers[e.trainer].event == world.ev_finish)]
    for e in finals[:2] + finals[-1:]:
        s = fresh(100, 1)
        s.party[0].attack, s.party[0].defense, s.party[0].speed = 2000, 2000, 500
        battle.start_trainer(s, world, e.trainer, e.index)
        out.append((s, [_A] * 45))

    # the overworld: a small tree, a boulder, water, with and without the ability
    def place_facing(s: QuestState, m: int, x: int, y: int) -> bool:
        for d in range(4):
            px, py = x - DX[d], y - DY[d]
            if TILE_WALKABLE[world.maps[m].tile(px, py)] and \
                    all((w.map, w.x, w.y) != (m, px, py) for w in world.warps):
                s.map, s.x, s.y, s.facing = m, px, py, d
                return True
        return False

    def ability(s: QuestState, which: int, on: bool) -> None:
        badge = world.ability_badge[which]
        if badge >= 0 and on:
            s.events |= 1 << world.badge_events[badge]

    for e in [e for e in world.entities if e.kind in (8, 9)][:4]:
        for on in (False, True):
            s = fresh(20, 2)
            ability(s, 0 if e.kind == 9 else 2, on)
            if place_facing(s, e.map, e.x, e.y):
                out.append((s, [_A, _A, int(s.facing), int(s.facing), _A]))
    waters = [(m.index, x, y) for m in world.maps for y in range(m.height) for x in range(m.width)
              if m.tile(x, y) == Tile.WATER]
    for m, x, y in waters[:: max(1, len(waters) // 2)][:2]:
        for on in (False, True):
            s = fresh(20, 1)
            ability(s, 1, on)
            if place_facing(s, m, x, y):
                out.append((s, [int(s.facing)] * 3 + [_RIGHT, _DOWN] * 3))
    # arriving on land while swimming, by a ledge hop and by pushing a boulder (swimming ends)
    ledges = [(m.index, x, y) for m in world.maps for y in range(1, m.height - 1) for x in range(m.width)
              if m.tile(x, y) == Tile.LEDGE and TILE_WALKABLE[m.tile(x, y - 1)]]
    for m, x, y in ledges[:2]:
        s = fresh(20, 1)
        s.map, s.x, s.y, s.facing, s.surfing = m, x, y - 1, _DOWN, True
        out.append((s, [_DOWN, _DOWN]))
    for e in [e for e in world.entities if e.kind == 8][:2]:
        s = fresh(20, 1)
        ability(s, 2, True)
        if place_facing(s, e.map, e.x, e.y):
            s.surfing = True
            out.append((s, [int(s.facing), int(s.facing)]))
    # walking in tall grass (wild encounters), back and forth
    from longplay.envs.quest.constants import TILE_ENCOUNTER

    grass = [(m.index, x, y) for m in world.maps if m.encounter_rate for y in range(m.height)
             for x in range(m.width - 1) if TILE_ENCOUNTER[m.tile(x, y)] and TILE_ENCOUNTER[m.tile(x + 1, y)]]
    for _ in range(min(3, len(grass))):
        s = fresh(30, 1)
        s.map, s.x, s.y = grass[int(rng.integers(len(grass)))]
        s.facing = _RIGHT
        out.append((s, [_RIGHT, 2, 2, _RIGHT] * 10))
    # the bag: Ward Spray, a key item of no use, a tonic on a hurt member and on a healthy one
    for held, script in ((Item.WARD_SPRAY, [_A, _A]), (Item.FERRY_PASS, [_A, _A]),
                         (Item.TONIC, [_A, _DOWN, _A, _A]), (Item.TONIC, [_A, _A, _A])):
        s = fresh(20, 2)
        s.party[1].hp = 3
        s.bag = [0] * len(s.bag)
        s.bag[held] = 1
        s.menu = 3
        out.append((s, script + [5, 5, 6, _A, _A, 5]))
    # talking to entities: items, gifts, capsules, healers, clerks, trainers (visible, not yet used)
    for kind in (2, 3, 4, 5, 6, 10):
        for e in [e for e in world.entities if e.kind == kind][:2]:
            s = fresh(30, 1 if kind != 6 else 0)
            if e.show_event >= 0:
                s.events |= 1 << e.show_event
            if e.hide_event >= 0:
                s.events &= ~(1 << e.hide_event)
            if place_facing(s, e.map, e.x, e.y):
                out.append((s, [_A] * 12))
    # the shop: too poor, then a full bag, then buying
    if world.shops:
        for money, count in ((0, 0), (99999, 99), (99999, 3)):
            s = fresh(10, 1)
            s.money = money
            s.bag = [count] * len(s.bag)
            s.menu, s.menu_choice = 5, 0
            out.append((s, [_A, _A, _DOWN, _A, _A, 5]))
    # the edges of rules, each set up so that a neighbouring rule would play differently: a catch draw equal
    # to the chance (it breaks free: caught only below it); levelling up on exactly the experience the level
    # needs, into a move that replaces the first of two equally weak ones; a ledge approached from the side
    # or from below (entered only moving down); the tile that takes Ward Spray's count to 1, on a draw that
    # would start an encounter (only the tile that takes it to 0 can); a tonic on a fainted member (no effect)
    s = fresh(20, 2)
    s.bag = [0] * len(s.bag)
    s.bag[Item.ORB] = 3
    battle.start_wild(s, world, easiest, 12)
    s.battle.messages, s.battle.phase, s.battle.cursor = [], 2, 0  # BAG, on the Orb
    foe = s.battle.enemy[0]
    chances = {battle.catch_chance(foe.species, Item.ORB, hp, foe.max_hp): hp for hp in range(1, foe.max_hp + 1)}
    s.tick = next(t for t in range(100_000) if rand(s.key, t + 1, Rng.CATCH) & 255 in chances)
    foe.hp = chances[rand(s.key, s.tick + 1, Rng.CATCH) & 255]
    out.append((s, [_A] * 12))
    by_power: dict[int, list[int]] = {}
    for m, spec in enumerate(MOVES):
        by_power.setdefault(spec.power, []).append(m)
    low = min(p for p, moves in by_power.items() if len(moves) >= 2)
    strong = [m for m, spec in enumerate(MOVES) if spec.power > low and spec.accuracy >= 100][:2]
    known = [strong[0], by_power[low][0], strong[1], by_power[low][1]]
    target = next(sp for sp in range(len(SPECIES)) if battle.effectiveness(MOVES[known[0]].type, SPECIES[sp].types))
    tie_learners = [(sp, at) for sp, at in learners
                    if all(move not in known for level, move in SPECIES[sp].learnset if level == at)]
    for sp, at in tie_learners[:: max(1, len(tie_learners) // 3)][:3]:
        s = fresh(at - 1, 1)
        s.party[0] = me = party.make_mon(sp, at - 1)
        me.moves, me.pp = list(known), [MOVES[m].pp for m in known]
        me.attack, me.speed = 999, 999
        battle.start_wild(s, world, target, 2)
        s.battle.messages, s.battle.phase, s.battle.cursor = [], 1, 0  # FIGHT, on the strong move
        s.battle.enemy[0].hp, s.battle.enemy[0].speed = 1, 1
        me.exp = max(0, at ** 3 - battle.exp_yield(target, 2, False))
        out.append((s, [_A] * 12))
    for d in (_LEFT, _RIGHT, _UP):
        sides = [(m.index, x, y) for m in world.maps for y in range(1, m.height - 1) for x in range(1, m.width - 1)
                 if m.tile(x, y) == Tile.LEDGE and TILE_WALKABLE[m.tile(x - DX[d], y - DY[d])]
                 and TILE_WALKABLE[m.tile(x, y + 1)]
                 and all((w.map, w.x, w.y) != (m.index, x - DX[d], y - DY[d]) for w in world.warps)]
        for m, x, y in sides[:2]:
            s = fresh(20, 1)
            s.map, s.x, s.y, s.facing, s.ward_steps = m, x - DX[d], y - DY[d], d, 5
            out.append((s, [d, d]))
    for m, x, y in grass[:: max(1, len(grass) // 2)][:2]:
        s = fresh(30, 1)
        s.map, s.x, s.y, s.facing, s.ward_steps = m, x, y, _RIGHT, 2
        s.tick = encounter_tick(s, m)
        out.append((s, [_RIGHT, _LEFT, _LEFT, _RIGHT, _RIGHT]))
    s = fresh(20, 2)
    s.party[1].hp = 0
    s.bag = [0] * len(s.bag)
    s.bag[Item.TONIC] = 1
    s.menu = 3
    out.append((s, [_A, _DOWN, _A, _A, 5, 5, 6]))
    # more edges: a foe whose other moves have no PP left (it picks among those with PP) or none at all (it
    # struggles); a trainer's prize money that would pass the cap; a battle met with a fainted first member
    # (the first able one goes out); the battle bag's cursor at its one item (DOWN stays on it)
    for foe_pp in ([5, 0, 0, 0], [0, 0, 0, 0]):
        s = wild_battle(fresh(40, 1), 40, 1, 0)
        s.party[0].hp = s.party[0].max_hp = 999
        foe = s.battle.enemy[0]
        foe.hp = foe.max_hp = 999
        foe.pp = [pp if move >= 0 else 0 for move, pp in zip(foe.moves, foe_pp, strict=True)]
        out.append((s, [_A] * 30))
    for e in finals[:1]:
        s = fresh(100, 1)
        s.party[0].attack, s.party[0].defense, s.party[0].speed = 2000, 2000, 500
        s.money = MAX_MONEY - 1
        battle.start_trainer(s, world, e.trainer, e.index)
        out.append((s, [_A] * 45))
    for m, x, y in grass[:1]:
        s = fresh(30, 3)
        s.party[0].hp = 0
        s.map, s.x, s.y, s.facing = m, x, y, _RIGHT
        s.tick = encounter_tick(s, m)
        out.append((s, [_RIGHT] + [_A] * 6))
    s = fresh(20, 1)
    s.bag = [0] * len(s.bag)
    s.bag[Item.ORB] = 2
    wild_battle(s, 12, 2, 0)  # BAG, on the Orb
    out.append((s, [_DOWN, _DOWN, _A, _A, _A, _A]))
    # a boulder shoved toward a warp tile (it stays: a boulder never lands on a warp)
    taken = {(e.map, e.x, e.y) for e in world.entities} | {(v.map, v.x, v.y) for v in world.warps}
    pushes = [(e.index, w, d) for e in world.entities if e.kind == 8 for w in world.warps if w.map == e.map
              for d in range(4)
              if all(TILE_WALKABLE[world.maps[w.map].tile(w.x - k * DX[d], w.y - k * DY[d])]
                     and (w.map, w.x - k * DX[d], w.y - k * DY[d]) not in taken
                     for k in (1, 2))]
    for index, w, d in pushes[:1]:
        s = fresh(20, 1)
        ability(s, 2, True)
        s.entity_x[index], s.entity_y[index] = w.x - DX[d], w.y - DY[d]
        s.map, s.x, s.y, s.facing = w.map, w.x - 2 * DX[d], w.y - 2 * DY[d], d
        out.append((s, [d, d, d]))
    return out


def ref_rng_key(seed: int) -> int:
    """The reference episode key of ``seed``."""
    from longplay.envs.quest.rng import episode_key

    return episode_key(seed)


def replay_scripts(lockstep: Lockstep, scripts: list[tuple[QuestState, list[int]]], fill_seed: int = 0) -> None:
    """:func:`replay_pieces` for :func:`targeted_states` (scripts of different lengths)."""
    pieces = [(s, np.array(acts)) for s, acts in scripts]
    replay_pieces(lockstep, pieces, fill_seed)
