"""The rules before the battle press (:meth:`BatchedQuest._route_and_count`) by a native CPU kernel.

On CPU at 16,384 envs, the compiled route (the tick, each env's route, the random draws, the overworld, dialog
and menu presses) is 11-15 ms of an 18 ms step: inductor runs every rule over every env, masked, in dozens of
loop nests. ``native_route.cpp`` routes env by env with ordinary branches (an env is in one mode, so only that
mode's rules run for it), with OpenMP threads, built and loaded as :mod:`~longplay.envs.quest.batched.native`
builds the observation kernel.

The state updates and outputs are exactly the torch route's (the tests step engines with and without it in
lockstep), with two differences the step does not see: the party records a capsule or a menu writes are
written in place (``party_writes`` is empty), and the masked-off writes into scratch slots are not made. Rows of
the outputs outside their masks hold zeros, or for the trainer the torch route's values (``battle.start``
gathers with the trainer and the wild species and level of every env, so those must stay in their tables);
``rnd`` holds the draws of the envs in a battle (the battle press reads no other) and zeros elsewhere. The
outputs are the kernel's buffers, reused by every call (the step reads them before the next).

``BatchedQuest(native=...)`` uses it for the CPU step with battle passes (``battle_pass``), the step it is
built for; the one-graph step (CUDA, ``battle_pass=None``) keeps the torch route.
"""

from __future__ import annotations

import ctypes
from typing import Any

import torch

from longplay.envs.quest.batched import dialog, menus, overworld
from longplay.envs.quest.batched.common import (
    ABILITY,
    DIR,
    EFFECT,
    EK,
    ITEM,
    MENU,
    MSG,
    RNG,
    MonWrites,
    Say,
)
from longplay.envs.quest.batched.native import NativeUnavailable, _pointer, load_library
from longplay.envs.quest.batched.rng import USED_SLOTS
from longplay.envs.quest.batched.state import EXP, HP, LEVEL, MAX_HP, MON_WIDTH, SPECIES
from longplay.envs.quest.batched.tables import (
    COUNTER,
    E_,
    ENCOUNTER,
    LEDGE,
    PAD,
    S_,
    WALKABLE,
    WARP,
    WATER,
)
from longplay.envs.quest.constants import DX, DY, MAX_ITEM_COUNT, NUM_ITEMS, PARTY_SIZE, RNG_SLOTS, WARD_STEPS

SOURCE = "native_route.cpp"
NUM_BUTTONS = 8
# the kernel's constants (native_route.cpp's CONSTANTS, in order), as the Python rules define them
_CONSTANTS = (
    NUM_BUTTONS, menus._UP, menus._DOWN, overworld._A, menus._B, overworld._START, DIR.RIGHT, DIR.DOWN, *DX, *DY,
    EK.PERSON, EK.SIGN, EK.TRAINER, EK.ITEM, EK.HEALER, EK.CLERK, EK.CAPSULE, EK.GUARD, EK.BOULDER, EK.CUT_TREE,
    EK.GIFTER, EFFECT.NONE, EFFECT.TRAINER_BATTLE, EFFECT.OPEN_SHOP, EFFECT.WHITEOUT, EFFECT.FINISH,
    MENU.NONE, MENU.START, MENU.PARTY, MENU.BAG, MENU.BAG_TARGET, MENU.SHOP, ABILITY.CHOP, ABILITY.SWIM,
    ABILITY.SHOVE, ITEM.WARD_SPRAY, MSG.GOT_ITEM, MSG.GOT_PARTNER, MSG.HEALED, MSG.NO_EFFECT, MSG.CANT_USE,
    MSG.USED_ITEM, MSG.NOT_ENOUGH_MONEY, MSG.CHOPPED, MSG.BLOCKED_TREE, MSG.BLOCKED_BOULDER, MSG.GOT_ITEMS,
    MSG.WARD_USED, MSG.BAG_FULL, RNG.ENCOUNTER, RNG.ENCOUNTER_SLOT, RNG.ENCOUNTER_LEVEL, WALKABLE, ENCOUNTER,
    LEDGE, WATER, COUNTER, WARP, MAX_ITEM_COUNT, WARD_STEPS, PARTY_SIZE, SPECIES, LEVEL, EXP, HP, MAX_HP, 8, 12,
    MON_WIDTH)

_SIZES = ("num_envs", "threads", "events_cols", "done_cols", "party_slots", "bag_cols", "num_items",
          "boulder_slots", "num_boulders", "cells", "cells_per_map", "wp", "pad", "ent_rows", "ent_cols", "dummy",
          "cell_k", "sight_k", "sight_f", "group_g", "map_rows", "enc_r", "shop_rows", "shop_l", "num_shops",
          "stats_rows", "levels", "move_rows", "item_rows", "rng_slots", "used_slots", "specials_cols",
          "ability_cols")
_ENT_COLS = ("kind", "x", "y", "facing", "text", "pages", "after_text", "after_pages", "trainer", "item", "count",
             "species", "level", "shop", "show", "hide", "sets", "hidden_when_done", "boulder_slot")
_SPECIAL_COLS = ("first_chop", "first_swim", "first_shove")
# the state fields the route reads or writes, with their dtypes, in the order of native_route.cpp's struct
_STATE = (("key", torch.int64), ("tick", torch.int64), ("map", torch.int32), ("x", torch.int32),
          ("y", torch.int32), ("facing", torch.int32), ("surfing", torch.bool), ("party_count", torch.int32),
          ("party", torch.int32), ("bag", torch.int32), ("money", torch.int32), ("events", torch.bool),
          ("done", torch.bool), ("boulder_xy", torch.int32), ("respawn", torch.int32), ("ward_steps", torch.int32),
          ("dialog_texts", torch.int32), ("dialog_extras", torch.int32), ("dialog_head", torch.int32),
          ("dialog_effect", torch.int32), ("dialog_arg", torch.int32), ("menu", torch.int32),
          ("menu_cursor", torch.int32), ("menu_choice", torch.int32), ("battle_kind", torch.int32),
          ("finished", torch.bool))
_TABLES = ("world", "map_base", "ent_base", "shop_base", "cell_flags", "warp_to", "cell_entities", "sight_entity",
           "sight_dist", "sight_block", "ent", "group_members", "boulders", "boulder_map", "boulder_vis", "map_info",
           "encounters", "shop_stock", "shop_len", "specials", "ability_col", "stats", "moves_at", "move_pp",
           "item_heal", "item_revives", "item_price")
# the outputs: name, dtype, columns (0: one value per env)
_OUTPUTS = (("in_battle", torch.bool, 0), ("rnd", torch.int64, USED_SLOTS), ("say_mask", torch.bool, 0),
            ("say_first", torch.int32, 0), ("say_texts", torch.int32, 0), ("say_extra", torch.int64, 1),
            ("say_extras", torch.int32, 0), ("say_effect", torch.int32, 0), ("say_arg", torch.int32, 0),
            ("wild_mask", torch.bool, 0), ("wild_species", torch.int32, 0), ("wild_level", torch.int32, 0),
            ("healer", torch.bool, 0), ("trainer_mask", torch.bool, 0), ("trainer_trainer", torch.int32, 0),
            ("trainer_entity", torch.int32, 0), ("whiteout", torch.bool, 0), ("menu_say_mask", torch.bool, 0),
            ("menu_say_extra", torch.int64, 1), ("menu_say_extras", torch.int32, 0), ("in_pass", torch.bool, 0))
_POINTERS = (*(name for name, _ in _STATE), "button", *_TABLES, *(name for name, _, _ in _OUTPUTS), "count",
             "error")


class _Route(ctypes.Structure):
    _fields_ = ([(name, ctypes.c_int64) for name in _SIZES] + [(f"e_{name}", ctypes.c_int64) for name in _ENT_COLS]
                + [(f"s_{name}", ctypes.c_int64) for name in _SPECIAL_COLS]
                + [(name, ctypes.c_void_p) for name in _POINTERS])


def library() -> ctypes.CDLL:
    """The route kernel's library (:func:`~longplay.envs.quest.batched.native.load_library` of
    ``native_route.cpp``), its constants checked against the Python rules'."""
    lib = load_library(SOURCE)
    lib.longplay_route.argtypes = [ctypes.c_void_p]
    lib.longplay_route.restype = None
    lib.longplay_route_constants.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.longplay_route_constants.restype = ctypes.c_int64
    out = (ctypes.c_int64 * 256)()
    n = lib.longplay_route_constants(out, 256)
    if tuple(out[:n]) != tuple(int(v) for v in _CONSTANTS):
        raise NativeUnavailable(f"{SOURCE}'s constants differ from the Python rules' (an enum or a table layout "
                                "changed): update the kernel")
    return lib


class NativeRoute:
    """:meth:`BatchedQuest._route_and_count` of every env of one engine, by the native kernel. Holds the engine's
    tables (contiguous copies); reads and writes the state at each call."""

    def __init__(self, engine: Any) -> None:
        if engine.device.type != "cpu":
            raise NativeUnavailable(f"the engine runs on {engine.device.type} (the native kernels are for the CPU)")
        self._lib = library()
        t, c, cx = engine.tables, engine.content, engine.ctx
        state = engine.state
        i32 = torch.int32
        self._tables = {
            "world": cx.world.to(torch.int64).contiguous(), "map_base": cx.map_base.to(i32).contiguous(),
            "ent_base": cx.ent_base.to(i32).contiguous(), "shop_base": cx.shop_base.to(i32).contiguous(),
            "cell_flags": t.cells.contiguous(), "warp_to": t.warp_to.to(i32).contiguous(),
            "cell_entities": t.cell_entities.to(i32).contiguous(), "sight_entity": t.sight_entity.to(i32).contiguous(),
            "sight_dist": t.sight_dist.to(i32).contiguous(), "sight_block": t.sight_block.to(i32).contiguous(),
            "ent": t.ent.to(i32).contiguous(), "group_members": t.group_members.to(i32).contiguous(),
            "boulders": t.boulders.to(i32).contiguous(), "boulder_map": t.boulder_map.to(i32).contiguous(),
            "boulder_vis": t.boulder_vis.to(i32).contiguous(), "map_info": t.map_info.to(i32).contiguous(),
            "encounters": t.encounters.to(i32).contiguous(), "shop_stock": t.shop_stock.to(i32).contiguous(),
            "shop_len": t.shop_len.to(i32).contiguous(), "specials": t.specials.to(i32).contiguous(),
            "ability_col": t.ability_col.to(i32).contiguous(), "stats": c.stats.to(i32).contiguous(),
            "moves_at": c.moves_at.to(i32).contiguous(), "move_pp": c.move_pp.to(i32).contiguous(),
            "item_heal": c.item_heal.to(i32).contiguous(), "item_revives": c.item_revives.to(i32).contiguous(),
            "item_price": c.item_price.to(i32).contiguous()}
        tb = self._tables
        if state.party.shape[2] != MON_WIDTH or tb["stats"].shape[1] != 4 or tb["moves_at"].shape[1] != 4:
            raise NativeUnavailable(f"{SOURCE} reads {MON_WIDTH}-column creature records and 4 stats and moves")
        self._sizes = dict(
            num_envs=engine.num_envs, threads=1, events_cols=state.events.shape[1], done_cols=state.done.shape[1],
            party_slots=state.party.shape[1], bag_cols=state.bag.shape[1], num_items=NUM_ITEMS,
            boulder_slots=state.boulder_xy.shape[1], num_boulders=t.num_boulders, cells=tb["cell_flags"].shape[0],
            cells_per_map=t.cells_per_map, wp=t.wp, pad=PAD, ent_rows=tb["ent"].shape[0],
            ent_cols=tb["ent"].shape[1], dummy=t.num_entities, cell_k=tb["cell_entities"].shape[1],
            sight_k=tb["sight_entity"].shape[1], sight_f=tb["sight_block"].shape[2],
            group_g=tb["group_members"].shape[1], map_rows=tb["map_info"].shape[0],
            enc_r=tb["encounters"].shape[1], shop_rows=tb["shop_len"].shape[0], shop_l=tb["shop_stock"].shape[1],
            num_shops=t.num_shops, stats_rows=tb["stats"].shape[0],
            levels=c.stats.shape[0] // c.species_types.shape[0], move_rows=tb["move_pp"].shape[0],
            item_rows=tb["item_heal"].shape[0], rng_slots=RNG_SLOTS, used_slots=USED_SLOTS,
            specials_cols=tb["specials"].shape[1], ability_cols=tb["ability_col"].shape[1],
            **{f"e_{name}": E_[{"show": "show_col", "hide": "hide_col", "sets": "sets_col"}.get(name, name)]
               for name in _ENT_COLS},
            **{f"s_{name}": S_[f"ev_{name}"] for name in _SPECIAL_COLS})
        self._count = torch.zeros(1, dtype=torch.int64)
        self._error = torch.zeros(1, dtype=torch.int64)
        # the sizes and tables, set once (a call sets the state's, the button's and the outputs' pointers)
        self._args = _Route(**self._sizes)
        for name in _TABLES:
            setattr(self._args, name, tb[name].data_ptr())
        self._args.count, self._args.error = self._count.data_ptr(), self._error.data_ptr()
        n = engine.num_envs
        self._engine = engine
        # the outputs: the kernel's buffers, kept from call to call (fresh ones each call were faulted in anew,
        # a third of the call's time) and the _Routed made of them
        out = {name: torch.zeros((n, cols) if cols else (n,), dtype=dtype) for name, dtype, cols in _OUTPUTS}
        for name, t in out.items():
            setattr(self._args, name, t.data_ptr())
        from longplay.envs.quest.batched.engine import _Routed  # (engine.py imports this module)

        zero = torch.zeros(n, dtype=torch.int32)  # the menus' pages: no text run, no effect
        # the party writes are made in place: none left for the caller
        no_writes = MonWrites(torch.zeros((n, 0), dtype=torch.bool), torch.zeros((n, 0), dtype=torch.int32),
                              torch.zeros((n, 0, MON_WIDTH), dtype=torch.int32))
        self._routed = _Routed(
            out["in_battle"], out["rnd"],
            Say(out["say_mask"], out["say_first"], out["say_texts"], out["say_extra"], out["say_extras"],
                out["say_effect"], out["say_arg"]),
            overworld.Wild(out["wild_mask"], out["wild_species"], out["wild_level"]), out["healer"],
            dialog.TrainerStart(out["trainer_mask"], out["trainer_trainer"], out["trainer_entity"]), out["whiteout"],
            Say(out["menu_say_mask"], zero, zero, out["menu_say_extra"], out["menu_say_extras"], zero, zero),
            no_writes)
        self._in_pass = out["in_pass"]

    def route(self, button: torch.Tensor) -> tuple[Any, torch.Tensor, int]:
        """:meth:`BatchedQuest._route_and_count` of ``button`` (int32 [N]): ``(routed, in_pass, count)``. The
        tensors are the kernel's own buffers, overwritten by the next call (a step reads them before)."""
        state = self._engine.state
        args = self._args
        args.threads = torch.get_num_threads()
        for name, dtype in _STATE:
            setattr(args, name, _pointer(getattr(state, name), dtype, name))
        args.button = _pointer(button, torch.int32, "button")
        self._lib.longplay_route(ctypes.byref(args))
        bad = int(self._error[0])
        if bad:
            i = bad - 1
            raise IndexError(f"native route: env {i} indexes past a table (map {int(state.map[i])}, x "
                             f"{int(state.x[i])}, y {int(state.y[i])}): its state is corrupt")
        return self._routed, self._in_pass, int(self._count[0])


__all__ = ["NativeRoute", "library"]
