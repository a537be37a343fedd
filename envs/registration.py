"""Every longplay env id, registered in one place with string entry points (nothing heavy is imported)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from gymnasium.envs.registration import load_env_creator, register, registry

NAMESPACE = "longplay"

#: id -> (entry point, default kwargs). Variants are kwargs, never copies of code.
ENV_SPECS: dict[str, tuple[str, dict]] = {
    # The built-in game. QuestMini: one town, one route, one gym: seconds to finish for the oracle.
    "longplay/QuestMini-v0": ("longplay.envs.quest.game:QuestEnv", {"size": "mini", "world_seed": 0}),
    # The fixed canonical world (standard size) for comparisons across models and scaffolds.
    "longplay/QuestCanon-v0": ("longplay.envs.quest.game:QuestEnv", {"size": "standard", "world": "canonical"}),
    # Procedural worlds: world_seed=None draws the world from the reset seed (held-out seeds).
    "longplay/Quest-v0": ("longplay.envs.quest.game:QuestEnv", {"size": "small", "world_seed": None}),
    # Game Boy (PyBoy): longplay's own test cartridge, built in (no ROM needed).
    "longplay/TestCart-v0": ("longplay.envs.gameboy.core:GameBoyEnv", {"pack": "testcart"}),
    # Pokemon Red / Blue (US): your own ROM, from rom=PATH or a LONGPLAY_ROMS folder, found by SHA-1.
    "longplay/PokemonRed-v0": ("longplay.envs.gameboy.core:GameBoyEnv", {"pack": "pokemon_red"}),
    "longplay/PokemonBlue-v0": ("longplay.envs.gameboy.core:GameBoyEnv", {"pack": "pokemon_blue"}),
}


#: Batched (torch) vector envs: ``gymnasium.make_vec(id, num_envs=N, vectorization_mode="vector_entry_point")``.
VECTOR_ENTRY_POINTS: dict[str, str] = {
    env_id: "longplay.envs.quest.batched.vector:BatchedVectorEnv"
    for env_id in ("longplay/QuestMini-v0", "longplay/QuestCanon-v0", "longplay/Quest-v0")
}


def register_all() -> None:
    """Registers every id in :data:`ENV_SPECS` (idempotent)."""
    for env_id, (entry_point, kwargs) in ENV_SPECS.items():
        if env_id not in registry:
            register(id=env_id, entry_point=entry_point, kwargs=dict(kwargs), disable_env_checker=True,
                     vector_entry_point=VECTOR_ENTRY_POINTS.get(env_id))


def env_ids() -> list[str]:
    """All registered longplay ids, sorted."""
    return sorted(k for k in registry if k.startswith(NAMESPACE + "/"))


def env_creator(env_id: str) -> Any:
    """The class or function ``gymnasium.make(env_id)`` calls, or None for an id that is not registered or an entry
    point that cannot be loaded (``gymnasium.make`` says why)."""
    spec = registry.get(env_id)
    if spec is None:
        return None
    try:
        return load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
    except (ImportError, AttributeError, ValueError):
        return None


def options_from_identity(env_id: str, identity: object) -> dict[str, Any]:
    """The env options that rebuild, as it was recorded, the game a replay or checkpoint recorded with
    ``identity`` (its ``game.identity()``; anything else counts as an identity that says nothing), from the env
    class's ``options_from_identity``: a Game Boy game then hashes its states as the recording did. Empty for an
    env without one (the quest game's identity is its world, which its options or reset seed already build)."""
    from_identity = getattr(env_creator(env_id), "options_from_identity", None)
    if from_identity is None:
        return {}
    return dict(from_identity(identity if isinstance(identity, Mapping) else {}))


def options_from_recording(env_id: str, env_kwargs: object, identity: object) -> dict[str, Any]:
    """The env options that rebuild the env a replay or checkpoint recorded with ``env_kwargs`` and ``identity``: the
    recorded options as this longplay takes them (the env class's ``recorded_options``: a Game Boy header written
    before ``rom_sha1`` holds the ROM as hex text, which becomes its bytes), with :func:`options_from_identity`'s
    over them. Anything but a mapping counts as options, or an identity, that say nothing."""
    kwargs = dict(env_kwargs) if isinstance(env_kwargs, Mapping) else {}
    identity = identity if isinstance(identity, Mapping) else {}
    recorded_options = getattr(env_creator(env_id), "recorded_options", None)
    if recorded_options is not None:
        kwargs = dict(recorded_options(kwargs, identity))
    return {**kwargs, **options_from_identity(env_id, identity)}


def check_options(env_id: str, kwargs: Mapping[str, object]) -> None:
    """``ValueError``, one line naming the valid options, when ``kwargs`` holds a keyword the env behind
    ``env_id`` does not take (gymnasium's own TypeError quotes the whole kwargs dict), or a ``render_mode`` it
    does not have (``gymnasium.make`` warns of it before the env refuses it). ``gymnasium.make``'s own
    keywords (``max_episode_steps``, ...) pass; an id that is not registered, or a creator that takes
    ``**kwargs`` or cannot be loaded, is left to ``gymnasium.make``."""
    import gymnasium as gym

    creator = env_creator(env_id)
    try:
        params = inspect.signature(creator).parameters
    except (TypeError, ValueError):  # None, or a creator without a signature
        return
    metadata = getattr(creator, "metadata", None)
    modes = metadata.get("render_modes") if isinstance(metadata, dict) else None
    render_mode = kwargs.get("render_mode")
    # gymnasium.make also takes MODE_list for a MODE the env has (it wraps the env to collect the frames)
    if render_mode is not None and modes and render_mode not in modes and not (
            isinstance(render_mode, str) and render_mode.removesuffix("_list") in modes):
        raise ValueError(f"invalid render_mode {render_mode!r}; valid: {', '.join(modes)}")
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    make_own = inspect.signature(gym.make).parameters
    unknown = [key for key in kwargs if key not in params and key not in make_own]
    if unknown:
        raise ValueError(f"invalid env option {unknown[0]!r} for {env_id}; valid options: {', '.join(params)}")
