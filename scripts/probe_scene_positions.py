"""Where does a scene captioner lose track of where objects are? Linear probes (BENCHMARKS.md, session 9).

On one-object scenes whose object is clearly left or right of the centre (>= 20 px at 128 px),
a ridge-regression probe, trained on 75% of the scenes and scored on the rest, tries to read
the side from:
  1. the ViT's states of the object's own patches (mean over the patches the object covers),
     after the embeddings and after every layer;
  2. the same final states through each decoder layer's cross-attention value projection;
  3. the caption decoder's hidden states at every token of "a picture of a SIZE COLOUR SHAPE on
     the" (teacher-forced), at every layer: the state that predicts the next word.
A probe near 50% means the side is not linearly there.

It also scores the captioner's relation choice, teacher-forced, on two-object scenes with a
stated relation: after "a picture of a SIZE COLOUR SHAPE to the", is "left" more likely than
"right" when that object is the left one (after "a picture of a SIZE COLOUR SHAPE", "above"
against "below")? This measures relations whether or not the model names the objects right.

    python3 scripts/probe_scene_positions.py --model DIR --data local/scene5/data/train [--scenes 1200]

Needs torch and transformers (it reads the model as transformers does).
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from scripts.scene_world.scene import COLOURS  # noqa: E402


def ridge_accuracy(x, y, train_share=0.75, alpha=1.0):
    """Held-out accuracy of a ridge probe for labels y in {-1, +1}."""
    n = len(y)
    cut = int(n * train_share)
    a = np.hstack([x, np.ones((n, 1))])
    w = np.linalg.solve(a[:cut].T @ a[:cut] + alpha * np.eye(a.shape[1]), a[:cut].T @ y[:cut])
    return float(((a[cut:] @ w > 0) == (y[cut:] > 0)).mean())


def one_object_scenes(data, count, margin=20):
    rows = []
    with open(os.path.join(data, "scenes.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if len(r["objects"]) == 1 and abs(r["objects"][0]["x"] - r["width"] / 2) >= margin:
                rows.append(r)
                if len(rows) == count:
                    break
    return rows


def relation_choice(model, processor, tokenizer, data, count=1000):
    """Teacher-forced relation accuracy on two-object scenes: {"horizontal": (n, acc), "vertical": ...}."""
    import torch
    from PIL import Image
    from scripts.scene_world.scene import Scene, stated_relation
    word = {w: tokenizer.convert_tokens_to_ids(w) for w in ("left", "right", "above", "below")}
    right, total = {"horizontal": 0, "vertical": 0}, {"horizontal": 0, "vertical": 0}
    with open(os.path.join(data, "scenes.jsonl")) as f:
        rows = [json.loads(line) for line in f][:count]
    for r in rows:
        scene = Scene.from_json(r)
        if len(scene.objects) != 2:
            continue
        a, b = scene.objects
        rel = stated_relation(a, b, min(scene.width, scene.height))
        if rel is None:
            continue
        axis = "horizontal" if rel in ("left", "right") else "vertical"
        text = f"a picture of a {a.size} {a.colour} {a.shape}" + (" to the" if axis == "horizontal" else "")
        pixels = processor([Image.open(os.path.join(data, r["image"])).convert("RGB")], return_tensors="pt")["pixel_values"]
        ids = tokenizer([text], return_tensors="pt").input_ids[:, :-1].clone()
        ids[:, 0] = model.config.text_config.bos_token_id
        with torch.no_grad():
            image = model.vision_model(pixels).last_hidden_state
            logits = model.text_decoder(input_ids=ids, encoder_hidden_states=image, return_dict=True).logits[0, -1]
        first, second = ("left", "right") if axis == "horizontal" else ("above", "below")
        guess = first if logits[word[first]] > logits[word[second]] else second
        total[axis] += 1
        right[axis] += guess == rel
    return {k: (total[k], right[k] / max(total[k], 1)) for k in total}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="a BlipForConditionalGeneration directory")
    ap.add_argument("--data", required=True, help="a scene_world split folder (scenes.jsonl, images/)")
    ap.add_argument("--scenes", type=int, default=1200)
    ap.add_argument("--relation-data", help="a split for the teacher-forced relation choice (default: --data)")
    args = ap.parse_args()

    import torch
    from PIL import Image
    from transformers import BertTokenizerFast, BlipForConditionalGeneration, BlipImageProcessor
    torch.set_num_threads(2)
    model = BlipForConditionalGeneration.from_pretrained(args.model, dtype=torch.float32).eval()
    processor = BlipImageProcessor.from_pretrained(args.model)
    tokenizer = BertTokenizerFast.from_pretrained(args.model)
    vision = model.config.vision_config
    grid, patch = vision.image_size // vision.patch_size, vision.patch_size

    rows = one_object_scenes(args.data, args.scenes)
    object_states, decoder_states, sides = {}, [], []
    for start in range(0, len(rows), 100):
        batch = rows[start:start + 100]
        images = [Image.open(os.path.join(args.data, r["image"])).convert("RGB") for r in batch]
        pixels = processor(images, return_tensors="pt")["pixel_values"]
        objects = [r["objects"][0] for r in batch]
        texts = [f"a picture of a {o['size']} {o['colour']} {o['shape']} on the" for o in objects]
        ids = tokenizer(texts, return_tensors="pt").input_ids[:, :-1].clone()
        ids[:, 0] = model.config.text_config.bos_token_id
        with torch.no_grad():
            out = model.vision_model(pixels, output_hidden_states=True)
            layers = list(out.hidden_states) + [out.last_hidden_state]
            text = model.text_decoder(input_ids=ids, encoder_hidden_states=out.last_hidden_state,
                                      output_hidden_states=True, return_dict=True)
        decoder_states.append(torch.stack(text.hidden_states, 0).numpy())
        for b, (image, o) in enumerate(zip(images, objects)):
            # the object's patches: those at least 30% covered by its colour
            pixels_rgb = np.asarray(image.resize((grid * patch, grid * patch))).astype(int)
            covered = (np.abs(pixels_rgb - np.array(COLOURS[o["colour"]])).sum(-1) < 60)
            share = covered.reshape(grid, patch, grid, patch).mean((1, 3)).reshape(-1)
            tokens = 1 + (np.nonzero(share > 0.3)[0] if (share > 0.3).any() else np.array([share.argmax()]))
            for k, h in enumerate(layers):
                object_states.setdefault(k, []).append(h[b, tokens].mean(0).numpy())
            sides.append(1.0 if o["x"] > batch[b]["width"] / 2 else -1.0)
    y = np.array(sides)
    print(f"{len(y)} one-object scenes from {args.data}; chance 50%")
    names = ["embeddings"] + [f"layer {k}" for k in range(1, len(object_states) - 1)] + ["final (post-LayerNorm)"]
    for k, name in enumerate(names):
        print(f"ViT object patches, {name}: side {ridge_accuracy(np.array(object_states[k]), y):.1%}")
    final = torch.tensor(np.array(object_states[len(names) - 1]))
    for k, layer in enumerate(model.text_decoder.bert.encoder.layer):
        with torch.no_grad():
            values = layer.crossattention.self.value(final).numpy()
        print(f"decoder layer {k} cross-attention values of those patches: side {ridge_accuracy(values, y):.1%}")
    states = np.concatenate(decoder_states, 1)   # layers+1, scenes, tokens, width
    words = ["[DEC]", "a", "picture", "of", "a", "SIZE", "COLOUR", "SHAPE", "on", "the"]
    for k in range(states.shape[0]):
        accs = [ridge_accuracy(states[k, :, t], y) for t in range(states.shape[2])]
        print(f"decoder states, layer {k}: " + " ".join(f"{w} {a:.0%}" for w, a in zip(words, accs)))
    relation_data = args.relation_data or args.data
    for axis, (n, acc) in relation_choice(model, processor, tokenizer, relation_data).items():
        print(f"relation choice, teacher-forced, {axis}: {acc:.1%} of {n} two-object scenes in {relation_data}")


if __name__ == "__main__":
    main()
