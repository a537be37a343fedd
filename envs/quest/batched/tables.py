"""Static worlds and game content as tensors: every Python lookup of the reference engine becomes a gather.

A pool of ``P`` worlds is padded to common sizes and flattened, so an env's lookups are one gather at
``world * stride + local index`` (env ``n`` plays world ``world_of[n]``). Conventions shared by the batched
modules:

* **Cells.** Map ``m`` of world ``w`` is a ``(Hp, Wp)`` grid, the map's own tiles at ``[PAD + y, PAD + x]``
  and VOID around and beyond them (what ``MapDef.tile`` returns off the map). :data:`PAD` is the screen's
  reach from the player, so the visible window and every neighbour a rule looks at are plain offsets from
  the player's cell. Per-cell tables: tile flags, warp targets, the
  fixed entities standing there, and the trainers whose line of sight reaches it.
* **Entities.** Index ``E`` (one past the largest world's last entity) is a *dummy* entity that is never
  visible; lists are padded with it, and masked writes of ``done`` go to it.
* **Events.** Event columns ``0 .. NE-1`` are the world's events; column ``NE`` is always set (read for
  "no show event"), ``NE + 1`` never set (read for "no hide event", an ability no badge unlocks) and
  ``NE + 2`` is scratch: ``set_event(-1)`` and masked-off event writes land there.
* **Moves** are shifted by one (row 0 is "no move", PP 0) and **items** have a scratch row at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from longplay.envs.quest.battle import BATTLE_ITEMS
from longplay.envs.quest.constants import (
    DX,
    DY,
    ITEM_CATCH,
    ITEM_HEAL,
    ITEM_IS_KEY,
    ITEM_PRICE,
    ITEM_REVIVES,
    MAX_LEVEL,
    NUM_ABILITIES,
    TILE_ENCOUNTER,
    TILE_WALKABLE,
    TYPE_CHART,
    EntityKind,
    Sprite,
    Tile,
)
from longplay.envs.quest.content import MOVES, SPECIES
from longplay.envs.quest.dialog import Msg
from longplay.envs.quest.party import default_moves, stats_at
from longplay.envs.quest.state import World

PAD = 5  # VOID cells around every map: the screen reaches 5 cells from the player, so no lookup needs a clamp

# Tile flags of a cell (one gather answers every question about a cell).
WALKABLE, ENCOUNTER, LEDGE, WATER, COUNTER, WARP = 1, 2, 4, 8, 16, 32

# Columns of the entity table.
ENT_COLS = ("kind", "map", "x", "y", "facing", "sprite", "text", "pages", "after_text", "after_pages", "trainer",
            "item", "count", "species", "level", "shop", "sight", "show_col", "hide_col", "sets_col",
            "hidden_when_done", "boulder_slot")
E_ = {name: i for i, name in enumerate(ENT_COLS)}

# Columns of the drawn-entity table (per map): ``key`` is ``rank << 10 | facing << 5 | sprite`` (the rank is
# the entity's place in the map's list plus one, so the largest key on a cell is the entity drawn last).
DRAWN_COLS = ("entity", "x", "y", "key", "show_col", "hide_col", "hidden_when_done", "boulder_slot")
D_ = {name: i for i, name in enumerate(DRAWN_COLS)}

# Columns of the trainer table.
TRAINER_COLS = ("money", "event_col", "badge", "defeat_text", "team_size", "win_pages", "finishes")
T_ = {name: i for i, name in enumerate(TRAINER_COLS)}

# Columns of a creature record (party, box, enemy team and the trainer team table).
MON_FIELDS = ("species", "level", "exp", "hp", "max_hp", "attack", "defense", "speed")
MOVE_SLOTS = 4
WIN_PAGES = 6  # money, badge, up to three abilities, the finish page

_HIDDEN_WHEN_DONE = (EntityKind.ITEM, EntityKind.CAPSULE, EntityKind.CUT_TREE)
LEVELS = MAX_LEVEL + 1


def pack_page(msg: int, arg0: int = 0, arg1: int = 0) -> int:
    """One dialog page or battle message ``(kind, arg0, arg1)`` as one int64: ``kind | arg0 << 8 | arg1 << 36``.

    >>> unpack_page(pack_page(5, 1234, 99))
    (5, 1234, 99)
    """
    return msg | (arg0 << 8) | (arg1 << 36)


def unpack_page(packed: int | torch.Tensor) -> tuple[int, int, int] | tuple[torch.Tensor, ...]:
    """The ``(kind, arg0, arg1)`` of a :func:`pack_page` value, or of each value of an int64 tensor."""
    return packed & 0xFF, (packed >> 8) & 0xFFFFFFF, packed >> 36


def max_level_ups() -> int:
    """The most levels one experience gain can reach with this content: the largest yield (the highest
    ``base_exp`` at level 100, from a trainer) added to the least experience of each level."""
    from longplay.envs.quest.battle import exp_yield

    top = max(exp_yield(s, MAX_LEVEL, True) for s in range(len(SPECIES)))
    best = 0
    for level in range(1, MAX_LEVEL + 1):
        exp = level ** 3 + top
        reached = max(lv for lv in range(1, MAX_LEVEL + 1) if lv ** 3 <= exp)
        best = max(best, reached - level)
    return max(best, 1)


def learn_window() -> int:
    """The most learnset entries of one species whose levels fall in ``(old, old + max_level_ups()]`` for any
    old level >= 1: how many moves one experience gain can teach (entries at level 1 never count)."""
    reach = max_level_ups()
    best = 1
    for spec in SPECIES:
        levels = [at for at, _ in spec.learnset]
        for old in range(1, MAX_LEVEL):
            best = max(best, sum(1 for at in levels if old < at <= min(MAX_LEVEL, old + reach)))
    return best


TILE_ROW = 16  # tile kinds in a packed row (:func:`packed_tile_rows`): a screen row of VIEW_W fits


def packed_tile_rows(tiles: torch.Tensor) -> torch.Tensor:
    """[cells, 2] int64: row ``c`` holds the bytes of ``tiles[c:c + TILE_ROW]`` (zeros past the end), so a
    screen row of the window is one gather of two int64 where it was VIEW_W gathers of one byte (viewed back
    as uint8 in memory order: no byte-order assumption)."""
    padded = torch.cat([tiles, tiles.new_zeros(TILE_ROW)])
    return padded.unfold(0, TILE_ROW, 1)[:tiles.shape[0]].contiguous().view(torch.int64)


@dataclass
class ContentTables:
    """Species, moves, items and the type chart (the same for every world)."""

    species_types: torch.Tensor  # [S, 2]
    species_base: torch.Tensor  # [S, 4] base hp, attack, defense, speed
    species_catch: torch.Tensor  # [S]
    species_exp: torch.Tensor  # [S]
    stats: torch.Tensor  # [S * LEVELS, 4] max_hp, attack, defense, speed at a level
    moves_at: torch.Tensor  # [S * LEVELS, 4] default moves at a level (-1 empty)
    learnset: torch.Tensor  # [S, LS, 2] (level, move), padded with level 999
    cubes: torch.Tensor  # [MAX_LEVEL] exp_for_level(1 .. MAX_LEVEL): the level of an exp is how many are <= it
    move_table: torch.Tensor  # [NM + 1, 4] type, power, accuracy, pp (row 0: no move)
    type_chart: torch.Tensor  # [12 * 12]
    item_heal: torch.Tensor  # [NUM_ITEMS + 1]
    item_revives: torch.Tensor
    item_catch: torch.Tensor
    item_price: torch.Tensor
    item_key: torch.Tensor
    battle_items: torch.Tensor  # [len(BATTLE_ITEMS)]
    max_level_ups: int  # the most levels one experience gain can reach (see :func:`max_level_ups`)
    learn_window: int  # the most learnset entries one experience gain can pass (see :func:`learn_window`)
    move_power: torch.Tensor  # [NM + 1] (row 0: no move)
    move_pp: torch.Tensor  # [NM + 1]

    @staticmethod
    def build(device: torch.device) -> ContentTables:
        s = len(SPECIES)
        i32 = dict(dtype=torch.int32, device=device)
        stats = [stats_at(sp, lv) if lv > 0 else (0, 0, 0, 0) for sp in range(s) for lv in range(LEVELS)]
        moves_at = [default_moves(sp, max(lv, 1)) for sp in range(s) for lv in range(LEVELS)]
        ls = max(1, max(len(sp.learnset) for sp in SPECIES))
        learnset = [[list(e) for e in sp.learnset] + [[999, 0]] * (ls - len(sp.learnset)) for sp in SPECIES]
        pad = (0, 0, 0, 0)
        move_table = [pad] + [(m.type, m.power, m.accuracy, m.pp) for m in MOVES]
        items = lambda values: torch.tensor([int(v) for v in values] + [0], **i32)  # noqa: E731
        return ContentTables(
            species_types=torch.tensor([sp.types for sp in SPECIES], **i32),
            species_base=torch.tensor([(sp.base_hp, sp.base_attack, sp.base_defense, sp.base_speed)
                                       for sp in SPECIES], **i32),
            species_catch=torch.tensor([sp.catch_rate for sp in SPECIES], **i32),
            species_exp=torch.tensor([sp.base_exp for sp in SPECIES], **i32),
            stats=torch.tensor(stats, **i32),
            moves_at=torch.tensor(moves_at, **i32),
            learnset=torch.tensor(learnset, **i32),
            cubes=torch.tensor([lv ** 3 for lv in range(1, MAX_LEVEL + 1)], dtype=torch.int64, device=device),
            move_table=torch.tensor(move_table, **i32),
            type_chart=torch.tensor([v for row in TYPE_CHART for v in row], **i32),
            item_heal=items(ITEM_HEAL), item_revives=items(ITEM_REVIVES), item_catch=items(ITEM_CATCH),
            item_price=items(ITEM_PRICE), item_key=items(ITEM_IS_KEY),
            battle_items=torch.tensor(BATTLE_ITEMS, **i32),
            max_level_ups=max_level_ups(),
            learn_window=learn_window(),
            move_power=torch.tensor([m[1] for m in move_table], **i32),
            move_pp=torch.tensor([m[3] for m in move_table], **i32),
        )


@dataclass
class WorldTables:
    """A pool of worlds as padded, flattened tensors (see the module docstring for the conventions)."""

    worlds: tuple[World, ...]
    num_maps: int  # M (padded)
    hp: int  # padded grid height (max map height + 2 * PAD)
    wp: int  # padded grid width
    num_entities: int  # E; the dummy entity is E
    num_events: int  # NE; columns NE, NE+1, NE+2 are TRUE, FALSE, SCRATCH
    num_trainers: int
    team_size: int
    num_boulders: int  # B (the boulder arrays have one more, scratch, slot)
    dialog_text_max: int  # the longest run of world text pages one interaction queues
    cells: torch.Tensor = field(repr=False)  # [P*M*Hp*Wp] uint8 tile flags
    tiles: torch.Tensor = field(repr=False)  # [P*M*Hp*Wp] uint8 tile kinds
    tile_rows: torch.Tensor = field(repr=False)  # [cells, 2] int64: the 16 tile kinds from each cell on, packed
    warp_to: torch.Tensor = field(repr=False)  # [cells] int32 packed (map << 20 | y << 10 | x), -1 none
    cell_entities: torch.Tensor = field(repr=False)  # [cells, K] fixed entities, by index
    sight_entity: torch.Tensor = field(repr=False)  # [cells, KS] trainers that see the cell, by index
    sight_dist: torch.Tensor = field(repr=False)  # [cells, KS]
    sight_block: torch.Tensor = field(repr=False)  # [cells, KS, F] fixed entities between trainer and cell
    ent: torch.Tensor = field(repr=False)  # [P*(E+1), len(ENT_COLS)] int32
    group_members: torch.Tensor = field(repr=False)  # [P*(E+1), G] capsules marked done together
    boulders: torch.Tensor = field(repr=False)  # [P, B] boulder entities (dummy padded)
    boulder_map: torch.Tensor = field(repr=False)  # [P, B] (-1 padded)
    boulder_xy: torch.Tensor = field(repr=False)  # [P, B, 2] start positions
    boulder_vis: torch.Tensor = field(repr=False)  # [P, B, 2] show_col, hide_col
    map_entities: torch.Tensor = field(repr=False)  # [P*M, EM] drawn entities of each map, by index
    map_drawn: torch.Tensor = field(repr=False)  # [P*M, EM, len(DRAWN_COLS)] what drawing them needs
    map_info: torch.Tensor = field(repr=False)  # [P*M, 3] encounter_rate, enter_col, encounter total
    encounters: torch.Tensor = field(repr=False)  # [P*M, R, 4] species, min level, level span, cum weight
    trainer: torch.Tensor = field(repr=False)  # [P*T, len(TRAINER_COLS)]
    trainer_team: torch.Tensor = field(repr=False)  # [P*T, TS, 8 + 8] full creature records
    trainer_pages: torch.Tensor = field(repr=False)  # [P*T, WIN_PAGES] int64 packed dialog pages
    shop_stock: torch.Tensor = field(repr=False)  # [P*S, L] items (-1 padded)
    shop_len: torch.Tensor = field(repr=False)  # [P*S]
    num_shops: int = 1
    start: torch.Tensor = field(repr=False, default=None)  # type: ignore[assignment]  # [P, 4]
    respawn: torch.Tensor = field(repr=False, default=None)  # type: ignore[assignment]  # [P, 3]
    specials: torch.Tensor = field(repr=False, default=None)  # type: ignore[assignment]  # [P, 7] event cols
    ability_col: torch.Tensor = field(repr=False, default=None)  # type: ignore[assignment]  # [P, 3]
    badge_cols: torch.Tensor = field(repr=False, default=None)  # type: ignore[assignment]  # [P, NB]
    milestones: torch.Tensor = field(repr=False, default=None)  # type: ignore[assignment]  # [P]
    init_events: torch.Tensor = field(repr=False, default=None)  # type: ignore[assignment]  # [P, NE + 3]
    entity_xy: torch.Tensor = field(repr=False, default=None)  # type: ignore[assignment]  # [P, E + 1, 2]

    # event columns
    @property
    def col_true(self) -> int:
        return self.num_events

    @property
    def col_false(self) -> int:
        return self.num_events + 1

    @property
    def col_scratch(self) -> int:
        return self.num_events + 2

    @property
    def cells_per_map(self) -> int:
        return self.hp * self.wp

    @staticmethod
    def build(worlds: list[World] | tuple[World, ...], device: torch.device | str = "cpu") -> WorldTables:
        """Turns a pool of worlds into tables on ``device``."""
        return _build(tuple(worlds), torch.device(device))


SPECIALS = ("ev_first_wild_win", "ev_first_catch", "ev_first_trainer_win", "ev_first_chop", "ev_first_swim",
            "ev_first_shove", "ev_finish")
S_ = {name: i for i, name in enumerate(SPECIALS)}


def _build(worlds: tuple[World, ...], device: torch.device) -> WorldTables:
    p = len(worlds)
    m_max = max(len(w.maps) for w in worlds)
    hp = max(m.height for w in worlds for m in w.maps) + 2 * PAD
    wp = max(m.width for w in worlds for m in w.maps) + 2 * PAD
    e_max = max(len(w.entities) for w in worlds)
    ne = max(len(w.events) for w in worlds)
    col_true, col_false, col_scratch = ne, ne + 1, ne + 2
    dummy = e_max

    def read_col(event: int) -> int:  # show event / ability: -1 reads "set"
        return event if event >= 0 else col_true

    def hide_col(event: int) -> int:  # -1 reads "not set"
        return event if event >= 0 else col_false

    def write_col(event: int) -> int:  # -1 writes scratch
        return event if event >= 0 else col_scratch

    cells_per_map = hp * wp
    n_cells = p * m_max * cells_per_map
    flags = [0] * n_cells
    tiles = [0] * n_cells
    warp_to = [-1] * n_cells
    cell_lists: dict[int, list[int]] = {}
    sight_lists: dict[int, list[tuple[int, int, list[int]]]] = {}

    def cell(w: int, m: int, x: int, y: int) -> int:
        x = min(max(x, -PAD), wp - PAD - 1)
        y = min(max(y, -PAD), hp - PAD - 1)
        return (w * m_max + m) * cells_per_map + (y + PAD) * wp + (x + PAD)

    boulder_lists = []
    dialog_text_max = 1
    for wi, w in enumerate(worlds):
        for m in w.maps:
            for y in range(m.height):
                for x in range(m.width):
                    t = m.tiles[y * m.width + x]
                    c = cell(wi, m.index, x, y)
                    tiles[c] = t
                    flags[c] = (WALKABLE * TILE_WALKABLE[t] | ENCOUNTER * TILE_ENCOUNTER[t]
                                | LEDGE * (t == Tile.LEDGE) | WATER * (t == Tile.WATER)
                                | COUNTER * (t == Tile.COUNTER))
        for wa in w.warps:
            c = cell(wi, wa.map, wa.x, wa.y)
            warp_to[c] = (wa.to_map << 20) | (wa.to_y << 10) | wa.to_x
            flags[c] |= WARP
        boulders = []
        for e in w.entities:
            dialog_text_max = max(dialog_text_max, e.pages, e.after_pages)
            if e.kind == EntityKind.BOULDER:
                boulders.append(e.index)
            else:
                cell_lists.setdefault(cell(wi, e.map, e.x, e.y), []).append(e.index)
        boulder_lists.append(boulders)
        # trainers' lines of sight: for each cell a trainer may see, the fixed entities in between
        for e in w.entities:
            if e.kind != EntityKind.TRAINER or e.sight <= 0:
                continue
            m = w.maps[e.map]
            dx, dy = DX[e.facing], DY[e.facing]
            between: list[int] = []
            for d in range(1, e.sight + 1):
                tx, ty = e.x + dx * d, e.y + dy * d
                if 0 <= tx < m.width and 0 <= ty < m.height:
                    sight_lists.setdefault(cell(wi, e.map, tx, ty), []).append((e.index, d, list(between)))
                if not TILE_WALKABLE[m.tile(tx, ty)]:
                    break
                between.extend(f.index for f in w.entities if f.kind != EntityKind.BOULDER and f.map == e.map
                               and f.x == tx and f.y == ty)
    for lst in sight_lists.values():
        lst.sort(key=lambda item: item[0])
    k = max([1] + [len(v) for v in cell_lists.values()])
    ks = max([1] + [len(v) for v in sight_lists.values()])
    f = max([1] + [len(b) for v in sight_lists.values() for _, _, b in v])
    cell_entities_t = torch.full((n_cells, k), dummy, dtype=torch.int32)
    for c, lst in cell_lists.items():
        cell_entities_t[c, :len(lst)] = torch.tensor(lst, dtype=torch.int32)
    sight_entity = torch.full((n_cells, ks), dummy, dtype=torch.int32)
    sight_dist = torch.zeros((n_cells, ks), dtype=torch.int32)
    sight_block = torch.full((n_cells, ks, f), dummy, dtype=torch.int32)
    for c, lst in sight_lists.items():
        for j, (e, d, between) in enumerate(lst):
            sight_entity[c, j] = e
            sight_dist[c, j] = d
            if between:
                sight_block[c, j, :len(between)] = torch.tensor(between, dtype=torch.int32)

    b_max = max([0] + [len(b) for b in boulder_lists])
    boulders_t = torch.full((p, b_max), dummy, dtype=torch.int32)
    boulder_map = torch.full((p, b_max), -1, dtype=torch.int32)
    boulder_xy = torch.zeros((p, b_max, 2), dtype=torch.int32)
    boulder_vis = torch.zeros((p, b_max, 2), dtype=torch.int32)
    boulder_vis[:, :, 0] = col_false  # padding is never visible
    boulder_vis[:, :, 1] = col_false
    for wi, (w, bl) in enumerate(zip(worlds, boulder_lists, strict=True)):
        for j, e in enumerate(bl):
            ent = w.entities[e]
            boulders_t[wi, j] = e
            boulder_map[wi, j] = ent.map
            boulder_xy[wi, j] = torch.tensor([ent.x, ent.y])
            boulder_vis[wi, j] = torch.tensor([read_col(ent.show_event), hide_col(ent.hide_event)])

    # entities
    ent = torch.zeros((p, e_max + 1, len(ENT_COLS)), dtype=torch.int32)
    ent[:, :, E_["show_col"]] = col_false  # padding and the dummy: never visible
    ent[:, :, E_["hide_col"]] = col_false
    ent[:, :, E_["sets_col"]] = col_scratch
    ent[:, :, E_["text"]] = -1
    ent[:, :, E_["after_text"]] = -1
    ent[:, :, E_["map"]] = -1
    ent[:, :, E_["boulder_slot"]] = b_max
    entity_xy = torch.zeros((p, e_max + 1, 2), dtype=torch.int32)
    groups_per_world = []
    g_max = 1
    for w in worlds:
        groups: dict[int, list[int]] = {}
        for e in w.entities:
            if e.kind == EntityKind.CAPSULE and e.group >= 0:
                groups.setdefault(e.group, []).append(e.index)
        groups_per_world.append(groups)
        g_max = max([g_max] + [len(v) for v in groups.values()])
    group_members = torch.full((p, e_max + 1, g_max), dummy, dtype=torch.int32)
    for wi, w in enumerate(worlds):
        bslot = {e: j for j, e in enumerate(boulder_lists[wi])}
        for e in w.entities:
            row = dict(kind=e.kind, map=e.map, x=e.x, y=e.y, facing=e.facing, sprite=e.sprite, text=e.text,
                       pages=e.pages, after_text=e.after_text, after_pages=e.after_pages, trainer=max(e.trainer, 0),
                       item=max(e.item, 0), count=e.count, species=max(e.species, 0), level=e.level,
                       shop=max(e.shop, 0), sight=e.sight, show_col=read_col(e.show_event),
                       hide_col=hide_col(e.hide_event), sets_col=write_col(e.sets_event),
                       hidden_when_done=int(e.kind in _HIDDEN_WHEN_DONE), boulder_slot=bslot.get(e.index, b_max))
            ent[wi, e.index] = torch.tensor([int(row[c]) for c in ENT_COLS], dtype=torch.int32)
            entity_xy[wi, e.index] = torch.tensor([e.x, e.y])
            if e.kind == EntityKind.CAPSULE:
                members = groups_per_world[wi].get(e.group, [e.index]) if e.group >= 0 else [e.index]
                group_members[wi, e.index, :len(members)] = torch.tensor(members, dtype=torch.int32)

    # drawn entities per map (the symbolic and pixel views)
    drawn = [[[e.index for e in w.entities if e.sprite != Sprite.NONE and e.map == m] for m in range(m_max)]
             for w in worlds]
    em = max([1] + [len(lst) for per_map in drawn for lst in per_map])
    map_entities = torch.full((p, m_max, em), dummy, dtype=torch.int32)
    map_drawn = torch.zeros((p, m_max, em, len(DRAWN_COLS)), dtype=torch.int32)
    map_drawn[..., D_["entity"]] = dummy
    map_drawn[..., D_["show_col"]] = col_false
    map_drawn[..., D_["hide_col"]] = col_false
    map_drawn[..., D_["boulder_slot"]] = b_max
    for wi in range(p):
        for m in range(m_max):
            if drawn[wi][m]:
                map_entities[wi, m, :len(drawn[wi][m])] = torch.tensor(drawn[wi][m], dtype=torch.int32)
            for rank, e in enumerate(drawn[wi][m]):
                row = ent[wi, e]
                map_drawn[wi, m, rank] = torch.tensor([
                    e, row[E_["x"]], row[E_["y"]],
                    ((rank + 1) << 10) | (int(row[E_["facing"]]) << 5) | int(row[E_["sprite"]]),
                    row[E_["show_col"]], row[E_["hide_col"]], row[E_["hidden_when_done"]], row[E_["boulder_slot"]]])

    # maps and encounters
    r_max = max([1] + [len(m.encounters) for w in worlds for m in w.maps])
    map_info = torch.zeros((p, m_max, 3), dtype=torch.int32)
    map_info[:, :, 1] = col_scratch
    encounters = torch.zeros((p, m_max, r_max, 4), dtype=torch.int32)
    encounters[:, :, :, 3] = 1 << 30  # padded rows are never picked
    for wi, w in enumerate(worlds):
        for m in w.maps:
            total = sum(r.weight for r in m.encounters)
            map_info[wi, m.index] = torch.tensor([m.encounter_rate, write_col(m.enter_event), max(total, 1)])
            cum = 0
            for j, r in enumerate(m.encounters):
                cum += r.weight
                encounters[wi, m.index, j] = torch.tensor([r.species, r.min_level, r.max_level - r.min_level + 1,
                                                           cum])

    # trainers: teams as full creature records, and the pages of a win
    t_max = max([1] + [len(w.trainers) for w in worlds])
    ts = max([1] + [len(t.party) for w in worlds for t in w.trainers])
    trainer = torch.zeros((p, t_max, len(TRAINER_COLS)), dtype=torch.int32)
    trainer[:, :, T_["event_col"]] = col_scratch
    trainer[:, :, T_["defeat_text"]] = -1
    trainer[:, :, T_["badge"]] = -1
    team = torch.zeros((p, t_max, ts, len(MON_FIELDS) + 2 * MOVE_SLOTS), dtype=torch.int32)
    team[:, :, :, len(MON_FIELDS):len(MON_FIELDS) + MOVE_SLOTS] = -1
    pages = torch.zeros((p, t_max, WIN_PAGES), dtype=torch.int64)
    from longplay.envs.quest.party import make_mon  # content arithmetic shared with the reference

    for wi, w in enumerate(worlds):
        for t in w.trainers:
            win: list[int] = []
            if t.money > 0:
                win.append(pack_page(Msg.GOT_MONEY, t.money))
            if t.badge >= 0:
                win.append(pack_page(Msg.GOT_BADGE, t.badge))
                win.extend(pack_page(Msg.UNLOCKED, a) for a in range(NUM_ABILITIES) if w.ability_badge[a] == t.badge)
            finishes = int(w.ev_finish >= 0 and t.event == w.ev_finish)
            if finishes:
                win.append(pack_page(Msg.FINISHED))
            pages[wi, t.index, :len(win)] = torch.tensor(win, dtype=torch.int64)
            trainer[wi, t.index] = torch.tensor([t.money, write_col(t.event), t.badge, t.defeat_text, len(t.party),
                                                 len(win), finishes])
            for j, (sp, lv) in enumerate(t.party):
                mon = make_mon(sp, lv)
                team[wi, t.index, j] = torch.tensor([mon.species, mon.level, mon.exp, mon.hp, mon.max_hp, mon.attack,
                                                     mon.defense, mon.speed, *mon.moves, *mon.pp])

    s_max = max([1] + [len(w.shops) for w in worlds])
    l_max = max([1] + [len(s) for w in worlds for s in w.shops])
    shop_stock = torch.full((p, s_max, l_max), -1, dtype=torch.int32)
    shop_len = torch.zeros((p, s_max), dtype=torch.int32)
    for wi, w in enumerate(worlds):
        for si, stock in enumerate(w.shops):
            shop_len[wi, si] = len(stock)
            if stock:
                shop_stock[wi, si, :len(stock)] = torch.tensor(stock, dtype=torch.int32)

    nb = max([1] + [len(w.badge_events) for w in worlds])
    start = torch.tensor([list(w.start) for w in worlds], dtype=torch.int32)
    respawn = torch.tensor([list(w.respawn) for w in worlds], dtype=torch.int32)
    specials = torch.tensor([[write_col(getattr(w, name)) for name in SPECIALS] for w in worlds], dtype=torch.int32)
    ability_col = torch.tensor([[w.badge_events[b] if b >= 0 and w.badge_events[b] >= 0 else col_false
                                 for b in w.ability_badge] for w in worlds], dtype=torch.int32)
    badge_cols = torch.full((p, nb), col_false, dtype=torch.int32)
    for wi, w in enumerate(worlds):
        for j, ev in enumerate(w.badge_events):
            badge_cols[wi, j] = ev if ev >= 0 else col_false
    milestones = torch.tensor([w.milestone_count for w in worlds], dtype=torch.int32)
    init_events = torch.zeros((p, ne + 3), dtype=torch.bool)
    init_events[:, col_true] = True
    for wi, w in enumerate(worlds):
        enter = w.maps[w.start[0]].enter_event
        if enter >= 0:
            init_events[wi, enter] = True

    def dev(t: torch.Tensor) -> torch.Tensor:
        return t.to(device)

    return WorldTables(
        worlds=worlds, num_maps=m_max, hp=hp, wp=wp, num_entities=e_max, num_events=ne, num_trainers=t_max,
        team_size=ts, num_boulders=b_max, dialog_text_max=dialog_text_max,
        cells=dev(torch.tensor(flags, dtype=torch.uint8)), tiles=dev(torch.tensor(tiles, dtype=torch.uint8)),
        tile_rows=dev(packed_tile_rows(torch.tensor(tiles, dtype=torch.uint8))),
        warp_to=dev(torch.tensor(warp_to, dtype=torch.int32)), cell_entities=dev(cell_entities_t),
        sight_entity=dev(sight_entity), sight_dist=dev(sight_dist), sight_block=dev(sight_block),
        ent=dev(ent.reshape(p * (e_max + 1), len(ENT_COLS))),
        group_members=dev(group_members.reshape(p * (e_max + 1), g_max)),
        boulders=dev(boulders_t), boulder_map=dev(boulder_map), boulder_xy=dev(boulder_xy),
        boulder_vis=dev(boulder_vis), map_entities=dev(map_entities.reshape(p * m_max, em)),
        map_drawn=dev(map_drawn.reshape(p * m_max, em, len(DRAWN_COLS))),
        map_info=dev(map_info.reshape(p * m_max, 3)), encounters=dev(encounters.reshape(p * m_max, r_max, 4)),
        trainer=dev(trainer.reshape(p * t_max, len(TRAINER_COLS))),
        trainer_team=dev(team.reshape(p * t_max, ts, -1)), trainer_pages=dev(pages.reshape(p * t_max, WIN_PAGES)),
        shop_stock=dev(shop_stock.reshape(p * s_max, l_max)), shop_len=dev(shop_len.reshape(p * s_max)),
        num_shops=s_max, start=dev(start), respawn=dev(respawn), specials=dev(specials),
        ability_col=dev(ability_col), badge_cols=dev(badge_cols), milestones=dev(milestones),
        init_events=dev(init_events), entity_xy=dev(entity_xy),
    )
