#!/usr/bin/env python3
"""Builds the tiny random-weight BLIP models committed under Tests/BlipCoreTests/Fixtures/models
and the reference outputs the Swift tests compare against.

    python3 scripts/make_fixtures.py            # tiny fixtures (committed)
    python3 scripts/make_fixtures.py --text     # only the text/generation fixtures (expected_text.json)
    python3 scripts/make_fixtures.py --full DIR # full-size BLIP-base random models (NOT committed)

Every tensor is random (LayerNorms too); tiny models are stored as F16 to keep the repo small,
and the expected values are computed in float32 from the same F16-rounded weights.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import blip_reference as ref  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
FIXTURES = os.path.join(ROOT, "Tests", "BlipCoreTests", "Fixtures")
PHOTOS = os.path.join(FIXTURES, "photos")


def make_photos():
    """Small real photographs (scikit-image's sample data) in the formats users feed."""
    from skimage import data
    os.makedirs(PHOTOS, exist_ok=True)
    Image.fromarray(data.chelsea()).resize((90, 60), Image.BICUBIC).save(os.path.join(PHOTOS, "chelsea.png"))
    Image.fromarray(data.astronaut()).resize((64, 64), Image.BICUBIC).save(os.path.join(PHOTOS, "astronaut.jpg"), quality=90)
    Image.fromarray(data.camera()).resize((50, 70), Image.BICUBIC).save(os.path.join(PHOTOS, "camera_gray.png"))
    Image.fromarray(data.coffee()).resize((41, 29), Image.BICUBIC).save(os.path.join(PHOTOS, "coffee.jpg"), quality=85)
    return sorted(os.listdir(PHOTOS))


def flat(t):
    return [float(x) for x in t.detach().reshape(-1).tolist()]


def tiny(args):
    photos = make_photos()
    models_dir = os.path.join(FIXTURES, "models")
    expected = {}
    for i, arch in enumerate(["captioning", "vqa", "itm"]):
        model = ref.build(arch, "tiny", seed=100 + i)
        out_dir = os.path.join(models_dir, arch)
        # round the weights through F16 first so the expectations match the stored file
        model.to(torch.float16).to(torch.float32)
        ref.save_model(model, out_dir, dtype=torch.float16)
        model.to(torch.float32)
        entry = {"images": {}}
        for name in photos:
            img = Image.open(os.path.join(PHOTOS, name))
            px = ref.pixel_values(out_dir, img)
            item = {"pixel_values": flat(px), "vision_states": flat(ref.vision_states(model, px))}
            if arch == "itm":
                item["image_embedding"] = flat(ref.image_embedding(model, px))
            entry["images"][name] = item
        expected[arch] = entry
    with open(os.path.join(FIXTURES, "expected_tiny.json"), "w") as f:
        json.dump(expected, f)
    write_capi_expectations(expected)
    print("wrote tiny fixtures for", list(expected), "with photos", photos)
    text_fixtures()


def write_capi_expectations(expected):
    """The C ABI test (Tests/capi) reads plain text: one line per photo, name then floats."""
    with open(os.path.join(ROOT, "Tests", "capi", "expected_itm_embeddings.txt"), "w") as f:
        for name, item in expected["itm"]["images"].items():
            f.write(name + " " + " ".join(f"{v:.9g}" for v in item["image_embedding"]) + "\n")


def text_fixtures():
    """Text encoder, decoder and `generate` references: expected_text.json, plus the tiny
    generation models (models/captioning-gen, models/vqa-gen). Uses the committed photos."""
    photos = sorted(os.listdir(PHOTOS))
    models_dir = os.path.join(FIXTURES, "models")
    expected = {}
    for name in ref.GENERATION_MODELS:
        model = ref.build_generation_model(name)
        out_dir = os.path.join(models_dir, name)
        model.to(torch.float16).to(torch.float32)
        ref.save_model(model, out_dir, dtype=torch.float16)
        model.to(torch.float32)
        entry = {"images": {}}
        for photo in photos:
            px = ref.pixel_values(out_dir, Image.open(os.path.join(PHOTOS, photo)))
            # pixel_values are those of expected_tiny.json (same preprocessor); the tests feed vision_states
            item = {"vision_states": flat(ref.vision_states(model, px)), "generate": {}}
            if name == "captioning-gen":
                for case, kwargs in ref.CAPTION_CASES:
                    item["generate"][case] = ref.generate_caption(model, px, kwargs)
                margins = [ref.greedy_margin(model, px, kw) for c, kw in ref.CAPTION_CASES if "num_beams" not in kw]
                item["min_greedy_margin"] = min(margins)
                ids = [model.config.text_config.bos_token_id] + ref.PROMPT_IDS[1:-1]
                logits = ref.decoder_logits(model, px, ids)
                item["decoder_logits"] = {"ids": ids, "head": flat(logits[:, :64]),
                                          "argmax": logits.argmax(-1).tolist(), "max": flat(logits.max(-1).values)}
            else:
                for case, kwargs in ref.VQA_CASES:
                    item["generate"][case] = ref.generate_answer(model, px, ref.QUESTION_IDS, kwargs)
            entry["images"][photo] = item
        entry["cases"] = {c: kw for c, kw in (ref.CAPTION_CASES if name == "captioning-gen" else ref.VQA_CASES)}
        expected[name] = entry

    # text embeddings and ITM on the committed tiny retrieval model (weights as stored)
    from transformers import BlipForImageTextRetrieval
    itm_dir = os.path.join(models_dir, "itm")
    itm = BlipForImageTextRetrieval.from_pretrained(itm_dir, dtype=torch.float32).eval()
    entry = {"text_embeddings": [{"ids": ids, "embedding": flat(ref.text_embedding(itm, ids))} for ids in ref.TEXT_IDS],
             "itm": {}}
    for photo in photos:
        px = ref.pixel_values(itm_dir, Image.open(os.path.join(PHOTOS, photo)))
        entry["itm"][photo] = {"vision_states": flat(ref.vision_states(itm, px)),
                               "cases": [{"ids": ids, "logits": flat(ref.itm_logits(itm, px, ids))} for ids in ref.TEXT_IDS]}
    expected["itm"] = entry
    expected["question_ids"] = ref.QUESTION_IDS
    with open(os.path.join(FIXTURES, "expected_text.json"), "w") as f:
        json.dump(expected, f)
    for name in ref.GENERATION_MODELS:
        for photo, item in expected[name]["images"].items():
            print(name, photo, {c: len(v) for c, v in item["generate"].items()}, "margin", item.get("min_greedy_margin"))
    print("wrote expected_text.json")


def full(out_root, seed=7):
    for i, arch in enumerate(["captioning", "vqa", "itm"]):
        out_dir = os.path.join(out_root, f"blip-base-{arch}")
        if os.path.exists(os.path.join(out_dir, "model.safetensors")):
            print("exists:", out_dir)
            continue
        model = ref.build(arch, "base", seed=seed + i)
        ref.save_model(model, out_dir)
        print("wrote", out_dir)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", metavar="DIR", help="write full-size BLIP-base random models into DIR")
    ap.add_argument("--seed", type=int, default=7, help="with --full: seed of the random weights (a second set checks results generalise)")
    ap.add_argument("--text", action="store_true", help="only the text/generation fixtures")
    args = ap.parse_args()
    if args.full:
        full(args.full, args.seed)
    elif args.text:
        text_fixtures()
    else:
        tiny(args)
