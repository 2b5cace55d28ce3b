#!/usr/bin/env python3
"""How much int8 attention alone moves a BLIP vision encoder's output: transformers' float32
vision model with only its attention products quantized the way libblip's int8 attention
kernels do it (Sources/CBlipSupport/q8_attention.c), against the same model unquantized, over
bench.py's 16 photos. Reports the relative RMS error of the 577 x 768 states (mean and worst
photo) and the class token's cosine, as bench/vision_bench.py does for whole engines.

    python3 scripts/attention_quant_error.py local/models/blip-base-itm [SCHEME...]

Schemes (default: all):
  qk7     queries as 7-bit levels with a zero point per row (0..127), keys symmetric per row
          (-127..127): the AVX2 kernel's scores
  qk8     queries at 8 bits (256 levels) instead: the VNNI kernel's resolution
  pv7     probabilities as round(127 p / max p) per row, values symmetric per column: AVX2
  pv8     the same with 255 levels: VNNI
  avx2    qk7 and pv7 together: what the AVX2 kernel does
  vnni    qk8 and pv8 together
The int8 encoder's whole error (vision_bench's libblip int8 row) is about 3e-2; an attention
error far below it adds almost nothing (errors of independent sources add in quadrature).
Needs torch, transformers, pillow, scikit-image.
"""
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bench"))
import vision_bench  # noqa: E402
from bench import photos  # noqa: E402
import transformers.models.blip.modeling_blip as modeling_blip  # noqa: E402

SCHEMES = {"qk7": {"q": 128}, "qk8": {"q": 256}, "pv7": {"p": 127}, "pv8": {"p": 255},
           "avx2": {"q": 128, "p": 127}, "vnni": {"q": 256, "p": 255}}


def zero_point_levels(x, levels):
    """Per row (last axis): levels 0..levels-1 over the row's range widened to include 0."""
    lo = torch.clamp(x.amin(-1, keepdim=True), max=0)
    hi = torch.clamp(x.amax(-1, keepdim=True), min=0)
    s = (hi - lo) / (levels - 1)
    s = torch.where(s == 0, torch.ones_like(s), s)
    zero = torch.round(-lo / s)
    return (torch.clamp(torch.round(x / s) + zero, 0, levels - 1) - zero) * s


def symmetric_levels(x, dim):
    s = x.abs().amax(dim, keepdim=True) / 127
    s = torch.where(s == 0, torch.ones_like(s), s)
    return torch.clamp(torch.round(x / s), -127, 127) * s


def quantized_attention(scheme):
    def forward(self, hidden_states, **kwargs):
        b, n, d = hidden_states.size()
        qkv = self.qkv(hidden_states).reshape(b, n, 3, self.num_heads, d // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        if "q" in scheme:
            q, k = zero_point_levels(q, scheme["q"]), symmetric_levels(k, -1)
        p = torch.softmax(torch.matmul(q, k.transpose(-1, -2)) * self.scale, dim=-1)
        if "p" in scheme:
            top = p.amax(-1, keepdim=True)
            p = torch.round(p / top * scheme["p"]) * top / scheme["p"]
            p = p / p.sum(-1, keepdim=True)   # the kernels normalise by the levels' sum
            v = symmetric_levels(v, -2)
        context = torch.matmul(p, v).permute(0, 2, 1, 3).reshape(b, n, d)
        return self.projection(context), None
    return forward


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    model_dir, names = sys.argv[1], sys.argv[2:] or list(SCHEMES)
    unknown = [s for s in names if s not in SCHEMES]
    if unknown:
        raise SystemExit(f"unknown scheme(s) {unknown}; choose from {list(SCHEMES)}")
    torch.set_num_threads(2)
    model = vision_bench.vision_model(model_dir)
    pixels = [vision_bench.pixel_values(model_dir, p) for p in photos()]

    def states():
        with torch.inference_mode():
            return [model(pixel_values=x).last_hidden_state[0].numpy() for x in pixels]
    reference = states()
    original = modeling_blip.BlipAttention.forward
    print("| scheme | relative RMS error, mean (worst) | class-token cosine, mean (worst) |")
    print("|---|---:|---:|")
    for name in names:
        modeling_blip.BlipAttention.forward = quantized_attention(SCHEMES[name])
        out = states()
        modeling_blip.BlipAttention.forward = original
        rms = [np.linalg.norm(a - r) / np.linalg.norm(r) for a, r in zip(out, reference)]
        cos = [float(np.dot(a[0], r[0]) / (np.linalg.norm(a[0]) * np.linalg.norm(r[0]))) for a, r in zip(out, reference)]
        print(f"| {name} | {np.mean(rms):.2e} ({max(rms):.2e}) | {np.mean(cos):.6f} ({min(cos):.6f}) |", flush=True)


if __name__ == "__main__":
    main()
