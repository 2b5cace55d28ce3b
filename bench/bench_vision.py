#!/usr/bin/env python3
"""Side-by-side vision-encode benchmark: PyTorch (transformers) vs libblip, same model, same
photo, same thread count, in one process run.

    python3 bench/bench_vision.py --model local/models/blip-base-itm --lib .build/release/libblip.so

libblip's time includes preprocessing (RGB conversion, bicubic resize, normalisation) from
decoded pixels; PyTorch's is reported both with and without its image processor.
"""
import argparse
import ctypes
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
import blip_reference as ref  # noqa: E402


class BlipImage(ctypes.Structure):
    _fields_ = [("pixels", ctypes.c_void_p), ("width", ctypes.c_int32), ("height", ctypes.c_int32),
                ("stride", ctypes.c_int32), ("format", ctypes.c_int32)]


class ModelParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("n_threads", ctypes.c_int32)]


def timeit(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="local/models/blip-base-itm")
    ap.add_argument("--lib", default=".build/release/libblip.so")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()

    from skimage import data
    photo = np.ascontiguousarray(data.astronaut())  # 512x512 RGB photograph
    torch.set_num_threads(args.threads)

    model = ref.ARCHS["itm"].from_pretrained(args.model).eval()
    pil = Image.fromarray(photo)
    px = ref.pixel_values(args.model, pil)
    with torch.inference_mode():
        t_torch = timeit(lambda: model.vision_model(pixel_values=px), args.reps)
        t_torch_pre = timeit(lambda: model.vision_model(pixel_values=ref.pixel_values(args.model, pil)), args.reps)

    lib = ctypes.CDLL(os.path.abspath(args.lib))
    lib.blip_last_error.restype = ctypes.c_char_p
    handle = ctypes.c_void_p()
    params = ModelParams(ctypes.sizeof(ModelParams), args.threads)
    if lib.blip_model_load(args.model.encode(), ctypes.byref(params), ctypes.byref(handle)) != 0:
        raise SystemExit(lib.blip_last_error().decode())
    img = BlipImage(photo.ctypes.data, photo.shape[1], photo.shape[0], photo.strides[0], 0)
    n = lib.blip_model_vision_tokens(handle) * lib.blip_model_vision_width(handle)
    out = (ctypes.c_float * n)()

    def ours():
        if lib.blip_encode_image_states(handle, ctypes.byref(img), ctypes.c_size_t(1), out, ctypes.c_size_t(n)) != 0:
            raise SystemExit(lib.blip_last_error().decode())
    t_ours = timeit(ours, args.reps)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus; threads {args.threads}; torch {torch.__version__}")
    print(f"| work | PyTorch fp32 | libblip fp32 | ratio (PyTorch / libblip) |")
    print(f"|---|---|---|---|")
    print(f"| vision encode, BLIP-base 384px, 1 image (model only) | {t_torch*1000:.0f} ms | {t_ours*1000:.0f} ms (incl. preprocessing) | {t_torch/t_ours:.2f}x |")
    print(f"| vision encode incl. image processor | {t_torch_pre*1000:.0f} ms | {t_ours*1000:.0f} ms | {t_torch_pre/t_ours:.2f}x |")


if __name__ == "__main__":
    main()
