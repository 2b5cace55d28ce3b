"""Hard negative texts for training the filter: each clean caption with one fact made false.

BLIP's ITM draws its negatives from the batch (another image's text, chosen by similarity).
In a batch of random scenes almost no other text differs from a caption by one colour, one
count or one relation, so ITM never learns to check those; the standard remedy (NegCLIP and
its kin) is to add rule-made perturbations of the true caption as explicit negatives. They are
written as the `"negatives"` field of match.jsonl, which `blip finetune --task match` adds to
its ITM batch.

The perturbations are noise.corrupt's meaning-changing kinds (wrong by construction), drawn
from their own random stream (5), so the web-noise rows of a split are untouched.
"""
from __future__ import annotations

import json
import os

from .generate import make_scene
from .language import captions_for
from .noise import corrupt, applicable
from .scene import image_rng
from .writers import Jsonl

NEGATIVE_KINDS = ("colour", "shape", "size", "count", "relation", "truncated")
NEGATIVES_STREAM = 5


def negatives_for(plan, scene, rng, count: int) -> list[str]:
    """Up to `count` distinct false variants of the caption `plan` renders."""
    clean = plan.render()
    kinds = [k for k in NEGATIVE_KINDS if applicable(k, plan)]
    out: list[str] = []
    for _ in range(8 * count):
        if len(out) == count:
            break
        text = corrupt(kinds[int(rng.integers(len(kinds)))], plan, scene, rng)
        if text and text != clean and text not in out:
            out.append(text)
    return out


def write_match_manifest(split_dir: str, per_caption: int = 2) -> str:
    """SPLIT_DIR/match.jsonl: captions.jsonl's rows with `per_caption` negatives each. Scenes
    and captions are rebuilt from the split's seed (no image is rendered) and checked against
    captions.jsonl."""
    with open(os.path.join(split_dir, "info.json")) as f:
        info = json.load(f)
    seed, sid, size, k = info["seed"], info["split_id"], info["size"], info["captions_per_image"]
    with open(os.path.join(split_dir, "captions.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    path = os.path.join(split_dir, "match.jsonl")
    out = Jsonl(path + ".tmp")
    for i in range(info["count"]):
        scene = make_scene(seed, sid, i, size)
        texts, plans = captions_for(scene, image_rng(seed, sid, i, 2), k)
        rng = image_rng(seed, sid, i, NEGATIVES_STREAM)
        for j, (text, plan) in enumerate(zip(texts, plans)):
            row = rows[i * k + j]
            if row["text"] != text:
                raise SystemExit(f"{split_dir}: captions.jsonl row {i * k + j} is {row['text']!r}, "
                                 f"the seed gives {text!r}: not this generator's split")
            out.write({**row, "negatives": negatives_for(plan, scene, rng, per_caption)})
    out.close()
    os.replace(path + ".tmp", path)
    return path

