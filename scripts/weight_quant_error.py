#!/usr/bin/env python3
"""Weight-quantization error of the int8 schemes libblip could store, measured on a model's
linear layers (the ones `blip quantize` turns to int8): signal-to-quantization-noise ratio
(SQNR, dB; higher is better) of symmetric int8 with one scale per tensor (PyTorch's
quantize_dynamic default), per output channel (libblip), and per block of 32 inputs (ggml's
Q8_0), plus the storage each needs per weight.

    python3 scripts/weight_quant_error.py local/models/blip-base-captioning
"""
import sys

import numpy as np
from safetensors.numpy import load_file


def sqnr(w, q):
    return 10 * np.log10(np.sum(w.astype(np.float64) ** 2) / np.sum((w.astype(np.float64) - q) ** 2))


def per_tensor(w):
    s = np.abs(w).max() / 127
    return np.round(w / s) * s


def per_channel(w):
    s = np.abs(w).max(axis=1, keepdims=True) / 127
    s[s == 0] = 1
    return np.round(w / s) * s


def per_block(w, block=32):
    o, i = w.shape
    b = w.reshape(o, i // block, block)
    s = np.abs(b).max(axis=2, keepdims=True) / 127
    s[s == 0] = 1
    return (np.round(b / s) * s).reshape(o, i)


def main():
    weights = load_file(sys.argv[1] + "/model.safetensors")
    rows = {"per tensor (PyTorch dynamic)": [], "per channel (libblip)": [], "Q8_0, blocks of 32": []}
    for name, w in sorted(weights.items()):
        if w.ndim != 2 or "encoder.layer" not in name or not name.endswith(".weight"):
            continue
        w = w.astype(np.float32)
        rows["per tensor (PyTorch dynamic)"].append(sqnr(w, per_tensor(w)))
        rows["per channel (libblip)"].append(sqnr(w, per_channel(w)))
        rows["Q8_0, blocks of 32"].append(sqnr(w, per_block(w)))
    bits = {"per tensor (PyTorch dynamic)": 8.0, "per channel (libblip)": 8.0 + 32 / 768, "Q8_0, blocks of 32": 8.0 + 16 / 32}
    print(f"{len(rows['per channel (libblip)'])} int8 matrices of {sys.argv[1]}")
    print("| scheme | bits per weight | SQNR mean (dB) | SQNR worst (dB) |")
    print("|---|---|---|---|")
    for k, v in rows.items():
        print(f"| {k} | {bits[k]:.2f} | {np.mean(v):.2f} | {np.min(v):.2f} |")


if __name__ == "__main__":
    main()
