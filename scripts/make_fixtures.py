#!/usr/bin/env python3
"""Builds the tiny random-weight BLIP models committed under Tests/BlipCoreTests/Fixtures/models
and the reference outputs the Swift tests compare against.

    python3 scripts/make_fixtures.py            # tiny fixtures (committed)
    python3 scripts/make_fixtures.py --full DIR # full-size BLIP-base random models (NOT committed)

Every tensor is random (LayerNorms too); tiny models are stored as F16 to keep the repo small,
and the expected values are computed in float32 from the same F16-rounded weights.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import blip_reference as ref  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
FIXTURES = os.path.join(ROOT, "Tests", "BlipCoreTests", "Fixtures")
PHOTOS = os.path.join(FIXTURES, "photos")


def make_photos():
    """Small real photographs (scikit-image's sample data) in the formats users feed."""
    from skimage import data
    os.makedirs(PHOTOS, exist_ok=True)
    Image.fromarray(data.chelsea()).resize((90, 60), Image.BICUBIC).save(os.path.join(PHOTOS, "chelsea.png"))
    Image.fromarray(data.astronaut()).resize((64, 64), Image.BICUBIC).save(os.path.join(PHOTOS, "astronaut.jpg"), quality=90)
    Image.fromarray(data.camera()).resize((50, 70), Image.BICUBIC).save(os.path.join(PHOTOS, "camera_gray.png"))
    Image.fromarray(data.coffee()).resize((41, 29), Image.BICUBIC).save(os.path.join(PHOTOS, "coffee.jpg"), quality=85)
    return sorted(os.listdir(PHOTOS))


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def tiny(args):
    photos = make_photos()
    models_dir = os.path.join(FIXTURES, "models")
    expected = {}
    for i, arch in enumerate(["captioning", "vqa", "itm"]):
        model = ref.build(arch, "tiny", seed=100 + i)
        out_dir = os.path.join(models_dir, arch)
        # round the weights through F16 first so the expectations match the stored file
        model.to(torch.float16).to(torch.float32)
        ref.save_model(model, out_dir, dtype=torch.float16)
        model.to(torch.float32)
        entry = {"images": {}}
        for name in photos:
            img = Image.open(os.path.join(PHOTOS, name))
            px = ref.pixel_values(out_dir, img)
            item = {"pixel_values": flat(px), "vision_states": flat(ref.vision_states(model, px))}
            if arch == "itm":
                item["image_embedding"] = flat(ref.image_embedding(model, px))
            entry["images"][name] = item
        expected[arch] = entry
    with open(os.path.join(FIXTURES, "expected_tiny.json"), "w") as f:
        json.dump(expected, f)
    print("wrote tiny fixtures for", list(expected), "with photos", photos)


def full(out_root):
    for i, arch in enumerate(["captioning", "vqa", "itm"]):
        out_dir = os.path.join(out_root, f"blip-base-{arch}")
        if os.path.exists(os.path.join(out_dir, "model.safetensors")):
            print("exists:", out_dir)
            continue
        model = ref.build(arch, "base", seed=7 + i)
        ref.save_model(model, out_dir)
        print("wrote", out_dir)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", metavar="DIR", help="write full-size BLIP-base random models into DIR")
    args = ap.parse_args()
    if args.full:
        full(args.full)
    else:
        tiny(args)
