// The symbolic observation of N quest games in one pass per env (longplay.envs.quest.batched.native).
//
// The same values as the torch ops of batched/render.py (symbolic_view) and BatchedQuest.vector, computed env by
// env: each env's state is read once and its observation written once, where the compiled torch version makes
// dozens of passes over every env (one per loop nest inductor generates). Pointers are to contiguous CPU tensors
// of the dtypes named; native.py checks them before every call. No allocation, no exceptions: an index out of
// its table sets *error to 1 + the env (the first such env) and that env's observation is left unwritten.

#include <cstdint>
#include <cstring>

namespace {

constexpr int VIEW_W = 10, VIEW_H = 9, CELLS = VIEW_W * VIEW_H;
constexpr int SPRITE_MASK = 31;
constexpr int VECTOR = 32;

// the columns of a creature record (batched/state.py)
constexpr int SPECIES = 0, LEVEL = 1, HP = 3, MAX_HP = 4;

}  // namespace

extern "C" {

// Everything one call reads and writes. The layout is mirrored by native.py's ctypes.Structure field for field.
struct Observe {
    int64_t num_envs;
    int64_t threads;
    // sizes
    int64_t num_events_cols;  // events' columns (NE + 3)
    int64_t num_done_cols;    // done's columns (E + 1)
    int64_t party_slots;      // PARTY_SIZE + 1 (the last is scratch)
    int64_t party_size;       // PARTY_SIZE
    int64_t enemy_slots;      // TS + 1
    int64_t mon_width;
    int64_t bag_cols;         // NUM_ITEMS + 1
    int64_t boulder_slots;    // B + 1 (the last is scratch); 0 when the worlds have no boulders
    int64_t num_boulders;     // B
    int64_t cells;            // rows of tile_rows
    int64_t cells_per_map;
    int64_t wp;               // padded map width
    int64_t pad;
    int64_t drawn_rows;       // rows of map_drawn (worlds * maps)
    int64_t drawn_per_map;    // EM
    int64_t drawn_cols;
    int64_t badge_cols;       // badges per world
    int64_t ability_cols;     // abilities per world
    int64_t num_key_items;
    int64_t view_x, view_y;   // the player's cell on screen
    // map_drawn's columns
    int64_t d_entity, d_x, d_y, d_key, d_show, d_hide, d_hidden_when_done, d_boulder_slot;
    // state (int32 unless named)
    const int32_t* map;
    const int32_t* x;
    const int32_t* y;
    const int32_t* facing;
    const bool* surfing;
    const int32_t* money;
    const int32_t* party_count;
    const int32_t* party;  // [N, party_slots, mon_width]
    const int32_t* box_count;
    const int32_t* bag;    // [N, bag_cols]
    const bool* events;    // [N, num_events_cols]
    const bool* done;      // [N, num_done_cols]
    const int32_t* boulder_xy;  // [N, boulder_slots, 2]
    const int32_t* ward_steps;
    const int32_t* dialog_texts;
    const int32_t* dialog_extras;
    const int32_t* dialog_head;
    const int32_t* menu;
    const int32_t* menu_cursor;
    const int32_t* battle_kind;
    const int32_t* enemy_count;
    const int32_t* enemy;  // [N, enemy_slots, mon_width]
    const int32_t* enemy_active;
    const int32_t* player_active;
    const int32_t* battle_phase;
    const int32_t* battle_cursor;
    const int32_t* milestones;  // the engine's count of each env's milestones
    // per env
    const int64_t* world;      // [N]
    const int32_t* map_base;   // [N] world * maps
    // tables
    const uint8_t* tile_rows;  // [cells, 16] tile kinds from each cell on
    const int32_t* map_drawn;  // [drawn_rows, drawn_per_map, drawn_cols]
    const int32_t* badge_col;  // [worlds, badge_cols] event columns
    const int32_t* ability_col;  // [worlds, ability_cols]
    const int64_t* key_items;  // [num_key_items] bag columns
    // out
    uint8_t* tiles;     // [N, VIEW_H, VIEW_W]
    uint8_t* entities;  // [N, VIEW_H, VIEW_W]
    float* vector;      // [N, 32]
    int64_t* error;     // 0, or 1 + the first env with an index out of its table
};

static inline bool inside(int64_t index, int64_t size) { return index >= 0 && index < size; }

static bool observe_env(const Observe& o, int64_t i) {
    const int32_t map = o.map[i], x = o.x[i], y = o.y[i];
    const int64_t map_row = int64_t(o.map_base[i]) + map;
    const bool* events = o.events + i * o.num_events_cols;
    const bool* done = o.done + i * o.num_done_cols;
    const int64_t world = o.world[i];

    // tiles: each screen row is the VIEW_W tile kinds from its first cell on (VOID off the map: the padding)
    const int64_t first = map_row * o.cells_per_map + (int64_t(y) + o.pad) * o.wp + (int64_t(x) - o.view_x + o.pad);
    // (byte stores may alias anything, the struct's fields included: sizes and pointers are read into locals
    // first, and rows are copied whole, so the compiler need not reload them after every byte)
    uint8_t* tiles = o.tiles + i * CELLS;
    const uint8_t* tile_rows = o.tile_rows;
    const int64_t wp = o.wp, cells = o.cells, top = first - o.view_y * wp;
    for (int r = 0; r < VIEW_H; ++r) {
        const int64_t cell = top + r * wp;
        if (!inside(cell, cells)) return false;
        std::memcpy(tiles + r * VIEW_W, tile_rows + cell * 16, VIEW_W);
    }

    // entities: the sprite of the last visible entity of the map's drawing order on each cell
    if (!inside(map_row, o.drawn_rows)) return false;
    uint8_t grid[CELLS] = {};  // written here, copied out once (see the tiles)
    const int64_t drawn_per_map = o.drawn_per_map, drawn_cols = o.drawn_cols, num_boulders = o.num_boulders;
    const int64_t num_events_cols = o.num_events_cols, num_done_cols = o.num_done_cols;
    const int32_t left = x - int32_t(o.view_x), upper = y - int32_t(o.view_y);
    const int32_t* drawn = o.map_drawn + map_row * drawn_per_map * drawn_cols;
    const int32_t* boulders = o.boulder_xy + i * o.boulder_slots * 2;
    for (int64_t rank = 0; rank < drawn_per_map; ++rank) {
        const int32_t* d = drawn + rank * drawn_cols;
        const int32_t entity = d[o.d_entity], show = d[o.d_show], hide = d[o.d_hide];
        if (!inside(show, num_events_cols) || !inside(hide, num_events_cols) || !inside(entity, num_done_cols))
            return false;
        if (!events[show] || events[hide] || (done[entity] && d[o.d_hidden_when_done] != 0)) continue;
        int32_t ex = d[o.d_x], ey = d[o.d_y];
        const int32_t slot = d[o.d_boulder_slot];
        if (slot >= 0 && slot < num_boulders) {  // boulders move: their positions are state
            ex = boulders[slot * 2];
            ey = boulders[slot * 2 + 1];
        }
        const int32_t col = ex - left, row = ey - upper;
        if (col >= 0 && col < VIEW_W && row >= 0 && row < VIEW_H)
            grid[row * VIEW_W + col] = uint8_t(d[o.d_key] & SPRITE_MASK);
    }
    std::memcpy(o.entities + i * CELLS, grid, CELLS);

    // the vector (game.VECTOR_FIELDS), every field a small integer converted to float32 once
    const bool in_battle = o.battle_kind[i] != 0;
    const int32_t pages = o.dialog_texts[i] + o.dialog_extras[i] - o.dialog_head[i];
    const int32_t mode = in_battle ? 3 : (pages > 0 ? 1 : (o.menu[i] != 0 ? 2 : 0));
    int32_t badges = 0;
    for (int64_t b = 0; b < o.badge_cols; ++b) {
        const int32_t col = o.badge_col[world * o.badge_cols + b];
        if (!inside(col, o.num_events_cols)) return false;
        badges += events[col];
    }
    int32_t abilities = 0;
    for (int64_t b = 0; b < o.ability_cols; ++b) {
        const int32_t col = o.ability_col[world * o.ability_cols + b];
        if (!inside(col, o.num_events_cols)) return false;
        abilities += events[col];
    }
    const int32_t count = o.party_count[i];
    const int32_t* party = o.party + i * o.party_slots * o.mon_width;
    const int32_t has_lead = count > 0;
    const int32_t lead[3] = {party[LEVEL] * has_lead, party[HP] * has_lead, party[MAX_HP] * has_lead};
    int32_t active[3] = {lead[0], lead[1], lead[2]};
    if (in_battle && o.player_active[i] < count) {
        int64_t slot = o.player_active[i];
        slot = slot < 0 ? 0 : (slot > o.party_slots - 1 ? o.party_slots - 1 : slot);
        const int32_t* m = party + slot * o.mon_width;
        active[0] = m[LEVEL];
        active[1] = m[HP];
        active[2] = m[MAX_HP];
    }
    int32_t enemy[4] = {-1, 0, 0, 0};
    if (in_battle && o.enemy_count[i] > 0) {
        int64_t slot = o.enemy_active[i];
        slot = slot < 0 ? 0 : (slot > o.enemy_slots - 1 ? o.enemy_slots - 1 : slot);
        const int32_t* m = o.enemy + (i * o.enemy_slots + slot) * o.mon_width;
        enemy[0] = m[SPECIES];
        enemy[1] = m[LEVEL];
        enemy[2] = m[HP];
        enemy[3] = m[MAX_HP];
    }
    int32_t party_hp = 0, party_max = 0;
    for (int64_t k = 0; k < o.party_size; ++k) {
        if (k < count) {
            party_hp += party[k * o.mon_width + HP];
            party_max += party[k * o.mon_width + MAX_HP];
        }
    }
    int32_t key_items = 0;
    const int32_t* bag = o.bag + i * o.bag_cols;
    for (int64_t k = 0; k < o.num_key_items; ++k) key_items += bag[o.key_items[k]] > 0;

    const int32_t values[VECTOR] = {
        mode, o.facing[i], map, x, y, int32_t(o.surfing[i]), o.money[i], badges, count, o.menu[i],
        o.menu_cursor[i], o.battle_kind[i], o.battle_phase[i], o.battle_cursor[i], pages, o.ward_steps[i],
        lead[0], lead[1], lead[2], active[0], active[1], active[2], enemy[0], enemy[1], enemy[2], enemy[3],
        party_hp, party_max, o.box_count[i], o.milestones[i], key_items, abilities};
    float* vector = o.vector + i * VECTOR;
    for (int k = 0; k < VECTOR; ++k) vector[k] = float(values[k]);
    return true;
}

// Observes every env; *o->error is 0, or 1 + the first env with an index out of its table.
void longplay_observe(const Observe* o) {
    int64_t first_bad = INT64_MAX;
    #pragma omp parallel for schedule(static) num_threads(o->threads) reduction(min:first_bad)
    for (int64_t i = 0; i < o->num_envs; ++i) {
        if (!observe_env(*o, i) && i < first_bad) first_bad = i;
    }
    *o->error = first_bad == INT64_MAX ? 0 : first_bad + 1;
}

}  // extern "C"

// ============================================================================================ the episode ends
// What the CPU step does after the rare rules (BatchedQuest._finish_routed): queue the pages the overworld and the
// menus asked for (common.apply_say, overworld's first), then count milestones, rewards and the episodes that end
// (BatchedQuest._end_episodes). New values go to fresh output arrays (the engine rebinds its bookkeeping to them,
// as the torch ops do, so tensors handed out earlier keep their values).

extern "C" {

// pages to queue (common.Say): every array [N] int32 but mask (bool) and extra (int64 [N, extra_cols])
struct Say {
    const bool* mask;
    const int32_t* first;
    const int32_t* texts;
    const int64_t* extra;
    const int32_t* extras;
    const int32_t* effect;
    const int32_t* arg;
    int64_t extra_cols;
};

struct Finish {
    int64_t num_envs;
    int64_t threads;
    int64_t dialog_extra_cols;  // EXTRA_PAGES
    int64_t num_events_cols;
    int64_t milestone_cols;
    Say say[2];  // the overworld's, then the menus'
    // state, written in place
    int32_t* dialog_first;
    int32_t* dialog_texts;
    int32_t* dialog_extras;
    int32_t* dialog_head;
    int64_t* dialog_extra;  // [N, dialog_extra_cols]
    int32_t* dialog_effect;
    int32_t* dialog_arg;
    const bool* events;   // [N, num_events_cols]
    const bool* finished;
    // bookkeeping, read
    const bool* milestone_mask;  // [N, milestone_cols]: which event columns are the env's world's milestones
    const int32_t* milestones;
    const float* episode_return;
    const int32_t* episode_length;
    const int32_t* episode_limit;
    const int64_t* episode;
    // out
    int32_t* milestones_out;
    float* episode_return_out;
    int32_t* episode_length_out;
    int64_t* episode_out;
    float* reward;
    bool* terminated;
    bool* truncated;
    bool* done;
    bool* reached;  // [N, milestone_cols]
};

static void apply_say(const Finish& f, const Say& say, int64_t i) {
    if (!say.mask[i]) return;
    f.dialog_first[i] = say.first[i];
    f.dialog_texts[i] = say.texts[i];
    f.dialog_extras[i] = say.extras[i];
    f.dialog_head[i] = 0;
    for (int64_t k = 0; k < say.extra_cols; ++k) f.dialog_extra[i * f.dialog_extra_cols + k] = say.extra[i * say.extra_cols + k];
    if (say.effect[i] != 0) {  // EFFECT.NONE keeps the queued effect
        f.dialog_effect[i] = say.effect[i];
        f.dialog_arg[i] = say.arg[i];
    }
}

void longplay_finish(const Finish* f) {
    #pragma omp parallel for schedule(static) num_threads(f->threads)
    for (int64_t i = 0; i < f->num_envs; ++i) {
        apply_say(*f, f->say[0], i);
        apply_say(*f, f->say[1], i);
        const bool* events = f->events + i * f->num_events_cols;
        const bool* mask = f->milestone_mask + i * f->milestone_cols;
        bool* reached = f->reached + i * f->milestone_cols;
        int32_t count = 0;
        for (int64_t k = 0; k < f->milestone_cols; ++k) {
            reached[k] = events[k] && mask[k];
            count += reached[k];
        }
        const float reward = float(count - f->milestones[i]);
        f->reward[i] = reward;
        f->milestones_out[i] = count;
        f->episode_return_out[i] = f->episode_return[i] + reward;
        const int32_t length = f->episode_length[i] + 1;
        f->episode_length_out[i] = length;
        const bool terminated = f->finished[i];
        // a limit of 0 never truncates (no max_episode_steps)
        const bool truncated = f->episode_limit[i] > 0 && length >= f->episode_limit[i] && !terminated;
        f->terminated[i] = terminated;
        f->truncated[i] = truncated;
        f->done[i] = terminated || truncated;
        f->episode_out[i] = f->episode[i] + (terminated || truncated);
    }
}

}  // extern "C"
