"""Pixels of the quest game: frame shapes, distinct art, text boxes, menus, battles, palettes, determinism."""

from __future__ import annotations

import random
import string

import gymnasium as gym
import numpy as np
import pytest

from longplay.envs.quest import art, render
from longplay.envs.quest.battle import BattleMsg
from longplay.envs.quest.constants import (
    NUM_ITEMS,
    NUM_SPRITES,
    NUM_TILES,
    PLAYER_VIEW_X,
    PLAYER_VIEW_Y,
    TILE_PX,
    VIEW_H,
    VIEW_W,
    BattleKind,
    BattlePhase,
    Direction,
    Effect,
    EntityKind,
    Item,
    MapKind,
    MenuKind,
    Sprite,
    Tile,
)
from longplay.envs.quest.content import SPECIES
from longplay.envs.quest.dialog import Msg
from longplay.envs.quest.party import make_mon
from longplay.envs.quest.state import Battle, EntityDef, MapDef, QuestState, TrainerDef, World

# ============================================================================================ a tiny world

_TOWN = (
    "TTTTTTTTTTTTTT",
    "T....^^^^....T",
    "T....^^D^....T",
    "T.*..........T",
    "T.\"\"\"..~~~~..T",
    "T.\"\"\"..~++~..T",
    "T.....#~~~~..T",
    "Tvvvvv#......T",
    "T,,,%%.......T",
    "T,,,%%.._=m&.T",
    "T............T",
    "TTTTTTTTTTTTTT",
)
_HOUSE = (
    "&&&&&&",
    "_=___&",
    "______",
    "__m___",
)


def _grid(rows: tuple[str, ...]) -> bytes:
    from longplay.envs.quest.constants import TILE_CHARS

    return bytes(TILE_CHARS.index(ch) for row in rows for ch in row)


def make_world() -> World:
    """A town with every tile kind and sprite, and a house; two pages of text, one shop, one trainer."""
    town = MapDef(0, "Testville", MapKind.TOWN, len(_TOWN[0]), len(_TOWN), _grid(_TOWN))
    house = MapDef(1, "Test House", MapKind.HOUSE, len(_HOUSE[0]), len(_HOUSE), _grid(_HOUSE))
    K = EntityKind
    placed = [  # (kind, x, y, sprite, facing)
        (K.PERSON, 3, 3, Sprite.PERSON, Direction.DOWN),
        (K.SIGN, 9, 3, Sprite.SIGN, Direction.DOWN),
        (K.TRAINER, 10, 7, Sprite.TRAINER, Direction.LEFT),
        (K.ITEM, 7, 8, Sprite.ITEM_ORB, Direction.DOWN),
        (K.CAPSULE, 11, 1, Sprite.CAPSULE, Direction.DOWN),
        (K.GUARD, 12, 3, Sprite.GUARD, Direction.DOWN),
        (K.BOULDER, 2, 6, Sprite.BOULDER, Direction.DOWN),
        (K.CUT_TREE, 12, 8, Sprite.CUT_TREE, Direction.DOWN),
        (K.PERSON, 1, 1, Sprite.ELDER, Direction.RIGHT),
        (K.PERSON, 8, 10, Sprite.RIVAL, Direction.UP),
        (K.PERSON, 4, 1, Sprite.LEADER, Direction.DOWN),
        (K.PERSON, 1, 10, Sprite.ELITE, Direction.DOWN),
    ]
    entities = [EntityDef(i, kind, 0, x, y, facing=f, sprite=s, text=0, pages=1,
                          trainer=0 if kind == K.TRAINER else -1, item=Item.TONIC if kind == K.ITEM else -1,
                          count=1, species=0, level=5, group=0 if kind == K.CAPSULE else -1, sight=3
                          if kind == K.TRAINER else 0)
                for i, (kind, x, y, s, f) in enumerate(placed)]
    n = len(entities)
    entities += [EntityDef(n, K.HEALER, 1, 1, 0, sprite=Sprite.HEALER, text=1, pages=1),
                 EntityDef(n + 1, K.CLERK, 1, 1, 2, sprite=Sprite.CLERK, shop=0)]
    return World(
        size="mini", seed=0, name="Test", maps=(town, house), warps=(), entities=tuple(entities),
        trainers=(TrainerDef(0, "Ada", "Hiker", ((3, 4), (1, 6)), 120),),
        texts=("Hello there!\nNice day.", "Rest well, friend.", "World"),
        shops=((Item.TONIC, Item.ORB, Item.STRONG_TONIC, Item.REVIVAL_HERB, Item.FINE_ORB, Item.WARD_SPRAY,
                Item.MAX_TONIC, Item.PRIME_ORB),),
        events=(), start=(0, 6, 5, Direction.DOWN), respawn=(0, 6, 5),
        badge_names=("Cinder",), badge_events=(-1,), ability_badge=(-1, -1, -1),
    )


def make_state(world: World) -> QuestState:
    """The player in the middle of the town with two partners, some items and money."""
    n = len(world.entities)
    return QuestState(
        key=1, tick=0, map=0, x=6, y=5, facing=Direction.DOWN, surfing=False,
        party=[make_mon(0, 5), make_mon(3, 12)], box=[], bag=[3, 1, 0, 0, 5, 0, 0, 1, 0, 0, 0, 0],
        money=3000, events=0, done=bytearray(n), entity_x=bytearray(e.x for e in world.entities),
        entity_y=bytearray(e.y for e in world.entities), respawn=world.respawn, ward_steps=0, dialog=[],
        dialog_effect=Effect.NONE, dialog_arg=0, menu=MenuKind.NONE, menu_cursor=0, menu_choice=0,
        battle=Battle(),
    )


def battle_state(world: World, phase: int, cursor: int = 0) -> QuestState:
    state = make_state(world)
    state.battle = Battle(kind=BattleKind.WILD, enemy=[make_mon(2, 4)], phase=phase, cursor=cursor,
                          messages=[(BattleMsg.WILD_APPEARED, 2, 0), (BattleMsg.GO, 0, 0)])
    return state


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


# ============================================================================================ art


def test_metatiles_are_distinct_and_use_four_shades() -> None:
    atlas = art.metatile_atlas()
    assert atlas.shape == (NUM_TILES, TILE_PX, TILE_PX) and atlas.dtype == np.uint8
    assert atlas.max() <= 3
    flat = atlas.reshape(NUM_TILES, -1)
    for a in range(NUM_TILES):
        for b in range(a + 1, NUM_TILES):
            assert not np.array_equal(flat[a], flat[b]), (Tile(a).name, Tile(b).name)


def test_sprites_are_distinct_in_every_facing() -> None:
    shades, opaque = art.sprite_atlas()
    assert shades.shape == opaque.shape == (NUM_SPRITES, 4, 16, 16)
    assert not opaque[Sprite.NONE].any()
    drawn = [(s, f) for s in range(1, NUM_SPRITES) for f in range(4)]
    for s in range(1, NUM_SPRITES):
        assert opaque[s].any(), Sprite(s).name
        for t in range(s + 1, NUM_SPRITES):
            for f in range(4):
                same = np.array_equal(shades[s, f], shades[t, f]) and np.array_equal(opaque[s, f],
                                                                                     opaque[t, f])
                assert not same, (Sprite(s).name, Sprite(t).name, f)
    assert len(drawn) == 4 * (NUM_SPRITES - 1)
    # people look different in each facing; left mirrors right
    assert not np.array_equal(shades[Sprite.PLAYER, Direction.UP], shades[Sprite.PLAYER, Direction.DOWN])
    player = shades[Sprite.PLAYER]
    assert np.array_equal(player[Direction.LEFT], player[Direction.RIGHT, :, ::-1])


def test_font_has_a_distinct_glyph_for_every_supported_character() -> None:
    glyphs = art.font_atlas()
    supported = string.ascii_letters + string.digits + ".,!?'\"-:;/()$%&+*=<>#_ "
    assert set(supported) <= set(art.FONT_CHARS)
    codes = art.glyph_codes(supported)
    inked = {ch for ch, c in zip(supported, codes, strict=True) if glyphs[c].any()}
    assert inked == set(supported) - {" "}
    unique = {glyphs[c].tobytes() for c in codes}
    assert len(unique) == len(supported)
    for special in (art.CURSOR, art.MORE, art.HP_LABEL, art.BAR_LEFT, art.BAR_RIGHT, *art.BAR_FILL):
        assert glyphs[art.glyph_codes(special)[0]].any()
    assert art.glyph_codes("\u00e9") == art.glyph_codes("?")


def test_hp_bar_fill_is_proportional() -> None:
    def filled(text: str) -> int:
        return sum(art.BAR_FILL.index(ch) for ch in text if ch in art.BAR_FILL)

    assert filled(art.hp_bar_text(0, 50)) == 0
    assert filled(art.hp_bar_text(1, 500)) == 1
    assert filled(art.hp_bar_text(25, 50)) == 24
    assert filled(art.hp_bar_text(50, 50)) == 48


def test_creature_art_is_deterministic_and_differs_by_species() -> None:
    views = [art.creature_sprite(s, SPECIES[s].types)[0] for s in range(len(SPECIES))]
    assert all(v.shape == (art.CREATURE, art.CREATURE) for v in views)
    assert len({v.tobytes() for v in views}) == len(SPECIES)
    front, opaque = art.creature_sprite(0, SPECIES[0].types)
    back, back_opaque = art.creature_sprite(0, SPECIES[0].types, back=True)
    assert not np.array_equal(front, back) and opaque.any() and back_opaque.any()
    art.creature_sprite.cache_clear()
    assert np.array_equal(art.creature_sprite(0, SPECIES[0].types)[0], front)


def test_palette_validation() -> None:
    assert art.palette_array(None).shape == (4, 3)
    assert art.palette_array([[0, 0, 0]] * 4).tolist() == [[0, 0, 0]] * 4
    with pytest.raises(ValueError, match="unknown palette"):
        art.palette_array("neon")
    with pytest.raises(ValueError, match="four RGB triples"):
        art.palette_array([[0, 0, 0]] * 3)


def test_a_bad_palette_fails_when_the_env_is_made() -> None:
    # symbolic envs draw no frame, so a palette checked only when drawn would be recorded into replays whose
    # frames could never be drawn
    with pytest.raises(ValueError, match="four RGB triples"):
        gym.make("longplay/QuestMini-v0", palette=1)
    with pytest.raises(ValueError, match="unknown palette"):
        gym.make("longplay/QuestMini-v0", obs_mode="symbolic", palette="neon")


# ============================================================================================ frames


def test_overworld_frame_shape_and_player_in_the_centre(world: World) -> None:
    state = make_state(world)
    frame = render.render_frame(world, state)
    assert frame.shape == (144, 160, 3) and frame.dtype == np.uint8
    shades = render.render_shades(world, state)
    px, py = PLAYER_VIEW_X * TILE_PX, PLAYER_VIEW_Y * TILE_PX
    sprite, opaque = art.sprite_atlas()
    cell = shades[py:py + 16, px:px + 16]
    assert np.array_equal(cell[opaque[Sprite.PLAYER, Direction.DOWN]],
                          sprite[Sprite.PLAYER, Direction.DOWN][opaque[Sprite.PLAYER, Direction.DOWN]])


def test_frame_changes_when_the_player_moves_or_turns(world: World) -> None:
    state = make_state(world)
    before = render.render_frame(world, state)
    state.facing = Direction.LEFT
    turned = render.render_frame(world, state)
    assert not np.array_equal(before, turned)
    state.x += 1
    moved = render.render_frame(world, state)
    assert not np.array_equal(turned, moved)
    state.surfing = True
    assert not np.array_equal(moved, render.render_frame(world, state))


def test_outside_the_map_is_void(world: World) -> None:
    state = make_state(world)
    state.x, state.y = 0, 0
    shades = render.render_shades(world, state)
    assert (shades[:TILE_PX * PLAYER_VIEW_Y, :TILE_PX * PLAYER_VIEW_X] == 3).all()
    tiles, _ = render.symbolic_tiles(world, state)
    assert (tiles[:PLAYER_VIEW_Y, :PLAYER_VIEW_X] == Tile.VOID).all()


@pytest.mark.parametrize(("left", "top", "width", "height"),
                         [(-3, -2, 5, 4), (-100, 0, 9, 9), (0, -100, 9, 9), (10, 8, 13, 11),
                          (-30, -30, 100, 100), (200, 200, 3, 3)])
def test_tile_window_anywhere(world: World, left: int, top: int, width: int, height: int) -> None:
    town = world.maps[0]
    window = render.tile_window(world, 0, left, top, width, height)
    assert window.shape == (height, width)
    expected = [[town.tile(left + c, top + r) for c in range(width)] for r in range(height)]
    assert window.tolist() == expected


def test_symbolic_tiles_match_the_map_and_visible_entities(world: World) -> None:
    state = make_state(world)
    tiles, entities = render.symbolic_tiles(world, state)
    assert tiles.shape == entities.shape == (VIEW_H, VIEW_W) and tiles.dtype == entities.dtype == np.int16
    town = world.maps[0]
    for row in range(VIEW_H):
        for col in range(VIEW_W):
            assert tiles[row, col] == town.tile(state.x - PLAYER_VIEW_X + col, state.y - PLAYER_VIEW_Y + row)
    person = world.entities[0]
    col, row = person.x - state.x + PLAYER_VIEW_X, person.y - state.y + PLAYER_VIEW_Y
    assert entities[row, col] == Sprite.PERSON
    assert entities[PLAYER_VIEW_Y, PLAYER_VIEW_X] == 0
    state.done[3] = 1  # the item was picked up: it disappears
    item = world.entities[3]
    _, after = render.symbolic_tiles(world, state)
    assert after[item.y - state.y + PLAYER_VIEW_Y, item.x - state.x + PLAYER_VIEW_X] == 0


def test_boulders_are_drawn_where_they_were_pushed(world: World) -> None:
    state = make_state(world)
    boulder = 6
    _, before = render.symbolic_tiles(world, state)
    state.entity_x[boulder] += 1
    _, after = render.symbolic_tiles(world, state)
    x = world.entities[boulder].x - state.x + PLAYER_VIEW_X
    y = world.entities[boulder].y - state.y + PLAYER_VIEW_Y
    assert before[y, x] == Sprite.BOULDER and after[y, x] == 0 and after[y, x + 1] == Sprite.BOULDER


def test_dialog_box_shows_the_page_text(world: World) -> None:
    state = make_state(world)
    plain = render.render_shades(world, state)
    state.dialog = [(Msg.TEXT, 0, 0)]
    hello = render.render_shades(world, state)
    assert not np.array_equal(plain[96:], hello[96:])
    assert np.array_equal(plain[:96], hello[:96])
    state.dialog = [(Msg.TEXT, 2, 0)]
    other = render.render_shades(world, state)
    assert not np.array_equal(hello[96:], other[96:])
    # the box holds exactly the glyphs of the text, from x=8 on the first line
    line = hello[96 + 12:96 + 20, 8:8 + 8 * len("Hello there!")]
    glyphs = art.font_atlas()[art.glyph_codes("Hello there!")]
    assert np.array_equal(line, glyphs.transpose(1, 0, 2).reshape(8, -1))
    # a "more" arrow when another page follows
    state.dialog = [(Msg.TEXT, 0, 0), (Msg.TEXT, 1, 0)]
    assert not np.array_equal(render.render_shades(world, state)[96:], hello[96:])


def test_long_pages_still_render(world: World) -> None:
    state = make_state(world)
    state.dialog = [(Msg.WHITEOUT, 0, 0)]  # wraps to three lines
    shades = render.render_shades(world, state)
    assert shades[96:].any()


@pytest.mark.parametrize("menu", list(MenuKind)[1:])
def test_menus_render_with_the_cursor_on_each_row(world: World, menu: MenuKind) -> None:
    state = make_state(world)
    state.menu = menu
    state.menu_choice = Item.TONIC if menu == MenuKind.BAG_TARGET else 0
    rows = {MenuKind.START: 3, MenuKind.PARTY: 2, MenuKind.BAG_TARGET: 2, MenuKind.BAG: 4,
            MenuKind.SHOP: len(world.shops[0]) + 1}[menu]
    frames = []
    for cursor in range(rows):
        state.menu_cursor = cursor
        frames.append(render.render_shades(world, state).tobytes())
    assert len(set(frames)) == rows
    assert render.render_shades(world, make_state(world)).tobytes() not in frames


def test_full_screen_menus_and_battles_draw_every_pixel(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames that do not start from the overworld start from ``_Look.blank`` (``np.empty``, for speed): every
    pixel must then be drawn, whatever the new array held. Filled with 0 or with 255, the same frames."""
    states = []
    for menu in list(MenuKind)[2:]:  # every menu but START, which draws over the overworld
        state = make_state(world)
        state.menu, state.menu_choice = menu, Item.TONIC if menu == MenuKind.BAG_TARGET else 0
        states.append(state)
    states += [battle_state(world, phase) for phase in BattlePhase]

    def frames(fill: int) -> list[bytes]:
        monkeypatch.setattr(render._Look, "blank", lambda look: np.full(
            (render.HEIGHT, render.WIDTH, *look.palette.shape[1:]), fill, np.uint8))
        render._LOOKS.clear()  # no frame or box kept from another fill
        return [render.render_frame(world, state).tobytes() for state in states]

    assert len(states) == len(MenuKind) - 2 + len(BattlePhase)
    assert frames(0) == frames(255)
    render._LOOKS.clear()


@pytest.mark.parametrize("phase", list(BattlePhase))
def test_battle_frames_render_in_every_phase(world: World, phase: BattlePhase) -> None:
    state = battle_state(world, phase)
    frame = render.render_frame(world, state)
    assert frame.shape == (144, 160, 3)
    other = battle_state(world, phase, cursor=1)
    if phase != BattlePhase.MESSAGE:
        assert not np.array_equal(frame, render.render_frame(world, other))


def test_battle_message_text_is_drawn(world: World) -> None:
    state = battle_state(world, BattlePhase.MESSAGE)
    first = render.render_shades(world, state)
    state.battle.messages.pop(0)
    second = render.render_shades(world, state)
    assert not np.array_equal(first[96:], second[96:])
    assert np.array_equal(first[:96], second[:96])


def test_trainer_battle_and_empty_bag(world: World) -> None:
    state = battle_state(world, BattlePhase.BAG)
    state.battle.kind = BattleKind.TRAINER
    state.bag = [0] * NUM_ITEMS
    assert render.render_frame(world, state).shape == (144, 160, 3)


def test_palette_changes_colours_only(world: World) -> None:
    state = make_state(world)
    green = render.render_frame(world, state)
    grey = render.render_frame(world, state, "grey")
    custom = render.render_frame(world, state, [[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0]])
    assert not np.array_equal(green, grey) and not np.array_equal(grey, custom)
    assert set(map(tuple, custom.reshape(-1, 3))) <= {(255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 0, 0)}
    shades = render.render_shades(world, state)
    assert np.array_equal(art.palette_array("grey")[shades], grey)


def _every_screen(world: World) -> list[QuestState]:
    states = []
    for surfing in (False, True):
        state = make_state(world)
        state.surfing = surfing
        states.append(state)
    for pages in ([(Msg.TEXT, 0, 0)], [(Msg.TEXT, 2, 0), (Msg.HEALED, 0, 0)]):
        state = make_state(world)
        state.dialog = pages
        states.append(state)
    for menu in list(MenuKind)[1:]:
        state = make_state(world)
        state.menu, state.menu_cursor = menu, 1
        states.append(state)
    state = make_state(world)
    state.menu, state.dialog = MenuKind.SHOP, [(Msg.NOT_ENOUGH_MONEY, 0, 0)]
    states.append(state)
    states += [battle_state(world, phase) for phase in BattlePhase]
    return states


@pytest.mark.parametrize("palette", [None, "grey", [[9, 8, 7], [6, 5, 4], [3, 2, 1], [250, 251, 252]]])
def test_rgb_fast_path_matches_the_shade_image(world: World, palette: object) -> None:
    """RGB frames are drawn from art coloured per palette; they must equal palette[shades]."""
    for state in _every_screen(world):
        frame = render.render_frame(world, state, palette)
        assert frame.flags.c_contiguous
        assert np.array_equal(frame, art.palette_array(palette)[render.render_shades(world, state)])


def test_rendering_is_deterministic_and_does_not_touch_the_state(world: World) -> None:
    state = battle_state(world, BattlePhase.FIGHT)
    snapshot = repr(state)
    a = render.render_frame(world, state).tobytes()
    b = render.render_frame(make_world(), battle_state(make_world(), BattlePhase.FIGHT)).tobytes()
    assert a == b and repr(state) == snapshot


def test_fuzz_random_states_render(world: World) -> None:
    rng = random.Random(7)
    for _ in range(300):
        state = make_state(world)
        state.map = rng.randrange(len(world.maps))
        m = world.maps[state.map]
        state.x, state.y = rng.randrange(-1, m.width + 1), rng.randrange(-1, m.height + 1)
        state.facing = rng.randrange(4)
        state.surfing = rng.random() < 0.2
        state.done = bytearray(rng.randrange(2) for _ in world.entities)
        state.party = [make_mon(rng.randrange(len(SPECIES)), rng.randrange(1, 101))
                       for _ in range(rng.randrange(0, 7))]
        for mon in state.party:
            mon.hp = rng.randrange(0, mon.max_hp + 1)
        state.bag = [rng.choice((0, 0, 1, 99)) for _ in range(NUM_ITEMS)]
        state.money = rng.randrange(0, 1_000_000)
        mode = rng.randrange(4)
        if mode == 1:
            # arg0 = 0 is valid for every template (species, item, badge, ability, text 0)
            state.dialog = [(rng.choice(list(Msg)), 0, rng.randrange(len(SPECIES)))
                            for _ in range(rng.randrange(1, 3))]
        elif mode == 2:
            state.menu = rng.choice(list(MenuKind)[1:])
            state.menu_cursor = rng.randrange(0, 10)
            state.menu_choice = rng.randrange(NUM_ITEMS) if state.menu == MenuKind.BAG_TARGET else 0
        elif mode == 3 and state.party:
            phase = rng.choice(list(BattlePhase))
            state.battle = Battle(kind=rng.choice((BattleKind.WILD, BattleKind.TRAINER)),
                                  enemy=[make_mon(rng.randrange(len(SPECIES)), rng.randrange(1, 101))],
                                  player_active=rng.randrange(len(state.party)), phase=phase,
                                  cursor=rng.randrange(0, 6),
                                  messages=[(BattleMsg.GO, 0, 0), (BattleMsg.LEVEL_UP, 1, 9)])
        frame = render.render_frame(world, state)
        assert frame.shape == (144, 160, 3) and frame.dtype == np.uint8
        tiles, entities = render.symbolic_tiles(world, state) if state.battle.kind == 0 else (None, None)
        if tiles is not None:
            assert tiles.shape == (VIEW_H, VIEW_W)
