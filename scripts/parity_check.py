#!/usr/bin/env python3
"""Full-size parity: runs the `blip` CLI and Hugging Face transformers on the same model and
real photographs and compares the results.

    python3 scripts/make_fixtures.py --full local/models     # once: random BLIP-base models
    python3 scripts/parity_check.py --models local/models [--blip .build/release/blip-cli]

Checks (those of the issues' acceptance criteria):
  embed --image : cosine(libblip, normalize(vision_proj(last_hidden_state[:, 0]))) >= 0.99999
Photos: scikit-image's sample photographs, as PNG and JPEG, colour and grayscale.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import blip_reference as ref  # noqa: E402


def photos(tmp):
    """Real photographs in the formats users feed: PNG and JPEG, colour and grayscale."""
    from skimage import data
    items = {
        "astronaut.png": Image.fromarray(data.astronaut()),
        "coffee.png": Image.fromarray(data.coffee()),
        "camera_gray.png": Image.fromarray(data.camera()),
        "chelsea.jpg": Image.fromarray(data.chelsea()),
        "moon_gray.jpg": Image.fromarray(data.moon()),
    }
    paths = []
    for name, img in items.items():
        p = os.path.join(tmp, name)
        img.save(p, quality=92) if name.endswith(".jpg") else img.save(p)
        paths.append(p)
    from skimage import data as d
    rocket = os.path.join(os.path.dirname(d.__file__), "rocket.jpg")
    paths.append(rocket)
    return paths


def run_blip(blip, args):
    out = subprocess.run([blip] + args, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"blip {' '.join(args)} failed:\n{out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def check_embed(blip, model_dir, images, threads):
    model = ref.ARCHS["itm"].from_pretrained(model_dir).eval()
    args = ["embed", "--model", model_dir, "--threads", str(threads), "--json"]
    for p in images:
        args += ["--image", p]
    ours = run_blip(blip, args)
    worst = 1.0
    for p, line in zip(images, ours):
        px = ref.pixel_values(model_dir, Image.open(p))
        theirs = ref.image_embedding(model, px)[0].numpy()
        mine = np.array(line["embedding"], dtype=np.float64)
        cos = float(mine @ theirs / (np.linalg.norm(mine) * np.linalg.norm(theirs)))
        worst = min(worst, cos)
        print(f"  embed {os.path.basename(p):18s} cosine {cos:.8f}  max|diff| {np.abs(mine - theirs).max():.2e}")
    ok = worst >= 0.99999
    print(f"embed --image: worst cosine {worst:.8f} -> {'PASS' if ok else 'FAIL'}")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="local/models")
    ap.add_argument("--blip", default=".build/release/blip-cli")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        images = photos(tmp)
        ok = check_embed(args.blip, os.path.join(args.models, "blip-base-itm"), images, args.threads)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
