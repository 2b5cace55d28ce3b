"""libblip for Python: BLIP vision-language models on the CPU.

    import blip
    m = blip.Model("path/to/blip-itm-base-coco", threads=2)
    m.embed_image("photo.jpg")          # numpy (256,) float32
"""
from ._model import Model
from ._native import BlipError, lib

__version__ = lib.blip_version().decode()
__all__ = ["Model", "BlipError", "__version__"]
