#!/usr/bin/env python3
"""The BLIP paper's CapFilt claim at small scale, in the synthetic scene world: a model trained on
bootstrapped data beats one trained on the noisy web data it came from.

    python3 scripts/capfilt_experiment.py --work local/capfilt --seeds 1 2

(the defaults are what BENCHMARKS.md, session 13, measured: about 110 minutes for both seeds on 2
cores, two seeds running side by side as `--seeds 1 --threads 1` and `--seeds 2 --threads 1`).

Per seed S (each step skipped when its output exists, so an interrupted run continues; WORK keeps
the settings it was started with and refuses others):
  data   a "web" split (seed 100+S, --web-count images) whose captions are corrupted at --noise
         (wrong colour, shape, count or relation, another image's caption, truncated text, junk;
         web.jsonl records which rows), and a small clean "human-annotated" split (seed 200+S,
         --clean-count images, correct captions);
  (a)    a captioner and a filter trained on web + clean (`blip finetune`);
  (b)    the captioner finetuned on the clean captions, the filter on the clean pairs, both from (a);
  (c)    `blip capfilt` with (b)'s captioner and filter over the web split: one synthetic caption per
         image (nucleus sampling, the capfilt preset), every text kept when its ITM probability
         reaches 0.5;
  (d)    a new captioner and filter trained exactly as (a), on the bootstrapped set: the kept web
         texts, the kept synthetic captions and the clean captions.
Measured on the scene world's test split (seed 3, as the bundled models): caption content accuracy
(scripts.scene_world.parse) of (a) against (d), text->image R@1 among 100 candidates (ITC) of (a)
against (d), and the filter's precision and recall against the known corruption. Results per seed
in WORK/seed-S/results.json; the table over all seeds in WORK/report.md.

Every model shares one starting point, the stand-in for BLIP's ImageNet-pretrained ViT: a vision
encoder taken from --vision-from (the bundled captioner's, trained on other images of the same
world), frozen, so each image's vision states are computed once per run; the text transformers
start from random. BLIP's filter finetuning uses in-batch hard negatives only; here the clean
split's pairs also carry two rule-made false variants per caption (scene_world negatives, as the
bundled filter trains), the way a small annotated set is often stretched. --no-explicit-negatives
turns that off.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from scripts import train_scene_models as scene  # noqa: E402
from scripts import evaluate_scene_models as evaluate  # noqa: E402
from scripts.scene_world.parse import check_caption  # noqa: E402
from scripts.scene_world.scene import Scene  # noqa: E402

PROMPT = "a picture of"
NOISE = 0.4


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


read_jsonl = evaluate.read_jsonl


def write_jsonl(path, rows):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)


def generate(data, split, count, seed, noise=0.0, negatives=0):
    if os.path.exists(os.path.join(data, split, "info.json")) and (
            not negatives or os.path.exists(os.path.join(data, split, "match.jsonl"))):
        return os.path.join(data, split)
    scene.run([sys.executable, "-m", "scripts.scene_world", "generate", "--out", data, "--split", split,
               "--count", str(count), "--seed", str(seed), "--size", str(scene.IMAGE_SIZE),
               "--noise", str(noise), "--negatives-per-caption", str(negatives), "--quiet"], cwd=ROOT)
    return os.path.join(data, split)


def absolute(rows, folder, keep=("text", "image_id", "negatives")):
    """Rows with absolute image paths (manifests here mix splits) and only the fields training reads."""
    return [{"image": os.path.join(folder, r["image"]), **{k: r[k] for k in keep if k in r}} for r in rows]


def train(work, task, name, origin, manifest, steps, lr, warmup, args, seed):
    """One `blip finetune` (vision frozen) into WORK/NAME; returns the directory."""
    out = os.path.join(work, name)
    if os.path.exists(os.path.join(out, "model.safetensors")):
        return out
    extra = ["--prompt", PROMPT, "--label-smoothing", "0"] if task == "caption" else []
    log(f"{name}: {steps} steps of {os.path.basename(manifest)}")
    started = time.time()
    scene.run([args.blip, "finetune", "--task", task, "--model", origin, "--train", manifest, "--out", out,
               "--max-steps", str(steps), "--lr", str(lr), "--warmup-steps", str(warmup),
               "--batch-size", "32", "--weight-decay", "0.05", "--augment", "none", "--freeze", "vision",
               "--seed", str(seed), "--save-every", "500", "--resume", "--threads", str(args.threads),
               "--log", out + ".log.jsonl", "--quiet", *extra])
    with open(out + ".time", "w") as f:
        f.write(f"{time.time() - started:.0f}\n")
    return out


def seconds_of(output):
    """The wall time train() or capfilt() recorded beside OUTPUT."""
    with open(output + ".time") as f:
        return int(f.read())


def capfilt(work, captioner, filt, web_dir, args, seed):
    out = os.path.join(work, "capfilt.jsonl")
    if not os.path.exists(out):
        log("(c) capfilt over the web split")
        started = time.time()
        scene.run([args.blip, "capfilt", "--captioner", captioner, "--filter", filt,
                   "--input", os.path.join(web_dir, "web.jsonl"), "--output", out, "--prompt", PROMPT,
                   "--seed", str(seed), "--threads", str(args.threads)])
        with open(out + ".time", "w") as f:
            f.write(f"{time.time() - started:.0f}\n")
    return out


def filter_quality(records, web_dir):
    """The filter against the known corruption of the web texts, and the synthetic captions
    against the scenes they describe."""
    web = {r["image"]: r for r in read_jsonl(os.path.join(web_dir, "web.jsonl"))}
    scenes = {s["image"]: Scene.from_json(s) for s in read_jsonl(os.path.join(web_dir, "scenes.jsonl"))}
    tp = fp = fn = tn = 0            # positive = a corrupted web text the filter removed
    per_kind = {}
    itm_clean, itm_corrupted = [], []
    synthetic = synthetic_kept = synthetic_correct = kept_correct = 0
    errors = 0
    for r in records:
        if r.get("status", "ok") != "ok" or "web" not in r:
            errors += 1
            continue
        truth = web[os.path.relpath(r["image"], web_dir) if os.path.isabs(r["image"]) else r["image"]]
        removed = not r["web"]["kept"]
        (itm_corrupted if truth["noisy"] else itm_clean).append(r["web"]["itm"])
        if truth["noisy"]:
            tp += removed
            fn += not removed
            k = per_kind.setdefault(truth["noise"], [0, 0])
            k[0] += removed
            k[1] += 1
        else:
            fp += removed
            tn += not removed
        sc = scenes[truth["image"]]
        for s in r.get("synthetic", []):
            ok = check_caption(s["text"], sc).ok
            synthetic += 1
            synthetic_correct += ok
            if s["kept"]:
                synthetic_kept += 1
                kept_correct += ok
    ratio = lambda a, b: a / b if b else None  # noqa: E731
    return {"web_rows": tp + fp + fn + tn, "errors": errors, "corrupted": tp + fn,
            "corrupted_removed": ratio(tp, tp + fn), "clean_kept": ratio(tn, tn + fp),
            "removal_precision": ratio(tp, tp + fp),
            "removed_per_kind": {k: ratio(v[0], v[1]) for k, v in sorted(per_kind.items())},
            "itm_auc": evaluate.rank_auc(itm_clean, itm_corrupted),
            "removed_keeping_90": removed_keeping(itm_clean, itm_corrupted, 0.9),
            "synthetic": synthetic, "synthetic_correct": ratio(synthetic_correct, synthetic),
            "synthetic_kept": ratio(synthetic_kept, synthetic),
            "synthetic_kept_correct": ratio(kept_correct, synthetic_kept)}


def removed_keeping(itm_clean, itm_corrupted, share):
    """The share of corrupted texts a threshold removes when it is set to keep `share` of the
    clean ones: how close the filter's ranking comes to the bar whatever the threshold."""
    if not itm_clean or not itm_corrupted:
        return None
    keep = max(1, math.ceil(share * len(itm_clean) - 1e-9))     # 0.9 * 10 is 9.000000000000002
    threshold = sorted(itm_clean)[len(itm_clean) - keep]
    return sum(x < threshold for x in itm_corrupted) / len(itm_corrupted)


def bootstrapped_rows(records, web_dir, clean_rows):
    rows = []
    for r in records:
        if r.get("status", "ok") != "ok":
            continue
        image = r["image"] if os.path.isabs(r["image"]) else os.path.join(web_dir, r["image"])
        image_id = "web:" + os.path.basename(image)
        rows += [{"image": image, "text": t, "image_id": image_id} for t in r["texts"]]
    return rows + clean_rows


def measure(model_dir, task, test, threads):
    import blip
    with blip.Model(model_dir, threads=threads) as m:
        if task == "caption":
            r = evaluate.eval_caption(m, test, os.path.basename(model_dir))
            return {"caption_accuracy": r["accuracy"], "errors": r["errors"]}
        r = evaluate.eval_retrieval(m, test, os.path.basename(model_dir))
        return {"r1": r["r1"], "r5": r["r5"], "itm_r1": r["itm_r1"]}


def run_seed(args, seed, test):
    work = os.path.join(args.work, f"seed-{seed}")
    data = os.path.join(work, "data")
    os.makedirs(data, exist_ok=True)
    results_path = os.path.join(work, "results.json")
    if os.path.exists(results_path):
        # The measured models stay; the filter's bookkeeping is cheap and re-read from capfilt.jsonl.
        with open(results_path) as f:
            result = json.load(f)
        web_dir = os.path.join(data, "web")
        result["filter"] = filter_quality(read_jsonl(os.path.join(work, "capfilt.jsonl")), web_dir)
        return result
    # init_from_captioner builds its starting point from WORK/data/val
    val = os.path.join(data, "val")
    if not os.path.exists(val):
        os.symlink(os.path.join(args.work, "data", "val"), val)
    web_dir = generate(data, "web", args.web_count, 100 + seed, noise=args.noise)
    clean_dir = generate(data, "clean", args.clean_count, 200 + seed, negatives=2 if args.explicit_negatives else 0)
    clean_captions = absolute(read_jsonl(os.path.join(clean_dir, "captions.jsonl")), clean_dir)
    clean_pairs = (absolute(read_jsonl(os.path.join(clean_dir, "match.jsonl")), clean_dir)
                   if args.explicit_negatives else clean_captions)
    web_rows = absolute(read_jsonl(os.path.join(web_dir, "web.jsonl")), web_dir)
    manifests = {}
    for name, rows in [("noisy", web_rows + clean_captions), ("clean-captions", clean_captions),
                       ("clean-pairs", clean_pairs)]:
        manifests[name] = os.path.join(work, name + ".jsonl")
        if not os.path.exists(manifests[name]):
            write_jsonl(manifests[name], rows)
    init = {t: scene.init_from_captioner(work, t, args.blip, args.threads, args.vision_from, vision_only=True)
            for t in ("caption", "match")}
    steps = {"caption": args.caption_steps, "match": args.filter_steps}
    a = {t: train(work, t, f"a-{t}", init[t], manifests["noisy"], steps[t], 5e-4, 200, args, seed) for t in steps}
    b = {"caption": train(work, "caption", "b-caption", a["caption"], manifests["clean-captions"],
                          args.finetune_steps, 1e-4, 50, args, seed),
         "match": train(work, "match", "b-match", a["match"], manifests["clean-pairs"],
                        args.finetune_steps, 1e-4, 50, args, seed)}
    records = read_jsonl(capfilt(work, b["caption"], b["match"], web_dir, args, seed))
    manifests["bootstrapped"] = os.path.join(work, "bootstrapped.jsonl")
    if not os.path.exists(manifests["bootstrapped"]):
        write_jsonl(manifests["bootstrapped"], bootstrapped_rows(records, web_dir, clean_captions))
    d = {t: train(work, t, f"d-{t}", init[t], manifests["bootstrapped"], steps[t], 5e-4, 200, args, seed)
         for t in steps}
    log("measuring (a), (b) and (d) on the test split")
    result = {"seed": seed, "filter": filter_quality(records, web_dir),
              "rows": {k: len(read_jsonl(v)) for k, v in manifests.items()}}
    for label, models in (("a", a), ("b", b), ("d", d)):
        result[label] = {**measure(models["caption"], "caption", test, args.threads),
                         **measure(models["match"], "match", test, args.threads)}
    result["seconds"] = {name: seconds_of(os.path.join(work, name))
                         for name in ["a-caption", "a-match", "b-caption", "b-match", "capfilt.jsonl",
                                      "d-caption", "d-match"]}
    with open(results_path + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(results_path + ".tmp", results_path)
    return result


CONFIG_FIELDS = ("web_count", "clean_count", "noise", "test_count", "caption_steps", "filter_steps",
                 "finetune_steps", "explicit_negatives")


def check_config(args):
    """Every step skips work whose output exists, so WORK holds one configuration: the first run
    records it in WORK/config.json and a run with other settings is refused, not mixed in."""
    config = {k: getattr(args, k) for k in CONFIG_FIELDS}
    path = os.path.join(args.work, "config.json")
    if os.path.exists(path):
        with open(path) as f:
            recorded = json.load(f)
        changed = {k: (recorded.get(k), v) for k, v in config.items() if recorded.get(k) != v}
        if changed:
            raise SystemExit(f"{args.work} holds a run with other settings "
                             + ", ".join(f"{k}: {a} there, {b} now" for k, (a, b) in changed.items())
                             + "; use another --work")
        return
    os.makedirs(args.work, exist_ok=True)
    with open(path + ".tmp", "w") as f:
        json.dump(config, f, indent=2)
    os.replace(path + ".tmp", path)


def pct(x):
    return "–" if x is None else f"{100 * x:.1f}%"


def spread(values):
    return f"{pct(statistics.mean(values))} ± {100 * statistics.pstdev(values):.1f}" if len(values) > 1 \
        else pct(values[0])


def report(results, args):
    seeds = [r["seed"] for r in results]
    lines = [f"Seeds {', '.join(map(str, seeds))}; web split {args.web_count} images, {pct(args.noise)} of "
             f"their captions corrupted; clean split {args.clean_count} images; test split {args.test_count} "
             f"scenes (seed 3); {args.caption_steps} captioner and {args.filter_steps} filter steps for (a) "
             f"and (d), {args.finetune_steps} for (b). Mean ± population standard deviation over the seeds.", "",
             "| trained on | caption content accuracy | text→image R@1 (ITC, 100 candidates) | R@1 + ITM re-rank |",
             "|---|---|---|---|"]
    for label, name in (("a", "(a) web + clean (noisy)"), ("d", "(d) bootstrapped: CapFilt(web) + clean"),
                        ("b", "(b) = (a) finetuned on clean: the captioner and filter of CapFilt")):
        lines.append(f"| {name} | {spread([r[label]['caption_accuracy'] for r in results])} | "
                     f"{spread([r[label]['r1'] for r in results])} | {spread([r[label]['itm_r1'] for r in results])} |")
    gains = [("caption content accuracy", "caption_accuracy"), ("R@1", "r1"), ("R@1 + ITM re-rank", "itm_r1")]
    lines += ["", "(d) − (a), per seed: " + "; ".join(
        f"{name} " + ", ".join(f"{100 * (r['d'][key] - r['a'][key]):+.1f}" for r in results) for name, key in gains)
        + " points."]
    lines += ["", "| filter (b) on the web split | " + " | ".join(f"seed {s}" for s in seeds) + " |",
              "|---|" + "---|" * len(seeds)]
    rows = [("corrupted web texts removed (recall)", lambda f: pct(f["corrupted_removed"])),
            ("clean web texts kept", lambda f: pct(f["clean_kept"])),
            ("precision of the removals", lambda f: pct(f["removal_precision"])),
            ("ITM AUC, clean against corrupted web texts", lambda f: f"{f['itm_auc']:.3f}"),
            ("corrupted removed at the threshold keeping 90% of clean",
             lambda f: pct(f["removed_keeping_90"])),
            ("synthetic captions content-correct", lambda f: pct(f["synthetic_correct"])),
            ("synthetic captions kept", lambda f: pct(f["synthetic_kept"])),
            ("kept synthetic captions content-correct", lambda f: pct(f["synthetic_kept_correct"]))]
    for name, get in rows:
        lines.append(f"| {name} | " + " | ".join(get(r["filter"]) for r in results) + " |")
    kinds = sorted({k for r in results for k in r["filter"]["removed_per_kind"]})
    for k in kinds:
        lines.append(f"| removed: {k} | " + " | ".join(pct(r["filter"]["removed_per_kind"].get(k)) for r in results) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", default=os.path.join(ROOT, "local", "capfilt"))
    ap.add_argument("--blip", default=os.path.join(ROOT, "build", "bin", "blip"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--web-count", type=int, default=10000)
    ap.add_argument("--clean-count", type=int, default=2000)
    ap.add_argument("--noise", type=float, default=NOISE, help="fraction of web captions corrupted")
    ap.add_argument("--test-count", type=int, default=1000)
    ap.add_argument("--caption-steps", type=int, default=2000, help="steps of (a) and (d)'s captioners")
    ap.add_argument("--filter-steps", type=int, default=1000, help="steps of (a) and (d)'s filters")
    ap.add_argument("--finetune-steps", type=int, default=500, help="steps of (b)'s finetuning on the clean split")
    ap.add_argument("--vision-from", default=os.path.join(ROOT, "Examples", "models", "caption"),
                    help="the captioner whose vision encoder every model starts from (frozen)")
    ap.add_argument("--no-explicit-negatives", dest="explicit_negatives", action="store_false")
    args = ap.parse_args()
    args.work = os.path.abspath(args.work)
    check_config(args)
    evaluate.use_library_beside(args.blip)
    data = os.path.join(args.work, "data")
    generate(data, "val", 300, 2, negatives=2)   # init_from_captioner reads its match.jsonl
    test = evaluate.Split(generate(data, "test", args.test_count, 3, noise=NOISE), 0)
    results = []
    for seed in args.seeds:
        log(f"seed {seed}")
        results.append(run_seed(args, seed, test))
    text = report(results, args)
    with open(os.path.join(args.work, "report.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
