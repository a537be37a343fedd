"""What the batched subsystems share: the per-step context, entity and cell queries, and masked writes.

Masked writes follow one pattern: a write that should happen "if ``mask``" targets a real index where the
mask holds and a scratch index elsewhere (an event column, the dummy entity, a party or bag slot past the
end), so it is one ``scatter`` with no branch and no ``where`` over the whole array.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from longplay.envs.quest.batched.state import (
    EXP,
    HP,
    LEVEL,
    MAX_HP,
    MON_WIDTH,
    MOVES,
    PP,
    SPECIES,
    BatchedState,
)
from longplay.envs.quest.batched.tables import E_, PAD, ContentTables, WorldTables, pack_page
from longplay.envs.quest.battle import MAIN_GRID, BattleMsg, Outcome
from longplay.envs.quest.constants import (
    DX,
    DY,
    PARTY_SIZE,
    Ability,
    BattleKind,
    BattlePhase,
    Direction,
    Effect,
    EntityKind,
    Item,
    MenuKind,
    Rng,
)
from longplay.envs.quest.dialog import Msg


def _ints(enum: type) -> type:
    """An enum as a class of plain int attributes (tensor code compares with ints: ``torch.compile`` traces
    plain ints as constants)."""
    return type(enum.__name__, (), {member.name: int(member) for member in enum})  # type: ignore[attr-defined]


ABILITY, BKIND, PHASE, DIR, EFFECT, EK, ITEM, MENU, RNG = (
    _ints(e) for e in (Ability, BattleKind, BattlePhase, Direction, Effect, EntityKind, Item, MenuKind, Rng))
BMSG, OUT, MSG = _ints(BattleMsg), _ints(Outcome), _ints(Msg)


@dataclass
class Ctx:
    """Everything a step reads besides the state: the tables and each env's offsets into them."""

    t: WorldTables
    c: ContentTables
    world: torch.Tensor  # int64 [N] world of each env
    map_base: torch.Tensor  # int32 [N] world * M
    ent_base: torch.Tensor  # int32 [N] world * (E + 1)
    trainer_base: torch.Tensor  # int32 [N] world * T
    shop_base: torch.Tensor  # int32 [N] world * S
    env_specials: torch.Tensor = field(init=False)  # [N, 7] and so on: world tables per env
    env_ability_col: torch.Tensor = field(init=False)
    env_badge_cols: torch.Tensor = field(init=False)
    env_boulder_vis: torch.Tensor = field(init=False)
    env_boulders: torch.Tensor = field(init=False)
    env_boulder_map: torch.Tensor = field(init=False)
    env_start: torch.Tensor = field(init=False)
    env_respawn: torch.Tensor = field(init=False)
    env_boulder_xy: torch.Tensor = field(init=False)
    env_init_events: torch.Tensor = field(init=False)
    main_grid: torch.Tensor = field(init=False)  # battle.MAIN_GRID, flat
    no_enemy: torch.Tensor = field(init=False)  # the vector's enemy fields when there is none
    dx: torch.Tensor = field(init=False)  # int32 [4]
    dy: torch.Tensor = field(init=False)
    slots: torch.Tensor = field(init=False)  # int32 [PARTY_SIZE] 0..5

    def __post_init__(self) -> None:
        dev = self.world.device
        self.dx = torch.tensor(DX, dtype=torch.int32, device=dev)
        self.dy = torch.tensor(DY, dtype=torch.int32, device=dev)
        self.slots = torch.arange(PARTY_SIZE, dtype=torch.int32, device=dev)
        self.main_grid = torch.tensor([v for row in MAIN_GRID for v in row], dtype=torch.int32, device=dev)
        self.no_enemy = torch.tensor([-1, 0, 0, 0], dtype=torch.int32, device=dev)
        # per-world tables as per-env constants (one world: broadcast views, no copies)
        t, n = self.t, self.world.shape[0]
        for name in ("specials", "ability_col", "badge_cols", "boulder_vis", "boulders", "boulder_map", "start",
                     "respawn", "boulder_xy", "init_events"):
            table = getattr(t, name)
            value = table[:1].expand(n, *table.shape[1:]) if table.shape[0] == 1 else table[self.world]
            setattr(self, "env_" + name, value)
        self.env_ability_col = self.env_ability_col.long()
        self.env_badge_cols = self.env_badge_cols.long()
        self.env_boulder_vis = self.env_boulder_vis.long()

    def subset(self, idx: torch.Tensor) -> Ctx:
        """The context of the envs ``idx`` (int64 [P]), for rules run on those envs' state only."""
        return Ctx(t=self.t, c=self.c, world=self.world[idx], map_base=self.map_base[idx],
                   ent_base=self.ent_base[idx], trainer_base=self.trainer_base[idx], shop_base=self.shop_base[idx])

    @property
    def dummy(self) -> int:
        """The dummy entity: never visible; 'no entity'."""
        return self.t.num_entities

    # ------------------------------------------------------------------------------------------ cells
    def cell(self, map_index: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Flat cell index of (map, x, y) per env [N]; coordinates up to PAD off the map read VOID cells."""
        t = self.t
        return (self.map_base + map_index) * t.cells_per_map + (y + PAD) * t.wp + (x + PAD)

    # ------------------------------------------------------------------------------------------ entities
    def rows(self, entity: torch.Tensor) -> torch.Tensor:
        """Entity table rows (world-local entity ids of any shape) -> [..., len(ENT_COLS)]."""
        base = self.ent_base.view(-1, *([1] * (entity.dim() - 1)))
        return take(self.t.ent, base + entity)


def visible(s: BatchedState, entity: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``overworld.visible`` of entities [N, K] (rows from :meth:`Ctx.rows`)."""
    n = entity.shape[0]
    flat = entity.reshape(n, -1)
    r = rows.reshape(n, flat.shape[1], -1)
    show = s.events.gather(1, r[..., E_["show_col"]])
    hide = s.events.gather(1, r[..., E_["hide_col"]])
    done = s.done.gather(1, flat) & (r[..., E_["hidden_when_done"]] != 0)
    return (show & ~hide & ~done).reshape(entity.shape)


def boulder_visible(s: BatchedState, cx: Ctx) -> torch.Tensor:
    """Visibility of each world's boulders [N, B] (show and hide events only: boulders are never done)."""
    cols = cx.env_boulder_vis  # [N, B, 2]
    return s.events.gather(1, cols[..., 0]) & ~s.events.gather(1, cols[..., 1])


def entity_at(s: BatchedState, cx: Ctx, cell: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
              boulder_vis: torch.Tensor | None) -> torch.Tensor:
    """``overworld.entity_at`` on the current map: the first visible fixed entity of ``cell``, else the first
    visible boulder at (x, y), else the dummy entity."""
    cand = take(cx.t.cell_entities, cell)  # [N, K]
    vis = visible(s, cand, cx.rows(cand))
    first = vis.to(torch.uint8).argmax(1, keepdim=True)
    found = vis.any(1)
    fixed = cand.gather(1, first).squeeze(1)
    out = torch.where(found, fixed, cx.dummy)
    if boulder_vis is not None and cx.t.num_boulders:
        bxy = s.boulder_xy[:, :-1]
        on = (cx.env_boulder_map == s.map[:, None]) & (bxy[..., 0] == x[:, None]) \
            & (bxy[..., 1] == y[:, None]) & boulder_vis
        bfirst = on.to(torch.uint8).argmax(1, keepdim=True)
        boulder = cx.env_boulders.gather(1, bfirst).squeeze(1)
        out = torch.where(found, out, torch.where(on.any(1), boulder, cx.dummy))
    return out


# ============================================================================================ writes


def put(table: torch.Tensor, col: torch.Tensor, values: torch.Tensor | bool) -> None:
    """``table[i, col[i, j]] = values[i, j]`` for every env ``i`` (``values`` broadcasts to ``col`` [N, k]).

    ``scatter_(1, col, values)`` in effect, as ``index_put_`` when compiled: inductor writes an ``index_put_``
    into the state's tensor in place, while a ``scatter_`` becomes a copy of the whole tensor and a copy back.
    Eager, ``scatter_`` is the faster op.
    """
    if not torch.compiler.is_compiling():
        extra = table.shape[2:]  # a record per column (boulder positions): the index covers its fields
        index = col.view(*col.shape, *[1] * len(extra)).expand(*col.shape, *extra)
        if isinstance(values, torch.Tensor):
            table.scatter_(1, index, values.to(table.dtype).expand(index.shape))
        else:  # a plain value: scatter_'s own overload (a tensor made of it would be a host-to-device copy,
            table.scatter_(1, index, values)  # which a CUDA graph cannot capture)
        return
    rows = torch.arange(table.shape[0], device=table.device)[:, None]
    table.index_put_((rows, col), torch.as_tensor(values, dtype=table.dtype, device=table.device))


def set_events(s: BatchedState, cols: list[torch.Tensor]) -> None:
    """Sets event columns [N] each (scratch where nothing is to be set)."""
    put(s.events, torch.stack(cols, 1).long(), True)


def event_col(mask: torch.Tensor, col: torch.Tensor, cx: Ctx) -> torch.Tensor:
    """``col`` where ``mask``, else the scratch column."""
    return torch.where(mask, col, cx.t.col_scratch)


def has_event(s: BatchedState, col: torch.Tensor) -> torch.Tensor:
    """Event column ``col`` [N] set?"""
    return s.events.gather(1, col.long()[:, None]).squeeze(1)


def mark_done(s: BatchedState, entities: torch.Tensor) -> None:
    """Marks entities [N, k] done (pass the dummy entity where nothing is to be marked)."""
    put(s.done, entities.long(), True)


def party_valid(s: BatchedState, cx: Ctx) -> torch.Tensor:
    """[N, 6] slot < party size."""
    return cx.slots[None, :] < s.party_count[:, None]


def first_able(mons: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """``party.first_able`` of records [N, S, W] with ``count`` real ones: the index, or -1."""
    slots = torch.arange(mons.shape[1], device=mons.device, dtype=torch.int32)
    able = (mons[:, :, HP] > 0) & (slots[None, :] < count[:, None])
    return torch.where(able.any(1), able.to(torch.uint8).argmax(1).to(torch.int32), -1)


def running_count(flags: torch.Tensor) -> torch.Tensor:
    """``flags.to(int32).cumsum(1)`` for a few columns [N, k], as k additions when compiled: inductor leaves a
    ``cumsum`` to an aten call (about 0.15 ms a step at 16,384 envs), and fuses additions into the step's
    loops. Eager, one ``cumsum`` is the faster."""
    if not torch.compiler.is_compiling():
        return flags.to(torch.int32).cumsum(1)
    total = flags[:, 0].to(torch.int32)
    counts = [total]
    for k in range(1, flags.shape[1]):
        total = total + flags[:, k].to(torch.int32)
        counts.append(total)
    return torch.stack(counts, 1)


def take(table: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """``table[index]`` for an index tensor of any shape, as one ``index_select`` of rows (much faster on CPU
    than advanced indexing)."""
    return table.index_select(0, index.reshape(-1)).view(*index.shape, *table.shape[1:])


def _record_rows(mons: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows of ``mons`` [N, S, W] viewed as [N * S, W] of the slots ``index`` ([N] or [N, k]) of each env."""
    n, slots = mons.shape[0], mons.shape[1]
    base = torch.arange(n, device=mons.device, dtype=torch.int32) * slots
    return base.view(n, *[1] * (index.dim() - 1)) + index.to(torch.int32).clamp(0, slots - 1)


def gather_mon(mons: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Record ``index`` [N] of ``mons`` [N, S, W] -> [N, W]."""
    return mons.view(-1, mons.shape[2]).index_select(0, _record_rows(mons, index))


def scatter_mon(mons: torch.Tensor, index: torch.Tensor, mask: torch.Tensor, record: torch.Tensor) -> None:
    """Writes ``record`` [N, W] at ``index`` where ``mask`` (else at the scratch slot, the last one)."""
    rows = _record_rows(mons, torch.where(mask, index, mons.shape[1] - 1))
    mons.view(-1, mons.shape[2]).index_copy_(0, rows.long(), record)


@dataclass
class MonWrites:
    """Creature records to write into a record array: ``record[:, k]`` into slot ``slot[:, k]`` where
    ``mask[:, k]`` (``[N, k]``, ``[N, k]``, ``[N, k, W]``; elsewhere the scratch slot, the last, takes it).

    The overworld and menu rules return their party writes as these instead of writing them, and the engine
    writes them all at once: :meth:`apply` (one ``index_copy_``) in the one-graph step, :meth:`apply_where_set`
    between the graphs of the CPU step. Compiled, several in-place writes into the party with reads between
    made inductor copy the whole party (448 bytes per env) and copy it back every step.
    """

    mask: torch.Tensor
    slot: torch.Tensor
    record: torch.Tensor

    @staticmethod
    def one(index: torch.Tensor, mask: torch.Tensor, record: torch.Tensor) -> MonWrites:
        """``record`` [N, W] at ``index`` [N] where ``mask`` [N]."""
        return MonWrites(mask[:, None], index[:, None], record[:, None])

    def __add__(self, other: MonWrites) -> MonWrites:
        return MonWrites(torch.cat([self.mask, other.mask], 1), torch.cat([self.slot, other.slot], 1),
                         torch.cat([self.record, other.record], 1))

    def apply(self, mons: torch.Tensor) -> None:
        """Writes into ``mons`` [N, S, W] in place. Two writes of one env to one slot must carry the same
        record (which one lands is not defined)."""
        rows = _record_rows(mons, torch.where(self.mask, self.slot, mons.shape[1] - 1))
        mons.view(-1, mons.shape[2]).index_copy_(0, rows.reshape(-1).long(), self.record.reshape(-1, mons.shape[2]))

    def apply_where_set(self, mons: torch.Tensor) -> None:
        """:meth:`apply`, writing only the records where ``mask`` is set (a data-dependent shape: outside a
        compiled graph; few envs write a record in a step, and the others need not touch the scratch slot)."""
        env, lane = self.mask.nonzero(as_tuple=True)
        slots, width = mons.shape[1], mons.shape[2]
        rows = env * slots + self.slot[env, lane].to(torch.int64).clamp(0, slots - 1)
        mons.view(-1, width).index_copy_(0, rows, self.record[env, lane])


def full_pp(cx: Ctx, moves: torch.Tensor) -> torch.Tensor:
    """Full PP of each move (0 for an empty slot)."""
    return take(cx.c.move_pp, moves + 1)  # the contiguous PP column: a strided one reads slower


def new_mon(cx: Ctx, species: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
    """``party.make_mon`` as records [N, MON_WIDTH]."""
    row = (species * (cx.c.stats.shape[0] // cx.c.species_types.shape[0]) + level).long()
    stats = take(cx.c.stats, row)  # max_hp, attack, defense, speed
    moves = take(cx.c.moves_at, row)
    lv = level.to(torch.int32)
    out = torch.cat([species[:, None].to(torch.int32), lv[:, None], (lv * lv * lv)[:, None], stats[:, :1], stats,
                     moves, full_pp(cx, moves)], 1)
    assert out.shape[1] == MON_WIDTH
    return out


def heal_party(s: BatchedState, cx: Ctx, mask: torch.Tensor) -> None:
    """``party.heal_party`` where ``mask``: full HP and PP."""
    party = s.party[:, :PARTY_SIZE]
    m = mask[:, None] & party_valid(s, cx)
    healed_pp = full_pp(cx, party[:, :, MOVES])
    party[:, :, HP] = torch.where(m, party[:, :, MAX_HP], party[:, :, HP])
    party[:, :, PP] = torch.where(m[:, :, None], healed_pp, party[:, :, PP])


# ============================================================================================ dialog


@dataclass
class Say:
    """Pages to queue in an empty dialog: a run of world text pages, then generated pages, then an effect."""

    mask: torch.Tensor  # bool [N]
    first: torch.Tensor  # int32 [N]
    texts: torch.Tensor  # int32 [N] (0: no text run)
    extra: torch.Tensor  # int64 [N, k] packed pages (k <= EXTRA_PAGES)
    extras: torch.Tensor  # int32 [N]
    effect: torch.Tensor  # int32 [N] (NONE keeps the queued effect, as ``dialog.say`` does)
    arg: torch.Tensor  # int32 [N]


def page(msg: int, arg0: torch.Tensor | int = 0, arg1: torch.Tensor | int = 0) -> torch.Tensor | int:
    """Packed dialog pages (:func:`~longplay.envs.quest.batched.tables.pack_page`) from tensors (a plain int
    when every argument is one: no tensor is made on the host inside a step)."""
    if isinstance(arg0, int) and isinstance(arg1, int):
        return pack_page(msg, arg0, arg1)
    out = torch.as_tensor(arg0).to(torch.int64) << 8
    if not isinstance(arg1, int) or arg1:
        out = out | (torch.as_tensor(arg1).to(torch.int64) << 36)
    return out | msg


def apply_say(s: BatchedState, say: Say) -> None:
    """``dialog.say`` into an empty queue, where ``say.mask``."""
    m = say.mask
    k = say.extra.shape[1]
    s.dialog_first = torch.where(m, say.first, s.dialog_first)
    s.dialog_texts = torch.where(m, say.texts, s.dialog_texts)
    s.dialog_extras = torch.where(m, say.extras, s.dialog_extras)
    s.dialog_head = torch.where(m, 0, s.dialog_head)
    s.dialog_extra[:, :k] = torch.where(m[:, None], say.extra, s.dialog_extra[:, :k])
    sets = m & (say.effect != EFFECT.NONE)
    s.dialog_effect = torch.where(sets, say.effect, s.dialog_effect)
    s.dialog_arg = torch.where(sets, say.arg, s.dialog_arg)


def dialog_length(s: BatchedState) -> torch.Tensor:
    """Pages left in the dialog queue."""
    return s.dialog_texts + s.dialog_extras - s.dialog_head


__all__ = ["EXP", "LEVEL", "SPECIES", "Ctx", "MonWrites", "Say", "apply_say", "entity_at", "first_able",
           "gather_mon", "heal_party", "new_mon", "page", "pack_page", "put", "running_count", "scatter_mon",
           "set_events", "visible"]
