"""Web-noise: corrupting captions the way alt-text goes wrong.

Each corruption is wrong by construction (it never consults the parser):
  colour      one object's colour (or the named background's) replaced by another
  shape       one object's shape replaced by another
  size        one object's size flipped (small <-> large)
  count       one noun phrase's count changed (1 -> 2/3, 2 -> 1/3, 3 -> 1/2)
  relation    the stated relation made false (flipped, or another axis on which it is false);
              for a caption without a relation, a false relation between two of its objects
  other_image the caption of another image of the split whose objects differ
  truncated   cut at a word boundary before the last shape word (maybe with "...")
  junk        file names and boilerplate: "IMG_2931.jpg", "untitled", "click here to view"...
"""
from __future__ import annotations

import copy
from dataclasses import replace
import numpy as np

from .scene import Scene, SHAPES, PLURAL, COLOURS, BACKGROUNDS, INVERSE, relation_holds
from .language import CaptionPlan, REL_PHRASES

KINDS = ("colour", "shape", "size", "count", "relation", "other_image", "truncated", "junk")


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def junk_text(rng: np.random.Generator) -> str:
    n4 = int(rng.integers(1000, 10000))
    n5 = int(rng.integers(10000, 100000))
    forms = [
        f"IMG_{n4}.jpg", f"DSC{n5:05d}.JPG", f"image{int(rng.integers(1, 40))}.png",
        f"Screenshot 20{int(rng.integers(10, 24))}-0{int(rng.integers(1, 10))}-1{int(rng.integers(0, 10))}",
        "untitled", "image", "photo", "click here to view", "no description available",
        f"stock photo {n5}{n4}", "thumbnail", f"product-{n4}-final-v2.png", "placeholder",
        "default alt text", "picture", f"scan_{n4:04d}", "banner", "IMG", "null",
    ]
    return _pick(rng, forms)


def _np_groups(plan: CaptionPlan, scene: Scene) -> list[list]:
    """Scene objects covered by each noun phrase of a clean plan (by attributes)."""
    out = []
    for n in plan.nps:
        out.append([o for o in scene.objects if o.attrs == (n.size, n.colour, n.shape)])
    return out


def _all_hold(rel, ga, gb, side):
    return all(relation_holds(rel, a, b, side) for a in ga for b in gb)


def corrupt(kind: str, plan: CaptionPlan, scene: Scene, rng: np.random.Generator,
            donor_text: str | None = None) -> str | None:
    """The corrupted caption, or None when `kind` does not apply to this caption."""
    p = copy.deepcopy(plan)
    side = min(scene.width, scene.height)
    if kind == "colour":
        if p.suffix_prep and p.background and rng.random() < 0.2:
            p.background = _pick(rng, [b for b in BACKGROUNDS if b != p.background])
        else:
            k = int(rng.integers(len(p.nps)))
            p.nps[k] = replace(p.nps[k], colour=_pick(rng, [c for c in COLOURS if c != p.nps[k].colour]))
        return p.render()
    if kind == "shape":
        k = int(rng.integers(len(p.nps)))
        p.nps[k] = replace(p.nps[k], shape=_pick(rng, [s for s in SHAPES if s != p.nps[k].shape]))
        return p.render()
    if kind == "size":
        k = int(rng.integers(len(p.nps)))
        p.nps[k] = replace(p.nps[k], size="large" if p.nps[k].size == "small" else "small")
        return p.render()
    if kind == "count":
        k = int(rng.integers(len(p.nps)))
        c = p.nps[k].count
        p.nps[k] = replace(p.nps[k], count=_pick(rng, [x for x in (1, 2, 3) if x != c]))
        return p.render()
    if kind == "relation":
        groups = _np_groups(plan, scene)
        rel_chain = next((c for c in p.chains if len(c) == 3), None)
        if rel_chain is not None:
            a, r, b = rel_chain
            options = [INVERSE[r]] * 3 + [x for x in ("left", "right", "above", "below")
                                          if x not in (r, INVERSE[r])
                                          and not _all_hold(x, groups[a], groups[b], side)]
            new = _pick(rng, options)
            rel_chain[1] = new
        else:
            if len(p.nps) < 2:
                return None
            a, b = [int(x) for x in rng.choice(len(p.nps), size=2, replace=False)]
            options = [x for x in ("left", "right", "above", "below")
                       if not _all_hold(x, groups[a], groups[b], side)]
            new = _pick(rng, options)
            rest = [[i] for i in range(len(p.nps)) if i not in (a, b)]
            p.chains = [[a, new, b]] + rest
        if new not in p.rel_phrase:
            p.rel_phrase[new] = _pick(rng, REL_PHRASES[new])
        return p.render()
    if kind == "other_image":
        return donor_text
    if kind == "truncated":
        words = plan.render().split()
        shape_words = set(SHAPES) | set(PLURAL.values())
        last = max(i for i, w in enumerate(words) if w.strip(",") in shape_words)
        k = int(rng.integers(1, last + 1))
        t = " ".join(words[:k]).rstrip(",")
        if rng.random() < 0.3:
            t += "..."
        return t
    if kind == "junk":
        return junk_text(rng)
    raise ValueError(kind)


def applicable(kind: str, plan: CaptionPlan) -> bool:
    return not (kind == "relation" and len(plan.nps) < 2)


def choose_noisy_rows(count: int, fraction: float, rng: np.random.Generator) -> set[int]:
    """Exactly round(fraction * count) row indices."""
    k = int(round(fraction * count))
    return set(int(i) for i in rng.permutation(count)[:k])
