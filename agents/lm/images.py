"""Screenshots for the model: nearest-neighbour upscaling and PNG encoding with the standard library.

>>> import numpy as np
>>> png = screenshot_png(np.zeros((144, 160, 3), np.uint8), scale=2)
>>> png[:8] == b"\\x89PNG\\r\\n\\x1a\\n"
True
"""

from __future__ import annotations

import struct
import zlib

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def encode_png(image: np.ndarray, level: int = 6) -> bytes:
    """A PNG of an ``uint8`` image, (H, W) grey or (H, W, 3) RGB."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"need a uint8 (H, W) or (H, W, 3) image, got {image.dtype} {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    height, width = image.shape[:2]
    colour = 0 if image.ndim == 2 else 2
    rows = np.ascontiguousarray(image).reshape(height, -1)
    raw = np.zeros((height, rows.shape[1] + 1), np.uint8)  # filter byte 0 (none) on every row
    raw[:, 1:] = rows
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), level))
        + _chunk(b"IEND", b"")
    )


def screenshot_png(frame: np.ndarray, scale: int = 3) -> bytes:
    """The frame scaled up ``scale`` times (nearest neighbour, crisp pixels for vision models), as PNG."""
    if scale > 1:
        frame = np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1)
    return encode_png(frame)
