"""Reading a caption back into claims, and checking the claims against a scene.

Definition of a correct caption (`caption_correct`), the project's "caption content accuracy":

1. It parses under the caption grammar of language.py (any prefix/suffix/paraphrase the
   generator uses, plus the prompt prefixes "a picture of" / "a photo of", "an" for "a",
   "gray" for "grey" and a final "."); anything else (unknown words, dangling words,
   truncated phrases, file names) is incorrect.
2. It names every object with the right size, colour and shape: each noun phrase claims
   COUNT objects with a size, a colour and a shape (all three must be present); the multiset
   of claimed (size, colour, shape) over all phrases equals the scene's objects exactly.
   So "two small green squares" covers two identical objects, and naming an object twice,
   missing one, or adding one is incorrect.
3. It states no false relation: there is an assignment of scene objects to the claimed
   ones (respecting attributes) under which every stated "A REL B" holds for every object
   of A and every object of B, where "holds" means the centres are at least
   CHECK_MARGIN (5 %) of the image side apart along that axis in that direction.
4. A named background ("on a grey background") is the scene's background.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations
import re

from .scene import (Scene, SHAPES, PLURAL, SINGULAR, COLOURS, BACKGROUNDS, SIZES,
                    relation_holds)
from .language import NP

COUNTS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
COLOUR_WORDS = set(COLOURS) | set(BACKGROUNDS) | {"gray"}
NOUNS = set(SHAPES) | set(PLURAL.values()) | {"object", "objects", "shape", "shapes", "thing", "things"}
PREFIXES = [("there", "is"), ("there", "are"), ("an", "image", "of"), ("a", "drawing", "of"),
            ("a", "picture", "of"), ("a", "photo", "of"), ("an", "picture", "of")]
REL_WORDS = [  # longest first
    (("to", "the", "left", "of"), "left"), (("to", "the", "right", "of"), "right"),
    (("left", "of"), "left"), (("right", "of"), "right"),
    (("above",), "above"), (("below",), "below"), (("under",), "below"), (("over",), "above"),
]
SEPS = [(",", "and"), ("and",), (",",)]


@dataclass
class Claims:
    nps: list[NP] = field(default_factory=list)
    relations: list[tuple[int, str, int]] = field(default_factory=list)  # (np, rel, np)
    background: str | None = None


def tokenize(text: str) -> list[str] | None:
    t = text.strip().lower()
    if not re.fullmatch(r"[a-z ,.]*", t):
        return None
    return t.replace(",", " , ").replace(".", " . ").split()


def _match(toks, pos, seq):
    return tuple(toks[pos:pos + len(seq)]) == tuple(seq)


def parse_caption(text: str) -> Claims | None:
    """The claims of a caption, or None when it does not parse."""
    toks = tokenize(text)
    if not toks:
        return None
    while toks and toks[-1] == ".":
        toks.pop()
    claims = Claims()
    # suffix: [","] ("on"|"against") ["a"] COLOUR "background"
    if len(toks) >= 3 and toks[-1] == "background" and toks[-2] in COLOUR_WORDS:
        k = len(toks) - 2
        if toks[k - 1] == "a":
            k -= 1
        if k >= 1 and toks[k - 1] in ("on", "against"):
            claims.background = "grey" if toks[-2] == "gray" else toks[-2]
            toks = toks[:k - 1]
            if toks and toks[-1] == ",":
                toks.pop()
        else:
            return None
    pos = 0
    for p in PREFIXES:
        if _match(toks, 0, p):
            pos = len(p)
            break

    def parse_np(pos):
        if pos >= len(toks) or toks[pos] not in COUNTS:
            return None
        count = COUNTS[toks[pos]]
        pos += 1
        size = colour = None
        if pos < len(toks) and toks[pos] in SIZES:
            size = toks[pos]
            pos += 1
        if pos < len(toks) and toks[pos] in COLOUR_WORDS:
            colour = "grey" if toks[pos] == "gray" else toks[pos]
            pos += 1
        if pos >= len(toks) or toks[pos] not in NOUNS:
            return None
        w = toks[pos]
        shape = w if w in SHAPES else SINGULAR.get(w)
        return NP(count, size, colour, shape), pos + 1

    r = parse_np(pos)
    if r is None:
        return None
    np_, pos = r
    claims.nps.append(np_)
    while pos < len(toks):
        # relation?
        p2 = pos + 1 if toks[pos] in ("is", "are") else pos
        rel = None
        for seq, name in REL_WORDS:
            if _match(toks, p2, seq):
                rel, p2 = name, p2 + len(seq)
                break
        if rel is not None:
            r = parse_np(p2)
            if r is None:
                return None
            claims.relations.append((len(claims.nps) - 1, rel, len(claims.nps)))
            claims.nps.append(r[0])
            pos = r[1]
            continue
        for seq in SEPS:
            if _match(toks, pos, seq):
                r = parse_np(pos + len(seq))
                break
        else:
            return None
        if r is None:
            return None
        claims.nps.append(r[0])
        pos = r[1]
    return claims


@dataclass
class Check:
    ok: bool
    reason: str = ""     # "", "unparsed", "incomplete-np", "objects", "relation", "background"


def check_caption(text: str, scene: Scene) -> Check:
    claims = parse_caption(text)
    if claims is None:
        return Check(False, "unparsed")
    if any(n.size is None or n.colour is None or n.shape is None for n in claims.nps):
        return Check(False, "incomplete-np")
    inst = []            # claimed instances: np index
    for k, n in enumerate(claims.nps):
        inst += [k] * n.count
    want = sorted((n.size, n.colour, n.shape) for n in claims.nps for _ in range(n.count))
    have = sorted(o.attrs for o in scene.objects)
    if want != have:
        return Check(False, "objects")
    if claims.background is not None and claims.background != scene.background:
        return Check(False, "background")
    if claims.relations:
        side = min(scene.width, scene.height)
        objs = scene.objects
        for perm in permutations(range(len(objs))):
            # perm[m] = scene object of claimed instance m
            if any(objs[perm[m]].attrs != (claims.nps[k].size, claims.nps[k].colour, claims.nps[k].shape)
                   for m, k in enumerate(inst)):
                continue
            members = {}
            for m, k in enumerate(inst):
                members.setdefault(k, []).append(objs[perm[m]])
            if all(relation_holds(rel, a, b, side)
                   for i, rel, j in claims.relations for a in members[i] for b in members[j]):
                break
        else:
            return Check(False, "relation")
    return Check(True)


def caption_correct(caption: str, scene: Scene) -> bool:
    """True when the caption names every object with the right size, colour and shape,
    states no false relation and no wrong background (see the module docstring)."""
    return check_caption(caption, scene).ok
