"""PNG encoding with ``zlib`` and numpy only (no imaging library): frames and area maps for the viewer.

Game frames have few colours (the built-in game has four), so an image with at most 256 colours is written
as an indexed PNG with the smallest bit depth that holds its palette: a 160x144 four-shade frame is about
1 KB, encoded in about a millisecond.

>>> import numpy as np
>>> encode_png(np.zeros((144, 160, 3), np.uint8))[:8] == PNG_SIGNATURE
True
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_INDEXED, _COLOR_RGB = 3, 2


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _pack_rows(indices: np.ndarray, depth: int) -> np.ndarray:
    """(H, W) palette indices -> (H, ceil(W * depth / 8)) bytes, ``8 // depth`` pixels per byte, MSB first."""
    height, width = indices.shape
    per_byte = 8 // depth
    if per_byte == 1:
        return indices.astype(np.uint8, copy=False)
    padded = np.zeros((height, -(-width // per_byte) * per_byte), np.uint8)
    padded[:, :width] = indices
    groups = padded.reshape(height, -1, per_byte)
    out = np.zeros(groups.shape[:2], np.uint8)
    for j in range(per_byte):
        out |= groups[:, :, j] << (8 - depth * (j + 1))
    return out


def encode_indexed_png(indices: np.ndarray, palette: np.ndarray, *, level: int = 6) -> bytes:
    """An indexed-colour PNG of ``indices`` (H, W) into ``palette`` (N <= 256, 3) ``uint8`` RGB colours."""
    palette = np.asarray(palette, np.uint8).reshape(-1, 3)
    if not 1 <= len(palette) <= 256:
        raise ValueError(f"a PNG palette holds 1..256 colours, not {len(palette)}")
    indices = np.asarray(indices)
    if indices.ndim != 2 or indices.size == 0:
        raise ValueError(f"indices must be a non-empty (H, W) array, not shape {indices.shape}")
    depth = next(d for d in (1, 2, 4, 8) if len(palette) <= 1 << d)
    rows = _pack_rows(indices, depth)
    height, width = indices.shape
    raw = np.zeros((height, rows.shape[1] + 1), np.uint8)  # a leading 0 per row: filter type None
    raw[:, 1:] = rows
    header = struct.pack(">IIBBBBB", width, height, depth, _COLOR_INDEXED, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"PLTE", palette.tobytes())
            + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level)) + _chunk(b"IEND", b""))


def encode_png(image: np.ndarray, *, level: int = 6) -> bytes:
    """A PNG of an RGB ``uint8`` image (H, W, 3): indexed when it has at most 256 colours, else truecolour."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or image.size == 0:
        raise ValueError(f"expected a non-empty uint8 (H, W, 3) image, not {image.dtype} {image.shape}")
    height, width = image.shape[:2]
    rgb = np.ascontiguousarray(image)
    packed = ((rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]).ravel()
    # The palette of a sample of the pixels usually holds them all (a frame has a handful of colours); a
    # lookup into it is several times faster than a full np.unique. Check, and fall back when it does not.
    colours = np.unique(packed[::61])
    inverse = np.minimum(np.searchsorted(colours, packed), len(colours) - 1)
    if not np.array_equal(colours[inverse], packed):
        colours, inverse = np.unique(packed, return_inverse=True)
    if len(colours) <= 256:
        palette = np.stack([(colours >> 16) & 0xFF, (colours >> 8) & 0xFF, colours & 0xFF], axis=1)
        return encode_indexed_png(inverse.reshape(height, width), palette.astype(np.uint8), level=level)
    raw = np.zeros((height, width * 3 + 1), np.uint8)
    raw[:, 1:] = rgb.reshape(height, width * 3)
    header = struct.pack(">IIBBBBB", width, height, 8, _COLOR_RGB, 0, 0, 0)
    return (PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
            + _chunk(b"IEND", b""))
