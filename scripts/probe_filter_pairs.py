"""Can a scene filter tell which object is where? Minimal-pair tests of its ITM (BENCHMARKS.md, session 25).

On a scene_world split (the test split: a seed never used in training), each test is a true
caption and a variant that differs only in where things are; the filter passes a pair when the
true caption gets the higher ITM match probability (50% is chance):

  side        one object, clearly left or right (top or bottom) of the centre:
              "a small red star on the left" against "... on the right".
              Needs no binding: "is something on the left?" answers it.
  side-swap   two objects on opposite sides: "A on the left and B on the right" against
              "A on the right and B on the left". Both sides are occupied, so only a filter that
              binds each side to its object can pass.
  relation    two objects with a stated relation (the generator's rule, scene.stated_relation):
              "A to the left of B" against "A to the right of B" (vertical: "above" / "below").

Each test runs for the horizontal and the vertical axis. Uses libblip's Python binding, not torch:

    BLIP_LIBRARY=build/lib/libblip.so PYTHONPATH=Bindings/python \\
        python3 scripts/probe_filter_pairs.py --model Examples/models/match --data local/scene/test
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scripts.scene_world.curriculum import SIDE_WORDS  # noqa: E402
from scripts.scene_world.language import REL_PHRASES  # noqa: E402
from scripts.scene_world.scene import AXIS, INVERSE, Scene, stated_relation  # noqa: E402

# An object is on a side when its centre is at least this far (fraction of the image side)
# from the centre line.
SIDE_MARGIN = 0.1
SIDES = {0: SIDE_WORDS["x"], 1: SIDE_WORDS["y"]}


def noun_phrase(obj):
    return f"a {obj.size} {obj.colour} {obj.shape}"


def side_of(obj, scene, axis):
    """0 (left / top), 1 (right / bottom) or None when too near the centre line."""
    centre, extent = (obj.x, scene.width) if axis == 0 else (obj.y, scene.height)
    offset = centre / extent - 0.5
    if abs(offset) < SIDE_MARGIN:
        return None
    return 0 if offset < 0 else 1


def distinct(scene):
    """Pair tests need objects a caption can tell apart."""
    attrs = [o.attrs for o in scene.objects]
    return len(set(attrs)) == len(attrs)


def pairs_for(scene):
    """(test, axis, true caption, variant) for one scene."""
    out = []
    objs = scene.objects
    if not distinct(scene):
        return out
    for axis in (0, 1):
        sides = [side_of(o, scene, axis) for o in objs]
        if len(objs) == 1 and sides[0] is not None:
            words = SIDES[axis]
            out.append(("side", axis, f"{noun_phrase(objs[0])} {words[sides[0]]}",
                        f"{noun_phrase(objs[0])} {words[1 - sides[0]]}"))
        if len(objs) == 2 and None not in sides and sides[0] != sides[1]:
            words = SIDES[axis]
            a, b = noun_phrase(objs[0]), noun_phrase(objs[1])
            out.append(("side-swap", axis, f"{a} {words[sides[0]]} and {b} {words[sides[1]]}",
                        f"{a} {words[sides[1]]} and {b} {words[sides[0]]}"))
    if len(objs) == 2:
        side = min(scene.width, scene.height)
        rel = stated_relation(objs[0], objs[1], side)
        if rel is not None:
            a, b = noun_phrase(objs[0]), noun_phrase(objs[1])
            out.append(("relation", AXIS[rel], f"{a} {REL_PHRASES[rel][0]} {b}",
                        f"{a} {REL_PHRASES[INVERSE[rel]][0]} {b}"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", nargs="+", required=True, help="BlipForImageTextRetrieval directories")
    ap.add_argument("--data", required=True, help="a scene_world split folder (scenes.jsonl, images/)")
    ap.add_argument("--per-test", type=int, default=300, help="pairs per test and axis (default 300)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import blip

    tests = {}
    with open(os.path.join(args.data, "scenes.jsonl")) as f:
        for line in f:
            row = json.loads(line)
            scene = Scene.from_json(row)
            for test, axis, true, variant in pairs_for(scene):
                bucket = tests.setdefault((test, axis), [])
                if len(bucket) < args.per_test:
                    bucket.append((os.path.join(args.data, row["image"]), true, variant))
    for path in args.model:
        model = blip.Model(path, threads=args.threads)
        cells = []
        for (test, axis), pairs in sorted(tests.items()):
            wins = sum(model.match(image, true)[0] > model.match(image, variant)[0] for image, true, variant in pairs)
            cells.append(f"{test} {'horizontal' if axis == 0 else 'vertical'} {wins / len(pairs):.3f} ({len(pairs)})")
        print(f"{path}: " + "; ".join(cells), flush=True)


if __name__ == "__main__":
    main()
