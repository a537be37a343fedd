// The rules before the battle press for N quest games, one pass per env (longplay.envs.quest.batched.native_route).
//
// The same state updates and outputs as BatchedQuest._route_and_count (engine.py: the tick, each env's route,
// draw_all, first_able, then overworld.press, dialog.press and menus.press), computed env by env with ordinary
// branches: each env is in one mode (battle, text box, menu, overworld) or not live, so only that mode's rules
// run for it. The compiled torch version runs every rule over every env, masked, in dozens of passes. The order
// of reads and writes within an env follows the torch code's, so the results are the same bit for bit.
//
// Differences from the torch route, by design: the party records a capsule or a menu writes are written here,
// in place (the torch route returns them for the caller to write; nothing else in the route reads them), and
// the masked-off writes into scratch slots are not made (no consumer reads them), except done[dummy], which
// the torch route sets for every env and which is part of the compared state.
//
// Pointers are to contiguous CPU tensors of the dtypes named; native_route.py checks them before every call.
// No allocation, no exceptions: an index out of its table sets *error to 1 + the env (the first such env).

#include <cstdint>
#include <cstring>

namespace {

// the constants of the rules (longplay.envs.quest.constants, dialog.Msg, batched.tables): native_route.py
// compares them with the Python ones (longplay_route_constants) before it uses the kernel
constexpr int32_t NUM_BUTTONS = 8, BUTTON_UP = 0, BUTTON_DOWN = 1, BUTTON_A = 4, BUTTON_B = 5, BUTTON_START = 6;
constexpr int32_t DIR_RIGHT = 3, DIR_DOWN = 1;
constexpr int32_t DX[4] = {0, 0, -1, 1}, DY[4] = {-1, 1, 0, 0};
constexpr int32_t EK_PERSON = 0, EK_SIGN = 1, EK_TRAINER = 2, EK_ITEM = 3, EK_HEALER = 4, EK_CLERK = 5,
                  EK_CAPSULE = 6, EK_GUARD = 7, EK_BOULDER = 8, EK_CUT_TREE = 9, EK_GIFTER = 10;
constexpr int32_t EFFECT_NONE = 0, EFFECT_TRAINER_BATTLE = 1, EFFECT_OPEN_SHOP = 2, EFFECT_WHITEOUT = 3,
                  EFFECT_FINISH = 4;
constexpr int32_t MENU_NONE = 0, MENU_START = 1, MENU_PARTY = 2, MENU_BAG = 3, MENU_BAG_TARGET = 4, MENU_SHOP = 5;
constexpr int32_t ABILITY_CHOP = 0, ABILITY_SWIM = 1, ABILITY_SHOVE = 2;
constexpr int32_t ITEM_WARD_SPRAY = 7;
constexpr int32_t MSG_GOT_ITEM = 1, MSG_GOT_PARTNER = 2, MSG_HEALED = 3, MSG_NO_EFFECT = 8, MSG_CANT_USE = 9,
                  MSG_USED_ITEM = 10, MSG_NOT_ENOUGH_MONEY = 11, MSG_CHOPPED = 12, MSG_BLOCKED_TREE = 15,
                  MSG_BLOCKED_BOULDER = 16, MSG_GOT_ITEMS = 20, MSG_WARD_USED = 23, MSG_BAG_FULL = 24;
constexpr int32_t RNG_ENCOUNTER = 0, RNG_ENCOUNTER_SLOT = 1, RNG_ENCOUNTER_LEVEL = 2;
constexpr int32_t WALKABLE = 1, ENCOUNTER = 2, LEDGE = 4, WATER = 8, COUNTER = 16, WARP = 32;
constexpr int32_t MAX_ITEM_COUNT = 99, WARD_STEPS = 100, PARTY_SIZE = 6;
// the columns of a creature record (batched/state.py)
constexpr int SPECIES = 0, LEVEL = 1, EXP = 2, HP = 3, MAX_HP = 4, MOVES = 8, PP = 12, MON_WIDTH = 16;

constexpr int64_t CONSTANTS[] = {
    NUM_BUTTONS, BUTTON_UP, BUTTON_DOWN, BUTTON_A, BUTTON_B, BUTTON_START, DIR_RIGHT, DIR_DOWN,
    DX[0], DX[1], DX[2], DX[3], DY[0], DY[1], DY[2], DY[3],
    EK_PERSON, EK_SIGN, EK_TRAINER, EK_ITEM, EK_HEALER, EK_CLERK, EK_CAPSULE, EK_GUARD, EK_BOULDER, EK_CUT_TREE,
    EK_GIFTER, EFFECT_NONE, EFFECT_TRAINER_BATTLE, EFFECT_OPEN_SHOP, EFFECT_WHITEOUT, EFFECT_FINISH,
    MENU_NONE, MENU_START, MENU_PARTY, MENU_BAG, MENU_BAG_TARGET, MENU_SHOP, ABILITY_CHOP, ABILITY_SWIM,
    ABILITY_SHOVE, ITEM_WARD_SPRAY, MSG_GOT_ITEM, MSG_GOT_PARTNER, MSG_HEALED, MSG_NO_EFFECT, MSG_CANT_USE,
    MSG_USED_ITEM, MSG_NOT_ENOUGH_MONEY, MSG_CHOPPED, MSG_BLOCKED_TREE, MSG_BLOCKED_BOULDER, MSG_GOT_ITEMS,
    MSG_WARD_USED, MSG_BAG_FULL, RNG_ENCOUNTER, RNG_ENCOUNTER_SLOT, RNG_ENCOUNTER_LEVEL, WALKABLE, ENCOUNTER,
    LEDGE, WATER, COUNTER, WARP, MAX_ITEM_COUNT, WARD_STEPS, PARTY_SIZE, SPECIES, LEVEL, EXP, HP, MAX_HP, MOVES,
    PP, MON_WIDTH};

inline uint32_t mix32(uint32_t x) {  // rng.mix32 ('lowbias32')
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    return x ^ (x >> 16);
}

// common.page / tables.pack_page: kind | arg0 << 8 | arg1 << 36 in int64 (two's complement, as torch's shifts)
inline int64_t page(int32_t msg, int64_t arg0 = 0, int64_t arg1 = 0) {
    return int64_t((uint64_t(arg0) << 8) | (uint64_t(arg1) << 36) | uint64_t(int64_t(msg)));
}

inline int32_t floor_div(int32_t a, int32_t b) {  // torch's // on integers (floor)
    const int32_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

inline int32_t remainder(int32_t a, int32_t b) {  // torch.remainder on integers (the divisor's sign)
    const int32_t r = a % b;
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

inline int64_t clamp(int64_t v, int64_t low, int64_t high) { return v < low ? low : (v > high ? high : v); }

}  // namespace

extern "C" {

// Everything one call reads and writes. The layout is mirrored by native_route.py's ctypes.Structure field for
// field.
struct Route {
    int64_t num_envs;
    int64_t threads;
    // sizes
    int64_t events_cols;    // events' columns (NE + 3)
    int64_t done_cols;      // done's columns (E + 1)
    int64_t party_slots;    // PARTY_SIZE + 1 (the last is scratch)
    int64_t bag_cols;       // NUM_ITEMS + 1 (the last is scratch)
    int64_t num_items;
    int64_t boulder_slots;  // B + 1 (the last is scratch)
    int64_t num_boulders;   // B
    int64_t cells;          // tile flags, warp targets: one per cell
    int64_t cells_per_map;
    int64_t wp;             // padded map width
    int64_t pad;
    int64_t ent_rows;       // worlds * (E + 1)
    int64_t ent_cols;
    int64_t dummy;          // E: the dummy entity
    int64_t cell_k;         // fixed entities per cell
    int64_t sight_k;        // trainers that see a cell
    int64_t sight_f;        // entities between a trainer and a cell
    int64_t group_g;        // capsules marked done together
    int64_t map_rows;       // worlds * maps
    int64_t enc_r;          // encounter rows per map
    int64_t shop_rows;      // worlds * shops
    int64_t shop_l;         // stock per shop
    int64_t num_shops;
    int64_t stats_rows;     // species * levels
    int64_t levels;         // stats rows per species
    int64_t move_rows;      // moves + 1
    int64_t item_rows;      // items + 1
    int64_t rng_slots;      // RNG_SLOTS
    int64_t used_slots;     // draw_all's columns
    int64_t specials_cols;
    int64_t ability_cols;
    // the entity table's columns
    int64_t e_kind, e_x, e_y, e_facing, e_text, e_pages, e_after_text, e_after_pages, e_trainer, e_item, e_count,
        e_species, e_level, e_shop, e_show, e_hide, e_sets, e_hidden_when_done, e_boulder_slot;
    // the specials' columns
    int64_t s_first_chop, s_first_swim, s_first_shove;
    // state (int32 unless named), read and written
    const int64_t* key;
    int64_t* tick;
    int32_t* map;
    int32_t* x;
    int32_t* y;
    int32_t* facing;
    bool* surfing;
    int32_t* party_count;
    int32_t* party;       // [N, party_slots, MON_WIDTH]
    int32_t* bag;         // [N, bag_cols]
    int32_t* money;
    bool* events;         // [N, events_cols]
    bool* done;           // [N, done_cols]
    int32_t* boulder_xy;  // [N, boulder_slots, 2]
    int32_t* respawn;     // [N, 3]
    int32_t* ward_steps;
    const int32_t* dialog_texts;
    const int32_t* dialog_extras;
    int32_t* dialog_head;
    int32_t* dialog_effect;
    int32_t* dialog_arg;
    int32_t* menu;
    int32_t* menu_cursor;
    int32_t* menu_choice;
    const int32_t* battle_kind;
    bool* finished;
    const int32_t* button;  // [N]
    // per env
    const int64_t* world;
    const int32_t* map_base;   // world * maps
    const int32_t* ent_base;   // world * (E + 1)
    const int32_t* shop_base;  // world * shops
    // world tables
    const uint8_t* cell_flags;      // [cells]
    const int32_t* warp_to;         // [cells]
    const int32_t* cell_entities;   // [cells, cell_k]
    const int32_t* sight_entity;    // [cells, sight_k]
    const int32_t* sight_dist;      // [cells, sight_k]
    const int32_t* sight_block;     // [cells, sight_k, sight_f]
    const int32_t* ent;             // [ent_rows, ent_cols]
    const int32_t* group_members;   // [ent_rows, group_g]
    const int32_t* boulders;        // [worlds, B]
    const int32_t* boulder_map;     // [worlds, B]
    const int32_t* boulder_vis;     // [worlds, B, 2]
    const int32_t* map_info;        // [map_rows, 3]
    const int32_t* encounters;      // [map_rows, enc_r, 4]
    const int32_t* shop_stock;      // [shop_rows, shop_l]
    const int32_t* shop_len;        // [shop_rows]
    const int32_t* specials;        // [worlds, specials_cols]
    const int32_t* ability_col;     // [worlds, ability_cols]
    // content tables
    const int32_t* stats;           // [stats_rows, 4]
    const int32_t* moves_at;        // [stats_rows, 4]
    const int32_t* move_pp;         // [move_rows]
    const int32_t* item_heal;       // [item_rows]
    const int32_t* item_revives;    // [item_rows]
    const int32_t* item_price;      // [item_rows]
    // out (every env's row written, but rnd's)
    bool* in_battle;
    int64_t* rnd;                   // [N, used_slots] (zeros where not in_battle; as the last call left it)
    bool* say_mask;                 // the overworld's pages
    int32_t* say_first;
    int32_t* say_texts;
    int64_t* say_extra;             // [N, 1]
    int32_t* say_extras;
    int32_t* say_effect;
    int32_t* say_arg;
    bool* wild_mask;
    int32_t* wild_species;
    int32_t* wild_level;
    bool* healer;
    bool* trainer_mask;
    int32_t* trainer_trainer;
    int32_t* trainer_entity;
    bool* whiteout;
    bool* menu_say_mask;            // the menus' pages
    int64_t* menu_say_extra;        // [N, 1]
    int32_t* menu_say_extras;
    bool* in_pass;
    int64_t* count;                 // how many envs are in_pass
    int64_t* error;                 // 0, or 1 + the first env with an index out of its table
};

// The constants the kernel was built with (CONSTANTS, in order); returns how many there are.
int64_t longplay_route_constants(int64_t* out, int64_t size) {
    const int64_t n = int64_t(sizeof(CONSTANTS) / sizeof(CONSTANTS[0]));
    for (int64_t k = 0; k < n && k < size; ++k) out[k] = CONSTANTS[k];
    return n;
}

}  // extern "C"

namespace {

// One env's route. Returns false when an index fell outside its table (the env's writes are then undefined).
bool route_env(const Route& o, int64_t i, bool& pass) {
    bool bad = false;
    auto ok = [&bad](int64_t index, int64_t size) {
        if (index >= 0 && index < size) return true;
        bad = true;
        return false;
    };
    const int64_t events_cols = o.events_cols, done_cols = o.done_cols, party_slots = o.party_slots;
    const int64_t dummy = o.dummy, num_boulders = o.num_boulders;
    bool* events = o.events + i * events_cols;
    bool* done = o.done + i * done_cols;
    int32_t* party = o.party + i * party_slots * MON_WIDTH;
    int32_t* bag = o.bag + i * o.bag_cols;
    int32_t* boulder_xy = o.boulder_xy + i * o.boulder_slots * 2;
    const int64_t world = o.world[i];
    const int64_t map_base = o.map_base[i], ent_base = o.ent_base[i];

    auto event = [&](int64_t col) { return ok(col, events_cols) && events[col]; };
    auto set_event = [&](int64_t col) {
        if (ok(col, events_cols)) events[col] = true;
    };
    auto is_done = [&](int64_t e) { return ok(e, done_cols) && done[e]; };
    auto mark_done = [&](int64_t e) {
        if (ok(e, done_cols)) done[e] = true;
    };
    auto row = [&](int64_t e) -> const int32_t* {  // Ctx.rows
        int64_t r = ent_base + e;
        if (!ok(r, o.ent_rows)) r = 0;
        return o.ent + r * o.ent_cols;
    };
    auto visible = [&](int64_t e) {  // common.visible
        const int32_t* r = row(e);
        return event(r[o.e_show]) && !event(r[o.e_hide]) && !(is_done(e) && r[o.e_hidden_when_done] != 0);
    };
    auto boulder_visible = [&](int64_t b) {  // common.boulder_visible
        const int32_t* v = o.boulder_vis + (world * num_boulders + b) * 2;
        return event(v[0]) && !event(v[1]);
    };

    // the tick and the route
    const int64_t tick = o.tick[i] + 1;
    o.tick[i] = tick;
    const uint32_t key = uint32_t(o.key[i]);
    const uint64_t rng_slots = uint64_t(o.rng_slots);
    auto draw = [&](int64_t slot) -> int64_t {  // rng.draw_all's column ``slot``: rand(key, tick, slot)
        return int64_t(mix32(key ^ mix32(uint32_t(uint64_t(tick) * rng_slots + uint64_t(slot)))));
    };
    const int32_t button = o.button[i];
    const bool live = button >= 0 && button < NUM_BUTTONS && !o.finished[i];
    const bool in_battle = live && o.battle_kind[i] != 0;
    // the random draws: every used slot for the battle press, the only reader of rnd (zeros elsewhere, a draw
    // like any other for the masked-off rows the battle press computes with). The outputs are kept from call
    // to call: only the rows of the envs in a battle now or at the last call are written.
    const int64_t used_slots = o.used_slots;
    int64_t* rnd = o.rnd + i * used_slots;
    if (in_battle) {
        for (int64_t slot = 0; slot < used_slots; ++slot) rnd[slot] = draw(slot);
    } else if (o.in_battle[i]) {
        for (int64_t slot = 0; slot < used_slots; ++slot) rnd[slot] = 0;
    }
    const bool in_dialog = live && !in_battle && o.dialog_texts[i] + o.dialog_extras[i] - o.dialog_head[i] > 0;
    const bool in_menu = live && !in_battle && !in_dialog && o.menu[i] != MENU_NONE;
    const bool in_overworld = live && !in_battle && !in_dialog && !in_menu;
    bool able = false;  // first_able >= 0 (a slot below the count with HP; most envs stop at the lead)
    const int64_t able_slots = clamp(o.party_count[i], 0, party_slots);
    for (int64_t k = 0; k < able_slots && !able; ++k) able = party[k * MON_WIDTH + HP] > 0;

    // the outputs: nothing, unless a rule below sets them
    bool say = false, wild = false, healer = false, fight = false, whiteout = false, menu_say = false;
    int32_t say_first = 0, say_texts = 0, say_extras = 0, say_effect = 0, say_arg = 0;
    int64_t say_extra = 0, menu_say_extra = 0;
    int32_t wild_species = 0, wild_level = 0;
    // the trainer a text box's effect starts (dialog.press computes it for every env from its dialog_arg)
    const int32_t dialog_arg = o.dialog_arg[i];
    const int32_t trainer_entity = dialog_arg;
    const int32_t trainer = row(clamp(dialog_arg, 0, dummy))[o.e_trainer];
    // a party record to write at the end (a capsule's partner, a menu's swap or heal): up to two
    int32_t writes[2][MON_WIDTH];
    int64_t write_slot[2] = {-1, -1};
    // every env marks the dummy entity done, but a capsule whose group fills its members (common.mark_done)
    bool marks_dummy = true;

    if (in_overworld) {  // ---------------------------------------------------------------- overworld.press
        int32_t facing = o.facing[i], x = o.x[i], y = o.y[i], map = o.map[i], ward = o.ward_steps[i];
        bool surfing = o.surfing[i];
        const bool is_dir = button <= DIR_RIGHT;
        const bool turn = is_dir && facing != button, move = is_dir && facing == button;
        const bool press_a = button == BUTTON_A;
        if (turn) facing = button;
        const int32_t f = ok(facing, 4) ? facing : 0;
        const int32_t dx = DX[f], dy = DY[f];
        const int32_t fx = x + dx, fy = y + dy, bx = fx + dx, by = fy + dy;
        auto cell = [&](int32_t m, int32_t cx, int32_t cy) {  // Ctx.cell
            return (map_base + m) * o.cells_per_map + (int64_t(cy) + o.pad) * o.wp + (int64_t(cx) + o.pad);
        };
        int64_t c_front = cell(map, fx, fy), c_beyond = cell(map, bx, by);
        if (!ok(c_front, o.cells)) c_front = 0;
        if (!ok(c_beyond, o.cells)) c_beyond = 0;
        const int32_t f_front = o.cell_flags[c_front], f_beyond = o.cell_flags[c_beyond];
        auto entity_at = [&](int64_t c, int32_t ex, int32_t ey) -> int64_t {  // common.entity_at
            const int32_t* cand = o.cell_entities + c * o.cell_k;
            for (int64_t k = 0; k < o.cell_k; ++k)
                if (visible(cand[k])) return cand[k];
            for (int64_t b = 0; b < num_boulders; ++b) {
                if (o.boulder_map[world * num_boulders + b] == map && boulder_xy[b * 2] == ex
                    && boulder_xy[b * 2 + 1] == ey && boulder_visible(b))
                    return o.boulders[world * num_boulders + b];
            }
            return dummy;
        };
        const int64_t e_front = entity_at(c_front, fx, fy), e_beyond = entity_at(c_beyond, bx, by);
        const int32_t* r_front = row(e_front);
        const bool found = e_front != dummy;
        const int32_t* abilities = o.ability_col + world * o.ability_cols;
        const bool can_chop = event(abilities[ABILITY_CHOP]), can_swim = event(abilities[ABILITY_SWIM]);
        const bool can_shove = event(abilities[ABILITY_SHOVE]);
        const int32_t* specials = o.specials + world * o.specials_cols;

        // moving
        const bool free_beyond = (f_beyond & WALKABLE) != 0 && (f_beyond & WARP) == 0 && e_beyond == dummy;
        const bool push = move && found && r_front[o.e_kind] == EK_BOULDER && can_shove && free_beyond;
        const bool open = move && !found;
        const bool hop = open && (f_front & LEDGE) != 0 && facing == DIR_DOWN && free_beyond;
        const bool water = open && (f_front & WATER) != 0;
        const bool start_swim = water && !surfing && can_swim;
        const bool swim = water && (surfing || can_swim);
        const bool walk = open && (f_front & WALKABLE) != 0;
        const bool arrive = push || hop || swim || walk;
        surfing = (surfing || start_swim) && !(walk || hop || push);
        if (num_boulders && push) {
            const int64_t slot = r_front[o.e_boulder_slot];
            if (ok(slot, o.boulder_slots)) {
                boulder_xy[slot * 2] = bx;
                boulder_xy[slot * 2 + 1] = by;
            }
        }

        // arriving: warps, then trainers' sight, then wild encounters
        const int64_t c_arr = hop ? c_beyond : c_front;
        const int32_t f_arr = hop ? f_beyond : f_front;
        if (arrive && ward > 0) ward -= 1;
        const bool warp = arrive && (f_arr & WARP) != 0;
        if (warp) {
            const int32_t target = o.warp_to[c_arr];
            map = target >> 20;
            y = (target >> 10) & 1023;
            x = target & 1023;
        } else if (arrive) {
            x = hop ? bx : fx;
            y = hop ? by : fy;
        }
        surfing = surfing && !warp;
        int64_t map_row = map_base + map;
        if (!ok(map_row, o.map_rows)) map_row = 0;
        const int32_t* info = o.map_info + map_row * 3;  // encounter rate, enter event, encounter total
        const bool stay = arrive && !warp;
        bool seen = false;
        int64_t trainer_e = dummy;
        if (stay && able) {  // overworld._sight: the first unbeaten, visible trainer whose sight reaches c_arr
            const int32_t* cand = o.sight_entity + c_arr * o.sight_k;
            const int32_t* dist = o.sight_dist + c_arr * o.sight_k;
            const int32_t* block = o.sight_block + c_arr * o.sight_k * o.sight_f;
            for (int64_t k = 0; k < o.sight_k && !seen; ++k) {
                const int64_t e = cand[k];
                if (!visible(e) || is_done(e)) continue;
                bool blocked = false;
                for (int64_t j = 0; j < o.sight_f && !blocked; ++j) blocked = visible(block[k * o.sight_f + j]);
                if (num_boulders && !blocked) {
                    const int32_t* r = row(e);
                    int64_t tf = r[o.e_facing];
                    if (!ok(tf, 4)) tf = 0;
                    const int32_t tdx = DX[tf], tdy = DY[tf];
                    for (int64_t b = 0; b < num_boulders && !blocked; ++b) {
                        const int32_t rx = boulder_xy[b * 2] - r[o.e_x], ry = boulder_xy[b * 2 + 1] - r[o.e_y];
                        const int32_t along = rx * tdx + ry * tdy, across = rx * tdy - ry * tdx;
                        blocked = o.boulder_map[world * num_boulders + b] == map && boulder_visible(b)
                                  && across == 0 && along > 0 && along < dist[k];
                    }
                }
                if (!blocked) {
                    seen = true;
                    trainer_e = e;
                    facing = row(e)[o.e_facing] ^ 1;  // the opposite direction (UP <-> DOWN, LEFT <-> RIGHT)
                }
            }
        }
        wild = stay && !seen && info[0] > 0 && (f_arr & ENCOUNTER) != 0 && ward == 0 && able
               && (draw(RNG_ENCOUNTER) & 255) < info[0];
        if (wild) {
            const int64_t total = info[2];
            if (ok(total - 1, INT64_MAX)) {
                const int64_t pick = draw(RNG_ENCOUNTER_SLOT) % total;
                const int32_t* enc = o.encounters + map_row * o.enc_r * 4;
                int64_t r = 0;
                for (int64_t k = 0; k < o.enc_r; ++k) r += enc[k * 4 + 3] <= pick;
                r = r > o.enc_r - 1 ? o.enc_r - 1 : r;
                const int32_t* chosen = enc + r * 4;
                const int64_t span = chosen[2] < 1 ? 1 : chosen[2];
                wild_species = chosen[0];
                wild_level = chosen[1] + int32_t(draw(RNG_ENCOUNTER_LEVEL) % span);
            }
        }

        // interacting
        const bool counter = press_a && !found && (f_front & COUNTER) != 0;
        const int64_t e_target = counter ? e_beyond : e_front;
        const int32_t* r = counter ? row(e_beyond) : r_front;
        const int32_t kind = r[o.e_kind];
        const bool act = press_a && e_target != dummy;
        const bool done_e = is_done(e_target);
        auto is = [&](int32_t k) { return act && kind == k; };
        const bool capsule = is(EK_CAPSULE) && !(o.party_count[i] >= PARTY_SIZE);
        const bool trainer_fight = is(EK_TRAINER) && !done_e && able;
        const bool gift_new = is(EK_GIFTER) && !done_e;
        const bool pick_item = is(EK_ITEM);
        const bool chop = is(EK_CUT_TREE) && can_chop;
        const bool clerk = is(EK_CLERK);
        const bool give = pick_item || gift_new;
        const bool talks = is(EK_PERSON) || is(EK_SIGN) || is(EK_GUARD) || is(EK_HEALER)
                           || (is(EK_TRAINER) && !trainer_fight) || (is(EK_GIFTER) && done_e) || capsule;
        const bool plain = trainer_fight || clerk || gift_new;
        const bool after = talks && (done_e || capsule) && r[o.e_after_text] >= 0;
        const int32_t run_first = after ? r[o.e_after_text] : r[o.e_text];
        const int32_t run_count = after ? r[o.e_after_pages] : ((talks || plain) ? r[o.e_pages] : 0);
        const int32_t item = r[o.e_item], count = r[o.e_count];
        int64_t extra = give ? (count > 1 ? page(MSG_GOT_ITEMS, item, count) : page(MSG_GOT_ITEM, item))
                             : page(MSG_HEALED);
        if (capsule) extra = page(MSG_GOT_PARTNER, r[o.e_species]);
        if (is(EK_BOULDER)) extra = page(MSG_BLOCKED_BOULDER);
        if (is(EK_CUT_TREE)) extra = chop ? page(MSG_CHOPPED) : page(MSG_BLOCKED_TREE);
        const bool has_extra = give || is(EK_HEALER) || capsule || (is(EK_BOULDER) && !can_shove) || is(EK_CUT_TREE);
        const bool clerk_talks = clerk && r[o.e_pages] > 0;
        const int32_t effect = trainer_fight ? EFFECT_TRAINER_BATTLE : (clerk_talks ? EFFECT_OPEN_SHOP : EFFECT_NONE);
        const int32_t arg = trainer_fight ? int32_t(e_target) : r[o.e_shop];
        if (clerk && !clerk_talks) {  // a clerk without pages opens the shop at once
            o.menu[i] = MENU_SHOP;
            o.menu_cursor[i] = 0;
            o.menu_choice[i] = r[o.e_shop];
        }
        if (button == BUTTON_START) {
            o.menu[i] = MENU_START;
            o.menu_cursor[i] = 0;
            o.menu_choice[i] = 0;
        }
        if (give && ok(item, o.bag_cols)) {  // items into the bag
            const int32_t held = bag[item] + count;
            bag[item] = held > MAX_ITEM_COUNT ? MAX_ITEM_COUNT : held;
        }
        if (capsule) {  // a new partner (common.new_mon)
            const int32_t species = r[o.e_species], level = r[o.e_level];
            int64_t stats_row = int64_t(species) * o.levels + level;
            if (!ok(stats_row, o.stats_rows)) stats_row = 0;
            const int32_t* st = o.stats + stats_row * 4;
            const int32_t* mv = o.moves_at + stats_row * 4;
            int32_t* rec = writes[0];
            rec[SPECIES] = species;
            rec[LEVEL] = level;
            rec[EXP] = level * level * level;
            rec[HP] = st[0];
            for (int k = 0; k < 4; ++k) {
                rec[MAX_HP + k] = st[k];
                rec[MOVES + k] = mv[k];
                const int64_t move = int64_t(mv[k]) + 1;
                rec[PP + k] = ok(move, o.move_rows) ? o.move_pp[move] : 0;
            }
            write_slot[0] = clamp(o.party_count[i], 0, party_slots - 1);
            o.party_count[i] += 1;
        }
        healer = is(EK_HEALER);
        if (healer) {  // rest house
            o.respawn[i * 3] = map;
            o.respawn[i * 3 + 1] = x;
            o.respawn[i * 3 + 2] = y;
        }
        // done marks: items, gifts, trees, capsules (with their group)
        if (capsule) {
            int64_t members = ent_base + e_target;
            if (ok(members, o.ent_rows)) {
                marks_dummy = false;
                for (int64_t g = 0; g < o.group_g; ++g) {
                    const int64_t e = o.group_members[members * o.group_g + g];
                    marks_dummy |= e == dummy;
                    mark_done(e);
                }
            }
        }
        if (pick_item || gift_new || chop || capsule) mark_done(e_target);
        else marks_dummy = true;
        // events
        if (warp) set_event(info[1]);
        if (push) set_event(specials[o.s_first_shove]);
        if (start_swim) set_event(specials[o.s_first_swim]);
        if (chop) set_event(specials[o.s_first_chop]);
        if (pick_item || gift_new || capsule) set_event(r[o.e_sets]);

        // the pages: a trainer who saw the player, or what was interacted with
        say = act || seen;
        if (seen) {
            const int32_t* tr = row(trainer_e);
            say_first = tr[o.e_text];
            say_texts = tr[o.e_pages];
            say_extras = 0;
            say_effect = EFFECT_TRAINER_BATTLE;
            say_arg = int32_t(trainer_e);
        } else {
            say_first = run_first;
            say_texts = run_count;
            say_extras = has_extra;
            say_effect = effect;
            say_arg = arg;
        }
        say_extra = extra;
        o.facing[i] = facing;
        o.x[i] = x;
        o.y[i] = y;
        o.map[i] = map;
        o.surfing[i] = surfing;
        o.ward_steps[i] = ward;
    } else if (in_dialog) {  // -------------------------------------------------------------------- dialog.press
        if (button == BUTTON_A || button == BUTTON_B) {
            const int32_t head = o.dialog_head[i] + 1;
            o.dialog_head[i] = head;
            if (o.dialog_texts[i] + o.dialog_extras[i] - head == 0) {  // the last page: its effect runs
                const int32_t effect = o.dialog_effect[i];
                o.dialog_effect[i] = EFFECT_NONE;
                o.dialog_arg[i] = 0;
                fight = effect == EFFECT_TRAINER_BATTLE;
                whiteout = effect == EFFECT_WHITEOUT;
                if (effect == EFFECT_FINISH) o.finished[i] = true;
                if (effect == EFFECT_OPEN_SHOP) {
                    o.menu[i] = MENU_SHOP;
                    o.menu_cursor[i] = 0;
                    o.menu_choice[i] = dialog_arg;
                }
                if (whiteout) {  // back to the last rest house, facing up, half the money (healed by the engine)
                    o.map[i] = o.respawn[i * 3];
                    o.x[i] = o.respawn[i * 3 + 1];
                    o.y[i] = o.respawn[i * 3 + 2];
                    o.facing[i] = 0;
                    o.surfing[i] = false;
                    o.money[i] = floor_div(o.money[i], 2);
                }
            }
        }
    } else if (in_menu) {  // ------------------------------------------------------------------------ menus.press
        const int32_t kind = o.menu[i], cursor = o.menu_cursor[i], choice = o.menu_choice[i];
        const int32_t party_count = o.party_count[i];
        const int64_t num_items = o.num_items;
        int32_t held_count = 0;
        for (int64_t k = 0; k < num_items; ++k) held_count += bag[k] > 0;
        int64_t shop_row = int64_t(o.shop_base[i]) + clamp(choice, 0, o.num_shops - 1);
        if (!ok(shop_row, o.shop_rows)) shop_row = 0;
        const int32_t shop_len = o.shop_len[shop_row];
        const bool is_start = kind == MENU_START, is_party = kind == MENU_PARTY, is_bag = kind == MENU_BAG;
        const bool is_target = kind == MENU_BAG_TARGET, is_shop = kind == MENU_SHOP;
        const int32_t rows = is_start ? 3 : ((is_party || is_target) ? party_count
                                             : (is_bag ? held_count : (is_shop ? shop_len + 1 : 0)));
        const bool updown = (button == BUTTON_UP || button == BUTTON_DOWN) && rows > 0;
        const bool back = button == BUTTON_B || (button == BUTTON_START && is_start);
        const bool choose = button == BUTTON_A && cursor < rows;

        // choosing
        const bool start_back = choose && is_start && cursor == 2;
        const bool swap = choose && is_party;
        const int32_t* chosen = party + clamp(cursor, 0, party_slots - 1) * MON_WIDTH;  // gather_mon
        int32_t item = 0;  // menus.nth_item(bag, cursor)
        for (int64_t k = 0, rank = 0; k < num_items; ++k) {
            if (bag[k] > 0 && ++rank == int64_t(cursor) + 1) {
                item = int32_t(k);
                break;
            }
        }
        if (!ok(item, o.item_rows)) item = 0;
        const bool heals = o.item_heal[item] > 0 || o.item_revives[item] > 0;
        const bool bag_target = choose && is_bag && heals;
        const bool ward = choose && is_bag && !heals && item == ITEM_WARD_SPRAY;
        const bool cant = choose && is_bag && !heals && item != ITEM_WARD_SPRAY;
        const int32_t target_item = int32_t(clamp(choice, 0, num_items - 1));
        const int32_t hp = chosen[HP], max_hp = chosen[MAX_HP];
        const int32_t heal_amount = ok(target_item, o.item_rows) ? o.item_heal[target_item] : 0;
        const bool revive = ok(target_item, o.item_rows) && o.item_revives[target_item] > 0 && hp == 0;
        const bool heal = !revive && heal_amount > 0 && hp > 0 && hp < max_hp;
        const bool target = choose && is_target;
        const bool used = target && (revive || heal);
        const bool no_effect = target && !used;
        if (swap || used) {  // the lead to the chosen slot then the chosen to the lead's, or the creature healed
            std::memcpy(writes[0], swap ? party : chosen, sizeof(writes[0]));
            if (!swap) {
                const int32_t half = floor_div(max_hp, 2);
                writes[0][HP] = revive ? (half < 1 ? 1 : half) : (max_hp < hp + heal_amount ? max_hp : hp + heal_amount);
            }
            write_slot[0] = clamp(cursor, 0, party_slots - 1);
            if (swap) {
                std::memcpy(writes[1], chosen, sizeof(writes[1]));
                write_slot[1] = 0;
            }
        }
        // shop
        const int32_t* stock = o.shop_stock + shop_row * o.shop_l;
        int32_t stock_item = stock[clamp(cursor, 0, o.shop_l - 1)];
        stock_item = stock_item < 0 ? 0 : stock_item;
        const bool shop = choose && is_shop;
        const bool shop_exit = shop && cursor == shop_len;
        const bool buying = shop && !shop_exit;
        const int32_t price = ok(stock_item, o.item_rows) ? o.item_price[stock_item] : 0;
        const int32_t in_bag = ok(stock_item, o.bag_cols) ? bag[stock_item] : 0;
        const bool poor = buying && o.money[i] < price;
        const bool full = buying && !poor && in_bag >= MAX_ITEM_COUNT;
        const bool buy = buying && !poor && !full;
        if (buy) o.money[i] -= price;
        // bag counts: one item used (ward spray, a target) or bought
        bool emptied = false;
        if (ward || used || buy) {
            const int32_t bag_item = ward ? ITEM_WARD_SPRAY : (used ? target_item : stock_item);
            if (ok(bag_item, o.bag_cols)) {
                const int32_t after = bag[bag_item] + (buy ? 1 : -1);
                bag[bag_item] = after;
                emptied = used && after == 0;
            }
        }
        if (ward) o.ward_steps[i] = WARD_STEPS;

        // menu state
        const bool to_start = back && (is_party || is_bag);
        const bool to_bag = (back && is_target) || emptied;
        const bool close = (back && !is_party && !is_bag && !is_target) || start_back || shop_exit;
        int32_t menu = kind;
        if (to_start) menu = MENU_START;
        if (to_bag) menu = MENU_BAG;
        if (choose && is_start && cursor == 0) menu = MENU_PARTY;
        if (choose && is_start && cursor == 1) menu = MENU_BAG;
        if (bag_target) menu = MENU_BAG_TARGET;
        if (close || ward) menu = MENU_NONE;
        int32_t new_cursor = cursor;
        if (updown) new_cursor = remainder(cursor + (button == BUTTON_DOWN ? 1 : -1), rows < 1 ? 1 : rows);
        if (to_start) new_cursor = is_bag;
        if (to_bag || close || ward || bag_target || (choose && is_start)) new_cursor = 0;
        o.menu_choice[i] = close ? 0 : (bag_target ? item : choice);
        o.menu[i] = menu;
        o.menu_cursor[i] = new_cursor;

        // pages
        int64_t extra = ward ? page(MSG_WARD_USED) : page(MSG_CANT_USE);
        if (no_effect) extra = page(MSG_NO_EFFECT);
        if (used) extra = page(MSG_USED_ITEM, target_item, chosen[SPECIES]);
        if (poor) extra = page(MSG_NOT_ENOUGH_MONEY);
        if (full) extra = page(MSG_BAG_FULL);
        menu_say = ward || cant || no_effect || used || poor || full;
        menu_say_extra = extra;
    }

    if (marks_dummy) mark_done(dummy);
    for (int k = 0; k < 2; ++k)  // the party writes, after every read of the party
        if (write_slot[k] >= 0) std::memcpy(party + write_slot[k] * MON_WIDTH, writes[k], sizeof(writes[k]));

    o.in_battle[i] = in_battle;
    o.say_mask[i] = say;
    o.say_first[i] = say_first;
    o.say_texts[i] = say_texts;
    o.say_extra[i] = say_extra;
    o.say_extras[i] = say_extras;
    o.say_effect[i] = say_effect;
    o.say_arg[i] = say_arg;
    o.wild_mask[i] = wild;
    o.wild_species[i] = wild_species;
    o.wild_level[i] = wild_level;
    o.healer[i] = healer;
    o.trainer_mask[i] = fight;
    o.trainer_trainer[i] = trainer;
    o.trainer_entity[i] = trainer_entity;
    o.whiteout[i] = whiteout;
    o.menu_say_mask[i] = menu_say;
    o.menu_say_extra[i] = menu_say_extra;
    o.menu_say_extras[i] = menu_say;
    pass = in_battle || wild || fight || healer || whiteout;
    o.in_pass[i] = pass;
    return !bad;
}

}  // namespace

extern "C" {

// Routes every env; *o->count is how many envs are in_pass, *o->error 0 or 1 + the first env with an index out
// of its table.
void longplay_route(const Route* o) {
    int64_t first_bad = INT64_MAX, count = 0;
    #pragma omp parallel for schedule(static) num_threads(o->threads) reduction(min:first_bad) reduction(+:count)
    for (int64_t i = 0; i < o->num_envs; ++i) {
        bool pass = false;
        if (!route_env(*o, i, pass) && i < first_bad) first_bad = i;
        count += pass;
    }
    *o->count = count;
    *o->error = first_bad == INT64_MAX ? 0 : first_bad + 1;
}

}  // extern "C"
