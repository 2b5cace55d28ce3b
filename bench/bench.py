#!/usr/bin/env python3
"""Side-by-side benchmark: transformers (PyTorch fp32 and dynamic int8) and libblip (fp32 and
int8) on the same full-size random-weight BLIP-base models, the same real photographs and the
same thread count, in one run. Every engine runs in its own subprocess, so peak RSS is
measured per engine.

    python3 scripts/make_fixtures.py --full local/models     # once: random BLIP-base models
    make python                                               # libblip + the Python binding
    python3 bench/bench.py --models local/models --threads 2

Rows: vision encode (1 image), caption greedy (exactly 20 new tokens: early stop disabled;
includes preprocessing and the vision encode), caption beam 3 (≤ 20 new tokens), VQA answer
(greedy), ITM match (one pair), model load, peak RSS of a process that loads the captioning
model and captions one image, weights file size. Accuracy columns compare each int8 engine
with its own fp32 on 16 photos (8 and their mirror images): image-embedding cosine (worst), ITM probability |diff|
(worst), caption token agreement (identical tokens at identical positions, greedy).
Times are the best of --reps runs after one warm-up (--statistic median: their medians), for
every engine alike; a second table gives the medians. The best is the statistic that matches
the floors, which are the best rates measured in the run: on a shared machine a run can only be
slowed by its neighbours, so the best time of each engine is the nearest to its uncontended
cost, and the medians show how much the run was disturbed. --accuracy-only skips the timings.
The floor columns (bench/floors.py) are the least time any engine could take for the row's
work on this CPU, from the model's arithmetic and memory reads at rates measured in the run.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, HERE)
from floors import Floors  # noqa: E402

ENGINES = ["torch", "torch-int8", "blip", "blip-int8"]
TITLES = {"torch": "PyTorch fp32", "torch-int8": "PyTorch dynamic int8", "blip": "libblip fp32", "blip-int8": "libblip int8"}
QUESTION = "what is the person holding?"
TEXT = "an astronaut holding a helmet"
INT8_SUFFIX = ".int8.safetensors"


def median(xs):
    return sorted(xs)[len(xs) // 2]


def timed(fn, reps):
    """Every run's seconds after one warm-up, sorted."""
    fn()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return sorted(out)


def photos():
    import numpy as np
    from skimage import data
    rgb = lambda g: np.stack([g] * 3, axis=-1)
    base = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.hubble_deep_field(),
            data.immunohistochemistry(), data.retina(), rgb(data.camera())]
    # Mirror images are new inputs to the model; 16 photos halve the noise of the caption
    # agreement count, which random weights make chaotic (near-tied logits).
    return [np.ascontiguousarray(p) for p in base + [p[:, ::-1] for p in base]]


def model_path(models, arch, engine):
    d = os.path.join(models, f"blip-base-{arch}")
    return d + INT8_SUFFIX if engine == "blip-int8" else d


# ---- PyTorch --------------------------------------------------------------------------------

def torch_model(models, arch, engine):
    import torch
    import blip_reference as ref
    m = ref.ARCHS[arch].from_pretrained(os.path.join(models, f"blip-base-{arch}")).eval()
    if engine == "torch-int8":
        m = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)
    return m, ref.processor(os.path.join(models, f"blip-base-{arch}"))


def worker_torch(engine, models, threads, reps, rss_only):
    import torch
    from PIL import Image
    torch.set_num_threads(threads)
    imgs = [Image.fromarray(p) for p in photos()]
    res = {}
    with torch.inference_mode():
        t = time.perf_counter()
        cap, proc = torch_model(models, "captioning", engine)
        res["load"] = time.perf_counter() - t
        greedy = lambda img: cap.generate(**proc(images=img, return_tensors="pt"), max_new_tokens=20, min_new_tokens=20)
        if rss_only:
            greedy(imgs[0])
            return res
        if reps == 0:
            res["captions"] = [greedy(i)[0].tolist() for i in imgs]
            del cap
            return accuracy_torch(res, models, engine, imgs)
        px = proc(images=imgs[0], return_tensors="pt")["pixel_values"]
        res["vision"] = timed(lambda: cap.vision_model(pixel_values=px), reps)
        res["caption_greedy20"] = timed(lambda: greedy(imgs[0]), reps)
        res["caption_beam3"] = timed(lambda: cap.generate(**proc(images=imgs[0], return_tensors="pt"), num_beams=3, max_new_tokens=20), reps)
        res["captions"] = [greedy(i)[0].tolist() for i in imgs]
        del cap
        vqa, vp = torch_model(models, "vqa", engine)
        res["vqa"] = timed(lambda: vqa.generate(**vp(images=imgs[0], text=QUESTION, return_tensors="pt")), reps)
        del vqa
        itm, ip = torch_model(models, "itm", engine)
        res["itm"] = timed(lambda: itm(**ip(images=imgs[0], text=TEXT, return_tensors="pt")), reps)
        del itm
        return accuracy_torch(res, models, engine, imgs)


def accuracy_torch(res, models, engine, imgs):
    import torch
    with torch.inference_mode():
        itm, ip = torch_model(models, "itm", engine)
        res["itm_probs"] = [torch.softmax(itm(**ip(images=i, text=TEXT, return_tensors="pt")).itm_score, -1)[0, 1].item() for i in imgs]
        embs = []
        for i in imgs:
            states = itm.vision_model(pixel_values=ip(images=i, return_tensors="pt")["pixel_values"]).last_hidden_state
            embs.append(torch.nn.functional.normalize(itm.vision_proj(states[:, 0]), dim=-1)[0].tolist())
        res["embeddings"] = embs
    return res


# ---- libblip --------------------------------------------------------------------------------

def worker_blip(engine, models, threads, reps, rss_only):
    import blip
    imgs = photos()
    res = {}
    t = time.perf_counter()
    cap = blip.Model(model_path(models, "captioning", engine), threads=threads)
    res["load"] = time.perf_counter() - t
    greedy = lambda img: cap.caption(img, max_new_tokens=20, min_length=21, return_tokens=True)[1]
    if rss_only:
        greedy(imgs[0])
        return res
    if reps == 0:
        res["captions"] = [greedy(i) for i in imgs]
        cap.close()
        return accuracy_blip(res, models, engine, threads, imgs)
    import ctypes
    from blip._images import ImageBatch
    from blip._native import lib
    n = lib.blip_model_vision_tokens(cap._handle) * lib.blip_model_vision_width(cap._handle)
    states = (ctypes.c_float * n)()

    def vision():
        with ImageBatch([imgs[0]]) as b:
            lib.blip_encode_image_states(cap._handle, b.array, 1, states, n)
    res["vision"] = timed(vision, reps)
    res["caption_greedy20"] = timed(lambda: greedy(imgs[0]), reps)
    res["caption_beam3"] = timed(lambda: cap.caption(imgs[0], beams=3, max_new_tokens=20), reps)
    res["captions"] = [greedy(i) for i in imgs]
    cap.close()
    vqa = blip.Model(model_path(models, "vqa", engine), threads=threads)
    res["vqa"] = timed(lambda: vqa.answer(imgs[0], QUESTION), reps)
    vqa.close()
    itm = blip.Model(model_path(models, "itm", engine), threads=threads)
    res["itm"] = timed(lambda: itm.match(imgs[0], TEXT), reps)
    itm.close()
    return accuracy_blip(res, models, engine, threads, imgs)


def accuracy_blip(res, models, engine, threads, imgs):
    import blip
    itm = blip.Model(model_path(models, "itm", engine), threads=threads)
    res["itm_probs"] = [itm.match(i, TEXT)[0] for i in imgs]
    res["embeddings"] = [list(map(float, itm.embed_image(i))) for i in imgs]
    return res


def run_worker(engine, args, rss_only=False):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--models", args.models,
           "--threads", str(args.threads), "--reps", str(args.reps), "--int8-suffix", args.int8_suffix] \
        + (["--rss-only"] if rss_only else []) + (["--accuracy-only"] if args.accuracy_only else [])
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{engine} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ensure_quantized(args):
    for arch in ("captioning", "vqa", "itm"):
        out = model_path(args.models, arch, "blip-int8")
        if not os.path.exists(out):
            subprocess.run([args.blip, "quantize", "--model", os.path.join(args.models, f"blip-base-{arch}"),
                            "--out", out], check=True)


def accuracy(fp, q):
    import numpy as np
    cos = min(float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b))) for a, b in zip(fp["embeddings"], q["embeddings"]))
    itm = max(abs(a - b) for a, b in zip(fp["itm_probs"], q["itm_probs"]))
    same = sum(x == y for a, b in zip(fp["captions"], q["captions"]) for x, y in zip(a[1:], b[1:]))
    total = sum(len(a) - 1 for a in fp["captions"])
    return cos, itm, same, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="local/models")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--statistic", choices=["best", "median"], default="best",
                    help="what the main table shows of each row's --reps runs (default: the best, as the floors)")
    ap.add_argument("--blip", default=os.path.join(ROOT, "build", "bin", "blip"))
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--worker", choices=ENGINES)
    ap.add_argument("--rss-only", action="store_true")
    ap.add_argument("--accuracy-only", action="store_true", help="skip the timings; accuracy rows only")
    ap.add_argument("--int8-suffix", default=".int8.safetensors",
                    help="libblip int8 files are <models>/blip-base-<task><suffix> (compare quantizer variants)")
    args = ap.parse_args()
    global INT8_SUFFIX
    INT8_SUFFIX = args.int8_suffix
    if args.accuracy_only:
        args.reps = 0
    if args.worker:
        import resource
        fn = worker_torch if args.worker.startswith("torch") else worker_blip
        res = fn(args.worker, args.models, args.threads, args.reps, args.rss_only)
        res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(res))
        return
    engines = args.engines.split(",")
    if "blip-int8" in engines:
        ensure_quantized(args)
    floors = None if args.accuracy_only else Floors(args.models, args.threads)
    results = {}
    for e in engines:
        # PyTorch's accuracy data does not change while libblip's quantizer is tuned: cache it.
        cache = os.path.join(args.models, f"bench-accuracy-{e}-{len(photos())}.json")
        if args.accuracy_only and e.startswith("torch") and os.path.exists(cache):
            results[e] = json.load(open(cache))
            continue
        print(f"running {e} ...", file=sys.stderr)
        results[e] = run_worker(e, args)
        if args.accuracy_only and e.startswith("torch"):
            json.dump(results[e], open(cache, "w"))
        if not args.accuracy_only:
            results[e]["rss_caption_mb"] = run_worker(e, args, rss_only=True)["peak_rss_mb"]
    if args.accuracy_only:
        print_accuracy(results)
        return
    import torch
    cpu = open("/proc/cpuinfo").read().split("model name")[1].split(":")[1].splitlines()[0].strip()
    print(f"{time.strftime('%Y-%m-%d')}, {platform.machine()}, {cpu}, {os.cpu_count()} cpus, {args.threads} threads, "
          f"torch {torch.__version__}, {args.statistic} of {args.reps} runs")
    floors.measure()
    floor_engines = [e for e in ("blip", "blip-int8") if e in engines]
    extra = ["fp32 floor", "int8 floor"] + [f"{TITLES[e]} / floor" for e in floor_engines]
    print("| BLIP-base, 1 image | " + " | ".join([TITLES[e] for e in engines] + extra) + " |")
    print("|---" * (len(engines) + len(extra) + 1) + "|")
    rows = [("vision encode", "vision"), ("caption greedy, 20 tokens (incl. vision)", "caption_greedy20"),
            ("caption beam 3 (incl. vision)", "caption_beam3"), ("VQA answer", "vqa"), ("ITM match", "itm"),
            ("model load (captioning)", "load")]
    pick = min if args.statistic == "best" else median
    seconds = lambda e, key: results[e][key] if key == "load" else pick(results[e][key])
    for title, key in rows:
        cells = []
        for e in engines:
            v = seconds(e, key)
            ratio = f" ({seconds('torch', key) / v:.2f}x)" if "torch" in results and e != "torch" else ""
            cells.append(f"{v * 1000:.0f} ms{ratio}")
        floor = {False: floors.seconds(key, int8=False), True: floors.seconds(key, int8=True)}
        cells += [f"{floor[q] * 1000:.0f} ms" if floor[q] else "–" for q in (False, True)]
        for e in floor_engines:
            f = floor[e == "blip-int8"]
            cells.append(f"{seconds(e, key) / f:.2f}x" if f else "–")
        print(f"| {title} | " + " | ".join(cells) + " |")
    print("| peak RSS, load + 1 caption | " + " | ".join(f"{results[e]['rss_caption_mb']:.0f} MB" for e in engines)
          + " |" * (len(extra) + 1))
    sizes = []
    for e in engines:
        if e == "blip-int8":
            path = model_path(args.models, "captioning", e)
        else:
            path = os.path.join(args.models, "blip-base-captioning", "model.safetensors")
        sizes.append(f"{os.path.getsize(path) / 1e6:.0f} MB" if e.startswith("blip") or e == "torch" else "(in memory)")
    print("| weights file (captioning) | " + " | ".join(sizes) + " |" * (len(extra) + 1))
    print_accuracy(results)
    print(floors.describe())
    other, other_pick = ("median", median) if args.statistic == "best" else ("best", min)
    print(f"\n{other.capitalize()} of the same runs (slowest run in brackets):\n")
    print("| BLIP-base, 1 image | " + " | ".join(TITLES[e] for e in engines) + " |")
    print("|---" * (len(engines) + 1) + "|")
    for title, key in rows[:-1]:   # every row but the model load, which runs once
        cells = [f"{other_pick(results[e][key]) * 1000:.0f} ms ({max(results[e][key]) * 1000:.0f})" for e in engines]
        print(f"| {title} | " + " | ".join(cells) + " |")


def print_accuracy(results):
    for q, fp in (("torch-int8", "torch"), ("blip-int8", "blip")):
        if q in results and fp in results:
            cos, itm, same, total = accuracy(results[fp], results[q])
            print(f"| accuracy {TITLES[q]} vs {TITLES[fp]} | image-embedding cosine ≥ {cos:.5f}; "
                  f"ITM prob |diff| ≤ {itm:.4f}; caption tokens agree {same}/{total} |")


if __name__ == "__main__":
    main()
