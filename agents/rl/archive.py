"""Archive starts: episodes that begin where earlier episodes reached a milestone (Go-Explore's "return").

A long chain of milestones is hard for PPO because each link is practised only by the episodes that got
through every link before it. With ``--archive-starts F`` the device learner keeps, for each number of
milestones reached (a *stage*), up to ``capacity`` game states that its own envs stood in right after
reaching that many milestones, and starts a fraction ``F`` of the episodes from one of them instead of the
world's start. Nothing comes from outside the run (no oracle, no saved game): the archive holds only states
the policy reached itself, so the later links get practised as soon as one env gets through.

The stage of each archived start is chosen with weight ``1 / sqrt(1 + n)``, ``n`` the starts already taken
from it (new stages are tried first, none is starved), and the state within it uniformly. Each start gets a
fresh random key, so wild encounters and battle rolls differ between starts from one state.

``cell="level"`` archives by strength instead: a cell is (milestones reached, lead creature's level), and a
state is offered when an env's lead reaches a level it had not reached yet in its episode. Starts then come
from every level the run's envs reached, so what a strong party should do (walk into the gym once the lead
can beat its leader) is practised from the strong states themselves, not only by the episodes that grind
there from the world's start. ``episode_steps`` gives archived starts their own, shorter episode limit, so
more of them are played.

``cell="position"`` is Go-Explore's own cell: (milestones reached, map, x // 4, y // 4; ``cell_tiles`` sets the
square's side), a state offered the first time an env stands in that square in its episode, so starts come from
every place the run reached and the frontier gets explored from; ``frontier`` starts the squares envs rarely
stood in more often (Go-Explore's count score). ``cell="position_level"`` adds the lead's level // 4: a place
reached with a stronger lead is a new cell, so the gym entered at level 12 is a start of its own (and new, so
tried first) beside the gym entered at level 6, and so is each square further in (the aisle past the gym's
trainers). A place start picks a map first (weight ``1 / sqrt(1 + n)``, ``n`` the starts taken from its cells),
then a cell in it as above, so a small map (the gym: 3% of the cells) is started from as often as a big one (the
town and the lane: three quarters of them).

``explore_steps`` adds Go-Explore's explore phase: before an archived start's episode begins, its state is
walked on by 0 to ``explore_steps`` random presses of the policy's buttons on the reference engine (on the
host; the archived state itself is left as it was). The policy returns to a place and may then only ever go
back the way it came (a policy that walks into the gym and straight out again); random presses from there
reach the squares next to it, which become cells of their own, and start the policy where it had never been.

``focus`` trains the policy where it stops: that fraction of archived starts is drawn from the cells of the
*stall*: the number of milestones and (place cells) the map at which episodes from the world's start most often end
(a histogram of those episodes' ends, each new end weighing ``1 / STALL_WINDOW`` of it). Among those cells, a cell
is drawn with weight ``p (1 - p) + FOCUS_FLOOR``, ``p`` the share of the archived episodes started from it that
reached one more milestone (``(wins + FOCUS_PRIOR) / (tries + 1)``, both counts decayed by ``FOCUS_DECAY`` at each
try): the cells where the policy sometimes gets on and sometimes not come first (the *good* cells, ``FOCUS_GOOD <=
p <= 1 - FOCUS_GOOD``, get all but a ``FOCUS_SPREAD`` share of the focused starts while there are any), as in
reverse curriculum generation (Florensa et al., 2017), not those it always leaves by the next milestone nor those
it never does. A start's outcome includes its explore phase: the random presses that carry a start from the cell by
the one-tile exit onto the lane make that cell good, and the policy is started there until it gets on by itself. A
policy that takes the partner and then walks round the town, never finding its one-tile exit, gets most of its
archived starts in the town after the partner, first by the exit, then further back as it learns the way from there
(the backward algorithm of learning from a demonstration, with the archive as the demonstration), rather than most
of its starts further on, where the archive is largest and the policy from the world's start never arrives.

Evaluation never uses the archive: evaluation episodes start at the world's start on the reference env, so
they measure the whole chain. Training statistics (``charts/milestones``, milestone rates) count an
archived start's milestones as reached in its episode.

It needs an engine with reference states (``state_of``, ``load_states``: the quest batched engine) and reads
a few values back to the host each step, which costs nothing on CPU and a sync per step on CUDA.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import numpy as np
import torch

from longplay.agents.rl.config import ARCHIVE_CELLS
from longplay.agents.rl.stamps import EpisodeStamps
from longplay.envs.game import Button

#: ``cell="position"``: a cell is this many tiles square (by default; ``cell_tiles``).
POSITION_TILES = 4
#: ``cell="position"``: states kept per cell (the archive's ``capacity`` when smaller).
POSITION_CAPACITY = 4
#: ``cell="position"``: offers read per step at most (a random few of the envs that entered a new cell).
POSITION_OFFERS = 16
#: ``cell="position"``: the per-env "stood there this episode" table has 2 ** this many slots.
POSITION_BITS = 12
#: ``cell="position_level"``: a cell spans this many levels of the lead creature.
POSITION_LEVELS = 4
#: ``focus``: the stall histogram weighs each new episode end 1 / this (it holds about the last this many).
STALL_WINDOW = 256
#: ``focus``: stages and maps counted (counts and map ids above these are counted as the last).
MAX_STAGES, MAX_MAPS = 64, 256
#: ``focus``: a stall cell's weight ``p (1 - p) + FOCUS_FLOOR``, ``p = (wins + FOCUS_PRIOR) / (tries + 1)`` over
#: its archived episodes (a win: one more milestone reached), counts decayed by ``FOCUS_DECAY`` at each try.
FOCUS_FLOOR, FOCUS_PRIOR, FOCUS_DECAY = 0.01, 0.1, 0.95
#: ``focus``: the *good* stall cells, tried and with ``FOCUS_GOOD <= p <= 1 - FOCUS_GOOD`` (reverse curriculum
#: generation's good starts), get all focused starts but a ``FOCUS_SPREAD`` share, which goes over every stall
#: cell by the weight above (all of them while no cell is good).
FOCUS_GOOD, FOCUS_SPREAD = 0.1, 0.1
#: The cells that are places (``position``, ``position_level``).
PLACE_CELLS = ("position", "position_level")


class StartArchive:
    """States reached right after each milestone count, and the starts drawn from them (module docstring).

    Args:
        engine: The batched quest engine (``state_of``, ``load_states``, ``milestones``, ``world_of_env``).
        fraction: Probability that a finished env's next episode starts from the archive.
        capacity: States kept per cell (reservoir sampling keeps a uniform sample of all offered).
        seed: Seeds the draws (which envs, cells, states) and the fresh random keys.
        cell: ``milestones`` (a cell per number of milestones reached, the state right after reaching it),
            ``level`` (a cell per (milestones, lead level), the state right after the lead reaches that level),
            ``flags`` (a cell per (milestones, event flags, lead level), the state right after either
            count rises), ``position`` (a cell per (milestones, map, x // 4, y // 4), the state where an
            env first stood in it in its episode) or ``position_level`` (as ``position``, per
            lead level // :data:`POSITION_LEVELS` too).
        episode_steps: Episode limit of an archived start (0: the engine's own).
        explore_steps: Random presses (0 to this many) walked from an archived state before its start.
        buttons: The buttons those presses choose from (the policy's; default every button).
        frontier: Place cells: a cell's weight within its map is also divided by ``sqrt(1 + n)``, ``n`` the
            times an env stood there first in an episode (its offers), so rarely reached cells start more.
        cell_tiles: Place cells: a cell's square is this many tiles a side.
        focus: Fraction of starts drawn from the stall's cells only (see the module docstring).
    """

    def __init__(self, engine: Any, fraction: float, capacity: int = 64, seed: int = 0, cell: str = "milestones",
                 episode_steps: int = 0, explore_steps: int = 0, buttons: tuple[int, ...] | None = None,
                 frontier: bool = False, cell_tiles: int = POSITION_TILES, focus: float = 0.0) -> None:
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(f"archive_starts must be in [0, 1], got {fraction}")
        if cell not in ARCHIVE_CELLS:
            raise ValueError(f"invalid archive_cell {cell!r}; valid: {', '.join(ARCHIVE_CELLS)}")
        needs = ("state_of", "load_states", "milestones", "world_of", "worlds", "lead_level") \
            + (("flag_count",) if cell == "flags" else ()) + (("state",) if cell in PLACE_CELLS else ())
        for name in needs:
            if not hasattr(engine, name):
                raise ValueError("archive starts need the quest batched engine (reference states); "
                                 f"{type(engine).__name__} has no {name}")
        self.engine = engine
        self.fraction = fraction
        self.capacity = capacity
        self.rng = np.random.default_rng(seed)
        self.cell = cell
        self.episode_steps = episode_steps
        self.explore_steps = explore_steps
        self.buttons = tuple(buttons) if buttons else tuple(range(len(Button)))
        self.frontier = frontier and cell in PLACE_CELLS
        self.cell_tiles = cell_tiles
        self.focus = focus
        # cell -> QuestStates, a cell being (world index, stage), (world index, stage, lead level), (world
        # index, stage, flags, lead level) or (world index, stage, map, x // 4, y // 4), with lead level // 4
        # last for position_level; a state only starts envs of its own world (a world pool)
        self.states: dict[tuple[int, ...], list[Any]] = {}
        self.offered: dict[tuple[int, ...], int] = {}  # states offered (for the reservoir)
        self.taken: dict[tuple[int, ...], int] = {}  # starts drawn
        self.map_taken: dict[tuple[int, int], int] = {}  # place cells: starts drawn per (world index, map)
        self._keys: dict[int, dict[int, list[tuple[int, ...]]]] | None = None  # see _keys_by_map; None: rebuild
        self._stage_keys: dict[tuple[int, ...], dict[int, list[tuple[int, ...]]]] = {}  # by (world, stall)
        self.best_level = engine.lead_level().clone()  # cell="level"/"flags": the best lead level of each episode
        self.best_flags = engine.flag_count().clone() if cell == "flags" else None  # and the most flags
        # place cells: which cells (hashed into slots) each env has stood in this episode
        self.visited = EpisodeStamps(len(self.best_level), 2 ** POSITION_BITS, self.best_level.device) \
            if cell in PLACE_CELLS else None
        # focus: where episodes from the world's start end (a decaying histogram over (milestones, map)), where
        # every running episode stood as of the last step, and which running episodes the archive started
        device = self.best_level.device
        self.stall_ends = torch.zeros(MAX_STAGES * MAX_MAPS, dtype=torch.float64, device=device)
        self.progress = self._stall_bins()
        self.ended_progress = self.progress.clone()  # the bins before the last step (where ended episodes ended)
        self.started = torch.zeros(len(self.best_level), dtype=torch.bool, device=device)
        self.ended_from_start = torch.zeros_like(self.started)  # the episodes from the world's start that ended
        self.start_cell: dict[int, tuple[int, ...]] = {}  # env -> the cell its running archived episode began in
        self.outcomes: dict[tuple[int, ...], tuple[float, float]] = {}  # cell -> decayed (tries, wins)

    def record(self, milestone_reward: torch.Tensor, done: torch.Tensor) -> None:
        """Archives the envs that reached a milestone (``cell="level"``: a new best lead level; ``"flags"``: that or
        a new event flag; ``"position"``, ``"position_level"``: a cell not stood in before in the episode) this
        step and did not end their episode on it; counts where episodes from the world's start ended."""
        self.ended_from_start = done & ~self.started  # read by the milestone rates too
        self.started &= ~done
        if self.focus:
            self._count_ends()
        if self.cell in PLACE_CELLS:
            got, places = self._new_places(done)
        elif self.cell in ("level", "flags"):
            level = self.engine.lead_level()
            rose = level > self.best_level
            self.best_level = torch.where(done, level, torch.maximum(self.best_level, level))
            if self.best_flags is not None:
                flags = self.engine.flag_count()
                rose |= flags > self.best_flags
                self.best_flags = torch.where(done, flags, torch.maximum(self.best_flags, flags))
            got = torch.nonzero(rose & ~done).flatten().tolist()
            levels = level[got].tolist() if got else []
            counts = flags[got].tolist() if got and self.best_flags is not None else []
        else:
            got = torch.nonzero((milestone_reward > 0) & ~done).flatten().tolist()
        if not got:
            return
        stages = self.engine.milestones[got].tolist()
        capacity = min(self.capacity, POSITION_CAPACITY) if self.cell in PLACE_CELLS else self.capacity
        for i, (env, stage) in enumerate(zip(got, stages, strict=True)):
            key = (int(self.engine.world_of[env]), int(stage))
            if self.cell == "flags":
                key = (*key, int(counts[i]))
            if self.cell in ("level", "flags"):
                key = (*key, int(levels[i]))
            if self.cell in PLACE_CELLS:
                key = (*key, *places[i])
            offered = self.offered.get(key, 0)
            self.offered[key] = offered + 1
            if key not in self.states:
                self._keys = None
            kept = self.states.setdefault(key, [])
            if len(kept) < capacity:
                kept.append(self.engine.state_of(env))
            else:
                slot = int(self.rng.integers(0, offered + 1))
                if slot < capacity:
                    kept[slot] = self.engine.state_of(env)

    def _count_ends(self) -> None:
        """Adds the episodes from the world's start that ended this step to the stall histogram (their milestones
        and map as of the step before: the end's own step is read after the reset), without a host sync."""
        ended = self.ended_from_start
        counts = torch.bincount(self.progress, weights=ended.double(), minlength=len(self.stall_ends))
        self.stall_ends.mul_((1.0 - 1.0 / STALL_WINDOW) ** ended.sum()).add_(counts / STALL_WINDOW)
        self.ended_progress, self.progress = self.progress, self._stall_bins()

    def _stall_bins(self) -> torch.Tensor:
        """Every env's (milestones, map) as one bin of the stall histogram (map 0 for cells that are no places)."""
        stage = self.engine.milestones.long().clamp(0, MAX_STAGES - 1)
        place = self.engine.state.map.long().clamp(0, MAX_MAPS - 1) if self.cell in PLACE_CELLS else 0
        return stage * MAX_MAPS + place

    def stall(self) -> tuple[int, int] | None:
        """(milestones, map) where episodes from the world's start most often end (None before one has)."""
        if not bool(self.stall_ends.any()):
            return None
        return divmod(int(self.stall_ends.argmax()), MAX_MAPS)

    def _places(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every env's place as (map, x // ``cell_tiles``, y // ``cell_tiles``) columns (``position_level``: and
        lead level // 4), and its slot in ``visited``."""
        state = self.engine.state
        columns = [state.map.long(), state.x.long() // self.cell_tiles, state.y.long() // self.cell_tiles]
        if self.cell == "position_level":
            columns.append(self.engine.lead_level().long() // POSITION_LEVELS)
        place = torch.stack(columns, dim=1)
        stage = self.engine.milestones.long()
        cell = ((stage * 256 + place[:, 0]) * 64 + place[:, 1]) * 64 + place[:, 2]
        if self.cell == "position_level":
            cell = cell * 32 + place[:, 3]
        slot = ((cell * 2654435761) % 2**32) >> (32 - POSITION_BITS)  # Knuth's multiplicative hash
        return place, slot

    def _new_places(self, done: torch.Tensor) -> tuple[list[int], list[tuple[int, ...]]]:
        """Place cells: marks where each env stands; returns up to :data:`POSITION_OFFERS` of the envs that stand
        in a cell for the first time in their episode (a random few), with their cells."""
        assert self.visited is not None
        place, slot = self._places()
        new = self.visited.first(slot) & ~done
        self.visited.new_episode(done)  # a finished env's new episode marks its first cell next step
        got = torch.nonzero(new).flatten().tolist()
        if len(got) > POSITION_OFFERS:
            got = sorted(int(e) for e in self.rng.choice(got, POSITION_OFFERS, replace=False))
        return got, [tuple(row) for row in place[got].tolist()] if got else []

    def restart(self, done: torch.Tensor) -> list[int]:
        """Moves a ``fraction`` of the envs that just finished onto archived states; returns those envs.

        The engine has already reset them to the world's start; their observation must be read again.
        """
        if not self.states or self.fraction == 0.0:
            return []
        from longplay.envs.quest.rng import episode_key

        chosen, states = [], []
        ended = torch.nonzero(done).flatten().tolist()
        if self.focus:
            self._count_outcomes(ended)
        stall = self.stall() if self.focus else None
        for env in ended:
            if self.rng.random() >= self.fraction:
                continue
            world = int(self.engine.world_of[env])
            by_map = self._keys_by_map().get(world)
            focused = stall is not None and bool(by_map) and self.rng.random() < self.focus
            if focused:  # the stall's cells only
                by_map = self._stall_keys_by_map(world, *stall) or by_map
            if not by_map:
                continue
            if self.cell in PLACE_CELLS:  # a map first, each as often as the others, then a cell in it
                maps = list(by_map)
                weights = np.array([1.0 / np.sqrt(1.0 + self.map_taken.get((world, m), 0)) for m in maps])
                keys = by_map[maps[int(self.rng.choice(len(maps), p=weights / weights.sum()))]]
            else:
                keys = by_map[-1]
            if focused:  # the cells the policy sometimes gets on from first
                weights = self._focus_weights(keys)
            else:
                weights = np.array([1.0 / np.sqrt(1.0 + self.taken.get(k, 0)) for k in keys])
                if self.frontier:  # and by how rarely envs stood there: the frontier first
                    weights /= np.sqrt(1.0 + np.array([self.offered[k] for k in keys]))
            key = keys[int(self.rng.choice(len(keys), p=weights / weights.sum()))]
            if self.focus:
                self.start_cell[env] = key
            self.taken[key] = self.taken.get(key, 0) + 1
            if self.cell in PLACE_CELLS:
                self.map_taken[world, key[2]] = self.map_taken.get((world, key[2]), 0) + 1
            kept = self.states[key]
            state = dataclasses.replace(kept[int(self.rng.integers(0, len(kept)))],
                                        key=episode_key(int(self.rng.integers(0, 2**62))))
            if self.explore_steps:
                state = self._explore(state, self.engine.worlds[world])
            chosen.append(env)
            states.append(state)
        if chosen:
            self.engine.load_states(chosen, states)
            idx = torch.as_tensor(chosen, device=self.best_level.device)
            self.started[idx] = True
            self.progress[idx] = self._stall_bins()[idx]
            self.best_level[idx] = self.engine.lead_level()[idx]
            if self.best_flags is not None:
                self.best_flags[idx] = self.engine.flag_count()[idx]
            if self.visited is not None:
                started = torch.zeros_like(self.best_level, dtype=torch.bool)
                self.visited.new_episode(started.index_fill_(0, idx, True))
            if self.episode_steps:
                self.engine.episode_limit[idx] = self.engine.episode_length[idx] + self.episode_steps
        return chosen

    def _count_outcomes(self, ended: list[int]) -> None:
        """Counts a try for the cell each archived episode that just ended began in, and a win where it ended
        with more milestones than that cell's (one read of the ended envs' milestones)."""
        begun = [(env, self.start_cell.pop(env)) for env in ended if env in self.start_cell]
        if not begun:
            return
        stages = (self.ended_progress[torch.as_tensor([env for env, _ in begun])] // MAX_MAPS).tolist()
        for (_, key), stage in zip(begun, stages, strict=True):
            tries, wins = self.outcomes.get(key, (0.0, 0.0))
            self.outcomes[key] = (tries * FOCUS_DECAY + 1.0, wins * FOCUS_DECAY + float(stage > key[1]))

    def _focus_weights(self, keys: list[tuple[int, ...]]) -> np.ndarray:
        """The stall cells' weights: ``p (1 - p)`` over the good cells (``FOCUS_GOOD``), or, in a
        ``FOCUS_SPREAD`` share of draws and while none is good, ``p (1 - p) + FOCUS_FLOOR`` over all."""
        counts = np.array([self.outcomes.get(k, (0.0, 0.0)) for k in keys]).reshape(-1, 2)
        p = (counts[:, 1] + FOCUS_PRIOR) / (counts[:, 0] + 1.0)
        score = p * (1.0 - p)
        good = (counts[:, 0] > 0) & (p >= FOCUS_GOOD) & (p <= 1.0 - FOCUS_GOOD)
        if good.any() and self.rng.random() >= FOCUS_SPREAD:
            return score * good
        return score + FOCUS_FLOOR

    def _keys_by_map(self) -> dict[int, dict[int, list[tuple[int, ...]]]]:
        """world index -> map -> its cells in order (place cells; other cells all under map -1), kept until a new
        cell comes (a start reads it, so it is not rebuilt from every cell for each start)."""
        if self._keys is None:
            self._stage_keys = {}
            keys: dict[int, dict[int, list[tuple[int, ...]]]] = {}
            for key in sorted(self.states):
                place = key[2] if self.cell in PLACE_CELLS else -1
                keys.setdefault(key[0], {}).setdefault(place, []).append(key)
            self._keys = {world: dict(sorted(by_map.items())) for world, by_map in keys.items()}
        return self._keys

    def _stall_keys_by_map(self, world: int, stage: int, place: int) -> dict[int, list[tuple[int, ...]]]:
        """:meth:`_keys_by_map` of one world, keeping only the cells of one stage and, for place cells, of map
        ``place`` when it has any (else the stage's cells on every map)."""
        by_map = self._keys_by_map().get(world, {})  # (rebuilt after a new cell, and then these too)
        found = self._stage_keys.get((world, stage, place))
        if found is None:
            found = {m: kept for m, keys in by_map.items() if (kept := [k for k in keys if k[1] == stage])}
            if place in found and self.cell in PLACE_CELLS:
                found = {place: found[place]}
            self._stage_keys[world, stage, place] = found
        return found

    def _explore(self, state: Any, world: Any) -> Any:
        """A copy of ``state`` walked on by 0 to ``explore_steps`` random presses (the explore phase); stops early
        where the game finishes."""
        from longplay.envs.quest.engine import step

        state = copy.deepcopy(state)
        for _ in range(int(self.rng.integers(0, self.explore_steps + 1))):
            if state.finished:
                break
            step(state, world, self.buttons[int(self.rng.integers(0, len(self.buttons)))])
        return state

    def summary(self) -> dict[str, float]:
        """``charts/archive/...`` scalars: states kept and starts taken per stage (summed over levels), and with
        ``focus`` the stall's stage and map."""
        out: dict[str, float] = {}
        for (_, stage, *_), kept in sorted(self.states.items()):
            name = f"charts/archive/states_stage{stage}"
            out[name] = out.get(name, 0.0) + len(kept)
        for (_, stage, *_), taken in sorted(self.taken.items()):
            name = f"charts/archive/starts_stage{stage}"
            out[name] = out.get(name, 0.0) + taken
        if self.focus and (stall := self.stall()) is not None:
            out["charts/archive/stall_stage"], out["charts/archive/stall_map"] = map(float, stall)
        return out

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps: the archived states as save states, the counts and the RNG."""
        from longplay.envs.quest.savestate import save

        worlds = self.engine.worlds
        return {"states": [(k, [save(st, worlds[k[0]]) for st in kept]) for k, kept in self.states.items()],
                "offered": list(self.offered.items()), "taken": list(self.taken.items()),
                "rng": self.rng.bit_generator.state, "stall_ends": self.stall_ends.tolist(),
                "outcomes": [(k, *v) for k, v in self.outcomes.items()]}

    def load_state_dict(self, data: dict[str, Any]) -> None:
        """Restores :meth:`state_dict` (on resume)."""
        from longplay.envs.quest.savestate import load

        worlds = self.engine.worlds
        self.states = {tuple(k): [load(b, worlds[k[0]]) for b in kept] for k, kept in data["states"]}
        self.offered = {tuple(k): int(v) for k, v in data["offered"]}
        self.taken = {tuple(k): int(v) for k, v in data["taken"]}
        self.map_taken = {}
        if self.cell in PLACE_CELLS:
            for key, taken in self.taken.items():
                self.map_taken[key[0], key[2]] = self.map_taken.get((key[0], key[2]), 0) + taken
        self._keys = None
        self.rng.bit_generator.state = data["rng"]
        self.outcomes = {tuple(k): (float(t), float(w)) for k, t, w in data.get("outcomes", ())}
        if len(data.get("stall_ends", ())) == len(self.stall_ends):  # (older checkpoints: a new histogram)
            self.stall_ends = torch.tensor(data["stall_ends"], dtype=torch.float64, device=self.stall_ends.device)
