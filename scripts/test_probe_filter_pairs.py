"""The filter pair tests (scripts/probe_filter_pairs.py): each true caption is true of its scene and
each variant false (relations by the scene world's own checker, scene_world/parse.py, which does
not read side phrases; sides from the objects' centres)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scripts.probe_filter_pairs import pairs_for  # noqa: E402
from scripts.scene_world.generate import make_scene  # noqa: E402
from scripts.scene_world.parse import check_caption  # noqa: E402


def test_true_captions_hold_and_variants_do_not():
    seen = set()
    for index in range(400):
        scene = make_scene(3, 2, index, 128)
        for test, axis, true, variant in pairs_for(scene):
            seen.add((test, axis))
            if test == "relation":
                assert check_caption(true, scene).ok, (true, scene)
                assert not check_caption(variant, scene).ok, (variant, scene)
            else:
                for obj, claim in zip(scene.objects, true.split(" and ")):
                    centre = obj.x / scene.width if axis == 0 else obj.y / scene.height
                    near_side = "left" if axis == 0 else "top"
                    assert (claim.endswith(near_side)) == (centre < 0.5), (claim, obj)
    assert seen == {(t, a) for t in ("side", "side-swap", "relation") for a in (0, 1)}


def test_side_swap_keeps_both_sides_occupied():
    for index in range(400):
        scene = make_scene(3, 2, index, 128)
        for test, _, true, variant in pairs_for(scene):
            if test == "side-swap":
                assert sorted(true.split()) == sorted(variant.split())
                assert true != variant
