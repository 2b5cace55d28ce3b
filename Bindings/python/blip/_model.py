"""blip.Model: the Python face of a loaded libblip model."""
import ctypes
import json
import os

from ._images import ImageBatch
from ._native import ModelParams, check, lib


def _floats(buffer, rows, cols):
    try:
        import numpy as np
        return np.ctypeslib.as_array(buffer).reshape(rows, cols).copy()
    except ImportError:
        flat = list(buffer)
        return [flat[r * cols:(r + 1) * cols] for r in range(rows)]


class Model:
    """A BLIP model loaded from a Hugging Face model directory.

    Safe to share between threads (calls release the GIL while libblip works)."""

    def __init__(self, path, threads=0):
        params = lib.blip_model_default_params()
        params.n_threads = int(threads)
        handle = ctypes.c_void_p()
        check(lib.blip_model_load(os.fsencode(path), ctypes.byref(params), ctypes.byref(handle)))
        self._handle = handle

    def close(self):
        if getattr(self, "_handle", None):
            lib.blip_model_free(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def info(self):
        """Architecture, sizes, storage and GEMM path, as a dict."""
        needed = ctypes.c_size_t(0)
        lib.blip_model_info(self._handle, None, 0, ctypes.byref(needed))
        buf = ctypes.create_string_buffer(needed.value)
        check(lib.blip_model_info(self._handle, buf, needed.value, None))
        return json.loads(buf.value.decode())

    @property
    def embedding_dim(self):
        return lib.blip_model_embedding_dim(self._handle)

    def embed_image(self, image):
        """Normalised ITC image embedding(s): (dim,) float32, or a list for a list of images."""
        single = not isinstance(image, list)
        images = [image] if single else image
        dim = self.embedding_dim
        if dim == 0:
            # let the library produce its own message for the unsupported task
            with ImageBatch(images[:1]) as batch:
                check(lib.blip_encode_image(self._handle, batch.array, 1, None, 0))
        out = (ctypes.c_float * (dim * len(images)))()
        with ImageBatch(images) as batch:
            check(lib.blip_encode_image(self._handle, batch.array, len(images), out, len(out)))
        rows = _floats(out, len(images), dim)
        return rows[0] if single else list(rows)
