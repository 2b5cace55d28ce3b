"""Scene dataclasses, the attribute vocabulary, spatial relations and scene sampling.

A scene is 1-3 flat objects on a solid (slightly textured) background.  Each object has a
shape, a colour and a size ("small" or "large"); objects never overlap.  Everything is
derived from a numpy Generator, so a scene is a pure function of its seed.
"""
from __future__ import annotations

from dataclasses import dataclass, field, asdict
import numpy as np

# --- vocabulary (every word is a single whole-word token of BERT's uncased vocabulary) ---

# Six shapes that stay distinct at 128 px under 16-px patches (heart and moon were too close to
# circle at the small size; the renderer still draws them).
SHAPES = ("circle", "square", "triangle", "star", "cross", "diamond")
PLURAL = {s: s + "s" for s in SHAPES}
PLURAL["cross"] = "crosses"
SINGULAR = {p: s for s, p in PLURAL.items()}

# Object colours: name -> RGB (flat fill, jittered a little per object).
COLOURS = {
    "red": (214, 32, 32),
    "green": (36, 160, 58),
    "blue": (36, 82, 218),
    "yellow": (242, 212, 28),
    "purple": (128, 48, 176),
    "orange": (246, 128, 18),
    "white": (246, 246, 246),
    "black": (18, 18, 18),
}
# Background colours: name -> base RGB (brightness-jittered, with a faint gradient and grain).
BACKGROUNDS = {"grey": (128, 128, 128), "white": (236, 236, 236), "black": (30, 30, 30)}
BACKGROUND_WEIGHTS = {"grey": 0.5, "white": 0.25, "black": 0.25}

SIZES = ("small", "large")
# Half-extent of an object as a fraction of the image side (jittered by +-8 %).
SIZE_RADIUS = {"small": 0.10, "large": 0.19}

RELATIONS = ("left", "right", "above", "below")
INVERSE = {"left": "right", "right": "left", "above": "below", "below": "above"}
AXIS = {"left": 0, "right": 0, "above": 1, "below": 1}

# The generator states a relation only when the centres are at least this far apart
# (fraction of the image side) along the relation's axis and that axis is the dominant one.
STATE_MARGIN = 0.15
# The checker counts a stated relation as true when the centres are at least this far apart
# along its axis, in its direction (so it does not demand dominance).
CHECK_MARGIN = 0.05


@dataclass(frozen=True)
class Obj:
    shape: str
    colour: str
    size: str
    x: float          # centre, pixels from the left
    y: float          # centre, pixels from the top
    radius: float     # half-extent, pixels
    rotation: float   # degrees, small jitter

    @property
    def attrs(self) -> tuple[str, str, str]:
        return (self.size, self.colour, self.shape)


@dataclass
class Scene:
    width: int
    height: int
    background: str
    objects: list[Obj]
    bg_rgb: tuple[int, int, int] = (128, 128, 128)
    bg_gradient: tuple[float, float] = (0.0, 0.0)   # brightness change across x and y
    grain: float = 0.0                              # std of the per-pixel noise
    obj_rgb: list[tuple[int, int, int]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "width": self.width,
            "height": self.height,
            "background": self.background,
            "objects": [
                {"shape": o.shape, "colour": o.colour, "size": o.size,
                 "x": round(o.x, 2), "y": round(o.y, 2), "radius": round(o.radius, 2),
                 "rotation": round(o.rotation, 2)}
                for o in self.objects
            ],
            "relations": [
                {"subject": i, "relation": r, "object": j}
                for i, j, r in stated_relations(self)
            ],
        }

    @staticmethod
    def from_json(d: dict) -> "Scene":
        objs = [Obj(o["shape"], o["colour"], o["size"], float(o["x"]), float(o["y"]),
                    float(o.get("radius", 0.0)), float(o.get("rotation", 0.0)))
                for o in d["objects"]]
        return Scene(int(d["width"]), int(d["height"]), d["background"], objs)


# --- relations ---

def _sep(rel: str, a: Obj, b: Obj) -> float:
    """Signed separation of a from b in the direction of rel (positive = rel holds)."""
    if rel == "left":
        return b.x - a.x
    if rel == "right":
        return a.x - b.x
    if rel == "above":
        return b.y - a.y
    if rel == "below":
        return a.y - b.y
    raise ValueError(rel)


def relation_holds(rel: str, a: Obj, b: Obj, side: float) -> bool:
    """The checker's notion: 'a REL b' is true when a's centre is at least CHECK_MARGIN*side
    beyond b's centre in that direction."""
    return _sep(rel, a, b) >= CHECK_MARGIN * side


def stated_relation(a: Obj, b: Obj, side: float) -> str | None:
    """The one relation the generator may state for 'a ? b', or None if ambiguous: the
    dominant axis, with the centres at least STATE_MARGIN*side apart along it."""
    dx, dy = b.x - a.x, b.y - a.y
    if abs(dx) >= abs(dy):
        if abs(dx) < STATE_MARGIN * side:
            return None
        return "left" if dx > 0 else "right"
    if abs(dy) < STATE_MARGIN * side:
        return None
    return "above" if dy > 0 else "below"


def clear_along(rel: str, a: Obj, b: Obj, side: float) -> bool:
    """'a REL b' holds with the stating margin (dominance not required): used for VQA."""
    return _sep(rel, a, b) >= STATE_MARGIN * side


def stated_relations(scene: Scene) -> list[tuple[int, int, str]]:
    side = min(scene.width, scene.height)
    out = []
    for i, a in enumerate(scene.objects):
        for j, b in enumerate(scene.objects):
            if i != j:
                r = stated_relation(a, b, side)
                if r is not None:
                    out.append((i, j, r))
    return out


# --- sampling ---

def _jitter_rgb(rng: np.random.Generator, rgb, amount: int) -> tuple[int, int, int]:
    d = rng.integers(-amount, amount + 1, size=3)
    return tuple(int(np.clip(c + dc, 0, 255)) for c, dc in zip(rgb, d))


def sample_scene(rng: np.random.Generator, size: int = 160,
                 counts=(1, 2, 3), count_weights=(0.3, 0.4, 0.3),
                 duplicate_prob: float = 0.3) -> Scene:
    """Sample a scene: background, 1-3 objects with attributes and non-overlapping positions.

    With probability `duplicate_prob` a multi-object scene repeats one object's attributes
    (two or three identical objects), so captions use counts ("two small green squares")."""
    bgs = list(BACKGROUND_WEIGHTS)
    bg = bgs[int(rng.choice(len(bgs), p=[BACKGROUND_WEIGHTS[b] for b in bgs]))]
    n = int(rng.choice(counts, p=count_weights))
    colours = [c for c in COLOURS if c != bg]

    attrs: list[tuple[str, str, str]] = []
    if n >= 2 and rng.random() < duplicate_prob:
        dup = (SIZES[rng.integers(2)], colours[rng.integers(len(colours))],
               SHAPES[rng.integers(len(SHAPES))])
        k = n if (n == 2 or rng.random() < 0.35) else 2
        attrs = [dup] * k
    while len(attrs) < n:
        a = (SIZES[rng.integers(2)], colours[rng.integers(len(colours))],
             SHAPES[rng.integers(len(SHAPES))])
        if a not in attrs:  # identical objects only come from the duplicate branch
            attrs.append(a)
    # Place large objects first (easier packing).
    order = sorted(range(n), key=lambda i: SIZES.index(attrs[i][0]), reverse=True)

    for _attempt in range(100):
        placed: dict[int, Obj] = {}
        ok = True
        for i in order:
            s, c, sh = attrs[i]
            r = SIZE_RADIUS[s] * size * float(rng.uniform(0.92, 1.08))
            pad = 0.03 * size
            for _try in range(200):
                x = float(rng.uniform(r + pad, size - r - pad))
                y = float(rng.uniform(r + pad, size - r - pad))
                if all((x - o.x) ** 2 + (y - o.y) ** 2 >= (r + o.radius + 0.05 * size) ** 2
                       for o in placed.values()):
                    break
            else:
                ok = False
                break
            rot = 0.0 if sh == "circle" else float(rng.uniform(-12, 12))
            placed[i] = Obj(sh, c, s, x, y, r, rot)
        if ok:
            break
    else:  # pragma: no cover - never happens with these sizes
        raise RuntimeError("could not place objects")

    objects = [placed[i] for i in range(n)]
    shift = int(rng.integers(-10, 11))
    bg_rgb = tuple(int(np.clip(v + shift, 0, 255)) for v in BACKGROUNDS[bg])
    grad = (float(rng.uniform(-10, 10)), float(rng.uniform(-10, 10)))
    grain = float(rng.uniform(0.0, 4.0))
    obj_rgb = [_jitter_rgb(rng, COLOURS[o.colour], 10) for o in objects]
    return Scene(size, size, bg, objects, bg_rgb, grad, grain, obj_rgb)


def image_rng(seed: int, split_id: int, index: int, stream: int = 0) -> np.random.Generator:
    """Independent generator per (seed, split, image, stream): results do not depend on how
    many images are generated or in which order."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, split_id, index, stream])))


__all__ = [
    "SHAPES", "PLURAL", "SINGULAR", "COLOURS", "BACKGROUNDS", "SIZES", "RELATIONS", "INVERSE",
    "STATE_MARGIN", "CHECK_MARGIN", "Obj", "Scene", "relation_holds", "stated_relation",
    "clear_along", "stated_relations", "sample_scene", "image_rng", "asdict",
]
