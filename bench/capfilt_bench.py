#!/usr/bin/env python3
"""Side-by-side CapFilt throughput, images/s: `blip capfilt` against the same loop written with
transformers, BLIP-base-sized random-weight captioner + filter, same images, same thread count, one
run. Every engine runs in its own subprocess, so peak RSS is per engine.

    python3 scripts/finetune_parity.py --make-base /work/local/base-caption --arch caption   # once
    python3 scripts/finetune_parity.py --make-base /work/local/base-match --arch match       # once
    make
    python3 bench/capfilt_bench.py --threads 2 [--images 16] [--json out.json]

Data: --images scene-world pictures at 384 px (`python3 -m scripts.scene_world generate`), written
as one WebDataset shard (00000.tar with KEY.jpg / KEY.txt / KEY.json) and as a JSONL manifest of
the same JPEG bytes (extracted from the shard) and web texts.

Engines:
  blip           build/bin/blip capfilt --input SHARDS (one caption per image, preset capfilt,
                 threshold 0.5, default --batch-size). images/s = images / (wall - model load),
                 the load measured by a separate run on a 1-image shard: its wall time minus its
                 own processing time (1 / the images/s of its summary line, which counts from
                 after the load). The timed run therefore includes its first batch (no warm-up).
  blip-manifest  the same on the JSONL manifest.
  blip-int8      `blip capfilt` (WebDataset shard) with both models' `blip quantize` files
                 (DIR.int8.safetensors beside each directory, made on first use).
  torch          transformers, one process, torch.set_num_threads: per batch of --batch-size
                 images (libblip's default, 8): PIL decode, BlipProcessor preprocessing (once:
                 both preprocessor configs are equal, else once per model), captioner
                 generate(do_sample, top_p 0.9, top_k 50, repetition_penalty 1.1, max_length 20,
                 min_length 5; no prompt), batch_decode; filter: vision_model once per image, then
                 text_encoder + itm_head for the web text and the synthetic caption in one batch
                 (image states repeated, not re-encoded), P(match) = softmax(itm)[:, 1].
                 Timed after a warm-up on one image; model load timed separately.
  torch-int8     the same with both models through torch.ao.quantization.quantize_dynamic
                 (every nn.Linear to qint8, as bench/bench.py's PyTorch dynamic int8).
Kept %: texts with P(match) >= threshold. With random weights the values mean nothing; they show
that both pipelines ran to the end.
"""
import argparse
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from finetune_bench import binary_stale, cpu_info  # noqa: E402  (no heavy imports at module level)

ENGINES = ["blip", "blip-manifest", "blip-int8", "torch", "torch-int8"]
TITLES = {"blip": "(a) libblip `blip capfilt`, WebDataset shard", "blip-manifest": "(a') libblip `blip capfilt`, JSONL manifest",
          "blip-int8": "(a'') libblip `blip capfilt` int8, WebDataset shard",
          "torch": "(b) transformers + PyTorch", "torch-int8": "(b') transformers + PyTorch dynamic int8"}
# What each libblip engine is compared with besides PyTorch fp32: PyTorch at the same precision.
PEER = {"blip": "torch", "blip-manifest": "torch", "blip-int8": "torch-int8"}
INT8_SUFFIX = ".int8.safetensors"
THRESHOLD = 0.5
GEN = dict(do_sample=True, top_p=0.9, top_k=50, repetition_penalty=1.1, max_length=20, min_length=5)
SUMMARY = re.compile(r"capfilt: (\d+) pairs in \((\d+) errors\), web texts kept ([\d.]+|-)%?, "
                     r"synthetic kept ([\d.]+|-)%? of (\d+), ([\d.]+) images/s")


# ---- data ------------------------------------------------------------------------------------

def make_data(out_dir, n, seed=None):
    """n scene-world images (384 px) as shards/00000.tar and manifest.jsonl (+ images/KEY.jpg, the
    shard's JPEG bytes). Also shard1/00000.tar with the first sample only, for the load run."""
    gen = os.path.join(out_dir, "gen")
    cmd = [sys.executable, "-m", "scripts.scene_world", "generate", "--out", gen, "--split", "test",
           "--count", str(n), "--size", "384", "--shards-of", str(n), "--no-png", "--quiet"]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    shard_dir = os.path.join(out_dir, "shards")
    os.makedirs(shard_dir)
    shutil.move(os.path.join(gen, "test", "shards", "00000.tar"), os.path.join(shard_dir, "00000.tar"))
    shutil.rmtree(gen)
    os.makedirs(os.path.join(out_dir, "images"))
    members = {}
    with tarfile.open(os.path.join(shard_dir, "00000.tar")) as tar:
        order = []
        for m in tar.getmembers():
            key, ext = m.name.rsplit(".", 1)
            if key not in members:
                order.append(key)
            members.setdefault(key, {})[ext] = (m, tar.extractfile(m).read())
    rows = []
    for key in order:
        with open(os.path.join(out_dir, "images", key + ".jpg"), "wb") as f:
            f.write(members[key]["jpg"][1])
        rows.append({"image": f"images/{key}.jpg", "text": members[key]["txt"][1].decode(), "key": key})
    with open(os.path.join(out_dir, "manifest.jsonl"), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    one = os.path.join(out_dir, "shard1")
    os.makedirs(one)
    with tarfile.open(os.path.join(one, "00000.tar"), "w", format=tarfile.USTAR_FORMAT) as tar:
        for ext in ("jpg", "txt", "json"):
            m, data = members[order[0]][ext]
            tar.addfile(m, io.BytesIO(data))
    return {"shards": shard_dir, "manifest": os.path.join(out_dir, "manifest.jsonl"), "shard1": one, "count": len(rows)}


# ---- workers ---------------------------------------------------------------------------------

def run_blip(args, source, output, int8=False):
    """One `blip capfilt` run: wall seconds, parsed summary, its own peak RSS (wait4)."""
    captioner, filt = (args.captioner, args.filter) if not int8 else \
        (args.captioner + INT8_SUFFIX, args.filter + INT8_SUFFIX)
    cmd = [args.blip, "capfilt", "--captioner", captioner, "--filter", filt, "--input", source,
           "--output", output, "--threads", str(args.threads), "--threshold", str(THRESHOLD), "--preset", "capfilt",
           "--captions-per-image", "1", "--quiet"]
    err = tempfile.TemporaryFile(mode="w+")
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    stderr = err.read()
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}\nfailed ({p.returncode}):\n{stderr[-3000:]}")
    m = SUMMARY.search(stderr)
    if not m:
        raise SystemExit(f"no summary line in:\n{stderr[-2000:]}")
    return {"command": cmd, "wall_seconds": wall, "summary": m.group(0), "summary_images_per_second": float(m.group(6)),
            "peak_rss_bytes": usage.ru_maxrss * 1024}


def read_records(path):
    return [json.loads(l) for l in open(path) if l.strip()]


def worker_blip(engine, args):
    out = tempfile.mkdtemp(prefix="capfilt-bench-out-")
    try:
        # model load: a 1-image shard; load = wall - its processing time (summary counts after the load)
        int8 = engine == "blip-int8"
        load_run = run_blip(args, args.shard1, os.path.join(out, "one"), int8)
        load = load_run["wall_seconds"] - 1.0 / load_run["summary_images_per_second"]
        if engine in ("blip", "blip-int8"):
            run = run_blip(args, args.shards, os.path.join(out, "shards"), int8)
            records = read_records(os.path.join(out, "shards", "00000.jsonl"))
        else:
            run = run_blip(args, args.manifest, os.path.join(out, "out.jsonl"))
            records = read_records(os.path.join(out, "out.jsonl"))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    errors = [r for r in records if "error" in r]
    if errors:
        raise SystemExit(f"libblip reported errors: {errors[:3]}")
    images = len(records)
    seconds = run["wall_seconds"] - load
    for r in (load_run, run):
        print(f"  {engine}: {r['wall_seconds']:.2f} s wall, {r['summary']}", file=sys.stderr)
    return {"engine": engine, "threads": args.threads, "images": images, "seconds": seconds,
            "load_seconds": load, "load_run": load_run, "run": run,
            "web_itm": [r["web"]["itm"] for r in records], "web_kept": [r["web"]["kept"] for r in records],
            "synthetic_itm": [s["itm"] for r in records for s in r["synthetic"]],
            "synthetic_kept": [s["kept"] for r in records for s in r["synthetic"]],
            "captions": [s["text"] for r in records for s in r["synthetic"]],
            "peak_rss_bytes": max(load_run["peak_rss_bytes"], run["peak_rss_bytes"])}


def worker_torch(engine, args):
    import resource
    import torch
    import transformers
    import PIL
    from PIL import Image
    from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipProcessor
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    res = {"engine": engine, "torch": torch.__version__, "transformers": transformers.__version__,
           "pillow": PIL.__version__}
    t = time.perf_counter()
    cap = BlipForConditionalGeneration.from_pretrained(args.captioner, dtype=torch.float32).eval()
    filt = BlipForImageTextRetrieval.from_pretrained(args.filter, dtype=torch.float32).eval()
    if engine == "torch-int8":
        cap, filt = (torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8) for m in (cap, filt))
    proc = BlipProcessor.from_pretrained(args.captioner)
    fproc = BlipProcessor.from_pretrained(args.filter)
    res["load_seconds"] = time.perf_counter() - t
    same_pre = proc.image_processor.to_dict() == fproc.image_processor.to_dict()
    res["image_processor"] = type(proc.image_processor).__name__
    res["preprocessing_shared"] = same_pre
    max_pos = filt.config.text_config.max_position_embeddings
    base = os.path.dirname(os.path.abspath(args.manifest))
    rows = read_records(args.manifest)

    def batch(rows):
        images = []
        for r in rows:
            with Image.open(os.path.join(base, r["image"])) as im:
                images.append(im.convert("RGB"))
        px = proc(images=images, return_tensors="pt")["pixel_values"]
        fpx = px if same_pre else fproc(images=images, return_tensors="pt")["pixel_values"]
        with torch.inference_mode():
            ids = cap.generate(pixel_values=px, **GEN)
            captions = proc.batch_decode(ids, skip_special_tokens=True)
            image_embeds = filt.vision_model(pixel_values=fpx).last_hidden_state  # once per image
            texts = [r["text"] for r in rows] + captions  # web texts, then synthetic: one batch
            tok = fproc.tokenizer(texts, padding=True, truncation=True, max_length=max_pos, return_tensors="pt")
            states = torch.cat([image_embeds, image_embeds])
            hidden = filt.text_encoder(input_ids=tok["input_ids"], attention_mask=tok["attention_mask"],
                                       encoder_hidden_states=states,
                                       encoder_attention_mask=torch.ones(states.shape[:-1], dtype=torch.long)).last_hidden_state
            p = torch.softmax(filt.itm_head(hidden[:, 0, :]), dim=-1)[:, 1].tolist()
        new_tokens = (ids[:, 1:] != cap.config.text_config.pad_token_id).sum(1).tolist()  # after [DEC]
        n = len(rows)
        return p[:n], p[n:], captions, new_tokens

    t = time.perf_counter()
    batch(rows[:1])
    res["warmup_seconds"] = time.perf_counter() - t
    web, syn, captions, new_tokens, times = [], [], [], [], []
    t0 = time.perf_counter()
    for i in range(0, len(rows), args.batch_size):
        t = time.perf_counter()
        w, s, c, k = batch(rows[i:i + args.batch_size])
        times.append(time.perf_counter() - t)
        web += w; syn += s; captions += c; new_tokens += k  # noqa: E702
        print(f"  {engine} batch {len(times)}: {len(w)} images, {times[-1]:.2f} s", file=sys.stderr)
    res.update(seconds=time.perf_counter() - t0, batch_seconds=times, images=len(rows), threads=torch.get_num_threads(),
               web_itm=web, web_kept=[x >= THRESHOLD for x in web], synthetic_itm=syn,
               synthetic_kept=[x >= THRESHOLD for x in syn], captions=captions, new_tokens=new_tokens,
               peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return res


def run_worker(name, args, data):
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(args.threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--captioner", args.captioner,
           "--filter", args.filter, "--blip", args.blip, "--threads", str(args.threads),
           "--batch-size", str(args.batch_size), "--shards", data["shards"], "--shard1", data["shard1"],
           "--manifest", data["manifest"]]
    print(f"running {name} ...", file=sys.stderr)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env)  # stderr: progress, passed through
    if p.returncode != 0:
        raise SystemExit(f"{name} worker failed ({p.returncode})")
    return json.loads(p.stdout.strip().splitlines()[-1])


# ---- report ----------------------------------------------------------------------------------

def warm_page_cache(*dirs):
    """Read the weights once so that no engine pays the first read from disk."""
    for d in dirs:
        for f in os.listdir(d):
            with open(os.path.join(d, f), "rb") as fh:
                while fh.read(1 << 24):
                    pass


def wordpieces(model_dir, captions):
    from transformers import BertTokenizer
    tok = BertTokenizer.from_pretrained(model_dir)
    n = [len(tok(c, add_special_tokens=False)["input_ids"]) for c in captions]
    return sum(n) / len(n) if n else 0.0


def pct(xs):
    return f"{100 * sum(xs) / len(xs):.1f}" if xs else "-"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--captioner", default="/work/local/base-caption", help="BlipForConditionalGeneration directory")
    ap.add_argument("--filter", default="/work/local/base-match", help="BlipForImageTextRetrieval directory")
    ap.add_argument("--images", type=int, default=16)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=8, help="transformers batch (libblip's --batch-size default)")
    ap.add_argument("--blip", default=os.path.join(ROOT, "build", "bin", "blip"))
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--keep-data", help="write the generated data here and keep it")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--worker", choices=ENGINES, help=argparse.SUPPRESS)
    ap.add_argument("--shards", help=argparse.SUPPRESS)
    ap.add_argument("--shard1", help=argparse.SUPPRESS)
    ap.add_argument("--manifest", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        print(json.dumps(worker_torch(args.worker, args) if args.worker.startswith("torch") else worker_blip(args.worker, args)))
        return

    engines = args.engines.split(",")
    stale = binary_stale(args.blip)
    if stale == "missing" and any(e.startswith("blip") for e in engines):
        raise SystemExit(f"{args.blip} is missing: run make")
    if stale:
        print(f"warning: {args.blip} is older than {len(stale)} Swift source(s), e.g. {stale[:3]}", file=sys.stderr)
    for d in (args.captioner, args.filter):
        if not os.path.exists(os.path.join(d, "config.json")):
            raise SystemExit(f"{d}: no model (see the usage at the top of this file)")
        if "blip-int8" in engines and not os.path.exists(d + INT8_SUFFIX):
            subprocess.run([args.blip, "quantize", "--model", d, "--out", d + INT8_SUFFIX], check=True)
    if args.keep_data:
        os.makedirs(args.keep_data, exist_ok=False)
    tmp = args.keep_data or tempfile.mkdtemp(prefix="capfilt-bench-data-")
    try:
        data = make_data(tmp, args.images)
        warm_page_cache(args.captioner, args.filter)
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        results = {e: run_worker(e, args, data) for e in engines}
    finally:
        if not args.keep_data:
            shutil.rmtree(tmp, ignore_errors=True)
    version = subprocess.run([args.blip, "--version"], capture_output=True, text=True).stdout.strip() \
        if os.path.exists(args.blip) else "?"
    for r in results.values():
        r["caption_wordpieces_mean"] = wordpieces(args.captioner, r["captions"])
    report(args, results, cpu_info(), stale, started, version)


def report(args, results, cpu, stale, started, blip_version):
    for r in results.values():
        r["images_per_second"] = r["images"] / r["seconds"]
    versions = results.get("torch") or results.get("torch-int8") or {}
    flags = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in cpu["flags"].items())
    print(f"## CapFilt throughput, BLIP-base captioner + filter (random weights) — {started}\n")
    print(f"CPU: {cpu['model_name']} ({cpu['vendor']}, family {cpu['family']} model {cpu['model']}"
          f"{', ' + cpu['hypervisor'] if cpu['hypervisor'] else ''}), {cpu['cpus']} cpus; {flags}.  ")
    print(f"libblip {blip_version}; torch {versions.get('torch', '?')}, transformers {versions.get('transformers', '?')}, "
          f"Pillow {versions.get('pillow', '?')}, Python {platform.python_version()}; threads: "
          + ", ".join(f"{e} {r['threads']}" for e, r in results.items()) + ".  ")
    n = next(iter(results.values()))["images"]
    print(f"Captioner {args.captioner}, filter {args.filter} (fp32; int8 rows: libblip's `blip quantize` files, "
          f"PyTorch's quantize_dynamic); {n} scene-world images, 384 px JPEG; "
          f"1 synthetic caption per image (top-p 0.9, top-k 50, repetition penalty 1.1, length 5..20), "
          f"threshold {THRESHOLD}; batch {args.batch_size}.")
    if stale:
        print(f"\n**warning: {args.blip} is older than Swift sources ({stale if stale == 'missing' else len(stale)}).**")
    print()
    def ratio(e, peer):
        """Throughput of libblip engine e over PyTorch engine peer, or None when either is not a row."""
        return results[e]["images_per_second"] / results[peer]["images_per_second"] \
            if e in PEER and peer in results else None

    def cell(x):
        return f"{x:.2f}" if x is not None else ""

    print("| engine | images | s/image | images/s | throughput / PyTorch fp32 | / PyTorch, same precision "
          "| model load s | peak RSS GB | web kept % | synthetic kept % | caption length (wordpieces, mean) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for e, r in results.items():
        print(f"| {TITLES[e]} | {r['images']} | {r['seconds'] / r['images']:.3f} | {r['images_per_second']:.3f} "
              f"| {cell(ratio(e, 'torch'))} | {cell(ratio(e, PEER.get(e)))} "
              f"| {r['load_seconds']:.2f} | {r['peak_rss_bytes'] / 1e9:.2f} | {pct(r['web_kept'])} "
              f"| {pct(r['synthetic_kept'])} | {r['caption_wordpieces_mean']:.1f} |")
    print()
    target = []
    for e, r in results.items():
        for peer in dict.fromkeys(["torch", PEER.get(e)]):
            x = ratio(e, peer)
            if x is not None:
                target.append(f"{TITLES[e].split(' ')[0]} / {TITLES[peer].split(' ')[0]} {x:.2f}x "
                              f"({'met' if x >= 2 else 'NOT met'})")
    if target:
        print("Target libblip >= 2x PyTorch throughput: " + "; ".join(target) + ".")
    for e, r in results.items():
        if e in PEER:
            print(f"- {TITLES[e]}: {r['run']['wall_seconds']:.2f} s wall - {r['load_seconds']:.2f} s load "
                  f"(1-image run: {r['load_run']['wall_seconds']:.2f} s wall, {r['load_run']['summary_images_per_second']} "
                  f"images/s after load) = {r['seconds']:.2f} s, first batch included; its own summary line: "
                  f"`{r['run']['summary']}`.")
        else:
            gen = sum(r["new_tokens"]) / len(r["new_tokens"]) if r["new_tokens"] else 0
            print(f"- {TITLES[e]}: {r['seconds']:.2f} s after a {r['warmup_seconds']:.2f} s warm-up image; batches "
                  + ", ".join(f"{s:.2f}" for s in r["batch_seconds"]) + f" s; {r['image_processor']}, preprocessing "
                  f"{'shared by both models' if r['preprocessing_shared'] else 'per model'}; generated tokens per "
                  f"caption after [DEC] (incl. [SEP]) mean {gen:.1f}.")
    print("- Kept % and ITM values come from random weights: meaningless, they show that both pipelines ran.")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"date": started, "cpu": cpu, "blip_version": blip_version, "threads": args.threads,
                       "batch_size": args.batch_size, "binary_stale": stale, "captioner": args.captioner,
                       "filter": args.filter, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
