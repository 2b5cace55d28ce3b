"""Extra caption manifests for training the captioner in stages (a curriculum).

A captioner trained from scratch on the generator's captions alone never learns spatial
relations: it names objects but states "left of" / "above" at chance, because the decoder
never learns to look up *where* a named object is (BENCHMARKS.md, sessions 9 and 10). It does
learn that when position is the whole training signal. So the captioner first learns to say
where each object is, then relations, then every caption:

  positions-h1.jsonl   one-object scenes: "a small red star on the left"
  positions-h.jsonl    1-3 objects, every object's horizontal side:
                       "a large white circle on the left and a small red star on the right"
  positions.jsonl      1-3 objects, one axis per caption: ... "at the top" / "at the bottom"
  positions-v1.jsonl   one-object scenes, the vertical side: "a small red star at the top"
  relations.jsonl      multi-object scenes, a caption of the generator's grammar that states a
                       relation (language.caption_plan with relation_prob 1)
  relations-v.jsonl    the rows of relations.jsonl that state a vertical relation (above, below,
                       under): like each side, vertical relations are learnt only when trained alone
  captions-relations.jsonl   captions.jsonl followed by relations.jsonl
  captions-positions.jsonl   captions-relations.jsonl followed by positions.jsonl with
                       "prompt": POSITION_PROMPT on each position row (blip finetune uses a row's
                       own prompt in place of --prompt)

The VQA model has the same blind spot (relation questions at chance, BENCHMARKS.md session 11)
and the same cure, in questions:

  vqa-sides-h.jsonl    "is the small red star on the left or on the right?" -> left / right, for
                       every object that no other object of its scene looks like and that is
                       at least MARGIN px off the vertical centre line
  vqa-sides-v.jsonl    the same for the vertical side: "... at the top or at the bottom?"
  vqa-relations.jsonl  the relation questions of vqa.jsonl ("is A above or below B?", "is A
                       left of B?"), trained alone after the sides
  vqa-sides-mix.jsonl  vqa.jsonl followed by both side sets (the last stage: every question
                       kind, with the sides kept)

Only captions.jsonl and relations.jsonl follow the generator's grammar. Without their own
prompt, position captions mixed into the last stage leak: 60% of greedy captions after
"a picture of" came out as position captions. Under their own prompt none do, and the decoder
keeps reading positions (without them it forgets the vertical side within 3,000 steps).
"""
from __future__ import annotations

import json
import os
import random
import re

import numpy as np

from .language import caption_plan
from .scene import Scene

# An object is "on the left" when its centre is at least this many pixels left of the image's
# centre line (and likewise for the other sides); scenes with an object nearer the centre are left out.
MARGIN = 20
POSITION_PROMPT = "a map of"
VERTICAL = re.compile(r"\b(above|below|under)\b")
SIDE_WORDS = {"x": ("on the left", "on the right"), "y": ("at the top", "at the bottom")}
FILES = ("positions-h1.jsonl", "positions-h.jsonl", "positions.jsonl", "positions-v1.jsonl",
         "relations.jsonl", "relations-v.jsonl", "captions-relations.jsonl", "captions-positions.jsonl",
         "vqa-sides-h.jsonl", "vqa-sides-v.jsonl", "vqa-relations.jsonl", "vqa-sides-mix.jsonl")
SIDE_QUESTIONS = {"x": ("is the {} on the left or on the right?", "left", "right"),
                  "y": ("is the {} at the top or at the bottom?", "top", "bottom")}
RELATION_QUESTION_TYPES = ("relation", "relation_yesno")


def _clear_axes(row: dict, axes) -> list[str]:
    size = {"x": row["width"], "y": row["height"]}
    return [a for a in axes if all(abs(o[a] - size[a] / 2) >= MARGIN for o in row["objects"])]


def position_caption(row: dict, axes, rng: random.Random) -> str | None:
    """Every object with the side of the image it is on, along one of `axes` where every
    object is clearly on one side; None when there is no such axis or two objects look alike
    (the caption could not say which is which)."""
    looks = [(o["size"], o["colour"], o["shape"]) for o in row["objects"]]
    if len(set(looks)) != len(looks):
        return None
    clear = _clear_axes(row, axes)
    if not clear:
        return None
    axis = rng.choice(clear)
    half = (row["width"] if axis == "x" else row["height"]) / 2
    before, after = SIDE_WORDS[axis]
    parts = [f"a {o['size']} {o['colour']} {o['shape']} {before if o[axis] < half else after}"
             for o in row["objects"]]
    rng.shuffle(parts)
    if len(parts) == 1:
        return parts[0]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def side_questions(row: dict, axis: str) -> list[dict]:
    """A VQA row asking for the side of each object (along `axis`) that is clearly on one side
    and that no other object of the scene looks like (the question could not say which)."""
    looks = [(o["size"], o["colour"], o["shape"]) for o in row["objects"]]
    half = (row["width"] if axis == "x" else row["height"]) / 2
    question, before, after = SIDE_QUESTIONS[axis]
    return [{"image": row["image"], "question": question.format(" ".join(look)),
             "answer": before if o[axis] < half else after, "image_id": row["image_id"], "type": "side"}
            for o, look in zip(row["objects"], looks)
            if looks.count(look) == 1 and abs(o[axis] - half) >= MARGIN]


def relation_caption(row: dict, rng: np.random.Generator) -> str | None:
    """A caption of the generator's grammar that states a relation, or None (one object, or no
    pair with an unambiguous relation)."""
    if len(row["objects"]) < 2:
        return None
    plan = caption_plan(Scene.from_json(row), rng, relation_prob=1.0)
    if not any(len(chain) > 1 for chain in plan.chains):
        return None
    return plan.render()


def write_manifest(path: str, rows) -> int:
    n = 0
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
            n += 1
    os.replace(path + ".tmp", path)
    return n


def write_curriculum(split_dir: str, seed: int = 0) -> dict:
    """Write the manifests above into a generated split folder (beside captions.jsonl)."""
    with open(os.path.join(split_dir, "scenes.jsonl"), encoding="utf-8") as f:
        scenes = [json.loads(line) for line in f if line.strip()]

    def manifest(make):
        for row in scenes:
            text = make(row)
            if text is not None:
                yield {"image": row["image"], "text": text, "image_id": row["image_id"]}

    counts = {}
    rng = random.Random(seed)
    counts["positions-h1.jsonl"] = write_manifest(os.path.join(split_dir, "positions-h1.jsonl"), manifest(
        lambda r: position_caption(r, ("x",), rng) if len(r["objects"]) == 1 else None))
    rng = random.Random(seed + 1)
    counts["positions-h.jsonl"] = write_manifest(os.path.join(split_dir, "positions-h.jsonl"), manifest(
        lambda r: position_caption(r, ("x",), rng)))
    rng = random.Random(seed + 2)
    positions = list(manifest(lambda r: position_caption(r, ("x", "y"), rng)))
    counts["positions.jsonl"] = write_manifest(os.path.join(split_dir, "positions.jsonl"), positions)
    rng = random.Random(seed + 4)
    counts["positions-v1.jsonl"] = write_manifest(os.path.join(split_dir, "positions-v1.jsonl"), manifest(
        lambda r: position_caption(r, ("y",), rng) if len(r["objects"]) == 1 else None))
    plan_rng = np.random.default_rng(seed + 3)
    relations = list(manifest(lambda r: relation_caption(r, plan_rng)))
    counts["relations.jsonl"] = write_manifest(os.path.join(split_dir, "relations.jsonl"), relations)
    vertical = [r for r in relations if VERTICAL.search(r["text"])]
    counts["relations-v.jsonl"] = write_manifest(os.path.join(split_dir, "relations-v.jsonl"), vertical)
    with open(os.path.join(split_dir, "captions.jsonl"), encoding="utf-8") as f:
        captions = [json.loads(line) for line in f if line.strip()]
    counts["captions-relations.jsonl"] = write_manifest(os.path.join(split_dir, "captions-relations.jsonl"),
                                                captions + relations)
    counts["captions-positions.jsonl"] = write_manifest(os.path.join(split_dir, "captions-positions.jsonl"),
                                                captions + relations + [dict(r, prompt=POSITION_PROMPT)
                                                                        for r in positions])
    sides = {axis: [q for row in scenes for q in side_questions(row, axis)] for axis in ("x", "y")}
    counts["vqa-sides-h.jsonl"] = write_manifest(os.path.join(split_dir, "vqa-sides-h.jsonl"), sides["x"])
    counts["vqa-sides-v.jsonl"] = write_manifest(os.path.join(split_dir, "vqa-sides-v.jsonl"), sides["y"])
    with open(os.path.join(split_dir, "vqa.jsonl"), encoding="utf-8") as f:
        questions = [json.loads(line) for line in f if line.strip()]
    counts["vqa-relations.jsonl"] = write_manifest(os.path.join(split_dir, "vqa-relations.jsonl"),
                                           [q for q in questions if q.get("type") in RELATION_QUESTION_TYPES])
    counts["vqa-sides-mix.jsonl"] = write_manifest(os.path.join(split_dir, "vqa-sides-mix.jsonl"),
                                           questions + sides["x"] + sides["y"])
    return counts
