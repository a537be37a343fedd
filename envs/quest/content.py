"""Species and moves of the quest game: original creatures and attacks, as data.

Indices are stable: worlds, saves and replays refer to species and moves by index, so new entries are
only ever appended.

Moves come in ladders per type (weak 40-55, medium 60-75, strong 95, Normal's 90 as no type is weak to
Normal, finisher 120 with low accuracy and PP).
Species come in three power bands by base-stat total: common early creatures (about 170-230), mid-game ones
(about 230-330) and strong late ones (330 and up, for gym leaders and the league); learnsets start with a
level-1 move and gain one every 6-8 levels up to about level 50, mostly of the species' own types plus Normal.
"""

from __future__ import annotations

from longplay.envs.quest.constants import Type
from longplay.envs.quest.state import Move, Species

T = Type

MOVES: tuple[Move, ...] = (
    # name, type, power, accuracy, pp
    Move("Bump", T.NORMAL, 40, 100, 35),
    Move("Scratch Claw", T.NORMAL, 45, 95, 30),
    Move("Cinder", T.FIRE, 40, 100, 25),
    Move("Splash Jet", T.WATER, 40, 100, 25),
    Move("Leaf Flick", T.PLANT, 40, 100, 25),
    Move("Pebble Toss", T.STONE, 50, 90, 20),
    # --- Normal
    Move("Quick Jab", T.NORMAL, 40, 100, 30),
    Move("Double Swipe", T.NORMAL, 60, 100, 25),
    Move("Rolling Ram", T.NORMAL, 70, 95, 20),
    Move("Heavy Press", T.NORMAL, 90, 85, 15),
    Move("Final Strike", T.NORMAL, 120, 75, 5),
    # --- Fire
    Move("Coal Bite", T.FIRE, 55, 95, 25),
    Move("Ash Cloud", T.FIRE, 65, 100, 20),
    Move("Flame Lash", T.FIRE, 75, 95, 15),
    Move("Blaze Burst", T.FIRE, 95, 90, 10),
    Move("Sun Furnace", T.FIRE, 120, 75, 5),
    # --- Water
    Move("Salt Spray", T.WATER, 55, 100, 25),
    Move("Foam Burst", T.WATER, 65, 100, 20),
    Move("Tide Slam", T.WATER, 75, 95, 15),
    Move("Riptide", T.WATER, 95, 85, 10),
    Move("Deluge Cannon", T.WATER, 120, 75, 5),
    # --- Plant
    Move("Bramble Lash", T.PLANT, 55, 100, 25),
    Move("Spore Puff", T.PLANT, 65, 100, 20),
    Move("Seed Volley", T.PLANT, 75, 95, 15),
    Move("Timber Crash", T.PLANT, 95, 90, 10),
    Move("Verdant Storm", T.PLANT, 120, 75, 5),
    # --- Electric
    Move("Static Snap", T.ELECTRIC, 40, 100, 30),
    Move("Spark Jolt", T.ELECTRIC, 55, 100, 25),
    Move("Volt Lance", T.ELECTRIC, 75, 95, 15),
    Move("Storm Coil", T.ELECTRIC, 95, 90, 10),
    Move("Thunderhead", T.ELECTRIC, 120, 70, 5),
    # --- Ice
    Move("Frost Nip", T.ICE, 40, 100, 30),
    Move("Sleet Dart", T.ICE, 55, 95, 25),
    Move("Rime Claw", T.ICE, 75, 95, 15),
    Move("Glacier Ram", T.ICE, 95, 85, 10),
    Move("Polar Tempest", T.ICE, 120, 70, 5),
    # --- Fighting
    Move("Palm Strike", T.FIGHTING, 40, 100, 30),
    Move("Knee Drive", T.FIGHTING, 60, 95, 20),
    Move("Spin Kick", T.FIGHTING, 75, 90, 15),
    Move("Mountain Throw", T.FIGHTING, 95, 90, 10),
    Move("Hundred Blows", T.FIGHTING, 120, 75, 5),
    # --- Poison
    Move("Venom Dab", T.POISON, 40, 100, 30),
    Move("Mire Spit", T.POISON, 55, 100, 25),
    Move("Venom Fang", T.POISON, 75, 95, 15),
    Move("Blight Wave", T.POISON, 95, 90, 10),
    Move("Plague Torrent", T.POISON, 120, 70, 5),
    # --- Ground
    Move("Dust Kick", T.GROUND, 40, 100, 30),
    Move("Mud Lob", T.GROUND, 55, 95, 25),
    Move("Tremor", T.GROUND, 75, 95, 15),
    Move("Fault Line", T.GROUND, 95, 90, 10),
    Move("Landslide", T.GROUND, 120, 75, 5),
    # --- Air
    Move("Wing Flick", T.AIR, 40, 100, 30),
    Move("Dive Peck", T.AIR, 55, 100, 25),
    Move("Gale Slash", T.AIR, 75, 95, 15),
    Move("Sky Lance", T.AIR, 95, 90, 10),
    Move("Cyclone Drop", T.AIR, 120, 75, 5),
    # --- Mind
    Move("Mind Poke", T.MIND, 40, 100, 30),
    Move("Thought Spike", T.MIND, 55, 100, 25),
    Move("Dream Pulse", T.MIND, 75, 95, 15),
    Move("Astral Lance", T.MIND, 95, 90, 10),
    Move("Mind Crush", T.MIND, 120, 75, 5),
    # --- Stone
    Move("Grit Blast", T.STONE, 60, 95, 25),
    Move("Crystal Shard", T.STONE, 65, 100, 20),
    Move("Slate Slam", T.STONE, 75, 90, 15),
    Move("Boulder Drop", T.STONE, 95, 85, 10),
    Move("Meteor Crag", T.STONE, 120, 70, 5),
)

#: Move index by name (learnsets below are written with names).
MOVE_INDEX: dict[str, int] = {move.name: i for i, move in enumerate(MOVES)}
assert len(MOVE_INDEX) == len(MOVES), "move names must be unique"


def _species(name: str, types: tuple[int, int], hp: int, attack: int, defense: int, speed: int,
             catch_rate: int, base_exp: int, learnset: tuple[tuple[int, str], ...]) -> Species:
    """A species whose learnset names its moves (resolved to indices here)."""
    return Species(name, types, hp, attack, defense, speed, catch_rate, base_exp,
                   tuple((level, MOVE_INDEX[move]) for level, move in learnset))


SPECIES: tuple[Species, ...] = (
    # name, types, hp, attack, defense, speed, catch rate, base exp, learnset
    _species("Embercub", (T.FIRE, T.FIRE), 39, 52, 43, 65, 45, 62, (
             (1, "Bump"), (1, "Cinder"), (7, "Scratch Claw"), (13, "Coal Bite"), (20, "Double Swipe"),
             (27, "Ash Cloud"), (34, "Flame Lash"), (41, "Blaze Burst"), (48, "Sun Furnace"))),
    _species("Puddlet", (T.WATER, T.WATER), 44, 48, 65, 43, 45, 63, (
             (1, "Bump"), (1, "Splash Jet"), (7, "Scratch Claw"), (13, "Salt Spray"), (20, "Double Swipe"),
             (27, "Foam Burst"), (34, "Tide Slam"), (41, "Riptide"), (48, "Deluge Cannon"))),
    _species("Sproutling", (T.PLANT, T.PLANT), 45, 49, 49, 45, 45, 64, (
             (1, "Bump"), (1, "Leaf Flick"), (7, "Scratch Claw"), (13, "Bramble Lash"), (20, "Double Swipe"),
             (27, "Spore Puff"), (34, "Seed Volley"), (41, "Timber Crash"), (48, "Verdant Storm"))),
    _species("Burrowbit", (T.NORMAL, T.NORMAL), 30, 56, 35, 72, 255, 51, (
             (1, "Scratch Claw"), (7, "Pebble Toss"), (14, "Double Swipe"), (21, "Quick Jab"), (28, "Rolling Ram"),
             (35, "Heavy Press"), (42, "Final Strike"))),
    _species("Blazebear", (T.FIRE, T.FIRE), 58, 72, 58, 80, 45, 142, (
             (1, "Bump"), (1, "Cinder"), (7, "Scratch Claw"), (14, "Coal Bite"), (21, "Double Swipe"),
             (28, "Ash Cloud"), (35, "Flame Lash"), (42, "Blaze Burst"), (50, "Sun Furnace"))),
    _species("Pyrothane", (T.FIRE, T.AIR), 78, 104, 78, 100, 45, 209, (
             (1, "Bump"), (1, "Cinder"), (8, "Dive Peck"), (16, "Coal Bite"), (24, "Ash Cloud"),
             (32, "Flame Lash"), (40, "Blaze Burst"), (47, "Cyclone Drop"), (54, "Sun Furnace"))),
    _species("Tidalotl", (T.WATER, T.WATER), 60, 65, 80, 60, 45, 142, (
             (1, "Bump"), (1, "Splash Jet"), (7, "Scratch Claw"), (14, "Salt Spray"), (21, "Double Swipe"),
             (28, "Foam Burst"), (35, "Tide Slam"), (42, "Riptide"), (50, "Deluge Cannon"))),
    _species("Abyssaur", (T.WATER, T.STONE), 80, 90, 105, 75, 45, 210, (
             (1, "Bump"), (1, "Splash Jet"), (8, "Pebble Toss"), (16, "Salt Spray"), (24, "Foam Burst"),
             (32, "Tide Slam"), (40, "Riptide"), (47, "Meteor Crag"), (54, "Deluge Cannon"))),
    _species("Bramblebuck", (T.PLANT, T.PLANT), 62, 66, 66, 62, 45, 141, (
             (1, "Bump"), (1, "Leaf Flick"), (7, "Scratch Claw"), (14, "Bramble Lash"),
             (21, "Double Swipe"), (28, "Spore Puff"), (35, "Seed Volley"), (42, "Timber Crash"),
             (50, "Verdant Storm"))),
    _species("Elderoak", (T.PLANT, T.GROUND), 84, 88, 100, 72, 45, 208, (
             (1, "Bump"), (1, "Leaf Flick"), (8, "Mud Lob"), (16, "Bramble Lash"), (24, "Spore Puff"),
             (32, "Seed Volley"), (40, "Timber Crash"), (47, "Landslide"), (54, "Verdant Storm"))),
    _species("Chirplet", (T.NORMAL, T.AIR), 40, 45, 40, 56, 255, 50, (
             (1, "Bump"), (1, "Quick Jab"), (7, "Scratch Claw"), (13, "Dive Peck"), (20, "Double Swipe"),
             (27, "Rolling Ram"), (35, "Heavy Press"), (43, "Sky Lance"))),
    _species("Thumpine", (T.NORMAL, T.NORMAL), 55, 81, 60, 97, 90, 116, (
             (1, "Bump"), (1, "Quick Jab"), (7, "Scratch Claw"), (14, "Knee Drive"), (21, "Double Swipe"),
             (28, "Rolling Ram"), (35, "Heavy Press"), (42, "Hundred Blows"), (50, "Final Strike"))),
    _species("Grandhorn", (T.NORMAL, T.NORMAL), 105, 110, 80, 60, 25, 200, (
             (1, "Bump"), (1, "Quick Jab"), (8, "Scratch Claw"), (16, "Mud Lob"), (24, "Double Swipe"),
             (32, "Rolling Ram"), (40, "Heavy Press"), (47, "Landslide"), (54, "Final Strike"))),
    _species("Skyreave", (T.NORMAL, T.AIR), 83, 80, 75, 101, 45, 172, (
             (1, "Bump"), (1, "Quick Jab"), (8, "Scratch Claw"), (16, "Dive Peck"), (24, "Double Swipe"),
             (32, "Rolling Ram"), (40, "Heavy Press"), (47, "Cyclone Drop"), (54, "Final Strike"))),
    _species("Sparkit", (T.FIRE, T.FIRE), 40, 50, 40, 62, 190, 60, (
             (1, "Bump"), (1, "Cinder"), (7, "Scratch Claw"), (13, "Coal Bite"), (20, "Double Swipe"),
             (27, "Ash Cloud"), (35, "Flame Lash"), (43, "Blaze Burst"))),
    _species("Kilnmaw", (T.FIRE, T.STONE), 75, 95, 85, 55, 60, 165, (
             (1, "Bump"), (1, "Cinder"), (7, "Pebble Toss"), (14, "Coal Bite"), (21, "Ash Cloud"),
             (28, "Flame Lash"), (35, "Blaze Burst"), (42, "Meteor Crag"), (50, "Sun Furnace"))),
    _species("Solarynx", (T.FIRE, T.FIRE), 80, 110, 75, 105, 30, 220, (
             (1, "Bump"), (1, "Cinder"), (8, "Scratch Claw"), (16, "Coal Bite"), (24, "Double Swipe"),
             (32, "Ash Cloud"), (40, "Flame Lash"), (47, "Blaze Burst"), (54, "Sun Furnace"))),
    _species("Minnowisp", (T.WATER, T.WATER), 30, 35, 35, 70, 255, 45, (
             (1, "Bump"), (1, "Splash Jet"), (7, "Scratch Claw"), (13, "Salt Spray"), (20, "Double Swipe"),
             (27, "Foam Burst"), (35, "Tide Slam"), (43, "Riptide"))),
    _species("Reefshell", (T.WATER, T.ICE), 50, 65, 100, 40, 120, 140, (
             (1, "Bump"), (1, "Splash Jet"), (7, "Sleet Dart"), (14, "Salt Spray"), (21, "Foam Burst"),
             (28, "Tide Slam"), (35, "Riptide"), (42, "Polar Tempest"), (50, "Deluge Cannon"))),
    _species("Leviadrake", (T.WATER, T.AIR), 95, 120, 79, 81, 30, 225, (
             (1, "Bump"), (1, "Splash Jet"), (8, "Dive Peck"), (16, "Salt Spray"), (24, "Foam Burst"),
             (32, "Tide Slam"), (40, "Riptide"), (47, "Cyclone Drop"), (54, "Deluge Cannon"))),
    _species("Budlet", (T.PLANT, T.POISON), 45, 50, 55, 30, 255, 60, (
             (1, "Bump"), (1, "Leaf Flick"), (7, "Mire Spit"), (13, "Bramble Lash"), (20, "Spore Puff"),
             (27, "Seed Volley"), (35, "Blight Wave"), (43, "Timber Crash"))),
    _species("Mosscloak", (T.PLANT, T.POISON), 60, 65, 70, 40, 120, 138, (
             (1, "Bump"), (1, "Leaf Flick"), (7, "Mire Spit"), (14, "Bramble Lash"), (21, "Spore Puff"),
             (28, "Seed Volley"), (35, "Timber Crash"), (42, "Plague Torrent"), (50, "Verdant Storm"))),
    _species("Rafflora", (T.PLANT, T.PLANT), 85, 95, 90, 60, 45, 200, (
             (1, "Bump"), (1, "Leaf Flick"), (8, "Scratch Claw"), (16, "Bramble Lash"),
             (24, "Double Swipe"), (32, "Spore Puff"), (40, "Seed Volley"), (47, "Timber Crash"),
             (54, "Verdant Storm"))),
    _species("Zappet", (T.ELECTRIC, T.ELECTRIC), 35, 55, 30, 90, 190, 60, (
             (1, "Bump"), (1, "Static Snap"), (7, "Scratch Claw"), (13, "Spark Jolt"),
             (20, "Double Swipe"), (27, "Rolling Ram"), (35, "Volt Lance"), (43, "Storm Coil"))),
    _species("Dynamule", (T.ELECTRIC, T.ELECTRIC), 60, 85, 60, 95, 75, 150, (
             (1, "Bump"), (1, "Static Snap"), (7, "Scratch Claw"), (14, "Spark Jolt"),
             (21, "Double Swipe"), (28, "Rolling Ram"), (35, "Volt Lance"), (42, "Storm Coil"),
             (50, "Thunderhead"))),
    _species("Thundrake", (T.ELECTRIC, T.AIR), 90, 110, 85, 100, 30, 215, (
             (1, "Bump"), (1, "Static Snap"), (8, "Scratch Claw"), (16, "Dive Peck"), (24, "Spark Jolt"),
             (32, "Volt Lance"), (40, "Storm Coil"), (47, "Cyclone Drop"), (54, "Thunderhead"))),
    _species("Frostkit", (T.ICE, T.ICE), 40, 45, 45, 55, 190, 60, (
             (1, "Bump"), (1, "Frost Nip"), (7, "Scratch Claw"), (13, "Sleet Dart"), (20, "Double Swipe"),
             (27, "Rolling Ram"), (35, "Rime Claw"), (43, "Glacier Ram"))),
    _species("Glaciaur", (T.ICE, T.STONE), 90, 100, 110, 40, 45, 190, (
             (1, "Bump"), (1, "Frost Nip"), (8, "Scratch Claw"), (16, "Pebble Toss"), (24, "Sleet Dart"),
             (32, "Rime Claw"), (40, "Glacier Ram"), (47, "Meteor Crag"), (54, "Polar Tempest"))),
    _species("Aurorowl", (T.ICE, T.AIR), 80, 95, 80, 105, 45, 210, (
             (1, "Bump"), (1, "Frost Nip"), (8, "Scratch Claw"), (16, "Dive Peck"), (24, "Sleet Dart"),
             (32, "Rime Claw"), (40, "Glacier Ram"), (47, "Cyclone Drop"), (54, "Polar Tempest"))),
    _species("Pugilup", (T.FIGHTING, T.FIGHTING), 50, 80, 40, 45, 180, 70, (
             (1, "Bump"), (1, "Palm Strike"), (7, "Scratch Claw"), (13, "Double Swipe"),
             (20, "Knee Drive"), (27, "Rolling Ram"), (35, "Spin Kick"), (43, "Mountain Throw"))),
    _species("Brawlord", (T.FIGHTING, T.FIGHTING), 80, 110, 70, 55, 60, 170, (
             (1, "Bump"), (1, "Palm Strike"), (7, "Scratch Claw"), (14, "Double Swipe"),
             (21, "Knee Drive"), (28, "Rolling Ram"), (35, "Spin Kick"), (42, "Mountain Throw"),
             (50, "Hundred Blows"))),
    _species("Grandmaul", (T.FIGHTING, T.STONE), 100, 125, 95, 60, 25, 225, (
             (1, "Bump"), (1, "Palm Strike"), (8, "Scratch Claw"), (16, "Pebble Toss"), (24, "Knee Drive"),
             (32, "Spin Kick"), (40, "Mountain Throw"), (47, "Meteor Crag"), (54, "Hundred Blows"))),
    _species("Oozelet", (T.POISON, T.POISON), 60, 55, 45, 30, 190, 65, (
             (1, "Bump"), (1, "Venom Dab"), (7, "Scratch Claw"), (13, "Mire Spit"), (20, "Double Swipe"),
             (27, "Rolling Ram"), (35, "Venom Fang"), (43, "Blight Wave"))),
    _species("Vipertine", (T.POISON, T.POISON), 60, 85, 60, 80, 90, 150, (
             (1, "Bump"), (1, "Venom Dab"), (7, "Scratch Claw"), (14, "Mire Spit"), (21, "Double Swipe"),
             (28, "Rolling Ram"), (35, "Venom Fang"), (42, "Blight Wave"), (50, "Plague Torrent"))),
    _species("Miasmoth", (T.POISON, T.AIR), 75, 90, 75, 100, 45, 200, (
             (1, "Bump"), (1, "Venom Dab"), (8, "Scratch Claw"), (16, "Dive Peck"), (24, "Mire Spit"),
             (32, "Venom Fang"), (40, "Blight Wave"), (47, "Cyclone Drop"), (54, "Plague Torrent"))),
    _species("Molekin", (T.GROUND, T.GROUND), 35, 55, 45, 65, 255, 56, (
             (1, "Bump"), (1, "Dust Kick"), (7, "Scratch Claw"), (13, "Mud Lob"), (20, "Double Swipe"),
             (27, "Rolling Ram"), (35, "Tremor"), (43, "Fault Line"))),
    _species("Duneback", (T.GROUND, T.STONE), 85, 90, 110, 45, 60, 170, (
             (1, "Bump"), (1, "Dust Kick"), (8, "Scratch Claw"), (16, "Pebble Toss"), (24, "Mud Lob"),
             (32, "Tremor"), (40, "Fault Line"), (47, "Meteor Crag"), (54, "Landslide"))),
    _species("Quakemaw", (T.GROUND, T.GROUND), 105, 120, 95, 60, 30, 225, (
             (1, "Bump"), (1, "Dust Kick"), (8, "Scratch Claw"), (16, "Mud Lob"), (24, "Double Swipe"),
             (32, "Rolling Ram"), (40, "Tremor"), (47, "Fault Line"), (54, "Landslide"))),
    _species("Puffeather", (T.AIR, T.AIR), 40, 40, 35, 60, 255, 50, (
             (1, "Bump"), (1, "Wing Flick"), (7, "Scratch Claw"), (13, "Dive Peck"), (20, "Double Swipe"),
             (27, "Rolling Ram"), (35, "Gale Slash"), (43, "Sky Lance"))),
    _species("Galewing", (T.AIR, T.AIR), 65, 80, 60, 100, 90, 150, (
             (1, "Bump"), (1, "Wing Flick"), (7, "Scratch Claw"), (14, "Dive Peck"), (21, "Double Swipe"),
             (28, "Rolling Ram"), (35, "Gale Slash"), (42, "Sky Lance"), (50, "Cyclone Drop"))),
    _species("Stormroc", (T.AIR, T.ELECTRIC), 85, 110, 80, 120, 45, 215, (
             (1, "Bump"), (1, "Wing Flick"), (8, "Scratch Claw"), (16, "Spark Jolt"), (24, "Dive Peck"),
             (32, "Gale Slash"), (40, "Sky Lance"), (47, "Thunderhead"), (54, "Cyclone Drop"))),
    _species("Dreamlet", (T.MIND, T.MIND), 40, 35, 40, 65, 190, 60, (
             (1, "Bump"), (1, "Mind Poke"), (7, "Scratch Claw"), (13, "Thought Spike"),
             (20, "Double Swipe"), (27, "Rolling Ram"), (35, "Dream Pulse"), (43, "Astral Lance"))),
    _species("Mysticat", (T.MIND, T.MIND), 60, 75, 60, 95, 90, 150, (
             (1, "Bump"), (1, "Mind Poke"), (7, "Scratch Claw"), (14, "Thought Spike"),
             (21, "Double Swipe"), (28, "Rolling Ram"), (35, "Dream Pulse"), (42, "Astral Lance"),
             (50, "Mind Crush"))),
    _species("Psyarch", (T.MIND, T.FIGHTING), 80, 115, 75, 110, 30, 230, (
             (1, "Bump"), (1, "Mind Poke"), (8, "Scratch Claw"), (16, "Thought Spike"), (24, "Knee Drive"),
             (32, "Dream Pulse"), (40, "Astral Lance"), (47, "Hundred Blows"), (54, "Mind Crush"))),
    _species("Pebblit", (T.STONE, T.STONE), 40, 60, 80, 20, 255, 60, (
             (1, "Bump"), (1, "Pebble Toss"), (7, "Scratch Claw"), (13, "Double Swipe"),
             (20, "Grit Blast"), (27, "Crystal Shard"), (35, "Slate Slam"), (43, "Boulder Drop"))),
    _species("Cragbeast", (T.STONE, T.GROUND), 70, 90, 110, 35, 90, 150, (
             (1, "Bump"), (1, "Pebble Toss"), (7, "Mud Lob"), (14, "Grit Blast"), (21, "Crystal Shard"),
             (28, "Slate Slam"), (35, "Boulder Drop"), (42, "Landslide"), (50, "Meteor Crag"))),
    _species("Obeliskor", (T.STONE, T.STONE), 95, 120, 130, 40, 25, 225, (
             (1, "Bump"), (1, "Pebble Toss"), (8, "Scratch Claw"), (16, "Double Swipe"),
             (24, "Grit Blast"), (32, "Crystal Shard"), (40, "Slate Slam"), (47, "Boulder Drop"),
             (54, "Meteor Crag"))),
    _species("Hauntmist", (T.MIND, T.POISON), 60, 70, 55, 95, 90, 160, (
             (1, "Bump"), (1, "Mind Poke"), (7, "Scratch Claw"), (14, "Mire Spit"), (21, "Thought Spike"),
             (28, "Dream Pulse"), (35, "Astral Lance"), (42, "Plague Torrent"), (50, "Mind Crush"))),
    _species("Crystadon", (T.ICE, T.STONE), 100, 115, 110, 50, 20, 240, (
             (1, "Bump"), (1, "Frost Nip"), (8, "Scratch Claw"), (16, "Pebble Toss"), (24, "Sleet Dart"),
             (32, "Rime Claw"), (40, "Glacier Ram"), (47, "Meteor Crag"), (54, "Polar Tempest"))),
    _species("Voltfin", (T.ELECTRIC, T.WATER), 55, 70, 55, 85, 120, 140, (
             (1, "Bump"), (1, "Static Snap"), (7, "Scratch Claw"), (14, "Salt Spray"), (21, "Spark Jolt"),
             (28, "Volt Lance"), (35, "Storm Coil"), (42, "Deluge Cannon"), (50, "Thunderhead"))),
    _species("Cindermoth", (T.FIRE, T.AIR), 45, 60, 40, 80, 150, 90, (
             (1, "Bump"), (1, "Cinder"), (7, "Dive Peck"), (13, "Coal Bite"), (20, "Ash Cloud"),
             (27, "Flame Lash"), (35, "Sky Lance"), (43, "Blaze Burst"))),
    _species("Tundrabear", (T.ICE, T.FIGHTING), 95, 115, 85, 55, 45, 200, (
             (1, "Bump"), (1, "Frost Nip"), (8, "Scratch Claw"), (16, "Sleet Dart"), (24, "Knee Drive"),
             (32, "Rime Claw"), (40, "Glacier Ram"), (47, "Hundred Blows"), (54, "Polar Tempest"))),
)

#: The partner species offered in the first lab, in capsule order.
STARTERS: tuple[int, ...] = (0, 1, 2)
#: Each starter with its stronger forms (never met in the wild: trainers and the league use them).
STARTER_FORMS: tuple[tuple[int, ...], ...] = ((0, 4, 5), (1, 6, 7), (2, 8, 9))
