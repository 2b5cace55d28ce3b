#!/usr/bin/env python3
"""Regenerate the synthetic scene world and retrain the three bundled BLIPs with `blip finetune`.

    python3 scripts/train_scene_models.py            # everything: data, 3 models, F16 export, int8, report
    python3 scripts/train_scene_models.py --only caption
    python3 scripts/train_scene_models.py --only vqa --captioner Examples/models/caption

Steps (each skipped when its output exists, so an interrupted run continues):
  1. data: `python3 -m scripts.scene_world generate` for train (seed 1), val (seed 2), test (seed 3)
     into WORK/data (128 px images), and the bundled example scenes (seed 4) into Examples/scenes;
  2. configs: small BLIP configs (below) with the bert-base-uncased tokenizer in WORK/configs/TASK;
  3. the captioner, trained from scratch with `build/bin/blip finetune --config ...` (libblip's own
     trainer; nothing here imports torch) through the stages of CAPTION_STAGES (where each
     object is, then the generator's captions mixed with relation and position captions;
     `python3 -m scripts.scene_world curriculum` writes their manifests), logs in
     WORK/caption-STAGE.log.jsonl, stages in WORK/stages, and a shape probe of each stage on the
     validation scenes in WORK/stages/caption-STAGE.shapes.txt;
  4. the VQA model and the filter (from --captioner DIR instead of step 3 if given): a starting
     directory with the captioner's vision encoder and text transformer copied in
     (init_from_captioner), then `blip finetune --model ... --freeze vision` through stages:
     the VQA model's VQA_STAGES (the questions, then side questions, relation questions alone and
     the mix: the same curriculum command writes their manifests), the filter's MATCH_STAGES
     (side flips, side swaps, relation reversals, one axis at a time, then the captions with
     weighted negatives: `python3 -m scripts.scene_world filter-curriculum` writes them);
  5. export: F16 safetensors into OUT/TASK (what the repository ships) and `blip quantize`
     into OUT/TASK.int8;
  6. evaluation on the test split: scripts/evaluate_scene_models.py.

Sizes are chosen so the three F16 directories fit in 60 MB together: the 30,524-row vocabulary
matrix dominates, so the text towers are 128 wide. BlipForQuestionAnswering needs equal vision
and text widths (transformers' answer decoder reads question states through vision-width
cross-attention projections), and the three models share one vision encoder, so every ViT is
128 wide (6 layers, 4 heads, 16-px patches: 65 tokens).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
VOCAB_DIR = os.path.join(ROOT, "Tests", "BlipCoreTests", "Fixtures", "models", "captioning")
IMAGE_SIZE = 128
ARCH = {"caption": "BlipForConditionalGeneration", "vqa": "BlipForQuestionAnswering",
        "match": "BlipForImageTextRetrieval"}
# Each task's manifest of the validation split (its training manifests are its stages'). The
# filter's rows carry two false variants of each caption as explicit ITM negatives
# (scripts/scene_world/negatives.py), beside BLIP's in-batch hard negatives.
MANIFEST = {"caption": "captions.jsonl", "vqa": "vqa.jsonl", "match": "match.jsonl"}
# Training recipe per task: from scratch, AdamW with warmup and cosine decay.
RECIPE = {
    # The captioner trains from scratch in the stages of CAPTION_STAGES; these settings are shared.
    "caption": dict(batch=32, extra=["--prompt", "a picture of", "--label-smoothing", "0"]),
    # The VQA model and the filter start from the captioner (init_from_captioner) with its vision
    # encoder frozen: each image's vision states are then computed once and reused (blip
    # finetune's 2 GB cache holds those of 60,000 images: 65 tokens x 128 floats each).
    "vqa": dict(batch=32, extra=["--freeze", "vision", "--label-smoothing", "0"]),   # stages: VQA_STAGES
    "match": dict(batch=32, extra=["--freeze", "vision"]),                             # stages: MATCH_STAGES
}
# The captioner's curriculum (scripts/scene_world/curriculum.py writes the manifests). Trained on
# the generator's captions alone, the decoder never learns to look up where a named object is and
# states relations at chance; it learns that when positions are the whole signal (BENCHMARKS.md,
# sessions 9 to 11). Each new axis has to be learnt alone first: one object's horizontal side,
# every object's horizontal side, both axes (its side probes show nothing learnt, but without it
# the vertical relations are lost in the mixes later), one object's vertical side (the horizontal
# one fades meanwhile), both axes again (now both are kept); then the generator's captions with
# extra relation captions, the same with the position captions under their own prompt "a map of"
# (so positions are not forgotten and do not leak into "a picture of" captions), vertical relations
# alone, and the mix twice more, where content accuracy keeps rising with steps (87.3% after 1,500,
# 90.2% after 4,500: BENCHMARKS.md, session 11).
# These are the stages that made the shipped captioner (sessions 9-11), as they ran then (two were
# stopped inside longer cosine schedules: "schedule"): 22,450 steps. Session 20 cut one (both axes'
# positions before the one-object vertical stage, positions-a: its side probes showed nothing
# learnt) and the path then left every vertical relation "above" (69.3%); with it back the vertical
# relations survive the mixes and this recipe reaches 85.0% (BENCHMARKS.md, session 23), not the
# shipped model's 90.2%: its runs are deterministic on one CPU kind, whatever the thread count,
# but not the same bits as session 10's code, and this path is chaotic enough for 5 points. 3,000 more steps of the
# mix gave 87.3%. About 104 minutes of logged steps on a Zen 4 (0.22-0.34 s per step): over the
# 90-minute budget.
CAPTION_STAGES = [
    dict(name="positions-h1", manifest="positions-h1.jsonl", steps=3000, lr=1e-3, warmup=400),
    dict(name="positions-h", manifest="positions-h.jsonl", steps=2500, lr=5e-4, warmup=100),
    dict(name="positions-a", manifest="positions.jsonl", steps=1500, lr=5e-4, warmup=100),
    dict(name="positions-v1", manifest="positions-v1.jsonl", steps=1250, schedule=2000, lr=5e-4, warmup=100),
    dict(name="positions-b", manifest="positions.jsonl", steps=2000, lr=5e-4, warmup=100),
    dict(name="captions-relations", manifest="captions-relations.jsonl", steps=3200, schedule=6000, lr=5e-4, warmup=200),
    dict(name="captions-positions", manifest="captions-positions.jsonl", steps=3000, lr=3e-4, warmup=100),
    dict(name="relations-v", manifest="relations-v.jsonl", steps=1500, lr=3e-4, warmup=100),
    dict(name="captions-positions-b", manifest="captions-positions.jsonl", steps=1500, lr=2e-4, warmup=50),
    dict(name="captions-positions-c", manifest="captions-positions.jsonl", steps=3000, lr=2e-4, warmup=50, seed_offset=1, val=True),
]


# The VQA model's stages, from the captioner (init_from_captioner, vision frozen). One epoch of
# the generator's questions alone leaves relation questions at chance although the frozen vision
# states carry positions; like the captioner, it learns to find a named object's position when
# that is the whole signal, one axis at a time, then relations alone, then everything again with
# the side questions kept. From the shipped captioner these stages give 91.2% (relation questions
# 68%, session 11's one-epoch model: 89.1% and 47%; BENCHMARKS.md, session 12): the shipped VQA
# model. 84 minutes on a 2.0 GHz Xeon, 26 on a Zen 4. "images": only the rows of the first
# 60,000 training images (their vision states fit blip finetune's cache, reused every epoch).
VQA_STAGES = [
    dict(name="questions", manifest="vqa.jsonl", images=60000, epochs=1, lr=5e-4, warmup=300),
    dict(name="sides-h", manifest="vqa-sides-h.jsonl", images=60000, steps=500, lr=3e-4, warmup=100),
    dict(name="sides-v", manifest="vqa-sides-v.jsonl", images=60000, steps=500, lr=3e-4, warmup=50),
    dict(name="relations", manifest="vqa-relations.jsonl", steps=1000, lr=3e-4, warmup=50),
    dict(name="mix", manifest="vqa-sides-mix.jsonl", images=60000, steps=2000, lr=2e-4, warmup=50, val=True),
]


# The filter's stages, from the captioner (vision frozen). Trained on the captions with one-fact
# negatives alone (the recipe until session 25: 3 epochs of match.jsonl), a filter is at chance on
# minimal pairs: it checks "is something on the left?", never which object is there, so relation
# errors pass (BENCHMARKS.md, session 25). It learns to bind positions to objects from side swaps,
# one axis at a time: one object's side flipped, the sides of two objects swapped (the loss stays at
# chance for ~900 steps, then drops), relations reversed with the swaps kept in; the vertical axis
# likewise with the horizontal rows kept in; then the captions with negatives weighted toward
# shapes and relations, the curriculum kept in (scripts/scene_world/filter_curriculum.py writes
# the manifests). 10,000 steps, 43 minutes on a Zen 4. From the shipped captioner they make the
# shipped filter: on the test scenes 95.2% of correct captions kept and 96.5% of corrupted ones
# removed at the default threshold, relation minimal pairs 98-99% (BENCHMARKS.md, session 26).
MATCH_STAGES = [
    dict(name="sides-h", manifest="match-sides-h.jsonl", steps=500, lr=5e-4, warmup=100),
    dict(name="swaps-h", manifest="match-swaps-h.jsonl", steps=1500, lr=5e-4, warmup=100),
    dict(name="relations-h", manifest="match-relations-h.jsonl", steps=1500, lr=5e-4, warmup=100),
    dict(name="sides-v", manifest="match-sides-v.jsonl", steps=500, lr=5e-4, warmup=50),
    dict(name="swaps-v", manifest="match-swaps-v.jsonl", steps=1500, lr=5e-4, warmup=100),
    dict(name="relations-v", manifest="match-relations-v.jsonl", steps=1500, lr=5e-4, warmup=100),
    dict(name="mix", manifest="match-mix.jsonl", steps=3000, lr=3e-4, warmup=100, val=True),
]


def first_images(manifest, count):
    """A manifest beside `manifest` with only the rows of its first `count` distinct images."""
    out = manifest[:-len(".jsonl")] + f".first{count}.jsonl"
    if os.path.exists(out):
        return out
    seen = set()
    with open(manifest) as f, open(out + ".tmp", "w") as g:
        for line in f:
            image = json.loads(line)["image"]
            if image not in seen and len(seen) >= count:
                continue
            seen.add(image)
            g.write(line)
    os.replace(out + ".tmp", out)
    return out


# 16-px patches (65 tokens at 128 px): four times the images per minute of 8-px patches, which is
# what shape learning needs (BENCHMARKS.md, session 7).
PATCH_SIZE = 16
# How the captioner's ViT starts (`blip finetune --vision-init`): mimetic attention learns object
# shape from far fewer images than transformers' N(0, 0.02) (BENCHMARKS.md, session 7).
VISION_INIT = "mimetic"
# One ViT width for all three models, so the VQA model and the filter can start from the captioner's
# vision encoder (BlipForQuestionAnswering needs vision width == text width, and the text width is 128).
VISION_WIDTH = 128


def config_for(task):
    vision_width = VISION_WIDTH
    vision = dict(hidden_size=vision_width, intermediate_size=4 * vision_width, num_hidden_layers=6,
                  num_attention_heads=4, image_size=IMAGE_SIZE,
                  patch_size=PATCH_SIZE, hidden_act="gelu", layer_norm_eps=1e-5, attention_dropout=0.0,
                  initializer_range=0.02, model_type="blip_vision_model")
    text = dict(vocab_size=30524, hidden_size=128, encoder_hidden_size=vision_width, intermediate_size=512,
                num_hidden_layers=4, num_attention_heads=2, max_position_embeddings=64, hidden_act="gelu",
                layer_norm_eps=1e-12, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                bos_token_id=30522, eos_token_id=2, pad_token_id=0, sep_token_id=102, is_decoder=True,
                use_cache=True, label_smoothing=0.0, tie_word_embeddings=True, initializer_range=0.02,
                model_type="blip_text_model")
    return dict(architectures=[ARCH[task]], model_type="blip", image_text_hidden_size=128,
                initializer_factor=1.0, initializer_range=0.02, label_smoothing=0.0, logit_scale_init_value=2.6592,
                projection_dim=512, tie_word_embeddings=True, text_config=text, vision_config=vision)


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, **kw)


def make_data(work, counts):
    for split, seed in [("train", 1), ("val", 2), ("test", 3)]:
        folder = os.path.join(work, "data", split)
        if not os.path.exists(os.path.join(folder, "info.json")):
            run([sys.executable, "-m", "scripts.scene_world", "generate", "--out", os.path.join(work, "data"),
                 "--split", split, "--count", str(counts[split]), "--seed", str(seed), "--size", str(IMAGE_SIZE),
                 "--noise", "0.4", "--quiet"], cwd=ROOT)
        if not os.path.exists(os.path.join(folder, "match.jsonl")):   # a split generated before match.jsonl existed
            run([sys.executable, "-m", "scripts.scene_world", "negatives", "--split-dir", folder], cwd=ROOT)


EXAMPLES = os.path.join(ROOT, "Examples", "scenes")
EXAMPLE_SEED, EXAMPLE_COUNT = 4, 8


def make_examples(work, out=EXAMPLES):
    """The bundled example scenes (README, tests): a split from a seed used nowhere else, its
    PNGs with their ground truth (scenes.jsonl: objects, attributes, relations; vqa.jsonl)."""
    if os.path.exists(os.path.join(out, "scenes.jsonl")):
        return
    tmp = os.path.join(work, "examples")
    shutil.rmtree(tmp, ignore_errors=True)
    run([sys.executable, "-m", "scripts.scene_world", "generate", "--out", tmp, "--split", "example",
         "--count", str(EXAMPLE_COUNT), "--seed", str(EXAMPLE_SEED), "--size", str(IMAGE_SIZE), "--quiet"], cwd=ROOT)
    os.makedirs(out, exist_ok=True)
    src = os.path.join(tmp, "example")
    for name in sorted(os.listdir(os.path.join(src, "images"))):
        shutil.copy(os.path.join(src, "images", name), out)
    for name in ["scenes.jsonl", "vqa.jsonl", "captions.jsonl"]:
        with open(os.path.join(src, name)) as f, open(os.path.join(out, name), "w") as g:
            g.write(f.read().replace('"images/', '"'))   # the PNGs sit beside the manifests


def make_config(work, task):
    d = os.path.join(work, "configs", task)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config_for(task), f, indent=2, sort_keys=True)
    for name in ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]:
        shutil.copy(os.path.join(VOCAB_DIR, name), d)
    with open(os.path.join(VOCAB_DIR, "preprocessor_config.json")) as f:
        pre = json.load(f)
    pre["size"] = {"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    with open(os.path.join(d, "preprocessor_config.json"), "w") as f:
        json.dump(pre, f, indent=2, sort_keys=True)
    if task != "match":
        with open(os.path.join(d, "generation_config.json"), "w") as f:
            json.dump({"bos_token_id": 30522, "eos_token_id": 2, "pad_token_id": 0, "sep_token_id": 102}, f, indent=2)
    return d


def init_from_captioner(work, task, blip, threads, captioner, vision_only=False):
    """A starting directory for TASK: libblip's random initialisation of the architecture, then the
    captioner's vision encoder and text transformer copied in (the VQA model's question encoder and
    answer decoder, the filter's text encoder; with `vision_only`, the vision encoder alone). BLIP
    likewise starts every head from one pretrained model; here the captioner is that model."""
    from safetensors.numpy import load_file, save_file
    init = os.path.join(work, "init", task)
    weights = os.path.join(init, "model.safetensors")
    if os.path.exists(weights):
        return init
    os.makedirs(os.path.dirname(init), exist_ok=True)
    # One step at learning rate 0 writes the random initialisation unchanged (AdamW's update and
    # decoupled weight decay are both scaled by the learning rate).
    run([blip, "finetune", "--task", task, "--config", os.path.join(make_config(work, task), "config.json"),
         "--train", os.path.join(work, "data", "val", MANIFEST[task]), "--out", init, "--max-steps", "1",
         "--lr", "0", "--batch-size", "4", "--augment", "none", "--no-shuffle", "--threads", str(threads),
         "--quiet"])
    tensors = load_file(weights)
    source = load_file(os.path.join(captioner, "model.safetensors"))
    copied = 0
    for name in list(tensors):
        if vision_only and not name.startswith("vision_model."):
            continue
        candidates = [name]
        if name.startswith("text_encoder."):
            candidates.append("text_decoder.bert." + name[len("text_encoder."):])
        for c in candidates:
            if c in source and source[c].shape == tensors[name].shape:
                tensors[name] = source[c].astype(tensors[name].dtype)   # a shipped captioner is F16
                copied += 1
                break
    print(f"{task}: {copied} of {len(tensors)} tensors from the captioner", flush=True)
    save_file(tensors, weights + ".tmp", metadata={"format": "pt"})
    os.replace(weights + ".tmp", weights)
    return init


def finetune(work, task, blip, threads, out, manifest, origin, hyper, log, seed, val=True):
    """One `blip finetune` run into OUT (resumable: checkpoints every 200 steps); its wall time in
    OUT.time."""
    if os.path.exists(os.path.join(out, "model.safetensors")):
        return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    data = os.path.join(work, "data")
    validation = ["--val", os.path.join(data, "val", MANIFEST[task])] if val else []
    cmd = [blip, "finetune", "--task", task, *origin, "--train", manifest, *validation, "--out", out,
           *hyper, "--batch-size", str(RECIPE[task]["batch"]), "--weight-decay", "0.05",
           "--augment", "none", "--seed", str(seed), "--save-every", "200", "--resume",
           "--threads", str(threads), "--log", log, *RECIPE[task]["extra"]]
    started = time.time()
    run(cmd)
    with open(out + ".time", "w") as f:
        f.write(f"{time.time() - started:.0f}\n")
    return out


def ensure_curriculum(work):
    """The staged manifests of scripts/scene_world/curriculum.py and filter_curriculum.py in
    WORK/data/train."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from scripts.scene_world import curriculum, filter_curriculum
    train_dir = os.path.join(work, "data", "train")
    for command, module in (("curriculum", curriculum), ("filter-curriculum", filter_curriculum)):
        if not all(os.path.exists(os.path.join(train_dir, name)) for name in module.FILES):
            run([sys.executable, "-m", "scripts.scene_world", command, "--split-dir", train_dir], cwd=ROOT)


def train_stages(work, task, stages, blip, threads, seed, origin, final_steps=None):
    """TASK through `stages`, each starting from the previous one's output (the first from
    `origin`: `blip finetune` arguments); the last stage writes WORK/trained/TASK."""
    ensure_curriculum(work)
    out = os.path.join(work, "trained", task)
    previous = None
    for k, stage in enumerate(stages):
        last = k == len(stages) - 1
        manifest = os.path.join(work, "data", "train", stage["manifest"])
        if "images" in stage:
            manifest = first_images(manifest, stage["images"])
        steps = final_steps if last and final_steps else stage.get("steps")
        # "schedule": the stage stops after `steps` of a longer cosine schedule (as the shipped path did).
        schedule = stage.get("schedule", steps)
        length = (["--epochs", str(stage["epochs"])] if "epochs" in stage else
                  ["--max-steps", str(schedule)] + (["--stop-after", str(steps)] if schedule != steps else []))
        hyper = [*length, "--lr", str(stage["lr"]), "--warmup-steps", str(stage["warmup"])]
        previous = finetune(work, task, blip, threads,
                            out if last else os.path.join(work, "stages", f"{task}-{stage['name']}"), manifest,
                            ["--model", previous] if previous else origin, hyper,
                            os.path.join(work, f"{task}-{stage['name']}.log.jsonl"), seed + stage.get("seed_offset", 0),
                            val=stage.get("val", False))
        if task == "caption":
            probe_shapes(work, previous, blip, threads)
    return out


def probe_shapes(work, model, blip, threads):
    """scripts/probe_scene_shapes.py on the validation scenes, once per stage (MODEL.shapes.txt):
    shape naming is what a captioner learns last, so each stage's share of right shapes is the
    first thing to look at when a recipe falls short."""
    result = model.rstrip("/") + ".shapes.txt"
    if os.path.exists(result):
        return
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from scripts.evaluate_scene_models import use_library_beside
    use_library_beside(blip)   # the libblip that trained the model, when it sits beside the blip program
    probe = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "probe_scene_shapes.py"), model,
                            "--data", os.path.join(work, "data", "val"), "--scenes", "300", "--threads", str(threads)],
                           capture_output=True, text=True)
    if probe.returncode != 0:   # diagnostics only: a missing Python binding must not stop the training
        print(f"shape probe skipped: {probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else probe.returncode}", flush=True)
        return
    print(probe.stdout.strip(), flush=True)
    with open(result + ".tmp", "w") as f:
        f.write(probe.stdout)
    os.replace(result + ".tmp", result)


def train_captioner(work, blip, threads, seed=0, final_steps=None):
    """The captioner from scratch through CAPTION_STAGES."""
    scratch = ["--config", os.path.join(make_config(work, "caption"), "config.json"), "--vision-init", VISION_INIT]
    return train_stages(work, "caption", CAPTION_STAGES, blip, threads, seed, scratch, final_steps)


def train(work, task, blip, threads, seed=0, start=None):
    """The VQA model (VQA_STAGES) or the filter (MATCH_STAGES) from the directory `start`."""
    stages = VQA_STAGES if task == "vqa" else MATCH_STAGES
    return train_stages(work, task, stages, blip, threads, seed, ["--model", start])


def export(trained, out_dir, blip):
    """F16 copy of a trained directory (what the repository ships) and its int8 file."""
    from safetensors.numpy import load_file, save_file
    import numpy as np
    os.makedirs(out_dir, exist_ok=True)
    for name in os.listdir(trained):
        if name != "model.safetensors":
            shutil.copy(os.path.join(trained, name), out_dir)
    tensors = {k: v.astype(np.float16) for k, v in load_file(os.path.join(trained, "model.safetensors")).items()}
    save_file(tensors, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out_dir, "config.json")) as f:
        config = json.load(f)
    config["dtype"] = "float16"
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    run([blip, "quantize", "--model", out_dir, "--out", out_dir + ".int8"])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(ROOT, "local", "scene"))
    ap.add_argument("--out", default=os.path.join(ROOT, "Examples", "models"))
    ap.add_argument("--blip", default=os.path.join(ROOT, "build", "bin", "blip"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=list(ARCH), action="append")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--train-count", type=int, default=200000)
    ap.add_argument("--patch-size", type=int, default=PATCH_SIZE, help="ViT patch size (128 px images)")
    ap.add_argument("--vision-init", choices=["normal", "mimetic"], default=VISION_INIT)
    ap.add_argument("--caption-steps", type=int, help="optimizer steps of the captioner's last stage (default: the recipe's)")
    ap.add_argument("--captioner", help="start the VQA model and the filter from this trained captioner directory "
                    "(e.g. Examples/models/caption) instead of training one first")
    args = ap.parse_args()
    globals()["PATCH_SIZE"] = args.patch_size
    globals()["VISION_INIT"] = args.vision_init
    tasks = args.only or list(ARCH)
    make_data(args.work, {"train": args.train_count, "val": 300, "test": 1000})
    make_examples(args.work)
    # The captioner is trained first whatever --only says (the other two start from it), unless
    # --captioner names one.
    if args.captioner and "caption" in tasks:
        ap.error("--captioner is for training the VQA model or the filter: add --only vqa and/or --only match")
    captioner = args.captioner or train_captioner(args.work, args.blip, args.threads, args.seed, args.caption_steps)
    for task in tasks:
        trained = captioner if task == "caption" else train(
            args.work, task, args.blip, args.threads, args.seed,
            init_from_captioner(args.work, task, args.blip, args.threads, captioner))
        export(trained, os.path.join(args.out, task), args.blip)
    run([sys.executable, os.path.join(ROOT, "scripts", "evaluate_scene_models.py"), "--models", args.out,
         "--data", os.path.join(args.work, "data", "test"), "--blip", args.blip, "--markdown",
         "--json", os.path.join(args.work, "eval.json")] + sum([["--only", t] for t in tasks], []))


if __name__ == "__main__":
    main()
