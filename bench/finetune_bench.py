#!/usr/bin/env python3
"""Side-by-side benchmark of one BLIP-base caption finetune step: transformers + torch.optim.AdamW
against `blip finetune`, same batch, same thread count, one run. Every variant runs in its own
subprocess, so peak RSS is per variant.

    python3 scripts/finetune_parity.py --make-base local/base-caption --arch caption   # once
    make
    python3 bench/finetune_bench.py --model local/base-caption --threads 2 [--steps 3] [--json out.json]

Step: batch 4 (--batch-size), 384 px, 24 text tokens (--max-text-length; the generated captions
are long enough that every row is truncated to exactly that length), fp32, label smoothing 0.1,
AdamW(lr 1e-5, wd 0.05), constant lr, no clipping, no augmentation, no shuffle. Both sides
train on the same consecutive manifest rows. The generated data has (1 + --steps) x --batch-size
distinct images, so every step sees new rows: with --freeze vision and --augment none libblip
caches each row's vision states and skips the frozen encoder when a row comes back, which a
repeated batch would turn into a text-only step (variant (e) shows exactly that case, the
epoch >= 2 situation; its ratio is against (b), which recomputes the encoder every step).

Variants:
  torch         transformers BlipForConditionalGeneration, model.train(); time of forward +
                backward + optimizer.step + zero_grad (pixels and ids prepared once, outside)
  torch-frozen  the same with vision_model frozen (requires_grad False, its forward under
                torch.no_grad, then text_decoder(..., encoder_hidden_states=...) as a user would)
  blip          build/bin/blip finetune --max-steps 1+N --log LOG: `step_seconds` of the log
                (this includes loading and preprocessing the batch's images: libblip has no
                prefetch; the PyTorch preprocessing time of the same batch is printed for scale)
  blip-frozen   the same with --freeze vision
  blip-frozen-cached  --freeze vision on a manifest of the first batch's rows only (every step
                after the first hits libblip's vision-state cache)
Times: median of --steps timed steps after one warm-up step. The first-step losses of torch and
blip (and of the frozen pair) must agree to 1e-3 relative: a guard against timing different work.

Floor: training FLOPs per step (3 x forward for the full model; vision forward + 3 x text for
the frozen one) divided by the best measured fp32 GEMM rate on this CPU (577x768 @ 768x3072,
best of 5, at --threads, torch.matmul and numpy).
"""
import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

VARIANTS = ["torch", "torch-frozen", "blip", "blip-frozen", "blip-frozen-cached"]
TITLES = {"torch": "(a) PyTorch", "torch-frozen": "(b) PyTorch, vision frozen",
          "blip": "(c) libblip", "blip-frozen": "(d) libblip, --freeze vision",
          "blip-frozen-cached": "(e) libblip, --freeze vision, repeated batch (vision-state cache hits)"}
BASELINE = {"blip": "torch", "blip-frozen": "torch-frozen", "blip-frozen-cached": "torch-frozen"}
LR, WD, SMOOTHING = 1e-5, 0.05, 0.1

# BLIP-base shapes; set_shapes() reads the model's config.json (the GEMM probe keeps 577x768x3072)
D, FF, LAYERS, VOCAB = 768, 3072, 12, 30524
IMAGE, PATCH = 384, 16
IMAGE_TOKENS = (IMAGE // PATCH) ** 2 + 1  # 577 with [CLS]
SHAPES_USED = {}


def set_shapes(model_dir):
    """Forward-FLOP shapes from config.json (vision and text decoder assumed equal width, as BLIP-base)."""
    global D, FF, LAYERS, VOCAB, IMAGE, PATCH, IMAGE_TOKENS
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    v, t = c["vision_config"], c["text_config"]
    D, FF, LAYERS, VOCAB = v["hidden_size"], v["intermediate_size"], v["num_hidden_layers"], t["vocab_size"]
    IMAGE, PATCH = v["image_size"], v["patch_size"]
    IMAGE_TOKENS = (IMAGE // PATCH) ** 2 + 1
    SHAPES_USED.update(hidden=D, intermediate=FF, layers=LAYERS, vocab=VOCAB, image=IMAGE, patch=PATCH,
                       image_tokens=IMAGE_TOKENS, text_layers=t["num_hidden_layers"], text_hidden=t["hidden_size"])
    if (t["hidden_size"], t["intermediate_size"], t["num_hidden_layers"]) != (D, FF, LAYERS):
        print("warning: text decoder shape differs from the vision encoder's; FLOPs assume the vision shape",
              file=sys.stderr)


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


# ---- data ------------------------------------------------------------------------------------

COLORS = [("red", (200, 30, 40)), ("blue", (30, 60, 200)), ("green", (40, 160, 60)), ("yellow", (230, 210, 40)),
          ("purple", (130, 40, 160)), ("orange", (240, 140, 20)), ("white", (245, 245, 245)), ("black", (15, 15, 15))]
SHAPES = ["circle", "square", "triangle", "star"]


def make_data(out_dir, n):
    """n deterministic, distinct 480x360 PNGs (a few shapes on a colored background) and caption.jsonl with
    captions of 40+ words, so every row fills --max-text-length (24) tokens."""
    from PIL import Image, ImageDraw
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    rows = []
    for i in range(n):
        bg_name, bg = COLORS[i % len(COLORS)]
        img = Image.new("RGB", (480, 360), tuple((v + 7 * (i // len(COLORS))) % 256 for v in bg))
        draw = ImageDraw.Draw(img)
        words = []
        for k in range(3):
            cname, c = COLORS[(i + 2 * k + 1) % len(COLORS)]
            shape = SHAPES[(i + k) % len(SHAPES)]
            x, y, r = 60 + 140 * k, 80 + 60 * ((i + k) % 3), 40 + 8 * ((i * 3 + k) % 4)
            if shape == "circle":
                draw.ellipse([x - r, y - r, x + r, y + r], fill=c)
            elif shape == "square":
                draw.rectangle([x - r, y - r, x + r, y + r], fill=c)
            elif shape == "triangle":
                draw.polygon([(x, y - r), (x - r, y + r), (x + r, y + r)], fill=c)
            else:
                draw.polygon([(x, y - r), (x + r // 3, y - r // 3), (x + r, y), (x + r // 3, y + r // 3),
                              (x, y + r), (x - r // 3, y + r // 3), (x - r, y), (x - r // 3, y - r // 3)], fill=c)
            words.append(f"a large {cname} {shape} drawn near the {['left', 'middle', 'right'][k]} side of the picture")
        name = f"images/bench_{i:02d}.png"
        img.save(os.path.join(out_dir, name))
        text = f"a synthetic test image on a plain {bg_name} background showing " + ", then ".join(words) + \
            ", all of them seen clearly from straight above in bright even light"
        rows.append({"image": name, "text": text})
    path = os.path.join(out_dir, "caption.jsonl")
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return path


# ---- FLOPs (multiply-add = 2 FLOPs) ------------------------------------------------------------

def forward_flops(batch, text_tokens):
    T, L = IMAGE_TOKENS, text_tokens
    vision_layer = T * (4 * D * D + 2 * D * FF) * 2 + T * (2 * T * D) * 2  # linears + QK^T, AV
    vision = LAYERS * vision_layer + (T - 1) * (3 * PATCH * PATCH) * D * 2  # + patch embedding
    text_layer = (L * (4 * D * D + 2 * D * D + 2 * D * FF) * 2  # self-attn QKVO, cross Q and O, FFN
                  + 2 * T * D * D * 2                           # cross-attention K/V over the image tokens
                  + L * (2 * L * D) * 2 + L * (2 * T * D) * 2)  # self- and cross-attention scores
    lm_head = L * (D * D + D * VOCAB) * 2                       # prediction-head transform + decoder
    text = LAYERS * text_layer + lm_head
    return {"vision": batch * vision, "text": batch * text}


def gemm_rate(threads):
    """Best-of-5 fp32 GEMM rate (FLOP/s), 577x768 @ 768x3072, torch.matmul and numpy."""
    m, k, n = 577, 768, 3072
    flops = 2 * m * k * n
    out = {}
    import torch
    torch.set_num_threads(threads)
    a, b = torch.randn(m, k), torch.randn(k, n)
    c = torch.empty(m, n)
    for _ in range(3):
        torch.matmul(a, b, out=c)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(10):
            torch.matmul(a, b, out=c)
        best = min(best, (time.perf_counter() - t) / 10)
    out["torch"] = flops / best
    try:
        import numpy as np
        an, bn = a.numpy(), b.numpy()
        cn = np.empty((m, n), dtype=np.float32)
        for _ in range(3):
            np.matmul(an, bn, out=cn)
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            for _ in range(10):
                np.matmul(an, bn, out=cn)
            best = min(best, (time.perf_counter() - t) / 10)
        out["numpy"] = flops / best
    except Exception as e:  # noqa: BLE001 - numpy is optional
        out["numpy_error"] = str(e)
    out["torch_config"] = [l.strip() for l in torch.__config__.show().splitlines() if "BLAS" in l or "CPU capability" in l]
    return out


# ---- workers ---------------------------------------------------------------------------------

def worker_torch(variant, args):
    import torch
    import transformers
    import finetune_reference as ref
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    frozen = variant == "torch-frozen"
    res = {"torch": torch.__version__, "transformers": transformers.__version__}
    t = time.perf_counter()
    model = ref.load_model(args.model, "caption", SMOOTHING)  # model.train(), label smoothing set twice
    res["load_seconds"] = time.perf_counter() - t
    proc, tok = ref.image_processor(args.model), ref.tokenizer(args.model)
    bos = model.config.text_config.bos_token_id
    params = ref.trainable_parameters(model, "vision" if frozen else "none")
    res["trainable_parameters"] = sum(p.numel() for _, p in params)
    optimizer = torch.optim.AdamW([p for _, p in params], lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=WD)
    prepared = []  # every step's batch, prepared outside the timed region
    for batch in ref.batches(ref.read_manifest(args.train), args.batch_size, 1 + args.steps):
        t = time.perf_counter()
        px = ref.pixels(proc, batch)
        res.setdefault("preprocess_seconds", time.perf_counter() - t)
        prepared.append((px, ref.caption_inputs(tok, batch, None, args.max_text_length, bos)))
    px, inputs = prepared[0]
    res["batch_shape"] = {"pixel_values": list(px.shape), "input_ids": list(inputs["input_ids"].shape),
                          "tokens_per_row": inputs["attention_mask"].sum(1).tolist()}

    def step(px, inputs):
        if frozen:
            with torch.no_grad():
                image_embeds = model.vision_model(pixel_values=px).last_hidden_state
            loss = model.text_decoder(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                      encoder_hidden_states=image_embeds, labels=inputs["labels"],
                                      reduction="mean").loss
        else:
            loss = model(pixel_values=px, **inputs).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return loss.item()

    times, losses = [], []
    for px, inputs in prepared:
        t = time.perf_counter()
        losses.append(step(px, inputs))
        times.append(time.perf_counter() - t)
        print(f"  {variant} step {len(times)}: {times[-1]:.2f} s, loss {losses[-1]:.6f}", file=sys.stderr)
    res.update(step_seconds=times, losses=losses, threads=torch.get_num_threads())
    res["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return res


def worker_blip(variant, args):
    out_dir = tempfile.mkdtemp(prefix="finetune-bench-")
    log = os.path.join(out_dir, "log.jsonl")
    train = args.train
    if variant == "blip-frozen-cached":  # the first batch's rows only, image paths made absolute
        base = os.path.dirname(os.path.abspath(args.train))
        rows = [json.loads(l) for l in open(args.train) if l.strip()][:args.batch_size]
        train = os.path.join(out_dir, "first-batch.jsonl")
        with open(train, "w") as f:
            for r in rows:
                f.write(json.dumps(dict(r, image=os.path.join(base, r["image"]))) + "\n")
    cmd = [args.blip, "finetune", "--task", "caption", "--model", args.model, "--train", train,
           "--out", os.path.join(out_dir, "out"), "--augment", "none", "--no-shuffle",
           "--max-steps", str(1 + args.steps), "--batch-size", str(args.batch_size),
           "--max-text-length", str(args.max_text_length), "--threads", str(args.threads), "--log", log,
           "--lr", str(LR), "--weight-decay", str(WD), "--label-smoothing", str(SMOOTHING),
           "--schedule", "constant", "--warmup-steps", "0"]
    if variant.startswith("blip-frozen"):
        cmd += ["--freeze", "vision"]
    try:
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)}\nfailed ({p.returncode}):\n{p.stderr[-3000:]}")
        rows = [json.loads(l) for l in open(log) if l.strip()]
        rows = [r for r in rows if not r.get("eval")]
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    for r in rows:
        print(f"  {variant} step {r['step']}: {r['step_seconds']:.2f} s, loss {r['loss']:.6f}", file=sys.stderr)
    return {"command": cmd, "wall_seconds": wall, "step_seconds": [r["step_seconds"] for r in rows],
            "losses": [r["loss"] for r in rows], "threads": args.threads,
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}


def worker_gemm(args):
    return gemm_rate(args.threads)


def run_worker(name, args):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(args.threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--model", args.model, "--train", args.train,
           "--blip", args.blip, "--threads", str(args.threads), "--steps", str(args.steps),
           "--batch-size", str(args.batch_size), "--max-text-length", str(args.max_text_length)]
    print(f"running {name} ...", file=sys.stderr)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)  # stderr: progress, passed through
    if p.returncode != 0:
        raise SystemExit(f"{name} worker failed ({p.returncode})")
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---- report ----------------------------------------------------------------------------------

def cpu_info():
    info = {}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                info[k.strip()] = v.strip()
    except OSError:
        pass
    flags = set(info.get("Flags", "").split())
    if not flags:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    wanted = ["fma", "avx2", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile"]
    return {"model_name": info.get("Model name", platform.processor()), "family": info.get("CPU family"),
            "model": info.get("Model"), "vendor": info.get("Vendor ID"), "hypervisor": info.get("Hypervisor vendor"),
            "cpus": os.cpu_count(), "flags": {f: f in flags for f in wanted}}


def binary_stale(blip):
    if not os.path.exists(blip):
        return "missing"
    built = os.path.getmtime(blip)
    newer = []
    for d, _, files in os.walk(os.path.join(ROOT, "Sources")):
        newer += [os.path.relpath(os.path.join(d, f), ROOT) for f in files
                  if f.endswith(".swift") and os.path.getmtime(os.path.join(d, f)) > built]
    return newer


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="/work/local/base-caption", help="BlipForConditionalGeneration directory (F32)")
    ap.add_argument("--data", help="caption manifest (JSONL); default: 4 generated images in a temp dir")
    ap.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-text-length", type=int, default=24)
    ap.add_argument("--blip", default=os.path.join(ROOT, "build", "bin", "blip"))
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--worker", choices=VARIANTS + ["gemm"], help=argparse.SUPPRESS)
    ap.add_argument("--train", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        fn = {"gemm": lambda a: worker_gemm(a)}.get(args.worker) or \
            (lambda a: (worker_torch if args.worker.startswith("torch") else worker_blip)(args.worker, a))
        print(json.dumps(fn(args)))
        return

    variants = args.variants.split(",")
    stale = binary_stale(args.blip)
    if stale == "missing" and any(v.startswith("blip") for v in variants):
        raise SystemExit(f"{args.blip} is missing: run make")
    if stale:
        print(f"warning: {args.blip} is older than {len(stale)} Swift source(s), e.g. {stale[:3]}", file=sys.stderr)
    tmp = None
    if args.data:
        args.train = args.data
        n = sum(1 for l in open(args.data) if l.strip())
        if n < (1 + args.steps) * args.batch_size:
            print(f"warning: {args.data} has {n} rows < (1 + steps) x batch = {(1 + args.steps) * args.batch_size}: "
                  "batches repeat, and libblip --freeze vision then reuses cached vision states", file=sys.stderr)
    else:
        tmp = tempfile.mkdtemp(prefix="finetune-bench-data-")
        args.train = make_data(tmp, (1 + args.steps) * args.batch_size)
    try:
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        results = {v: run_worker(v, args) for v in variants}
        gemm = run_worker("gemm", args)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    set_shapes(args.model)
    report(args, results, gemm, cpu_info(), stale, started)


def report(args, results, gemm, cpu, stale, started):
    fl = forward_flops(args.batch_size, args.max_text_length)
    train_flops = {"torch": 3 * (fl["vision"] + fl["text"]), "torch-frozen": fl["vision"] + 3 * fl["text"]}
    train_flops["blip"], train_flops["blip-frozen"] = train_flops["torch"], train_flops["torch-frozen"]
    train_flops["blip-frozen-cached"] = 3 * fl["text"]  # the encoder is skipped on cache hits
    rate = max(v for k, v in gemm.items() if k in ("torch", "numpy"))
    for v, r in results.items():
        r["timed_seconds"] = r["step_seconds"][1:]
        r["median_seconds"] = median(r["timed_seconds"])
        r["floor_seconds"] = train_flops[v] / rate
        r["achieved_gflops"] = train_flops[v] / r["median_seconds"] / 1e9
    versions = next((r for r in results.values() if "torch" in r and "transformers" in r), {})

    flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in cpu["flags"].items())
    print(f"## finetune step, BLIP-base caption — {started}\n")
    print(f"CPU: {cpu['model_name']} ({cpu['vendor']}, family {cpu['family']} model {cpu['model']}"
          f"{', ' + cpu['hypervisor'] if cpu['hypervisor'] else ''}), {cpu['cpus']} cpus; {flags}.  ")
    print(f"torch {versions.get('torch', '?')}, transformers {versions.get('transformers', '?')}; threads: "
          + ", ".join(f"{v} {results[v]['threads']}" for v in results) + ".  ")
    tb = next((r["batch_shape"] for r in results.values() if "batch_shape" in r), None)
    print(f"Model {args.model}; batch {args.batch_size} x {IMAGE} px, text {args.max_text_length} tokens"
          + (f" (tokens per row: {tb['tokens_per_row']})" if tb else "")
          + f", fp32, AdamW lr {LR} wd {WD}, label smoothing {SMOOTHING}; median of {args.steps} steps after 1 warm-up.")
    if stale:
        print(f"\n**warning: {args.blip} is older than Swift sources ({stale if stale == 'missing' else len(stale)}).**")
    print()
    print("| variant | s/step (median) | steps (s) | peak RSS GB | libblip/PyTorch time | libblip/PyTorch RSS | fp32 floor s/step | step / floor |")
    print("|---|---|---|---|---|---|---|---|")
    for v, r in results.items():
        base = results.get(BASELINE.get(v, ""))
        tr = f"{r['median_seconds'] / base['median_seconds']:.2f}" if base else ""
        rr = f"{r['peak_rss_bytes'] / base['peak_rss_bytes']:.2f}" if base else ""
        steps = ", ".join(f"{s:.2f}" for s in r["timed_seconds"])
        print(f"| {TITLES[v]} | {r['median_seconds']:.2f} | {steps} | {r['peak_rss_bytes'] / 1e9:.2f} | {tr} | {rr} "
              f"| {r['floor_seconds']:.2f} | {r['median_seconds'] / r['floor_seconds']:.1f}x |")
    print()
    print(f"Warm-up step: " + ", ".join(f"{TITLES[v]} {r['step_seconds'][0]:.2f} s" for v, r in results.items()) + ".")
    pre = next((r["preprocess_seconds"] for r in results.values() if "preprocess_seconds" in r), None)
    if pre is not None:
        print(f"libblip's step_seconds include loading + preprocessing the batch's images; PyTorch's times do not "
              f"(its image processor takes {pre:.3f} s for this batch).")
    print()
    print("First-step losses (same batch):")
    checks = {}
    for blip_v, torch_v in BASELINE.items():
        if blip_v in results and torch_v in results:
            a, c = results[torch_v]["losses"][0], results[blip_v]["losses"][0]
            rel = abs(a - c) / abs(a)
            checks[blip_v] = {"torch": a, "blip": c, "relative": rel, "ok": rel < 1e-3}
            later = ""
            if blip_v != "blip-frozen-cached":  # same batches every step: the whole trajectory must agree
                worst = max(abs(x - y) / abs(x) for x, y in zip(results[torch_v]["losses"], results[blip_v]["losses"]))
                checks[blip_v]["worst_relative_all_steps"] = worst
                later = f"; all {len(results[blip_v]['losses'])} steps: worst relative {worst:.2e}"
            print(f"- {TITLES[torch_v]} {a:.6f} vs {TITLES[blip_v]} {c:.6f}: relative {rel:.2e} "
                  f"{'OK (< 1e-3)' if rel < 1e-3 else 'MISMATCH (>= 1e-3)'}{later}")
    print()
    gf = lambda x: f"{x / 1e9:.1f} GFLOP"
    print(f"fp32 floor: forward {gf(fl['vision'] + fl['text'])} per step (vision {gf(fl['vision'])}: "
          f"{IMAGE_TOKENS} tokens x {LAYERS} layers incl. attention and patch embedding; text decoder + LM head "
          f"{gf(fl['text'])}: {args.max_text_length} tokens, cross-attention K/V over {IMAGE_TOKENS} image tokens); "
          f"training = 3 x forward = {gf(train_flops['torch'])} (frozen vision: vision fwd + 3 x text = "
          f"{gf(train_flops['torch-frozen'])}; (e), vision cached: 3 x text = {gf(train_flops['blip-frozen-cached'])}). sgemm 577x768x3072 fp32 at {args.threads} threads, best of 5: "
          f"torch {gemm['torch'] / 1e9:.1f} GFLOP/s"
          + (f", numpy {gemm['numpy'] / 1e9:.1f} GFLOP/s" if "numpy" in gemm else "")
          + f"; floor uses {rate / 1e9:.1f} GFLOP/s. The floor ignores AdamW's memory traffic "
          f"(~{results.get('torch', {}).get('trainable_parameters', 224e6) / 1e6:.0f}M parameters) and all non-GEMM work.")
    print("Achieved: " + ", ".join(f"{TITLES[v]} {r['achieved_gflops']:.1f} GFLOP/s" for v, r in results.items()) + ".")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": started, "cpu": cpu, "torch": versions.get("torch"),
                       "transformers": versions.get("transformers"), "threads": args.threads,
                       "batch_size": args.batch_size, "max_text_length": args.max_text_length, "steps": args.steps,
                       "binary_stale": stale, "model": args.model, "shapes": SHAPES_USED, "forward_flops": fl, "train_flops": train_flops, "gemm": gemm,
                       "loss_checks": checks, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
