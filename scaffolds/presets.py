"""Scaffold presets, the command-line spec and TOML files, and building a :class:`Scaffold` from them.

A **spec** is a list of ``{"name": ..., "params": {...}}`` entries (what ``LMConfig.scaffold`` holds).
It comes from

* the command line: ``--scaffold full`` or ``--scaffold "window(k=30),notes(max_chars=2000),critic(every=5)"``
  (comma-separated items; an item is a preset name, or a component with optional parameters, whose values
  are JSON when they parse);
* a TOML file (``--scaffold-file my.toml``): an optional ``preset = "notes"``, then one table per
  component, in order::

      preset = "minimal"
      [window]
      k = 40
      [goals]

Later items add components or override parameters of ones already there. A scaffold with nothing that
bounds the history gets the default window, and the card says so.

>>> [c["name"] for c in parse_spec("full")]
['summary', 'notes', 'map_memory', 'goals', 'critic']
>>> parse_spec("window(k=5, stride=5),goals")
[{'name': 'window', 'params': {'k': 5, 'stride': 5}}, {'name': 'goals', 'params': {}}]
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from longplay.scaffolds.base import Component, Scaffold
from longplay.scaffolds.critic import Critic
from longplay.scaffolds.goals import Goals
from longplay.scaffolds.map_memory import MapMemory
from longplay.scaffolds.notes import Notes
from longplay.scaffolds.progress_check import ProgressCheck
from longplay.scaffolds.summary import Summary
from longplay.scaffolds.window import Window

#: Component name -> class.
COMPONENTS: dict[str, type[Component]] = {
    c.name: c for c in (Window, Summary, Notes, MapMemory, Goals, Critic, ProgressCheck)
}

#: Preset name -> spec.
PRESETS: dict[str, list[dict[str, Any]]] = {
    # The bare loop: the last turns and nothing else.
    "minimal": [{"name": "window", "params": {"k": 20}}],
    # Plus a knowledge base the agent keeps.
    "notes": [{"name": "window", "params": {"k": 20}}, {"name": "notes", "params": {}}],
    # Everything: summary instead of a window, notes, map memory, goals and a critic.
    "full": [
        {"name": "summary", "params": {"budget_tokens": 8000}},
        {"name": "notes", "params": {}},
        {"name": "map_memory", "params": {}},
        {"name": "goals", "params": {}},
        {"name": "critic", "params": {"every": 25}},
    ],
}

DEFAULT_PRESET = "minimal"


def _split_top(text: str) -> list[str]:
    items, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [s.strip() for s in items if s.strip()]


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def merge(spec: list[dict[str, Any]], item: dict[str, Any]) -> None:
    """Adds ``item`` to ``spec``, or updates the parameters of the entry of the same name."""
    for entry in spec:
        if entry["name"] == item["name"]:
            entry["params"].update(item["params"])
            return
    spec.append({"name": item["name"], "params": dict(item["params"])})


def add_preset(spec: list[dict[str, Any]], preset: str) -> None:
    """Adds the components of ``preset`` that ``spec`` lacks; those it has keep their parameters (a preset after
    ``window(k=5)`` does not reset k)."""
    for entry in PRESETS[preset]:
        if not any(e["name"] == entry["name"] for e in spec):
            merge(spec, entry)


def parse_spec(text: str) -> list[dict[str, Any]]:
    """Parses a command-line spec (see the module docstring); ``ValueError`` with one line on bad input."""
    spec: list[dict[str, Any]] = []
    for item in _split_top(text):
        name, paren, rest = item.partition("(")
        name = name.strip()
        params: dict[str, Any] = {}
        if paren:  # "full(" with nothing after it ran as plain full
            if not rest.endswith(")"):
                raise ValueError(f"invalid scaffold item {item!r}; use name(key=value, ...)")
            for pair in _split_top(rest[:-1]):
                key, sep, raw = pair.partition("=")
                if not sep or not key.strip():
                    raise ValueError(f"invalid scaffold parameter {pair!r} in {item!r}; use key=value")
                if key.strip() in params:  # the second value won without a word
                    raise ValueError(f"parameter {key.strip()!r} of scaffold item {item!r} given twice")
                params[key.strip()] = _value(raw.strip())
        if name in PRESETS and not paren:
            add_preset(spec, name)
        elif name in COMPONENTS:
            merge(spec, {"name": name, "params": params})
        elif name in PRESETS:
            parts = [e["name"] for e in PRESETS[name]]
            raise ValueError(
                f"preset {name!r} takes no parameters; set them on its components ({', '.join(parts)}), e.g. "
                f"{name},{parts[0]}({rest[:-1]})"
            )
        else:
            raise ValueError(
                f"unknown scaffold {name!r}; presets: {', '.join(PRESETS)}; components: "
                f"{', '.join(COMPONENTS)}"
            )
    return spec


def load_spec_file(path: str | Path, onto: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Reads a TOML scaffold file (see the module docstring); ``onto``: a spec it is applied on top of (the
    command line's), whose components the file's preset leaves as they are, as a preset within a spec does (it
    replaced ``window(k=5)`` by the preset's ``k=20``); the file's tables override them."""
    from longplay.agents.toml_files import read_toml

    data, _ = read_toml(path)
    spec: list[dict[str, Any]] = [{"name": e["name"], "params": dict(e.get("params", {}))} for e in onto or []]
    preset = data.pop("preset", None)
    if preset is not None:
        if not isinstance(preset, str) or preset not in PRESETS:  # a list is unhashable: no TypeError
            raise ValueError(f"unknown preset {preset!r} in {path}; presets: {', '.join(PRESETS)}")
        add_preset(spec, preset)
    for name, params in data.items():
        if name not in COMPONENTS:
            raise ValueError(
                f"unknown scaffold component {name!r} in {path}; components: {', '.join(COMPONENTS)}"
            )
        if not isinstance(params, dict):
            raise ValueError(f"[{name}] in {path} must be a table of parameters")
        merge(spec, {"name": name, "params": params})
    return spec


def build_component(name: str, params: dict[str, Any]) -> Component:
    """One component; ``ValueError`` naming the valid parameters when one is unknown or invalid."""
    cls = COMPONENTS.get(name)
    if cls is None:
        raise ValueError(f"unknown scaffold component {name!r}; components: {', '.join(COMPONENTS)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key, value in params.items():
        if key not in fields:
            raise ValueError(
                f"unknown parameter {key!r} of scaffold {name!r}; valid: {', '.join(fields) or 'none'}"
            )
        default = fields[key].default
        if (
            isinstance(default, (int, float))
            and not isinstance(default, bool)
            and (not isinstance(value, (int, float)) or isinstance(value, bool))
        ):
            raise ValueError(f"parameter {key!r} of scaffold {name!r} must be a number, got {value!r}")
        if isinstance(default, int) and not isinstance(default, bool) and isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"parameter {key!r} of scaffold {name!r} must be an integer, got {value!r}")
            params = {**params, key: int(value)}
        if isinstance(default, int) and not isinstance(default, bool) and params[key] > sys.maxsize:
            # a size past what a deque or an array takes was an OverflowError traceback as the scaffold was built
            raise ValueError(f"parameter {key!r} of scaffold {name!r} must be at most {sys.maxsize}, got {value!r}")
    return cls(**params)


def check_history_bound(components: list[Component]) -> None:
    """``ValueError`` (one line) when two components bound the history: whichever trims first decides, so the
    other does nothing while the card declares it (a 20-turn window stays under a summary's 8,000-token budget,
    so no summary is ever written; a window wider than the budget never drops a turn)."""
    bounding = [c.name for c in components if c.manages_history]
    if len(bounding) > 1:
        raise ValueError(
            f"scaffold components {' and '.join(bounding)} both bound the history, so one of them would do nothing; "
            "use one"
        )


def normalize(spec: list[dict[str, Any]], recorded: bool = False) -> list[dict[str, Any]]:
    """The spec with every component's full parameters (defaults filled in), and a window added if
    nothing bounds the history: exactly what the scaffold card will declare. ``recorded``: the spec of a run
    already begun, taken as it ran, also where a new run's would be refused (two components bounding the history)."""
    components = [build_component(e["name"], dict(e.get("params", {}))) for e in spec]
    if not recorded:
        check_history_bound(components)
    if not any(c.manages_history for c in components):
        components.insert(0, Window())
    return [{"name": c.name, "params": c.params()} for c in components]


def build_scaffold(spec: list[dict[str, Any]] | str | None = None, recorded: bool = False) -> Scaffold:
    """A :class:`Scaffold` from a spec (a list, a command-line string, or ``None`` for the default preset);
    ``recorded``: a resumed run's spec, built as it ran (see :func:`normalize`)."""
    if spec is None:
        spec = PRESETS[DEFAULT_PRESET]
    elif isinstance(spec, str):
        spec = parse_spec(spec)
    return Scaffold([build_component(e["name"], dict(e.get("params", {}))) for e in normalize(spec, recorded)])
