#!/usr/bin/env python3
"""Side-by-side benchmark: transformers (PyTorch fp32) and libblip (fp32) on the same
full-size random-weight BLIP-base models, the same real photograph and the same thread count,
in one run. Each engine runs in its own subprocess so peak RSS is measured per engine.

    python3 scripts/make_fixtures.py --full local/models     # once
    make python                                               # builds libblip + the binding
    python3 bench/bench.py --models local/models --threads 2

Rows: vision encode (1 image), caption greedy (20 new tokens, forced: no early stop; includes
the vision encode), caption beam 3 (max 20 new tokens), VQA answer (greedy), ITM match (one
image-text pair), model load. Times are medians over --reps runs after one warm-up.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))

TASKS = ["vision", "caption_greedy20", "caption_beam3", "vqa", "itm", "load"]
QUESTION = "what is the person holding?"
TEXT = "an astronaut holding a helmet"


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def timed(fn, reps):
    fn()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return median(out)


def photo():
    import numpy as np
    from skimage import data
    return np.ascontiguousarray(data.astronaut())


def worker_torch(models, threads, reps):
    import torch
    from PIL import Image
    import blip_reference as ref
    torch.set_num_threads(threads)
    pil = Image.fromarray(photo())
    res = {}
    t = time.perf_counter()
    cap = ref.ARCHS["captioning"].from_pretrained(os.path.join(models, "blip-base-captioning")).eval()
    res["load"] = time.perf_counter() - t
    cap_dir = os.path.join(models, "blip-base-captioning")
    proc = ref.processor(cap_dir)
    with torch.inference_mode():
        px = proc(images=pil, return_tensors="pt")["pixel_values"]
        res["vision"] = timed(lambda: cap.vision_model(pixel_values=px), reps)
        res["caption_greedy20"] = timed(lambda: cap.generate(pixel_values=proc(images=pil, return_tensors="pt")["pixel_values"],
                                                             max_new_tokens=20, min_new_tokens=20), reps)
        res["caption_beam3"] = timed(lambda: cap.generate(pixel_values=proc(images=pil, return_tensors="pt")["pixel_values"],
                                                          num_beams=3, max_new_tokens=20), reps)
        del cap
        vqa_dir = os.path.join(models, "blip-base-vqa")
        vqa = ref.ARCHS["vqa"].from_pretrained(vqa_dir).eval()
        vp = ref.processor(vqa_dir)
        res["vqa"] = timed(lambda: vqa.generate(**vp(images=pil, text=QUESTION, return_tensors="pt")), reps)
        del vqa
        itm_dir = os.path.join(models, "blip-base-itm")
        itm = ref.ARCHS["itm"].from_pretrained(itm_dir).eval()
        ip = ref.processor(itm_dir)
        res["itm"] = timed(lambda: itm(**ip(images=pil, text=TEXT, return_tensors="pt")), reps)
    return res


def worker_blip(models, threads, reps):
    import blip
    img = photo()
    res = {}
    t = time.perf_counter()
    cap = blip.Model(os.path.join(models, "blip-base-captioning"), threads=threads)
    res["load"] = time.perf_counter() - t
    import ctypes
    from blip._images import ImageBatch
    from blip._native import lib
    n = lib.blip_model_vision_tokens(cap._handle) * lib.blip_model_vision_width(cap._handle)
    states = (ctypes.c_float * n)()

    def vision():
        with ImageBatch([img]) as b:
            lib.blip_encode_image_states(cap._handle, b.array, 1, states, n)
    res["vision"] = timed(vision, reps)
    res["caption_greedy20"] = timed(lambda: cap.caption(img, max_new_tokens=20, min_length=21), reps)
    res["caption_beam3"] = timed(lambda: cap.caption(img, beams=3, max_new_tokens=20), reps)
    cap.close()
    vqa = blip.Model(os.path.join(models, "blip-base-vqa"), threads=threads)
    res["vqa"] = timed(lambda: vqa.answer(img, QUESTION), reps)
    vqa.close()
    itm = blip.Model(os.path.join(models, "blip-base-itm"), threads=threads)
    res["itm"] = timed(lambda: itm.match(img, TEXT), reps)
    return res


def run_worker(engine, args):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--models", args.models,
           "--threads", str(args.threads), "--reps", str(args.reps)]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{engine} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="local/models")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--worker", choices=["torch", "blip"])
    args = ap.parse_args()
    if args.worker:
        import resource
        res = (worker_torch if args.worker == "torch" else worker_blip)(args.models, args.threads, args.reps)
        res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(res))
        return
    torch_res = run_worker("torch", args)
    blip_res = run_worker("blip", args)
    import torch
    print(f"{time.strftime('%Y-%m-%d')}, {platform.machine()} {os.cpu_count()} cpus "
          f"({open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}), "
          f"{args.threads} threads, torch {torch.__version__}, median of {args.reps}")
    print("| work (BLIP-base, 384px, 1 image) | PyTorch fp32 | libblip fp32 | speed-up |")
    print("|---|---|---|---|")
    names = {"vision": "vision encode", "caption_greedy20": "caption, greedy, 20 new tokens",
             "caption_beam3": "caption, beam 3, ≤ 20 new tokens", "vqa": "VQA answer (greedy)",
             "itm": "ITM match (1 pair)", "load": "model load (captioning)"}
    for k in TASKS:
        print(f"| {names[k]} | {torch_res[k]*1000:.0f} ms | {blip_res[k]*1000:.0f} ms | {torch_res[k]/blip_res[k]:.2f}x |")
    print(f"| peak RSS (whole run) | {torch_res['peak_rss_mb']:.0f} MB | {blip_res['peak_rss_mb']:.0f} MB | |")


if __name__ == "__main__":
    main()
