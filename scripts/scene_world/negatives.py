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
# The filter's last curriculum stage (filter_curriculum.py) draws its negatives with the kinds
# weighted toward what a filter misses most, shapes and relations (BENCHMARKS.md, session 24),
# from a stream of their own so match.jsonl is untouched.
FILTER_WEIGHTS = {"colour": 1, "shape": 3, "size": 1, "count": 1, "relation": 3, "truncated": 1}
WEIGHTED_STREAM = 6


def negatives_for(plan, scene, rng, count: int, weights: dict | None = None) -> list[str]:
    """Up to `count` distinct false variants of the caption `plan` renders, their kinds drawn
    uniformly or in proportion to `weights`."""
    clean = plan.render()
    kinds = [k for k in NEGATIVE_KINDS if applicable(k, plan)]
    p = None
    if weights is not None:
        kinds = [k for k in kinds if weights.get(k, 0) > 0]
        if not kinds:
            return []
        p = [weights[k] / sum(weights[k] for k in kinds) for k in kinds]
    out: list[str] = []
    for _ in range(8 * count):
        if len(out) == count:
            break
        kind = kinds[int(rng.integers(len(kinds)))] if p is None else kinds[int(rng.choice(len(kinds), p=p))]
        text = corrupt(kind, plan, scene, rng)
        if text and text != clean and text not in out:
            out.append(text)
    return out


def write_match_manifest(split_dir: str, per_caption: int = 2, name: str = "match.jsonl",
                         weights: dict | None = None, stream: int = NEGATIVES_STREAM) -> str:
    """SPLIT_DIR/NAME: captions.jsonl's rows with `per_caption` negatives each (kinds weighted
    by `weights`, drawn from random stream `stream`). Scenes and captions are rebuilt from the
    split's seed (no image is rendered) and checked against captions.jsonl."""
    with open(os.path.join(split_dir, "info.json")) as f:
        info = json.load(f)
    seed, sid, size, k = info["seed"], info["split_id"], info["size"], info["captions_per_image"]
    with open(os.path.join(split_dir, "captions.jsonl")) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    path = os.path.join(split_dir, name)
    out = Jsonl(path + ".tmp")
    for i in range(info["count"]):
        scene = make_scene(seed, sid, i, size)
        texts, plans = captions_for(scene, image_rng(seed, sid, i, 2), k)
        rng = image_rng(seed, sid, i, stream)
        for j, (text, plan) in enumerate(zip(texts, plans)):
            row = rows[i * k + j]
            if row["text"] != text:
                raise SystemExit(f"{split_dir}: captions.jsonl row {i * k + j} is {row['text']!r}, "
                                 f"the seed gives {text!r}: not this generator's split")
            out.write({**row, "negatives": negatives_for(plan, scene, rng, per_caption, weights)})
    out.close()
    os.replace(path + ".tmp", path)
    return path

