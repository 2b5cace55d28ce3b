#!/usr/bin/env python3
"""Builds the tiny training fixtures committed under Tests/BlipTrainingTests/Fixtures, and the
reference values libblip's trainer must reproduce (computed with scripts/finetune_reference.py).

    python3 scripts/make_training_fixtures.py

Deterministic (fixed seeds; torch on the CPU). Writes:
- models/{caption,vqa,match}: tiny random-weight BlipForConditionalGeneration /
  BlipForQuestionAnswering / BlipForImageTextRetrieval, F32 (gradients compare at 1e-4), every
  tensor random (LayerNorms too), with a SMALL vocabulary: vocab.txt = [PAD] [UNK] [CLS] [SEP]
  [MASK], the words of the fixture texts, and "##s"; [DEC] and [ENC] are not in the file, as in
  the Hub checkpoints: they are ids len(vocab.txt) and len(vocab.txt)+1 (text_config.vocab_size =
  len + 2, bos_token_id = [DEC], pad 0, sep_token_id = eos_token_id = [SEP] = 3). Vision width 32;
  text width 16 (caption, match) and 32 (vqa: BlipForQuestionAnswering feeds text-width question
  states to a decoder whose cross-attention is sized for the vision width).
- images/: 8 small PNG/JPEG images of coloured shapes (40×32 and 24×48).
- caption.jsonl, vqa.jsonl, match.jsonl (8 rows each; match has 6 distinct image_ids).
- learn/: the filter-learning set (FilterLearningTests): 32×32 PNGs of one solid shape on a
  grey background, 6 colours × {square, triangle} = 12 concepts, texts "a red square" (every
  word in the vocabulary above); train.jsonl (8 images per concept, 96 rows) and val.jsonl (4
  other images per concept, 48 rows), image_id = concept (same-concept rows are ITC positives,
  and validation R@1 counts the concept), rows in a fixed shuffled order. Positions, sizes and
  grey levels vary, so validation images are new. `--learn` writes just this set (~46 KB).
- negatives_grads.json (the one step of the gradient case, batch 4) and negatives.json (the
  3 steps of the steps case, batch 3): ITM hard negatives in finetune_reference's --negatives
  format; never an index with the same image_id.
- expected_grads_{task}.safetensors: gradients of every trainable tensor after the first backward
  (first 4 rows; label smoothing 0.1 for caption/vqa; prompt "a picture of" for caption); names =
  save_pretrained's keys, plus `temp` for match. Settings are in the file's metadata.
- expected_steps_{task}.json: per-step losses of 3 steps, batch 3, lr 1e-3, weight decay 0.05
  (same smoothing/prompt), plus for match loss_itc/loss_itm/temp; and
  expected_final_{task}.safetensors (weights after those 3 steps) when smaller than 200 KB.
- match_negatives.jsonl + expected_grads_match_negatives.safetensors: the match gradient case
  with explicit "negatives" texts on some rows (MATCH_NEGATIVES); `--explicit-negatives` writes
  just these two from the committed match model.
"""
import json
import os
import random
import sys

import torch
from PIL import Image, ImageDraw
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(__file__))
import blip_reference as ref  # noqa: E402
import finetune_reference as ft  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
FIXTURES = os.path.join(ROOT, "Tests", "BlipTrainingTests", "Fixtures")
FINAL_LIMIT = 200 * 1024

SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# (file, size, background, shapes [(kind, colour, box as fractions)])
IMAGES = [
    ("red_circle.png", (40, 32), "white", [("circle", "red", (0.2, 0.15, 0.75, 0.85))]),
    ("blue_square.png", (24, 48), "black", [("square", "blue", (0.15, 0.3, 0.85, 0.7))]),
    ("green_triangle.png", (40, 32), "white", [("triangle", "green", (0.1, 0.1, 0.9, 0.9))]),
    ("yellow_circle.jpg", (24, 48), "blue", [("circle", "yellow", (0.1, 0.25, 0.9, 0.65))]),
    ("red_square.png", (40, 32), "green", [("square", "red", (0.3, 0.2, 0.7, 0.8))]),
    ("blue_triangle.png", (24, 48), "yellow", [("triangle", "blue", (0.05, 0.2, 0.95, 0.8))]),
    ("green_circles.jpg", (40, 32), "black", [("circle", "green", (0.05, 0.2, 0.45, 0.7)),
                                              ("circle", "green", (0.55, 0.3, 0.95, 0.8))]),
    ("white_square.png", (24, 48), "red", [("square", "white", (0.2, 0.1, 0.8, 0.4))]),
]

CAPTIONS = [
    "a red circle on a white background",
    "a blue square on a black background",
    "a green triangle on white",
    "a yellow circle on a blue background",
    "a small red square on green",
    "a large blue triangle on a yellow background",
    "two green circles on black",
    "a white square on a red background",
]

VQA = [
    ("what color is the circle?", "red"),
    ("what shape is it?", "a blue square"),
    ("what color is the background?", "white"),
    ("is the circle yellow?", "yes"),
    ("how many squares are there?", "one"),
    ("what shape is on the yellow background?", "blue triangle"),
    ("how many circles are there?", "two"),
    ("is the square red?", "no"),
]

# (image index, image_id, text): rows 0/1 and 4/5 share an image
MATCH = [
    (0, "img0", "a red circle on white"),
    (0, "img0", "a picture of a red circle"),
    (2, "img2", "a green triangle"),
    (1, "img1", "a blue square on a black background"),
    (3, "img3", "a yellow circle on blue"),
    (3, "img3", "a picture of a yellow circle"),
    (6, "img6", "two green circles"),
    (7, "img7", "a white square on red"),
]

PROMPT = "a picture of"
SMOOTHING = 0.1
GRADS = dict(batch_size=4, max_steps=1, lr=1e-3, weight_decay=0.05)
STEPS = dict(batch_size=3, max_steps=3, lr=1e-3, weight_decay=0.05)

TRAIN_TINY = dict(
    vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                       image_size=32, patch_size=8, layer_norm_eps=1e-5),
    text_config=dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
                     max_position_embeddings=48),
    image_text_hidden_size=16,
)

# (task, blip_reference arch, seed, text width): 16 keeps the files small; vqa needs text width =
# vision width (its answer decoder cross-attends to question states with a vision-width layer)
TASKS = [("caption", "captioning", 501, 16), ("vqa", "vqa", 502, 32), ("match", "itm", 503, 16)]


def vocabulary():
    import re
    texts = CAPTIONS + [PROMPT] + [q for q, _ in VQA] + [a for _, a in VQA] + [t for _, _, t in MATCH]
    words = set()
    for t in texts:
        words.update(re.findall(r"[a-z]+|[^\sa-z]", t.lower()))
    # "circles"/"squares" stay out so they tokenize as circle ##s / square ##s (WordPiece continuation)
    words -= {"circles", "squares"}
    return SPECIAL + sorted(words) + ["##s"]


def draw_images():
    out = os.path.join(FIXTURES, "images")
    os.makedirs(out, exist_ok=True)
    for name, (w, h), bg, shapes in IMAGES:
        img = Image.new("RGB", (w, h), bg)
        d = ImageDraw.Draw(img)
        for kind, colour, (x0, y0, x1, y1) in shapes:
            box = (round(x0 * w), round(y0 * h), round(x1 * w), round(y1 * h))
            if kind == "circle":
                d.ellipse(box, fill=colour)
            elif kind == "square":
                d.rectangle(box, fill=colour)
            else:
                d.polygon([((box[0] + box[2]) / 2, box[1]), (box[2], box[3]), (box[0], box[3])], fill=colour)
        path = os.path.join(out, name)
        if name.endswith(".jpg"):
            img.save(path, quality=90)
        else:
            img.save(path, optimize=True)


def write_manifests():
    def dump(name, rows):
        with open(os.path.join(FIXTURES, name), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    dump("caption.jsonl", [{"image": "images/" + IMAGES[i][0], "text": t} for i, t in enumerate(CAPTIONS)])
    dump("vqa.jsonl", [{"image": "images/" + IMAGES[i][0], "question": q, "answer": a} for i, (q, a) in enumerate(VQA)])
    dump("match.jsonl", [{"image": "images/" + IMAGES[i][0], "image_id": iid, "text": t} for i, iid, t in MATCH])


def make_negatives(batch_size, max_steps, seed):
    return ft.make_negatives([iid for _, iid, _ in MATCH], batch_size, max_steps, seed)


def make_model(task, arch, seed, width, vocab):
    from transformers import BlipConfig
    n = len(vocab)
    cfg = json.loads(json.dumps(TRAIN_TINY))
    cfg["text_config"].update(hidden_size=width, vocab_size=n + 2, bos_token_id=n, pad_token_id=0,
                              sep_token_id=vocab.index("[SEP]"), eos_token_id=vocab.index("[SEP]"))
    model = ref.ARCHS[arch](BlipConfig(**cfg)).eval()
    ref.randomize(model, seed, sharpen_lm=4.0)
    out_dir = os.path.join(FIXTURES, "models", task)
    ref.save_model(model, out_dir, dtype=torch.float32)
    with open(os.path.join(out_dir, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")
    return out_dir


def run(task, model_dir, settings, negatives, **files):
    manifest = os.path.join(FIXTURES, f"{task}.jsonl")
    kw = dict(label_smoothing=SMOOTHING, prompt=PROMPT if task == "caption" else None)
    result, _ = ft.finetune(task, model_dir, manifest, settings["max_steps"], settings["batch_size"], settings["lr"],
                            settings["weight_decay"], negatives=negatives, log=lambda s: None, **kw, **files)
    return result, dict(settings, task=task, manifest=f"{task}.jsonl", model=f"models/{task}",
                        label_smoothing=SMOOTHING if task != "match" else None, prompt=kw["prompt"],
                        max_text_length=40, freeze="none")


LEARN_COLOURS = ["red", "blue", "green", "yellow", "white", "black"]
LEARN_SHAPES = ["square", "triangle"]
LEARN_TRAIN_PER_CONCEPT = 8
LEARN_VAL_PER_CONCEPT = 4


def make_learn_set(vocab):
    """The synthetic filter-learning set (see the module docstring). Every word is in vocab."""
    out = os.path.join(FIXTURES, "learn")
    os.makedirs(out, exist_ok=True)
    for name in os.listdir(out):
        os.remove(os.path.join(out, name))
    rng = random.Random(20240611)
    concepts = [(c, s) for c in LEARN_COLOURS for s in LEARN_SHAPES]
    for c, s in concepts:
        for w in ("a", c, s):
            assert w in vocab, f"{w!r} is not in the fixture vocabulary"
    splits = {}
    for split, per in (("train", LEARN_TRAIN_PER_CONCEPT), ("val", LEARN_VAL_PER_CONCEPT)):
        rows = []
        for colour, shape in concepts:
            for k in range(per):
                size = rng.randint(16, 28)
                x0, y0 = rng.randint(0, 31 - size), rng.randint(0, 31 - size)
                grey = rng.randint(110, 150)
                img = Image.new("RGB", (32, 32), (grey, grey, grey))
                d = ImageDraw.Draw(img)
                box = (x0, y0, x0 + size, y0 + size)
                if shape == "square":
                    d.rectangle(box, fill=colour)
                else:
                    d.polygon([((box[0] + box[2]) / 2, box[1]), (box[2], box[3]), (box[0], box[3])], fill=colour)
                name = f"{split}_{colour}_{shape}_{k}.png"
                img.save(os.path.join(out, name), optimize=True)
                rows.append({"image": name, "image_id": f"{colour}_{shape}", "text": f"a {colour} {shape}"})
        rng.shuffle(rows)
        splits[split] = rows
    for split, rows in splits.items():
        with open(os.path.join(out, f"{split}.jsonl"), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


# Explicit ITM negatives ("negatives", texts known not to match) on the first rows of match.jsonl:
# counts 2, 0, 1, 3, one longer than every batch text (the ITM batch pads to it).
MATCH_NEGATIVES = {
    0: ["a blue circle on white", "a red square on white"],
    2: ["a green square"],
    3: ["a blue square on a white background", "two blue squares on a black background",
        "a picture of a blue square on a black background"],
}


def make_explicit_negatives_case(neg_grads):
    """match_negatives.jsonl and expected_grads_match_negatives.safetensors: the gradient case of
    the match model (batch 4, the same in-batch negatives) with MATCH_NEGATIVES added."""
    rows = [{"image": "images/" + IMAGES[i][0], "image_id": iid, "text": t} for i, iid, t in MATCH]
    for k, texts in MATCH_NEGATIVES.items():
        rows[k]["negatives"] = texts
    with open(os.path.join(FIXTURES, "match_negatives.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    model_dir = os.path.join(FIXTURES, "models", "match")
    grads_path = os.path.join(FIXTURES, "expected_grads_match_negatives.safetensors")
    result, _ = ft.finetune("match", model_dir, os.path.join(FIXTURES, "match_negatives.jsonl"), GRADS["max_steps"],
                            GRADS["batch_size"], GRADS["lr"], GRADS["weight_decay"], negatives=neg_grads,
                            log=lambda s: None, dump_grads=grads_path)
    add_metadata(grads_path, dict(GRADS, task="match", manifest="match_negatives.jsonl", loss=result["losses"][0],
                                  loss_itc=result["loss_itc"][0], loss_itm=result["loss_itm"][0]))
    print("match with explicit negatives: grad-step loss", result["losses"][0], "itm", result["loss_itm"][0])


def add_metadata(path, meta):
    with safe_open(path, "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    ft.save_safetensors(tensors, path, {"format": "pt", **{k: json.dumps(v) for k, v in meta.items()}})


def main():
    if "--learn" in sys.argv[1:]:
        make_learn_set(vocabulary())
        return
    if "--explicit-negatives" in sys.argv[1:]:
        torch.manual_seed(0)
        torch.set_num_threads(1)
        with open(os.path.join(FIXTURES, "negatives_grads.json")) as f:
            make_explicit_negatives_case(json.load(f)["steps"])
        return
    torch.manual_seed(0)
    torch.set_num_threads(2)
    os.makedirs(FIXTURES, exist_ok=True)
    vocab = vocabulary()
    draw_images()
    write_manifests()
    make_learn_set(vocab)
    neg_grads = make_negatives(GRADS["batch_size"], GRADS["max_steps"], seed=11)
    neg_steps = make_negatives(STEPS["batch_size"], STEPS["max_steps"], seed=12)
    for name, steps in (("negatives_grads.json", neg_grads), ("negatives.json", neg_steps)):
        with open(os.path.join(FIXTURES, name), "w") as f:
            json.dump({"steps": steps}, f, indent=1)
    for task, arch, seed, width in TASKS:
        model_dir = make_model(task, arch, seed, width, vocab)
        negs = (neg_grads, neg_steps) if task == "match" else (None, None)

        grads_path = os.path.join(FIXTURES, f"expected_grads_{task}.safetensors")
        result, settings = run(task, model_dir, GRADS, negs[0], dump_grads=grads_path)
        meta = dict(settings, loss=result["losses"][0])
        if task == "match":
            meta.update(negatives=negs[0][0], loss_itc=result["loss_itc"][0], loss_itm=result["loss_itm"][0])
        add_metadata(grads_path, meta)

        final_path = os.path.join(FIXTURES, f"expected_final_{task}.safetensors")
        result, settings = run(task, model_dir, STEPS, negs[1], out_weights=final_path)
        if os.path.getsize(final_path) > FINAL_LIMIT:
            print(f"{task}: final weights are {os.path.getsize(final_path)} bytes (> {FINAL_LIMIT}): not kept")
            os.remove(final_path)
            result["final_weights"] = None
        else:
            result["final_weights"] = os.path.basename(final_path)
        result["settings"] = settings
        if task == "match":
            result["negatives"] = negs[1]
        with open(os.path.join(FIXTURES, f"expected_steps_{task}.json"), "w") as f:
            json.dump(result, f, indent=1)
        print(task, "grad-step loss", meta["loss"], "3-step losses", result["losses"])
    make_explicit_negatives_case(neg_grads)


if __name__ == "__main__":
    main()
