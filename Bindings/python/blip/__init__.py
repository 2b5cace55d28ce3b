"""libblip for Python: BLIP vision-language models on the CPU.

    import blip
    m = blip.Model("path/to/blip-itm-base-coco", threads=2)
    m.embed_image("photo.jpg")          # numpy (256,) float32
    blip.quantize("path/to/blip-itm-base-coco", "itm.int8.safetensors")   # then Model(...) it
    blip.finetune("caption", "train.jsonl", "out-dir", model="path/to/blip-image-captioning-base")
    blip.capfilt("path/to/captioner", "path/to/itm", "shards/", "filtered/")   # blip.ray.capfilt on a cluster
"""
import os

from ._capfilt import CapFiltProgress, capfilt
from ._finetune import FinetuneProgress, finetune
from ._model import Model
from ._native import BlipError, check, lib
from . import ray  # noqa: E402 — blip.ray.capfilt; Ray itself is imported only when used

__version__ = lib.blip_version().decode()
__all__ = ["Model", "BlipError", "quantize", "finetune", "FinetuneProgress", "capfilt", "CapFiltProgress", "__version__"]


def quantize(model_dir, out_path):
    """Writes the single-file int8 model (`blip quantize`) for a Hugging Face BLIP model
    directory to `out_path`; `blip.Model(out_path)` loads it like a directory. Takes a few
    seconds for BLIP-base; raises BlipError on failure (nothing is left at `out_path`)."""
    check(lib.blip_quantize(os.fsencode(model_dir), os.fsencode(out_path)))
