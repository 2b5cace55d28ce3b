"""Does a scene captioner name the right shapes? A quick probe for each stage of a curriculum.

Shape is the slowest thing a scene captioner learns (BENCHMARKS.md, sessions 6-8 and 18): colour,
size and relations can be right while a star is called a diamond. This probe captions the first
N scenes of a split (greedy, under a prompt) and counts, by number of objects in the scene, the
captions whose multiset of shape words equals the scene's shapes, whatever else they say
(sizes, colours, sides and relations are ignored, so position captions such as "a small red
star on the left" count too). It also lists the commonest confusions on one-object scenes.

    python3 scripts/probe_scene_shapes.py --data local/scene/data/test MODEL_OR_CHECKPOINT ...

Each argument is a model directory or a `blip finetune` checkpoint (OUT.checkpoint.safetensors,
written by --save-every; its configuration and tokenizer come from --config DIR, e.g. the
config folder the run started from), so a run can be probed while it trains. Runs in-process
through the Python binding; no torch needed.
"""
import argparse
import collections
import json
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scripts.scene_world.parse import COUNTS  # noqa: E402
from scripts.scene_world.scene import SHAPES, SINGULAR  # noqa: E402


def shapes_named(caption):
    """The multiset of shapes a caption names ("two stars and a cross" -> star: 2, cross: 1)."""
    named, count = collections.Counter(), 1
    for word in re.findall(r"[a-z]+", caption.lower()):
        if word in COUNTS:   # the caption grammar's count words ("a", "two", ...)
            count = COUNTS[word]
            continue
        shape = word if word in SHAPES else SINGULAR.get(word)
        if shape:
            named[shape] += count
            count = 1
    return named


def model_directory(path, config_dir, scratch):
    """PATH itself, or for a checkpoint a directory of CONFIG_DIR's files with its parameters."""
    if os.path.isdir(path):
        return path
    from safetensors.numpy import load_file, save_file
    if not config_dir:
        raise SystemExit(f"{path} is a checkpoint: --config DIR must give its config.json and tokenizer")
    out = os.path.join(scratch, "model")
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(config_dir, out)
    tensors = {k[len("param/"):]: v for k, v in load_file(path).items() if k.startswith("param/")}
    if not tensors:
        raise SystemExit(f"{path}: no param/ tensors (not a blip finetune checkpoint)")
    save_file(tensors, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    return out


def probe(model, scenes, root, prompt, batch=50):
    right, total, confusions = collections.Counter(), collections.Counter(), collections.Counter()
    for start in range(0, len(scenes), batch):
        chunk = scenes[start:start + batch]
        captions = model.caption([os.path.join(root, s["image"]) for s in chunk], prompt=prompt)
        for scene, caption in zip(chunk, captions):
            truth = collections.Counter(o["shape"] for o in scene["objects"])
            named = shapes_named(caption)
            k = len(scene["objects"])
            total[k] += 1
            right[k] += named == truth
            if k == 1 and named != truth:
                confusions[(scene["objects"][0]["shape"], "+".join(sorted(named.elements())) or "-")] += 1
    return right, total, confusions


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="model directories or blip finetune checkpoints")
    ap.add_argument("--data", required=True, help="a split folder (scenes.jsonl, images/)")
    ap.add_argument("--config", help="for checkpoints: the directory with config.json and the tokenizer files")
    ap.add_argument("--prompt", default="a picture of")
    ap.add_argument("--scenes", type=int, default=500, help="first N scenes of the split")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import blip
    with open(os.path.join(args.data, "scenes.jsonl")) as f:
        scenes = [json.loads(line) for _, line in zip(range(args.scenes), f)]
    with tempfile.TemporaryDirectory() as scratch:
        for path in args.models:
            model = blip.Model(model_directory(path, args.config, scratch), threads=args.threads)
            right, total, confusions = probe(model, scenes, args.data, args.prompt)
            by_count = "  ".join(f"{k} object{'s' if k > 1 else ''} {right[k] / total[k]:6.1%}"
                                 for k in sorted(total))
            common = ", ".join(f"{truth}->{said} {n}" for (truth, said), n in confusions.most_common(4))
            print(f"{path}: shapes right {sum(right.values()) / len(scenes):6.1%}  ({by_count})"
                  f"  one-object confusions: {common or 'none'}", flush=True)


if __name__ == "__main__":
    main()
