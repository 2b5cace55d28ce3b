"""CLI: python3 -m scripts.scene_world {generate,negatives,curriculum,filter-curriculum,check,vqa-score} ...  (run from the repo root)"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .curriculum import write_curriculum
from .filter_curriculum import write_filter_curriculum
from .generate import generate_split, DEFAULT_SEEDS
from .noise import KINDS
from .negatives import write_match_manifest
from .parse import check_caption
from .scene import Scene
from .writers import read_jsonl


def cmd_generate(a) -> int:
    kinds = tuple(a.noise_kinds.split(",")) if a.noise_kinds else KINDS
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        sys.exit(f"unknown noise kinds {bad}; known: {','.join(KINDS)}")
    info = generate_split(a.out, a.split, a.count, seed=a.seed, size=a.size, noise=a.noise,
                          captions_per_image=a.captions_per_image,
                          questions_per_image=a.questions_per_image, shards_of=a.shards_of,
                          write_png=not a.no_png, kinds=kinds, progress=not a.quiet,
                          workers=a.workers)
    if a.negatives_per_caption > 0:
        write_match_manifest(os.path.join(a.out, a.split), a.negatives_per_caption)
    print(json.dumps(info))
    return 0


def cmd_negatives(a) -> int:
    print(write_match_manifest(a.split_dir, a.per_caption))
    return 0


def cmd_curriculum(a) -> int:
    print(json.dumps(write_curriculum(a.split_dir, a.seed)))
    return 0


def cmd_filter_curriculum(a) -> int:
    print(json.dumps(write_filter_curriculum(a.split_dir, a.seed)))
    return 0


def cmd_check(a) -> int:
    """Caption content accuracy of predictions (e.g. `blip caption --json` output) against
    scenes.jsonl; rows are joined on the image file name (or image_id)."""
    scenes = {}
    for s in read_jsonl(a.scenes):
        sc = Scene.from_json(s)
        scenes[os.path.basename(s["image"])] = sc
        scenes[s["image_id"]] = sc
    n = ok = 0
    reasons: dict[str, int] = {}
    shown = 0
    for p in read_jsonl(a.predictions):
        key = p.get("image_id") or os.path.basename(p.get("image", ""))
        if key not in scenes:
            key = os.path.basename(p.get("image", ""))
        if key not in scenes:
            print(f"no scene for {p.get('image')!r}", file=sys.stderr)
            continue
        text = p.get(a.field, "")
        if a.strip_prefix and text.lower().startswith(a.strip_prefix.lower()):
            text = text[len(a.strip_prefix):].strip()
        r = check_caption(text, scenes[key])
        n += 1
        ok += r.ok
        if not r.ok:
            reasons[r.reason] = reasons.get(r.reason, 0) + 1
            if shown < a.show:
                print(f"  {key}: {text!r} -> {r.reason}", file=sys.stderr)
                shown += 1
    print(json.dumps({"captions": n, "correct": ok, "accuracy": (ok / n if n else 0.0),
                      "errors": dict(sorted(reasons.items()))}))
    return 0


def cmd_vqa_score(a) -> int:
    """Exact-match answer accuracy (overall and per question type) of predictions (e.g.
    `blip answer --json`) against vqa.jsonl, joined on (image file name, question)."""
    truth = {}
    for r in read_jsonl(a.vqa):
        truth[(os.path.basename(r["image"]), r["question"].strip().lower())] = r
    n = ok = 0
    per: dict[str, list[int]] = {}
    for p in read_jsonl(a.predictions):
        r = truth.get((os.path.basename(p.get("image", "")), p.get("question", "").strip().lower()))
        if r is None:
            continue
        hit = p.get("answer", "").strip().lower() == r["answer"]
        n += 1
        ok += hit
        c = per.setdefault(r.get("type", "?"), [0, 0])
        c[0] += hit
        c[1] += 1
    print(json.dumps({"questions": n, "accuracy": ok / n if n else 0.0,
                      "per_type": {k: round(v[0] / v[1], 4) for k, v in sorted(per.items())}}))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m scripts.scene_world")
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="generate one split")
    g.add_argument("--out", required=True, help="output folder; the split goes to OUT/SPLIT/")
    g.add_argument("--split", default="train", help="train | val | test (or any name)")
    g.add_argument("--count", type=int, required=True)
    g.add_argument("--seed", type=int, default=None,
                   help=f"default per split: {DEFAULT_SEEDS} (the split id is mixed in too)")
    g.add_argument("--size", type=int, default=160, help="image side in pixels")
    g.add_argument("--noise", type=float, default=0.0, help="fraction of web captions corrupted")
    g.add_argument("--noise-kinds", default="", help=f"comma list, default all: {','.join(KINDS)}")
    g.add_argument("--captions-per-image", type=int, default=1)
    g.add_argument("--questions-per-image", type=int, default=4)
    g.add_argument("--shards-of", type=int, default=0,
                   help="also write WebDataset shards with N samples each (0 = none)")
    g.add_argument("--no-png", action="store_true", help="skip images/*.png (shards only)")
    g.add_argument("--negatives-per-caption", type=int, default=2,
                   help="match.jsonl: captions.jsonl with this many false variants per caption as "
                        '"negatives" (explicit ITM negatives for blip finetune --task match; 0 = no file)')
    g.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="processes rendering images (the output does not depend on it; default: one per core)")
    g.add_argument("--quiet", action="store_true")
    g.set_defaults(fn=cmd_generate)
    n = sub.add_parser("negatives", help="(re)write match.jsonl of a generated split: captions with false variants")
    n.add_argument("--split-dir", required=True, help="a generated split folder (info.json, captions.jsonl)")
    n.add_argument("--per-caption", type=int, default=2)
    n.set_defaults(fn=cmd_negatives)
    u = sub.add_parser("curriculum", help="write the captioner's and the VQA model's staged training manifests "
                                          "into a generated split (position captions, relation captions, side "
                                          "questions; see curriculum.py)")
    u.add_argument("--split-dir", required=True, help="a generated split folder (scenes.jsonl, captions.jsonl, vqa.jsonl)")
    u.add_argument("--seed", type=int, default=0)
    u.set_defaults(fn=cmd_curriculum)
    f = sub.add_parser("filter-curriculum", help="write the filter's staged training manifests (side flips, side "
                                                 "swaps and relation reversals, one axis at a time, with explicit "
                                                 "negatives; see filter_curriculum.py) into a split that has the "
                                                 "curriculum's")
    f.add_argument("--split-dir", required=True, help="a generated split folder (positions*.jsonl, relations.jsonl)")
    f.add_argument("--seed", type=int, default=0)
    f.set_defaults(fn=cmd_filter_curriculum)
    c = sub.add_parser("check", help="caption content accuracy of predictions")
    c.add_argument("--scenes", required=True)
    c.add_argument("--predictions", required=True, help="JSONL with image (or image_id) and caption")
    c.add_argument("--field", default="caption")
    c.add_argument("--strip-prefix", default="", help='e.g. "a picture of" (a prompt)')
    c.add_argument("--show", type=int, default=0, help="print the first N wrong captions")
    c.set_defaults(fn=cmd_check)
    v = sub.add_parser("vqa-score", help="VQA answer accuracy of predictions")
    v.add_argument("--vqa", required=True)
    v.add_argument("--predictions", required=True)
    v.set_defaults(fn=cmd_vqa_score)
    a = ap.parse_args(argv)
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
