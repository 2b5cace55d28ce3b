"""The shape probe's reading of captions (scripts/probe_scene_shapes.py): counts and plurals."""
import collections
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scripts.probe_scene_shapes import shapes_named  # noqa: E402


def test_counts_and_plurals():
    assert shapes_named("a picture of two large green crosses and a small red star") == \
        collections.Counter({"cross": 2, "star": 1})
    assert shapes_named("three squares") == collections.Counter({"square": 3})


def test_position_captions_and_relations_name_their_shapes():
    assert shapes_named("a small red star on the left and a large white circle on the right") == \
        collections.Counter({"star": 1, "circle": 1})
    assert shapes_named("a small blue diamond is above a small blue diamond") == collections.Counter({"diamond": 2})


def test_a_count_applies_to_the_next_shape_only():
    assert shapes_named("two small red circles and a triangle") == collections.Counter({"circle": 2, "triangle": 1})
    assert shapes_named("IMG_2931.jpg") == collections.Counter()
