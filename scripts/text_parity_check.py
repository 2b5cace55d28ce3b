#!/usr/bin/env python3
"""Full-size text-side parity: transformers `generate` vs libblip's Swift API on the
full-size random BLIP-base models and real photographs, plus a caption-latency comparison.

    python3 scripts/make_fixtures.py --full local/models        # once
    swift build -c release --build-tests -Xswiftc -enable-testing
    python3 scripts/text_parity_check.py --models local/models [--threads 2] [--release]

Writes local/parity/text/ (pixel_values as raw float32, the transformers token ids and
timings as JSON), then runs the gated Swift test `FullSizeTextParityTests` with
BLIP_FULL_MODEL_DIR / BLIP_TEXT_PARITY_DIR set; that test compares every case token by token
and prints its own timings.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import blip_reference as ref  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")

CAPTION_CASES = [
    ("greedy", {}),
    ("prompt", {"input_ids": ref.PROMPT_IDS}),
    ("beam3_min5", {"num_beams": 3, "min_length": 5, "max_length": 20}),
    ("repetition1.3", {"repetition_penalty": 1.3}),
    ("ngram2", {"no_repeat_ngram_size": 2}),
    ("prompt_beam3_lp0.5", {"input_ids": ref.PROMPT_IDS, "num_beams": 3, "length_penalty": 0.5, "max_length": 24}),
]
VQA_CASES = [("greedy", {}), ("beam3_paper", {"num_beams": 3, "max_length": 10, "min_length": 1})]


def photos():
    from skimage import data
    items = {"astronaut": data.astronaut(), "chelsea": data.chelsea(), "coffee": data.coffee(),
             "rocket": data.rocket()}
    return {k: Image.fromarray(v) for k, v in items.items()}


@torch.no_grad()
def time_decode(model, states, kwargs, repeat=3):
    """Median wall time of text_decoder.generate given precomputed image states (no vision)."""
    kw = dict(kwargs)
    ids = torch.tensor([[model.config.text_config.bos_token_id]])
    mask = torch.ones(states.shape[:-1], dtype=torch.long)
    times = []
    for _ in range(repeat + 1):
        t = time.perf_counter()
        model.text_decoder.generate(input_ids=ids, eos_token_id=102, pad_token_id=0, encoder_hidden_states=states,
                                    encoder_attention_mask=mask, **kw)
        times.append(time.perf_counter() - t)
    return float(np.median(times[1:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default=os.path.join(ROOT, "local", "models"))
    ap.add_argument("--out", default=os.path.join(ROOT, "local", "parity", "text"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--release", action="store_true", help="run the Swift test from the release build")
    ap.add_argument("--no-swift", action="store_true")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)
    os.makedirs(args.out, exist_ok=True)
    from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipForQuestionAnswering

    expected = {"threads": args.threads, "captioning": {}, "vqa": {}, "itm": {}, "timing_torch": {}}
    cap_dir = os.path.join(args.models, "blip-base-captioning")
    model = BlipForConditionalGeneration.from_pretrained(cap_dir, dtype=torch.float32).eval()
    for name, img in photos().items():
        px = ref.pixel_values(cap_dir, img)
        px.numpy().astype("<f4").tofile(os.path.join(args.out, f"{name}.f32"))
        expected["captioning"][name] = {c: ref.generate_caption(model, px, kw) for c, kw in CAPTION_CASES}
        print("torch", name, expected["captioning"][name])
    expected["caption_cases"] = {c: kw for c, kw in CAPTION_CASES}

    # latency: 20 new tokens (min_length forces them), vision excluded
    states = ref.vision_states(model, ref.pixel_values(cap_dir, photos()["chelsea"]))
    expected["timing_torch"]["greedy20"] = time_decode(model, states, {"max_length": 21, "min_length": 21})
    expected["timing_torch"]["beam3_20"] = time_decode(model, states, {"max_length": 21, "min_length": 21, "num_beams": 3})
    t = time.perf_counter()
    with torch.no_grad():
        ref.vision_states(model, ref.pixel_values(cap_dir, photos()["chelsea"]))
    expected["timing_torch"]["vision"] = time.perf_counter() - t
    print("torch timings (s):", expected["timing_torch"])
    del model

    vqa_dir = os.path.join(args.models, "blip-base-vqa")
    if os.path.exists(vqa_dir):
        vqa = BlipForQuestionAnswering.from_pretrained(vqa_dir, dtype=torch.float32).eval()
        for name, img in photos().items():
            px = ref.pixel_values(vqa_dir, img)
            px.numpy().astype("<f4").tofile(os.path.join(args.out, f"vqa_{name}.f32"))
            expected["vqa"][name] = {c: ref.generate_answer(vqa, px, ref.QUESTION_IDS, kw) for c, kw in VQA_CASES}
        expected["vqa_cases"] = {c: kw for c, kw in VQA_CASES}
        expected["question_ids"] = ref.QUESTION_IDS
        del vqa

    itm_dir = os.path.join(args.models, "blip-base-itm")
    if os.path.exists(itm_dir):
        itm = BlipForImageTextRetrieval.from_pretrained(itm_dir, dtype=torch.float32).eval()
        expected["itm"]["text_embeddings"] = [{"ids": ids, "embedding": [float(x) for x in ref.text_embedding(itm, ids)]}
                                              for ids in ref.TEXT_IDS]
        for name, img in photos().items():
            px = ref.pixel_values(itm_dir, img)
            px.numpy().astype("<f4").tofile(os.path.join(args.out, f"itm_{name}.f32"))
            expected["itm"][name] = [{"ids": ids, "logits": [float(x) for x in ref.itm_logits(itm, px, ids)]}
                                     for ids in ref.TEXT_IDS]
        del itm

    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("wrote", args.out)
    if args.no_swift:
        return
    env = dict(os.environ, BLIP_FULL_MODEL_DIR=os.path.abspath(args.models), BLIP_TEXT_PARITY_DIR=os.path.abspath(args.out),
               BLIP_THREADS=str(args.threads))
    cmd = ["swift", "test", "--skip-build", "--filter", "FullSizeTextParityTests"]
    if args.release:
        cmd += ["-c", "release"]
    r = subprocess.run(cmd, cwd=ROOT, env=env)
    sys.exit(r.returncode)


if __name__ == "__main__":
    main()
