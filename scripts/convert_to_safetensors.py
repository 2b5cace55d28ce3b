#!/usr/bin/env python3
"""Converts a Hugging Face BLIP checkpoint that ships only `pytorch_model.bin` into
`model.safetensors` in the same directory (libblip reads safetensors only: a pickle file can
run code when loaded, a safetensors file cannot).

    pip install torch safetensors
    python3 scripts/convert_to_safetensors.py path/to/blip-image-captioning-base

Tensors that share storage (the tied LM head) are written as separate copies, as the Hub's own
safetensors conversions of BLIP do.
"""
import os
import sys

import torch
from safetensors.torch import save_file


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    model_dir = sys.argv[1]
    src = os.path.join(model_dir, "pytorch_model.bin")
    dst = os.path.join(model_dir, "model.safetensors")
    if not os.path.exists(src):
        raise SystemExit(f"{src}: not found")
    if os.path.exists(dst):
        raise SystemExit(f"{dst}: already exists")
    state = torch.load(src, map_location="cpu", weights_only=True)
    tensors = {k: v.contiguous().clone() for k, v in state.items() if isinstance(v, torch.Tensor)}
    save_file(tensors, dst, metadata={"format": "pt"})
    print(f"wrote {dst}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
