"""The viewer's PNG encoder: lossless for any colour count, indexed at the smallest bit depth."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from longplay.replays.viewer.png import encode_indexed_png, encode_png


@pytest.mark.parametrize(("shape", "colours", "depth"), [((144, 160), 4, 2), ((13, 7), 3, 2), ((5, 9), 2, 1),
                                                          ((3, 3), 1, 1), ((20, 21), 17, 8), ((30, 31), 300, 8),
                                                          ((9, 10), 16, 4)])
def test_round_trip(shape: tuple[int, int], colours: int, depth: int, png_decoder: Callable) -> None:
    rng = np.random.default_rng(colours)
    palette = rng.choice(256 ** 3, colours, replace=False)
    palette = np.stack([palette >> 16, (palette >> 8) & 255, palette & 255], axis=1).astype(np.uint8)
    image = palette[np.arange(shape[0] * shape[1]).reshape(shape) % colours]
    data = encode_png(image)
    assert np.array_equal(png_decoder(data), image)
    assert data[24] == depth  # IHDR bit depth: the smallest that holds the palette (8 for truecolour)


def test_indexed_and_errors(png_decoder: Callable) -> None:
    indices = np.array([[0, 1], [2, 3]])
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    assert np.array_equal(png_decoder(encode_indexed_png(indices, palette)), palette[indices])
    with pytest.raises(ValueError):
        encode_png(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError):
        encode_indexed_png(indices, np.zeros((300, 3), np.uint8))
