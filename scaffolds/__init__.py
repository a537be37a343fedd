"""Memory scaffolds for language-model agents: small composable components, each declared in the replay.

Components (``COMPONENTS``): ``window`` (last K turns), ``summary`` (a model-written progress summary
replaces the history at a token budget), ``notes`` (a knowledge base edited with tools), ``map_memory``
(fog-of-war map, markers, used by ``navigate_to``), ``goals`` (a goal stack), ``critic`` (periodic review
by a separate model call), ``progress_check`` (tells the agent when its recent turns reached nothing new).
Presets (``PRESETS``): ``minimal``, ``notes``, ``full``. See
:mod:`longplay.scaffolds.presets` for the command-line and TOML forms.

>>> from longplay.scaffolds import build_scaffold
>>> [c["name"] for c in build_scaffold("notes").card()]
['window', 'notes']
"""

from longplay.scaffolds.base import Component, Scaffold, ScaffoldContext
from longplay.scaffolds.presets import (
    COMPONENTS,
    PRESETS,
    build_component,
    build_scaffold,
    load_spec_file,
    normalize,
    parse_spec,
)

__all__ = [
    "COMPONENTS",
    "PRESETS",
    "Component",
    "Scaffold",
    "ScaffoldContext",
    "build_component",
    "build_scaffold",
    "load_spec_file",
    "normalize",
    "parse_spec",
]
