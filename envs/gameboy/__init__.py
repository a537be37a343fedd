"""The ``gameboy`` backend: Game Boy ROMs under PyBoy, game packs, and longplay's own test cartridge.

Nothing heavy is imported here; the env is ``longplay.envs.gameboy.core.GameBoyEnv``, registered as
``longplay/TestCart-v0``, ``longplay/PokemonRed-v0`` and ``longplay/PokemonBlue-v0``.

Modules: ``core`` (the Game and the env), ``roms`` (finding and checking ROMs), ``packs`` (what each game's
RAM means), ``sm83`` (a small SM83 assembler), ``cartridge`` (the test cartridge program), ``intro`` (the
scripted Pokemon Red/Blue intro that makes the start state from your ROM).
"""
