"""Turning Python images (paths, encoded bytes, numpy arrays) into blip_image views."""
import ctypes
import os

from ._native import PIXEL_GRAY8, PIXEL_RGB8, PIXEL_RGBA8, Image, check, lib


class ImageBatch:
    """Holds decoded or borrowed pixels for the duration of one call."""

    def __init__(self, images):
        self._owned = []   # decoded by libblip, freed in close()
        self._keep = []    # Python objects whose memory the views point into
        n = len(images)
        self.array = (Image * n)()
        try:
            for i, image in enumerate(images):
                self.array[i] = self._convert(image)
        except BaseException:
            self.close()
            raise

    def _convert(self, image):
        if isinstance(image, (str, os.PathLike)):
            img = Image()
            check(lib.blip_image_load_file(os.fsencode(image), ctypes.byref(img)))
            self._owned.append(img)
            return img
        if isinstance(image, (bytes, bytearray, memoryview)):
            data = bytes(image)
            img = Image()
            check(lib.blip_image_load_memory(data, len(data), ctypes.byref(img)))
            self._owned.append(img)
            return img
        return self._from_array(image)

    def _from_array(self, array):
        try:
            import numpy as np
        except ImportError:
            raise TypeError("image must be a path, encoded bytes, or a numpy uint8 array") from None
        if not isinstance(array, np.ndarray):
            raise TypeError(f"unsupported image type {type(array).__name__}: use a path, bytes or a numpy array")
        if array.dtype != np.uint8:
            raise TypeError(f"numpy images must be uint8, got {array.dtype}")
        if array.ndim == 2:
            fmt = PIXEL_GRAY8
        elif array.ndim == 3 and array.shape[2] in (3, 4):
            fmt = PIXEL_RGB8 if array.shape[2] == 3 else PIXEL_RGBA8
        else:
            raise ValueError(f"numpy image shape {array.shape}: expected HxW, HxWx3 or HxWx4")
        # rows may be strided, pixels within a row must be packed
        if array.ndim == 3 and (array.strides[1] != array.shape[2] or array.strides[2] != 1) or \
           array.ndim == 2 and array.strides[1] != 1 or array.strides[0] <= 0:
            array = np.ascontiguousarray(array)
        self._keep.append(array)
        return Image(array.ctypes.data, array.shape[1], array.shape[0], array.strides[0], fmt)

    def close(self):
        for img in self._owned:
            lib.blip_image_free(ctypes.byref(img))
        self._owned = []
        self._keep = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
