"""libblip for Python: BLIP vision-language models on the CPU.

    import blip
    m = blip.Model("path/to/blip-itm-base-coco", threads=2)
    m.embed_image("photo.jpg")          # numpy (256,) float32
    blip.quantize("path/to/blip-itm-base-coco", "itm.int8.safetensors")   # then Model(...) it
    blip.finetune("caption", "train.jsonl", "out-dir", model="path/to/blip-image-captioning-base")
    blip.capfilt("path/to/captioner", "path/to/itm", "shards/", "filtered/")   # blip.ray.capfilt on a cluster
"""
import ctypes
import os

from ._capfilt import CapFiltProgress, capfilt
from ._finetune import FinetuneProgress, finetune
from ._model import Model
from ._native import BlipError, check, lib
from . import ray  # noqa: E402 — blip.ray.capfilt; Ray itself is imported only when used

__version__ = lib.blip_version().decode()
__all__ = ["Model", "BlipError", "quantize", "finetune", "FinetuneProgress", "capfilt", "CapFiltProgress", "__version__"]


def quantize(model_dir, out_path, *, lm_head_int8=True, embeddings="f16", image_activation_bits=7):
    """Writes the single-file int8 model (`blip quantize`) for a Hugging Face BLIP model
    directory to `out_path`; `blip.Model(out_path)` loads it like a directory. Takes a few
    seconds for BLIP-base; raises BlipError on failure (nothing is left at `out_path`).

    lm_head_int8: run the LM head's vocabulary projection in int8 (False: float, slower decoding).
    embeddings: word-embedding storage, "f16", "int8" (smaller, less accurate) or "f32".
    image_activation_bits: 7 (faster on AVX2) or 8 (more precise) for the linears reading image features.
    """
    params = lib.blip_quantize_default_params()
    params.quantize_lm_head = 1 if lm_head_int8 else 0
    if not isinstance(embeddings, str):
        raise TypeError(f"embeddings must be a str, not {type(embeddings).__name__}")
    params.embeddings = embeddings.encode()
    if isinstance(image_activation_bits, bool) or not isinstance(image_activation_bits, int):
        raise TypeError(f"image_activation_bits must be an int, not {type(image_activation_bits).__name__}")
    if not -2**31 <= image_activation_bits < 2**31:
        raise ValueError(f"image_activation_bits must be 7 or 8, not {image_activation_bits}")
    params.image_activation_bits = image_activation_bits
    check(lib.blip_quantize_with_params(os.fsencode(model_dir), os.fsencode(out_path), ctypes.byref(params)))
