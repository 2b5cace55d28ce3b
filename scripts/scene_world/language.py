"""Captions (a small grammar with paraphrase templates) and VQA pairs for a Scene.

Caption grammar (also what parse.py reads back):

    caption  := [prefix] body [suffix] ["."]
    prefix   := "there is" | "there are" | "an image of" | "a drawing of"
    suffix   := ("on" | "against") "a" BACKGROUND "background"
    body     := chain | chain "and" chain | chain ", and" chain | chain "," chain ["," ] "and" chain
    chain    := np [["is" | "are"] relation np]
    np       := "a" SIZE COLOUR SHAPE | ("two" | "three") SIZE COLOUR SHAPES
    relation := "to the left of" | "left of" | "to the right of" | "right of"
              | "above" | "below" | "under"

Identical objects (same size, colour and shape) are always named together with a count
("two small green squares"). Every caption names every object with its size, colour and
shape. A relation is stated only between two groups when every pair of their objects has
that relation unambiguously (scene.stated_relation).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
import numpy as np

from .scene import (Scene, Obj, SHAPES, PLURAL, COLOURS, BACKGROUNDS, SIZES, INVERSE,
                    stated_relation, clear_along)

COUNT_WORDS = {1: "a", 2: "two", 3: "three"}
REL_PHRASES = {
    "left": ("to the left of", "left of"),
    "right": ("to the right of", "right of"),
    "above": ("above",),
    "below": ("below", "under"),
}
PREFIXES = ("", "", "there is", "an image of", "a drawing of")   # "" twice: most captions are bare
SUFFIX_PREPS = ("on", "against")
MAX_WORDS = 20


@dataclass(frozen=True)
class NP:
    count: int
    size: str | None
    colour: str | None
    shape: str | None

    def text(self) -> str:
        words = [COUNT_WORDS.get(self.count, str(self.count))]
        if self.size:
            words.append(self.size)
        if self.colour:
            words.append(self.colour)
        if self.shape:
            words.append(self.shape if self.count == 1 else PLURAL[self.shape])
        else:
            words.append("object" if self.count == 1 else "objects")
        return " ".join(words)


@dataclass
class CaptionPlan:
    """A caption before it is put into words; noise.py edits plans and re-renders them."""
    nps: list[NP]
    chains: list[list]                  # [np_index] or [np_index, relation, np_index]
    rel_phrase: dict = field(default_factory=dict)   # relation -> chosen phrase
    copula: bool = False
    prefix: str = ""
    suffix_prep: str | None = None
    background: str | None = None
    oxford_comma: bool = False

    def render(self) -> str:
        def chain_text(ch):
            t = self.nps[ch[0]].text()
            k = 1
            while k < len(ch):
                rel, j = ch[k], ch[k + 1]
                phrase = self.rel_phrase.get(rel) or REL_PHRASES[rel][0]
                cop = ""
                if self.copula:
                    cop = ("is " if self.nps[ch[k - 1]].count == 1 else "are ")
                t += f" {cop}{phrase} {self.nps[j].text()}"
                k += 2
            return t

        parts = [chain_text(c) for c in self.chains]
        if len(parts) == 1:
            body = parts[0]
        elif len(parts) == 2:
            simple = all(len(c) == 1 for c in self.chains)
            body = parts[0] + (" and " if simple else ", and ") + parts[1]
        else:
            body = ", ".join(parts[:-1]) + ("," if self.oxford_comma else "") + " and " + parts[-1]
        text = body
        if self.prefix:
            p = self.prefix
            if p in ("there is", "there are"):
                p = "there is" if self.nps[self.chains[0][0]].count == 1 else "there are"
            text = p + " " + text
        if self.suffix_prep and self.background:
            text += f" {self.suffix_prep} a {self.background} background"
        return text


def groups_of(scene: Scene) -> list[list[int]]:
    """Indices of identical objects, grouped, in first-appearance order."""
    seen: dict[tuple, list[int]] = {}
    for i, o in enumerate(scene.objects):
        seen.setdefault(o.attrs, []).append(i)
    return list(seen.values())


def group_relation(scene: Scene, ga: list[int], gb: list[int]) -> str | None:
    """The relation stated for every pair (a in ga, b in gb), or None if they disagree."""
    side = min(scene.width, scene.height)
    rels = {stated_relation(scene.objects[a], scene.objects[b], side) for a in ga for b in gb}
    if len(rels) == 1:
        r = rels.pop()
        return r
    return None


def _np_for(scene: Scene, g: list[int]) -> NP:
    o = scene.objects[g[0]]
    return NP(len(g), o.size, o.colour, o.shape)


def caption_plan(scene: Scene, rng: np.random.Generator, relation_prob: float = 0.7) -> CaptionPlan:
    groups = groups_of(scene)
    order = [int(i) for i in rng.permutation(len(groups))]
    groups = [groups[i] for i in order]
    nps = [_np_for(scene, g) for g in groups]

    chains: list[list] = [[i] for i in range(len(groups))]
    rel_phrase = {}
    if len(groups) >= 2 and rng.random() < relation_prob:
        pairs = []
        for a in range(len(groups)):
            for b in range(len(groups)):
                if a != b:
                    r = group_relation(scene, groups[a], groups[b])
                    if r is not None:
                        pairs.append((a, b, r))
        if pairs:
            a, b, r = pairs[int(rng.integers(len(pairs)))]
            rest = [i for i in range(len(groups)) if i not in (a, b)]
            chains = [[a, r, b]] + [[i] for i in rest]
            if rest and rng.random() < 0.5:
                chains = chains[1:] + chains[:1]
            phrases = REL_PHRASES[r]
            rel_phrase[r] = phrases[int(rng.integers(len(phrases)))]
    plan = CaptionPlan(
        nps=nps, chains=chains, rel_phrase=rel_phrase,
        copula=bool(rng.random() < 0.3),
        prefix=PREFIXES[int(rng.integers(len(PREFIXES)))],   # the copula only without a prefix
        suffix_prep=(SUFFIX_PREPS[int(rng.integers(2))] if rng.random() < 0.45 else None),
        background=scene.background,
        oxford_comma=bool(rng.random() < 0.3),
    )
    return _finish(plan)


def _finish(plan: CaptionPlan) -> CaptionPlan:
    if plan.prefix:
        plan.copula = False     # no "there is a red circle is left of ..."
    # Keep captions short: drop the prefix, then the background, then the copula.
    for drop in ("prefix", "suffix_prep", "copula"):
        if len(plan.render().split()) <= MAX_WORDS:
            break
        setattr(plan, drop, "" if drop == "prefix" else (None if drop == "suffix_prep" else False))
    return plan


def all_captions(scene: Scene) -> list[str]:
    """Every caption the generator can produce for the scene (each paraphrase choice
    enumerated), sorted; used to test the parser exhaustively."""
    from itertools import permutations, product
    base = groups_of(scene)
    out = set()
    for order in permutations(range(len(base))):
        groups = [base[i] for i in order]
        nps = [_np_for(scene, g) for g in groups]
        structures = [([[i] for i in range(len(groups))], {})]
        for a in range(len(groups)):
            for b in range(len(groups)):
                r = group_relation(scene, groups[a], groups[b]) if a != b else None
                if r is None:
                    continue
                rest = [[i] for i in range(len(groups)) if i not in (a, b)]
                for chains in ([[a, r, b]] + rest, rest + [[a, r, b]]):
                    for ph in REL_PHRASES[r]:
                        structures.append((chains, {r: ph}))
        for (chains, rp), cop, pre, suf, ox in product(structures, (False, True), set(PREFIXES),
                                                     (None,) + SUFFIX_PREPS, (False, True)):
            plan = CaptionPlan(nps=list(nps), chains=[list(c) for c in chains], rel_phrase=dict(rp),
                               copula=cop, prefix=pre, suffix_prep=suf,
                               background=scene.background, oxford_comma=ox)
            out.add(_finish(plan).render())
    return sorted(out)


def captions_for(scene: Scene, rng: np.random.Generator, k: int = 1) -> tuple[list[str], list[CaptionPlan]]:
    """k captions (distinct when possible) and their plans."""
    texts, plans = [], []
    for _ in range(k * 8):
        p = caption_plan(scene, rng)
        t = p.render()
        if t not in texts:
            texts.append(t)
            plans.append(p)
        if len(texts) == k:
            break
    while len(texts) < k:           # a one-object scene has few paraphrases: repeat them
        texts.append(texts[len(texts) % max(1, len(plans))])
        plans.append(plans[len(plans) % max(1, len(plans))])
    return texts, plans


# --- VQA ---

QUESTION_TYPES = {
    "colour": 3, "background": 1, "shape": 3, "size": 2, "count": 2, "count_attr": 2,
    "relation": 3, "relation_yesno": 2, "exists": 2, "attr_yesno": 2,
}
OBJECT_NOUNS = ("object", "shape", "thing")


def _unique_refs(scene: Scene, i: int, exclude: str | None) -> list[tuple]:
    """Attribute subsets ('size', 'colour', 'shape' keys) that single out object i, without
    the attribute `exclude`."""
    o = scene.objects[i]
    subsets = [("shape",), ("colour", "shape"), ("size", "shape"), ("size", "colour", "shape"),
               ("colour",), ("size", "colour")]
    out = []
    for sub in subsets:
        if exclude in sub:
            continue
        matches = [p for p in scene.objects
                   if all(getattr(p, a) == getattr(o, a) for a in sub)]
        if len(matches) == 1:
            out.append(sub)
    return out


def _ref_text(o: Obj, sub: tuple, noun: str = "object") -> str:
    words = ["the"]
    if "size" in sub:
        words.append(o.size)
    if "colour" in sub:
        words.append(o.colour)
    words.append(o.shape if "shape" in sub else noun)
    return " ".join(words)


def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _question(scene: Scene, kind: str, rng: np.random.Generator) -> tuple[str, str] | None:
    objs = scene.objects
    side = min(scene.width, scene.height)
    n = len(objs)
    if kind == "background":
        return "what color is the background?", scene.background
    if kind == "count":
        noun = _pick(rng, ("objects", "shapes", "things"))
        return f"how many {noun} are there?", str(n)
    if kind == "count_attr":
        o = _pick(rng, objs)
        attr = _pick(rng, ("colour", "shape", "size"))
        if rng.random() < 0.25:   # an attribute value that may be absent
            o = Obj(_pick(rng, SHAPES), _pick(rng, [c for c in COLOURS if c != scene.background]),
                    _pick(rng, SIZES), 0, 0, 0, 0)
        if attr == "colour":
            q = f"how many {o.colour} objects are there?"
            k = sum(p.colour == o.colour for p in objs)
        elif attr == "shape":
            q = f"how many {PLURAL[o.shape]} are there?"
            k = sum(p.shape == o.shape for p in objs)
        else:
            q = f"how many {o.size} objects are there?"
            k = sum(p.size == o.size for p in objs)
        return q, str(k)
    if kind == "exists":
        o = _pick(rng, objs)
        want_yes = rng.random() < 0.5
        if not want_yes:
            for _ in range(20):
                attr = _pick(rng, ("size", "colour", "shape"))
                if attr == "size":
                    c = replace(o, size="large" if o.size == "small" else "small")
                elif attr == "colour":
                    c = replace(o, colour=_pick(rng, [x for x in COLOURS if x not in (o.colour, scene.background)]))
                else:
                    c = replace(o, shape=_pick(rng, [x for x in SHAPES if x != o.shape]))
                if not any(p.attrs == c.attrs for p in objs):
                    o = c
                    break
            else:
                return None
        yes = any(p.attrs == o.attrs for p in objs)
        return f"is there a {o.size} {o.colour} {o.shape}?", "yes" if yes else "no"

    # Questions about one identifiable object.
    i = int(rng.integers(n))
    o = objs[i]
    if kind in ("colour", "shape", "size", "attr_yesno"):
        ask = {"colour": "colour", "shape": "shape", "size": "size"}.get(kind) or _pick(rng, ("colour", "shape", "size"))
        refs = _unique_refs(scene, i, exclude=ask)
        if not refs:
            return None
        sub = _pick(rng, refs)
        noun = _pick(rng, OBJECT_NOUNS) if ask != "shape" else _pick(rng, ("object", "thing"))
        ref = _ref_text(o, sub, noun)
        if kind == "colour":
            return f"what color is {ref}?", o.colour
        if kind == "shape":
            return f"what shape is {ref}?", o.shape
        if kind == "size":
            return f"what size is {ref}?", o.size
        yes = rng.random() < 0.5
        if ask == "colour":
            c = o.colour if yes else _pick(rng, [x for x in COLOURS if x not in (o.colour, scene.background)])
            return f"is {ref} {c}?", "yes" if yes else "no"
        if ask == "size":
            s = o.size if yes else ("large" if o.size == "small" else "small")
            return f"is {ref} {s}?", "yes" if yes else "no"
        s = o.shape if yes else _pick(rng, [x for x in SHAPES if x != o.shape])
        return f"is {ref} a {s}?", "yes" if yes else "no"

    if kind in ("relation", "relation_yesno"):
        if n < 2:
            return None
        j = int(rng.integers(n - 1))
        j = j + 1 if j >= i else j
        b = objs[j]
        ra, rb = _unique_refs(scene, i, None), _unique_refs(scene, j, None)
        ra = [r for r in ra if "shape" in r]
        rb = [r for r in rb if "shape" in r]
        if not ra or not rb:
            return None
        ta, tb = _ref_text(o, _pick(rng, ra)), _ref_text(b, _pick(rng, rb))
        axes = [ax for ax in (("left", "right"), ("above", "below"))
                if clear_along(ax[0], o, b, side) or clear_along(ax[1], o, b, side)]
        if not axes:
            return None
        ax = _pick(rng, axes)
        truth = ax[0] if clear_along(ax[0], o, b, side) else ax[1]
        if kind == "relation":
            if ax[0] == "left":
                return f"is {ta} left or right of {tb}?", truth
            return f"is {ta} above or below {tb}?", truth
        yes = rng.random() < 0.5
        rel = truth if yes else INVERSE[truth]
        phrase = _pick(rng, REL_PHRASES[rel])
        return f"is {ta} {phrase} {tb}?", "yes" if yes else "no"
    raise ValueError(kind)


def vqa_for(scene: Scene, rng: np.random.Generator, k: int = 4) -> list[tuple[str, str, str]]:
    """Up to k distinct (question, answer, type) triples."""
    kinds = list(QUESTION_TYPES)
    w = np.array([QUESTION_TYPES[t] for t in kinds], dtype=float)
    w /= w.sum()
    out, seen = [], set()
    for _ in range(k * 10):
        kind = kinds[int(rng.choice(len(kinds), p=w))]
        qa = _question(scene, kind, rng)
        if qa is None or qa[0] in seen:
            continue
        seen.add(qa[0])
        out.append((qa[0], qa[1], kind))
        if len(out) == k:
            break
    return out


def vocabulary() -> set[str]:
    """Every word the clean captions, questions and answers can contain."""
    words = set()
    words |= set(SHAPES) | set(PLURAL.values()) | set(COLOURS) | set(BACKGROUNDS) | set(SIZES)
    words |= {"a", "two", "three", "and", "is", "are", "there", "an", "image", "of", "drawing",
              "on", "against", "background", ","}
    for ps in REL_PHRASES.values():
        for p in ps:
            words |= set(p.split())
    words |= {"what", "color", "is", "the", "shape", "size", "how", "many", "objects", "shapes",
              "things", "are", "there", "object", "thing", "left", "or", "right", "of", "above",
              "below", "yes", "no", "?", "0", "1", "2", "3", "a"}
    return words
