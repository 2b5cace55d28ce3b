"""Manifests for training the filter in stages: it learns to bind each position to its object.

A filter trained on the generator's captions with one-fact negatives (match.jsonl), however
long and however weighted, is at chance on minimal pairs: told "the red star is left of the
blue circle" against the same with "right", it cannot tell which is true (BENCHMARKS.md,
session 25; scripts/probe_filter_pairs.py). It learns "is something on the left?", which
answers every side flip of a one-object scene, and never which object is there. Relation
flips alone never get past that shortcut. Swapping the sides of two objects does: with both
sides occupied, only binding a side to an object tells the caption from its swap. So the
filter is taught one axis at a time, sides, then swaps, then relations, each stage with the
previous axis kept in, and at last the generator's captions with weighted negatives and the
curriculum kept in. Each row's false variants are its `"negatives"` (explicit ITM negatives of
`blip finetune --task match`):

  match-sides-h.jsonl      positions-h.jsonl (every object's horizontal side); each negative
                           flips one object's side
  match-swaps-h.jsonl      its rows with objects on both sides; the negative swaps every side
  match-relations-h.jsonl  those swaps and as many relation captions (relations.jsonl) stating a
                           horizontal relation, the negative reversing it
  match-sides-v.jsonl      positions-v1.jsonl (one object, "at the top"), the side flipped, with
                           a third as many rows of match-relations-h.jsonl
  match-swaps-v.jsonl      positions.jsonl's vertical captions with objects at the top and at the
                           bottom, swapped, with half as many horizontal rows
  match-relations-v.jsonl  vertical relations reversed, with a quarter as many vertical swaps
                           and half as many horizontal rows
  match-mix.jsonl          match-weighted.jsonl (captions.jsonl with negatives weighted toward
                           shapes and relations: negatives.FILTER_WEIGHTS), at most
                           MIX_CAPTIONS rows, with vertical relations (a sixth as many), vertical
                           swaps (a twelfth) and horizontal rows (a quarter) kept in

It reads the manifests curriculum.py writes (positions*, relations) and writes
match-weighted.jsonl first when the split has none.
"""
from __future__ import annotations

import os
import random
import re

from .curriculum import SIDE_WORDS, write_manifest
from .language import REL_PHRASES
from .negatives import FILTER_WEIGHTS, WEIGHTED_STREAM, write_match_manifest
from .scene import AXIS, INVERSE
from .writers import read_jsonl

FILES = ("match-sides-h.jsonl", "match-swaps-h.jsonl", "match-relations-h.jsonl", "match-sides-v.jsonl",
         "match-swaps-v.jsonl", "match-relations-v.jsonl", "match-mix.jsonl")
WEIGHTED = "match-weighted.jsonl"
SOURCES = ("positions-h.jsonl", "positions-v1.jsonl", "positions.jsonl", "relations.jsonl", "captions.jsonl")
MIX_CAPTIONS = 120000
AXES = {0: "x", 1: "y"}
_SIDE = {axis: re.compile("|".join(map(re.escape, words))) for axis, words in SIDE_WORDS.items()}
_OTHER_SIDE = {w: ws[1 - k] for ws in SIDE_WORDS.values() for k, w in enumerate(ws)}
# Longest phrase first, so "to the left of" is not read as "left of".
_PHRASE_RELATION = {p: rel for rel, phrases in REL_PHRASES.items() for p in phrases}
_RELATION = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _PHRASE_RELATION), key=len, reverse=True)) + r")\b")


def side_flips(text: str, axis: str) -> list[str]:
    """The caption with one side phrase of `axis` turned to the other side, for each one."""
    return [text[:m.start()] + _OTHER_SIDE[m.group()] + text[m.end():] for m in _SIDE[axis].finditer(text)]


def side_swap(text: str, axis: str) -> str | None:
    """The caption with every side of `axis` swapped, when it names both sides (else None: with
    one side, a swap is a plain flip)."""
    if len(set(_SIDE[axis].findall(text))) < 2:
        return None
    return _SIDE[axis].sub(lambda m: _OTHER_SIDE[m.group()], text)


def relation_reversal(text: str, rng: random.Random) -> tuple[str, str] | None:
    """(axis, the caption with its one relation reversed): "left of" becomes one of the phrases
    for "right of"; None unless the caption states exactly one relation."""
    found = list(_RELATION.finditer(text))
    if len(found) != 1:
        return None
    m = found[0]
    relation = _PHRASE_RELATION[m.group()]
    phrase = rng.choice(REL_PHRASES[INVERSE[relation]])
    return AXES[AXIS[relation]], text[:m.start()] + phrase + text[m.end():]


def _read(split_dir: str, name: str) -> list[dict]:
    return read_jsonl(os.path.join(split_dir, name))


def _with_negatives(row: dict, negatives: list[str]) -> dict:
    return {**row, "negatives": negatives}


def _sample(rows: list[dict], count: int, rng: random.Random) -> list[dict]:
    return rng.sample(rows, min(count, len(rows)))


def write_filter_curriculum(split_dir: str, seed: int = 0) -> dict:
    """Write the manifests above into a generated split folder that has curriculum.py's."""
    missing = [name for name in SOURCES if not os.path.exists(os.path.join(split_dir, name))]
    if missing:
        raise SystemExit(f"{split_dir}: no {', '.join(missing)}: run `python3 -m scripts.scene_world curriculum "
                         f"--split-dir {split_dir}` first")
    rng = random.Random(seed)
    sides_h, swaps_h = [], []
    for row in _read(split_dir, "positions-h.jsonl"):
        flips = side_flips(row["text"], "x")
        rng.shuffle(flips)
        sides_h.append(_with_negatives(row, flips[:2]))
        swap = side_swap(row["text"], "x")
        if swap:
            swaps_h.append(_with_negatives(row, [swap]))
    reversed_by_axis = {"x": [], "y": []}
    for row in _read(split_dir, "relations.jsonl"):
        reversal = relation_reversal(row["text"], rng)
        if reversal:
            axis, text = reversal
            reversed_by_axis[axis].append(_with_negatives(row, [text]))
    horizontal = swaps_h + _sample(reversed_by_axis["x"], len(swaps_h), rng)
    sides_v = [_with_negatives(row, side_flips(row["text"], "y")) for row in _read(split_dir, "positions-v1.jsonl")]
    swaps_v = []
    for row in _read(split_dir, "positions.jsonl"):
        swap = side_swap(row["text"], "y")
        if swap:
            swaps_v.append(_with_negatives(row, [swap]))
    relations_v = reversed_by_axis["y"]
    if not os.path.exists(os.path.join(split_dir, WEIGHTED)):
        write_match_manifest(split_dir, 2, WEIGHTED, FILTER_WEIGHTS, WEIGHTED_STREAM)
    weighted = _sample(_read(split_dir, WEIGHTED), MIX_CAPTIONS, rng)
    stages = {
        "match-sides-h.jsonl": [sides_h],
        "match-swaps-h.jsonl": [swaps_h],
        "match-relations-h.jsonl": [horizontal],
        "match-sides-v.jsonl": [sides_v, _sample(horizontal, len(sides_v) // 3, rng)],
        "match-swaps-v.jsonl": [swaps_v, _sample(horizontal, len(swaps_v) // 2, rng)],
        "match-relations-v.jsonl": [relations_v, _sample(swaps_v, len(relations_v) // 4, rng),
                                    _sample(horizontal, len(relations_v) // 2, rng)],
        "match-mix.jsonl": [weighted, _sample(relations_v, len(weighted) // 6, rng),
                            _sample(swaps_v, len(weighted) // 12, rng), _sample(horizontal, len(weighted) // 4, rng)],
    }
    counts = {}
    for name, parts in stages.items():
        rows = [row for part in parts for row in part]
        rng.shuffle(rows)
        counts[name] = write_manifest(os.path.join(split_dir, name), rows)
    return counts
