"""Pokemon Red and Blue (US) RAM addresses, from the pret/pokered disassembly.

Every address is the value of the named symbol in ``pokered.sym`` (branch ``symbols`` of
https://github.com/pret/pokered, built from ``ram/wram.asm`` and ``ram/hram.asm``); ``pokeblue.sym`` gives
the same WRAM addresses. Struct offsets are from ``macros/ram.asm`` (``party_struct``) and
``constants/pokemon_data_constants.asm``. Yellow differs and is not covered.
"""

from __future__ import annotations

# Sprites: 16 structs of $10 bytes (spritestatedata1 in macros/ram.asm), the player first
W_SPRITE_STATE_DATA1 = 0xC100  # wSpriteStateData1
SPRITE_STRUCT_SIZE = 0x10
SPRITE_PICTURE_ID = 0x0  # 0: no sprite in this slot
SPRITE_IMAGE_INDEX = 0x2  # $FF: off screen
SPRITE_Y_PIXELS = 0x4  # screen Y, 4 pixels above the 16x16 grid
SPRITE_X_PIXELS = 0x6  # screen X
W_SPRITE_PLAYER_FACING = 0xC109  # wSpritePlayerStateData1FacingDirection: 0 down, 4 up, 8 left, $C right

# Screen and menus
W_TILE_MAP = 0xC3A0  # wTileMap: the 20x18 screen tiles the game copies to VRAM
W_TOP_MENU_ITEM_Y = 0xCC24  # wTopMenuItemY
W_TOP_MENU_ITEM_X = 0xCC25  # wTopMenuItemX
W_CURRENT_MENU_ITEM = 0xCC26  # wCurrentMenuItem: cursor row of the active menu
W_MAX_MENU_ITEM = 0xCC28  # wMaxMenuItem
W_JOY_IGNORE = 0xCD6B  # wJoyIgnore: buttons the game ignores (scripted movement, cut-scenes)

# Battle
W_ENEMY_MON_SPECIES = 0xCFE5  # wEnemyMonSpecies
W_ENEMY_MON_HP = 0xCFE6  # wEnemyMonHP (2 bytes, big-endian)
W_ENEMY_MON_LEVEL = 0xCFF3  # wEnemyMonLevel
W_ENEMY_MON_MAX_HP = 0xCFF4  # wEnemyMonMaxHP (2 bytes, big-endian)
W_BATTLE_MON_SPECIES = 0xD014  # wBattleMonSpecies
W_BATTLE_MON_HP = 0xD015  # wBattleMonHP (2 bytes, big-endian)
W_IS_IN_BATTLE = 0xD057  # wIsInBattle: 0 none, 1 wild, 2 trainer, $FF lost
W_CUR_OPPONENT = 0xD059  # wCurOpponent

# Player and party
W_PLAYER_NAME = 0xD158  # wPlayerName (NAME_LENGTH = 11 bytes, "@"-terminated)
W_PARTY_COUNT = 0xD163  # wPartyCount
W_PARTY_SPECIES = 0xD164  # wPartySpecies: internal species ids, $FF-terminated
W_PARTY_MONS = 0xD16B  # wPartyMons / wPartyMon1
PARTY_MON_SIZE = 0x2C  # wPartyMon2 ($D197) - wPartyMon1 ($D16B): PARTYMON_STRUCT_LENGTH
MON_SPECIES = 0x00
MON_HP = 0x01  # wPartyMon1HP $D16C, 2 bytes big-endian
MON_STATUS = 0x04  # wPartyMon1Status $D16F
MON_MOVES = 0x08  # wPartyMon1Moves $D173, 4 move ids
MON_PP = 0x1D  # wPartyMon1PP $D188, 4 bytes (low 6 bits: PP, high 2: PP Ups)
MON_LEVEL = 0x21  # wPartyMon1Level $D18C
MON_MAX_HP = 0x22  # wPartyMon1MaxHP $D18D, 2 bytes big-endian
W_PARTY_MON_NICKS = 0xD2B5  # wPartyMonNicks: 6 x NAME_LENGTH
NAME_LENGTH = 11
W_POKEDEX_OWNED = 0xD2F7  # wPokedexOwned: 151 bits (19 bytes), bit n-1 = Pokedex number n
W_POKEDEX_SEEN = 0xD30A  # wPokedexSeen
POKEDEX_BYTES = 19
W_NUM_BAG_ITEMS = 0xD31D  # wNumBagItems
W_BAG_ITEMS = 0xD31E  # wBagItems: (item id, quantity) pairs, $FF-terminated
BAG_CAPACITY = 20  # BAG_ITEM_CAPACITY
W_PLAYER_MONEY = 0xD347  # wPlayerMoney: 3 bytes of BCD, big-endian
W_RIVAL_NAME = 0xD34A  # wRivalName
W_OPTIONS = 0xD355  # wOptions
W_OBTAINED_BADGES = 0xD356  # wObtainedBadges: bit 0 Boulder ... bit 7 Earth

# Map
W_CUR_MAP = 0xD35E  # wCurMap
W_Y_COORD = 0xD361  # wYCoord (in 16x16 steps)
W_X_COORD = 0xD362  # wXCoord
W_CUR_MAP_TILESET = 0xD367  # wCurMapTileset
W_CUR_MAP_HEIGHT = 0xD368  # wCurMapHeight
W_CUR_MAP_WIDTH = 0xD369  # wCurMapWidth
W_TILESET_COLLISION_PTR = 0xD530  # wTilesetCollisionPtr: little-endian pointer (bank 0) to the passable tiles
W_GRASS_TILE = 0xD535  # wGrassTile
W_NUM_HOF_TEAMS = 0xD5A2  # wNumHoFTeams
W_WALK_BIKE_SURF_STATE = 0xD700  # wWalkBikeSurfState: 0 walking, 1 biking, 2 surfing
W_EVENT_FLAGS = 0xD747  # wEventFlags: NUM_EVENTS = $A00 bits (320 bytes)
EVENT_FLAGS_BYTES = 320

# Hardware
R_BGP = 0xFF47  # background palette; $E4 once a screen has faded in

# Code (bank 0, the same in pokered.sym and pokeblue.sym)
JOYPAD_OVERWORLD = 0x0F4D  # JoypadOverworld (home/overworld.asm): the overworld loop reads the input

#: Badge names in bit order of ``wObtainedBadges``.
BADGES = ("BOULDER", "CASCADE", "THUNDER", "RAINBOW", "SOUL", "MARSH", "VOLCANO", "EARTH")
#: ``wSpritePlayerStateData1FacingDirection`` value -> direction
#: (SPRITE_FACING_* in constants/sprite_data_constants.asm).
FACINGS = {0x0: "down", 0x4: "up", 0x8: "left", 0xC: "right"}
#: Screen size in tiles (SCREEN_WIDTH, SCREEN_HEIGHT).
SCREEN_WIDTH = 20
SCREEN_HEIGHT = 18
#: The player's tile on screen (``lda_coord 8, 9`` in home/overworld.asm: the bottom-left tile of the
#: player's 16x16 square).
PLAYER_SCREEN_TILE = (8, 9)
