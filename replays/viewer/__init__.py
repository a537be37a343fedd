"""The replay viewer: a local web app over a folder of replays, and the same run page as one HTML file.

``longplay view [FOLDER]`` serves it (:func:`longplay.replays.viewer.server.serve`); ``longplay export
REPLAY --html`` writes a run page to share (:func:`longplay.replays.viewer.html_export.export_html`).
The layers follow the TensorBoard-plugin pattern: replay files -> :class:`~longplay.replays.reader.ReplayReader`
-> pure ``*_impl`` functions (:mod:`.data`) -> thin HTTP routes (:mod:`.server`), documented in ``API.md``.

Importing this package is cheap: the web framework loads only with :mod:`.server`.
"""

from __future__ import annotations

from pathlib import Path

#: The folder of the pages, script and style sheet (package data).
STATIC_DIR = Path(__file__).with_name("static")
