"""Scene world: a deterministic synthetic scene generator for training and checking libblip
models (captions, VQA, web-noise captions, WebDataset shards) plus the caption checker.
Only numpy and Pillow are needed. See README.md."""
from .scene import Scene, Obj, sample_scene, image_rng
from .render import render
from .language import captions_for, caption_plan, vqa_for, vocabulary
from .parse import parse_caption, check_caption, caption_correct
from .noise import KINDS, corrupt
from .generate import generate_split, make_scene, DEFAULT_SEEDS, SPLIT_IDS

__all__ = ["Scene", "Obj", "sample_scene", "image_rng", "render", "captions_for", "caption_plan",
           "vqa_for", "vocabulary", "parse_caption", "check_caption", "caption_correct", "KINDS",
           "corrupt", "generate_split", "make_scene", "DEFAULT_SEEDS", "SPLIT_IDS"]
