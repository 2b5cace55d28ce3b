#!/usr/bin/env python3
"""Compares libblip's trainer (`blip finetune`) with the PyTorch reference (finetune_reference.py).

    # parity run on any model directory and manifest
    python3 scripts/finetune_parity.py --task caption --model DIR --train M.jsonl \
        --max-steps 3 --batch-size 4 --lr 1e-5 --label-smoothing 0.1 [--prompt "a picture of"]
    # a random-weight full-size BLIP-base model directory (F32) of one class
    python3 scripts/finetune_parity.py --make-base /tmp/base-caption --arch caption
    # N synthetic images the tests have never seen + caption.jsonl, vqa.jsonl, match.jsonl
    python3 scripts/finetune_parity.py --make-data /tmp/shapes --count 16

A parity run executes
    blip finetune --task T --model DIR --train M --out TMP/blip --augment none --no-shuffle
        --schedule constant --warmup-steps 0 --max-steps N --batch-size B --lr LR
        --weight-decay WD --label-smoothing S [--prompt P] --max-text-length L --freeze F
        --log TMP/log.jsonl
and the reference with the same settings, then checks:
- per-step loss relative error ≤ 2e-4 (the log's "loss" against the reference's);
- per-tensor cosine of (final − initial) weights ≥ 0.995, attention key biases excepted (their
  true gradient is zero: both sides update them from float noise) (tensors both sides left unchanged
  pass; one side changed and the other not fails);
- transformers loads TMP/blip with no missing / unexpected / mismatched keys
  (`from_pretrained(..., output_loading_info=True)`), and its tokenizer and image processor load.
Exits 1 on any failure.

match: ITM hard negatives must be the same on both sides. If libblip's log lines carry
"neg_image_for_text" / "neg_text_for_image" (indices into that step's batch) the reference uses
them; otherwise give --negatives FILE.json (finetune_reference's format; --make-negatives writes
one), which is passed to both sides as `--negatives FILE`.
"""
import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
import blip_reference as ref  # noqa: E402
import finetune_reference as ft  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), ".."))
LOSS_RTOL = 2e-4
MIN_COSINE = 0.995
ARCH = {"caption": "captioning", "vqa": "vqa", "match": "itm"}


# ---------------------------------------------------------------------------------------------
# --make-base / --make-data

def make_base(out_dir, task, seed):
    """Full-size BLIP-base (hub-like configs, text 12 heads) with random weights, F32, plus the
    BERT vocabulary, tokenizer and preprocessor files."""
    model = ref.build(ARCH[task], "base", seed=seed)
    ref.save_model(model, out_dir, dtype=torch.float32)
    print("wrote", out_dir)


COLOURS = ["red", "green", "blue", "yellow", "white", "black", "orange", "purple", "pink", "brown", "gray"]
SHAPES = ["circle", "square", "triangle", "rectangle", "star"]
WORDS = {1: "one", 2: "two", 3: "three"}


def draw_shape(d, kind, colour, box):
    x0, y0, x1, y1 = box
    if kind in ("circle", "square", "star"):  # keep them round / square inside the box
        r = min(x1 - x0, y1 - y0) / 2
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        x0, y0, x1, y1 = box = (cx - r, cy - r, cx + r, cy + r)
    if kind == "circle":
        d.ellipse(box, fill=colour)
    elif kind in ("square", "rectangle"):
        d.rectangle(box, fill=colour)
    elif kind == "triangle":
        d.polygon([((x0 + x1) / 2, y0), (x1, y1), (x0, y1)], fill=colour)
    else:
        import math
        pts = [(cx + (r if k % 2 == 0 else r / 2.5) * math.sin(k * math.pi / 5),
                cy - (r if k % 2 == 0 else r / 2.5) * math.cos(k * math.pi / 5)) for k in range(10)]
        d.polygon(pts, fill=colour)


def make_data(out_dir, count, seed):
    """`count` images of coloured shapes (varied sizes and aspect ratios, PNG and JPEG) with a
    caption, a vqa and a match manifest (match: 1–2 texts per image, image_id = file stem)."""
    from PIL import Image, ImageDraw
    rng = random.Random(seed)
    os.makedirs(os.path.join(out_dir, "images"), exist_ok=True)
    caption, vqa, match = [], [], []
    for i in range(count):
        w = rng.randint(40, 480)
        h = max(24, min(640, int(w * rng.choice([0.5, 0.75, 1.0, 1.33, 2.0]) * rng.uniform(0.9, 1.1))))
        bg = rng.choice(COLOURS)
        colour = rng.choice([c for c in COLOURS if c != bg])
        shape = rng.choice(SHAPES)
        n = rng.choice([1, 1, 2, 3])
        img = Image.new("RGB", (w, h), bg)
        d = ImageDraw.Draw(img)
        for k in range(n):
            cw, ch = w / n, h
            s = rng.uniform(0.4, 0.9)
            x0 = k * cw + cw * (1 - s) / 2 * rng.uniform(0.2, 1.8)
            y0 = ch * (1 - s) / 2 * rng.uniform(0.2, 1.8)
            draw_shape(d, shape, colour, (x0, y0, x0 + cw * s, y0 + min(ch * s, cw * s * (2 if shape == "rectangle" else 1))))
        ext = rng.choice(["png", "jpg"])
        name = f"images/shape_{i:04d}.{ext}"
        img.save(os.path.join(out_dir, name), **({"quality": rng.choice([75, 90, 95])} if ext == "jpg" else {}))
        noun = shape if n == 1 else shape + "s"
        subject = f"a {colour} {shape}" if n == 1 else f"{WORDS[n]} {colour} {noun}"
        text = rng.choice([f"{subject} on a {bg} background", f"{subject} on {bg}",
                           f"a picture of {subject}", f"{subject} in front of a {bg} wall"])
        caption.append({"image": name, "text": text})
        q = rng.randrange(4)
        if q == 0:
            vqa.append({"image": name, "question": f"what color is the {shape}?", "answer": colour})
        elif q == 1:
            vqa.append({"image": name, "question": "what shape is in the picture?", "answer": shape})
        elif q == 2:
            vqa.append({"image": name, "question": f"how many {shape}s are there?", "answer": WORDS[n]})
        else:
            other = rng.choice(COLOURS)
            vqa.append({"image": name, "question": f"is the background {other}?", "answer": "yes" if other == bg else "no"})
        iid = os.path.splitext(os.path.basename(name))[0]
        match.append({"image": name, "image_id": iid, "text": text})
        if rng.random() < 0.4:
            match.append({"image": name, "image_id": iid, "text": f"{subject} and a {bg} background"})
    for fname, rows in (("caption.jsonl", caption), ("vqa.jsonl", vqa), ("match.jsonl", match)):
        with open(os.path.join(out_dir, fname), "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    print(f"wrote {count} images and caption.jsonl ({len(caption)}), vqa.jsonl ({len(vqa)}), "
          f"match.jsonl ({len(match)}) in {out_dir}")


# ---------------------------------------------------------------------------------------------
# Parity run

def read_log(path):
    steps = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                o = json.loads(line)
                if "loss" in o and "step" in o:
                    steps.append(o)
    return steps


def load_tensors(path):
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        return {k: f.get_tensor(k).to(torch.float32) for k in f.keys()}


def check_loading(out_dir, task):
    """transformers loads libblip's directory: no missing/unexpected/mismatched keys; tokenizer
    and image processor load."""
    problems = []
    cls = ft.model_class(out_dir) if os.path.exists(os.path.join(out_dir, "config.json")) else None
    if cls is None or cls.__name__ != ft.TASK_ARCH[task]:
        return [f"config.json architectures is not {ft.TASK_ARCH[task]}"]
    _, info = cls.from_pretrained(out_dir, output_loading_info=True)
    for kind in ("missing_keys", "unexpected_keys", "mismatched_keys", "error_msgs"):
        if info.get(kind):
            problems.append(f"{kind}: {sorted(info[kind])[:10]}")
    for what, load in (("tokenizer", ft.tokenizer), ("image processor", ft.image_processor)):
        try:
            load(out_dir)
        except Exception as e:  # noqa: BLE001
            problems.append(f"{what} does not load: {e}")
    return problems


def parity(args):
    work = args.keep or tempfile.mkdtemp(prefix="finetune-parity-")
    os.makedirs(work, exist_ok=True)
    blip_out, log_path = os.path.join(work, "blip"), os.path.join(work, "log.jsonl")
    settings = ["--max-steps", str(args.max_steps), "--batch-size", str(args.batch_size), "--lr", repr(args.lr),
                "--weight-decay", repr(args.weight_decay), "--label-smoothing", repr(args.label_smoothing),
                "--max-text-length", str(args.max_text_length), "--freeze", args.freeze]
    if args.prompt:
        settings += ["--prompt", args.prompt]
    rows = ft.read_manifest(args.train)
    per_epoch = -(-len(rows) // args.batch_size)
    if args.max_steps > per_epoch:
        print(f"note: {args.max_steps} steps > {per_epoch} batches per epoch; the reference walks the manifest "
              "again (check that libblip's --max-steps does the same)")
    negatives_file = args.negatives
    if args.task == "match" and args.make_negatives:
        negatives_file = os.path.join(work, "negatives.json")
        with open(negatives_file, "w") as f:
            json.dump({"steps": ft.make_negatives(ft.image_ids(rows), args.batch_size, args.max_steps, args.seed)}, f)
    cmd = [args.blip, "finetune", "--task", args.task, "--model", args.model, "--train", args.train, "--out", blip_out,
           "--augment", "none", "--no-shuffle", "--schedule", "constant", "--warmup-steps", "0",
           "--log", log_path, "--threads", str(args.threads)] + settings
    if args.task == "match" and negatives_file:
        cmd += ["--negatives", negatives_file]
    cmd += args.blip_arg
    print("$", shlex.join(cmd), flush=True)
    if subprocess.run(cmd).returncode != 0:
        print("FAIL: blip finetune exited non-zero")
        return 1
    log = read_log(log_path)

    negatives = None
    if args.task == "match":
        if log and all("neg_image_for_text" in o and "neg_text_for_image" in o for o in log):
            negatives = [{"neg_image_for_text": o["neg_image_for_text"], "neg_text_for_image": o["neg_text_for_image"]}
                         for o in log]
        elif negatives_file:
            with open(negatives_file) as f:
                negatives = json.load(f)["steps"]
        else:
            print("FAIL: match needs the negatives libblip used (in its log) or --negatives / --make-negatives")
            return 1

    torch.set_num_threads(args.threads)
    initial = {n: p.detach().clone() for n, p in
               ft.model_class(args.model).from_pretrained(args.model, dtype=torch.float32).named_parameters()}
    ref_weights = os.path.join(work, "reference.safetensors")
    result, _ = ft.finetune(args.task, args.model, args.train, args.max_steps, args.batch_size, args.lr,
                            args.weight_decay, args.label_smoothing, args.prompt, args.max_text_length, args.freeze,
                            negatives, out_weights=ref_weights, log=lambda s: print("reference", s, flush=True))
    with open(os.path.join(work, "reference.json"), "w") as f:
        json.dump(result, f, indent=1)

    failures = []
    # losses
    if len(log) != len(result["losses"]):
        failures.append(f"libblip logged {len(log)} steps, the reference ran {len(result['losses'])}")
    worst = 0.0
    for i, (o, r) in enumerate(zip(log, result["losses"])):
        rel = abs(o["loss"] - r) / max(abs(r), 1e-12)
        worst = max(worst, rel)
        print(f"step {i + 1}: blip {o['loss']:.7f} reference {r:.7f} rel {rel:.2e}"
              + ("" if rel <= LOSS_RTOL else "  FAIL"))
    if worst > LOSS_RTOL:
        failures.append(f"loss relative error {worst:.2e} > {LOSS_RTOL}")
    if args.task == "match" and log and "temp" in log[-1]:
        print(f"temp: blip {log[-1]['temp']:.7f} reference {result['temp']:.7f}")

    # weight updates
    blip_file = os.path.join(blip_out, "model.safetensors")
    if not os.path.exists(blip_file):
        failures.append(f"{blip_file} is missing")
    else:
        mine, theirs = load_tensors(blip_file), load_tensors(ref_weights)
        cosines = []
        for name, final_ref in theirs.items():
            if name not in mine:
                failures.append(f"libblip's weights lack {name}")
                continue
            d_ref = (final_ref - initial[name]).reshape(-1).double()
            d_blip = (mine[name] - initial[name]).reshape(-1).double()
            if d_ref.norm() == 0 and d_blip.norm() == 0:
                continue
            cos = float(d_ref @ d_blip / (d_ref.norm() * d_blip.norm() + 1e-300))
            ratio = float(d_blip.norm() / (d_ref.norm() + 1e-300))
            cosines.append((cos, ratio, name))
        cosines.sort()
        # Attention key biases have a true gradient of exactly zero (softmax ignores a constant
        # added to a row of scores): both sides hold float noise, which AdamW scales into lr-sized
        # steps in arbitrary directions. Their cosines are printed but do not count.
        noise = [c for c in cosines if c[2].endswith("key.bias")]
        cosines = [c for c in cosines if not c[2].endswith("key.bias")]
        if noise:
            print(f"{len(noise)} attention key-bias tensors (zero true gradient) not compared; cosines "
                  f"{min(c[0] for c in noise):.3f}..{max(c[0] for c in noise):.3f}")
        for cos, ratio, name in cosines[:args.show]:
            print(f"cosine {cos:.6f} |Δblip|/|Δref| {ratio:.4f}  {name}")
        bad = [c for c in cosines if c[0] < MIN_COSINE]
        print(f"{len(cosines)} updated tensors, min cosine {cosines[0][0] if cosines else float('nan'):.6f}, "
              f"{len(bad)} below {MIN_COSINE}")
        if bad:
            failures.append(f"{len(bad)} tensors with update cosine < {MIN_COSINE}: {[n for _, _, n in bad[:5]]}")
        extra = sorted(set(mine) - set(theirs))
        if extra:
            print("note: libblip also wrote", extra[:10])

    # transformers loads the output directory
    problems = check_loading(blip_out, args.task) if os.path.isdir(blip_out) else ["no output directory"]
    print("transformers load:", "ok" if not problems else "; ".join(problems))
    failures += problems

    print(("PASS" if not failures else "FAIL: " + " | ".join(failures)), f"(work dir {work})")
    return 0 if not failures else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--make-base", metavar="DIR", help="write a random-weight full-size BLIP-base model (F32)")
    ap.add_argument("--arch", choices=["caption", "vqa", "match"], default="caption", help="with --make-base: the class")
    ap.add_argument("--make-data", metavar="DIR", help="write synthetic images and the three manifests")
    ap.add_argument("--count", type=int, default=16, help="with --make-data: number of images")
    ap.add_argument("--seed", type=int, default=7, help="weights (--make-base), data (--make-data), negatives")
    ap.add_argument("--task", choices=["caption", "vqa", "match"])
    ap.add_argument("--model")
    ap.add_argument("--train")
    ap.add_argument("--max-steps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--prompt")
    ap.add_argument("--max-text-length", type=int, default=40)
    ap.add_argument("--freeze", choices=["vision", "text", "none"], default="none")
    ap.add_argument("--negatives", help="match: hard negatives for both sides (passed to blip as --negatives)")
    ap.add_argument("--make-negatives", action="store_true", help="match: draw random valid negatives (--seed) for both sides")
    ap.add_argument("--blip", default=os.path.join(ROOT, "build", "bin", "blip"))
    ap.add_argument("--blip-arg", action="append", default=[], help="extra argument for blip finetune (repeatable)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--keep", metavar="DIR", help="work directory (default: a new temporary one, kept)")
    ap.add_argument("--show", type=int, default=5, help="how many lowest-cosine tensors to print")
    args = ap.parse_args()
    if args.make_base:
        make_base(args.make_base, args.arch, args.seed)
    if args.make_data:
        make_data(args.make_data, args.count, args.seed)
    if args.make_base or args.make_data:
        return 0
    if not (args.task and args.model and args.train):
        ap.error("a parity run needs --task, --model and --train")
    return parity(args)


if __name__ == "__main__":
    sys.exit(main())
