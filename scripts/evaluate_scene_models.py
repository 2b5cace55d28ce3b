#!/usr/bin/env python3
"""Evaluate the three scene-world BLIPs (fp32 Hugging Face directories and their int8 files)
on a test split written by `python3 -m scripts.scene_world generate`.

    python3 scripts/evaluate_scene_models.py --models Examples/models --data local/scene/data/test \
        --blip build/bin/blip [--only caption|vqa|match]... [--int8] [--limit N] [--json OUT] [--markdown]

MODELS holds caption/, vqa/, match/ (HF directories) and caption.int8, vqa.int8, match.int8
(`blip quantize` files). Measures, on the first N scenes of the split (scenes.jsonl order):

- caption content accuracy: greedy caption with the prompt "a picture of" (the prompt is
  stripped from the output), checked by scripts.scene_world.parse.check_caption, with the
  histogram of its error reasons;
- VQA accuracy: greedy answer to each vqa.jsonl row of those scenes, exact match
  (lower-cased, stripped), overall and per question type;
- filter ITM AUC: ITM probability of each image with its web.jsonl text; rank AUC (ties count
  half) of clean (noisy=false) above corrupted (noisy=true) rows;
- text->image retrieval among 100 candidates: consecutive blocks of 100 scenes; each scene's
  clean caption (its first captions.jsonl row) ranks the block's images by ITC cosine
  (embed_text . embed_image; a tie with the true image counts against it); R@1 and R@5 are
  averaged over the blocks (a remainder smaller than a block is left out, unless there is no
  full block: then the one block is all N scenes). "+ ITM" re-ranks the ITC top 10 by ITM
  probability (blip.Model.retrieve(..., top_k=10, rerank=True), BLIP's two-stage retrieval).

Everything runs in-process through the Python binding (`import blip`). When BLIP_LIBRARY is
not set, the binding is pointed at the libblip beside BIN (BIN/../lib/libblip.so.0), so the
evaluated library is the one that trained and quantized the models.

The int8 column is filled when MODELS/TASK.int8 exists (a missing file is a warning, or an
error with --int8). Exit status is non-zero only on errors (missing inputs, library errors),
never because of low scores.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from scripts.scene_world.parse import check_caption  # noqa: E402
from scripts.scene_world.scene import Scene  # noqa: E402

TASKS = ["caption", "vqa", "match"]
PROMPT = "a picture of"
BLOCK = 100
RERANK_K = 10
CAPTION_BATCH = 16
VARIANTS = ["fp32", "int8"]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Progress:
    """One line per step on stderr: what, done/total, elapsed, ETA."""

    def __init__(self, label, total, every=None):
        self.label, self.total = label, total
        self.every = every or max(1, total // 10)
        self.started = time.time()
        self.last = 0

    def update(self, done, force=False):
        if not force and done - self.last < self.every and done < self.total:
            return
        self.last = done
        elapsed = time.time() - self.started
        eta = elapsed / done * (self.total - done) if done else 0.0
        print(f"  [{self.label}] {done}/{self.total}  {elapsed:.1f} s  eta {eta:.0f} s", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# data

class Split:
    def __init__(self, root, limit):
        self.root = root
        scenes = read_jsonl(os.path.join(root, "scenes.jsonl"))
        if limit:
            scenes = scenes[:limit]
        if not scenes:
            raise SystemExit(f"no scenes in {root}/scenes.jsonl")
        self.scene_rows = scenes
        self.ids = [s["image_id"] for s in scenes]
        wanted = set(self.ids)
        self.image = {s["image_id"]: self.path(s["image"]) for s in scenes}
        self.scene = {s["image_id"]: Scene.from_json(s) for s in scenes}
        self.caption = {}
        for r in read_jsonl(os.path.join(root, "captions.jsonl")):
            if r["image_id"] in wanted and r["image_id"] not in self.caption:
                self.caption[r["image_id"]] = r["text"]
        self.vqa = [r for r in read_jsonl(os.path.join(root, "vqa.jsonl")) if r["image_id"] in wanted]
        self.web = [r for r in read_jsonl(os.path.join(root, "web.jsonl")) if r["image_id"] in wanted]
        missing = [i for i in self.ids if not os.path.exists(self.image[i])]
        if missing:
            raise SystemExit(f"{len(missing)} images missing, e.g. {self.image[missing[0]]}")

    def path(self, rel):
        return rel if os.path.isabs(rel) else os.path.join(self.root, rel)


# ---------------------------------------------------------------------------------------------
# measures

def strip_prompt(text, prompt=PROMPT):
    t = text.strip()
    if t.lower().startswith(prompt.lower()):
        t = t[len(prompt):].strip()
    return t


def eval_caption(model, split, label):
    ids = split.ids
    prog = Progress(label + " caption", len(ids))
    correct = 0
    reasons = {}
    examples = []
    for start in range(0, len(ids), CAPTION_BATCH):
        chunk = ids[start:start + CAPTION_BATCH]
        texts = model.caption([split.image[i] for i in chunk], prompt=PROMPT)
        for image_id, text in zip(chunk, texts):
            r = check_caption(strip_prompt(text), split.scene[image_id])
            if r.ok:
                correct += 1
            else:
                reasons[r.reason] = reasons.get(r.reason, 0) + 1
                if len(examples) < 10:
                    examples.append({"image_id": image_id, "caption": text, "reason": r.reason,
                                     "truth": split.caption.get(image_id)})
        prog.update(start + len(chunk))
    return {"captions": len(ids), "correct": correct, "accuracy": correct / len(ids),
            "errors": dict(sorted(reasons.items())), "error_examples": examples}


def eval_vqa(model, split, label):
    rows = split.vqa
    if not rows:
        raise SystemExit("no vqa.jsonl rows for the selected scenes")
    # One call per distinct question, over every image it is asked about.
    by_question = {}
    for k, r in enumerate(rows):
        by_question.setdefault(r["question"], []).append(k)
    answers = [None] * len(rows)
    prog = Progress(label + " vqa", len(rows))
    done = 0
    for question, ks in by_question.items():
        out = model.answer([split.path(rows[k]["image"]) for k in ks], question)
        for k, a in zip(ks, out):
            answers[k] = a
        done += len(ks)
        prog.update(done)
    per = {}
    ok = 0
    examples = []
    for r, a in zip(rows, answers):
        hit = a.strip().lower() == str(r["answer"]).strip().lower()
        ok += hit
        c = per.setdefault(r.get("type", "?"), [0, 0])
        c[0] += hit
        c[1] += 1
        if not hit and len(examples) < 10:
            examples.append({"image_id": r["image_id"], "question": r["question"], "answer": a, "truth": r["answer"]})
    return {"questions": len(rows), "correct": ok, "accuracy": ok / len(rows),
            "per_type": {t: {"accuracy": c[0] / c[1], "questions": c[1]} for t, c in sorted(per.items())},
            "error_examples": examples}


def rank_auc(positives, negatives):
    """P(positive score > negative score) + 0.5 P(tie): Mann-Whitney U / (n_pos n_neg)."""
    if not positives or not negatives:
        return None
    scored = sorted([(s, 1) for s in positives] + [(s, 0) for s in negatives])
    rank_sum = 0.0  # sum of the positives' (1-based, tie-averaged) ranks
    i = 0
    while i < len(scored):
        j = i
        while j < len(scored) and scored[j][0] == scored[i][0]:
            j += 1
        avg = (i + 1 + j) / 2.0
        rank_sum += avg * sum(1 for _, p in scored[i:j] if p)
        i = j
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)


def eval_itm_filter(model, split, label):
    rows = split.web
    if not rows:
        raise SystemExit("no web.jsonl rows for the selected scenes")
    prog = Progress(label + " itm", len(rows))
    clean, noisy = [], []
    per_kind = {}
    for k, r in enumerate(rows):
        itm, _ = model.match(split.path(r["image"]), r["text"])
        if r.get("noisy"):
            noisy.append(itm)
            per_kind.setdefault(r.get("noise") or "?", []).append(itm)
        else:
            clean.append(itm)
        prog.update(k + 1)
    mean = lambda xs: sum(xs) / len(xs) if xs else None  # noqa: E731
    return {"rows": len(rows), "clean": len(clean), "noisy": len(noisy), "auc": rank_auc(clean, noisy),
            "mean_itm_clean": mean(clean), "mean_itm_noisy": mean(noisy),
            # What CapFilt's default threshold does with these texts (itm >= 0.5 keeps a text).
            "clean_kept_at_0.5": mean([x >= 0.5 for x in clean]), "noisy_removed_at_0.5": mean([x < 0.5 for x in noisy]),
            "auc_per_kind": {kind: rank_auc(clean, v) for kind, v in sorted(per_kind.items())}}


def blocks_of(ids):
    full = [ids[s:s + BLOCK] for s in range(0, len(ids) - BLOCK + 1, BLOCK)]
    return full if full else [ids]


def eval_retrieval(model, split, label):
    import numpy as np
    ids = [i for i in split.ids if i in split.caption]
    blocks = blocks_of(ids)
    prog = Progress(label + " retrieval", len(blocks), every=1)
    r1, r5, rr1, rr5 = [], [], [], []
    for b, block in enumerate(blocks):
        images = [split.image[i] for i in block]
        texts = [split.caption[i] for i in block]
        img = np.stack(model.embed_image(images))
        txt = np.stack(model.embed_text(texts))
        sim = txt @ img.T                                      # [text, image]
        true = np.diag(sim)[:, None]
        # rank of the true image: images scoring higher, plus other images tied with it
        rank = (sim > true).sum(1) + ((sim == true).sum(1) - 1)
        r1.append(float((rank < 1).mean()))
        r5.append(float((rank < 5).mean()))
        hits = model.retrieve(images, texts, top_k=RERANK_K, rerank=True)
        order = [[h[0] for h in row] for row in hits]
        rr1.append(sum(1 for q, o in enumerate(order) if q in o[:1]) / len(block))
        rr5.append(sum(1 for q, o in enumerate(order) if q in o[:5]) / len(block))
        prog.update(b + 1)
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return {"blocks": len(blocks), "block_size": len(blocks[0]), "queries": sum(len(b) for b in blocks),
            "r1": mean(r1), "r5": mean(r5), "itm_r1": mean(rr1), "itm_r5": mean(rr5), "rerank_top_k": RERANK_K}


# ---------------------------------------------------------------------------------------------
# report

def rows_for(results):
    """[(measure, {variant: value}, kind)] for the table; kind 'pct' (accuracy-like), 'auc', 'count'."""
    rows = []

    def get(task, *path):
        out = {}
        for v in VARIANTS:
            r = results.get(v, {}).get(task)
            for p in path:
                r = r.get(p) if isinstance(r, dict) else None
            if r is not None:
                out[v] = r
        return out

    have = lambda task: any(task in results.get(v, {}) for v in VARIANTS)  # noqa: E731
    if have("caption"):
        rows.append(("caption content accuracy", get("caption", "accuracy"), "pct"))
        reasons = sorted({k for v in VARIANTS for k in results.get(v, {}).get("caption", {}).get("errors", {})})
        for reason in reasons:
            vals = {v: results[v]["caption"]["errors"].get(reason, 0) for v in VARIANTS if "caption" in results.get(v, {})}
            rows.append((f"  caption errors: {reason}", vals, "count"))
    if have("vqa"):
        rows.append(("VQA accuracy", get("vqa", "accuracy"), "pct"))
        types = sorted({k for v in VARIANTS for k in results.get(v, {}).get("vqa", {}).get("per_type", {})})
        for t in types:
            rows.append((f"  VQA {t}", get("vqa", "per_type", t, "accuracy"), "pct"))
    if have("itm"):
        rows.append(("filter ITM AUC (clean vs noisy web text)", get("itm", "auc"), "auc"))
        rows.append(("  clean web texts kept at ITM ≥ 0.5", get("itm", "clean_kept_at_0.5"), "pct"))
        rows.append(("  corrupted web texts removed at ITM ≥ 0.5", get("itm", "noisy_removed_at_0.5"), "pct"))
    if have("retrieval"):
        some = next(results[v]["retrieval"] for v in VARIANTS if "retrieval" in results.get(v, {}))
        n = some["block_size"]
        rows.append((f"text→image R@1 (ITC, {n} candidates)", get("retrieval", "r1"), "pct"))
        rows.append((f"text→image R@5 (ITC, {n} candidates)", get("retrieval", "r5"), "pct"))
        rows.append((f"text→image R@1 (ITC top {RERANK_K} + ITM)", get("retrieval", "itm_r1"), "pct"))
        rows.append((f"text→image R@5 (ITC top {RERANK_K} + ITM)", get("retrieval", "itm_r5"), "pct"))
    return rows


def fmt(value, kind, diff=False):
    if value is None:
        return "—"
    if kind == "pct":
        return f"{value * 100:+.1f} pp" if diff else f"{value * 100:.1f}%"
    if kind == "auc":
        return f"{value:+.4f}" if diff else f"{value:.4f}"
    return f"{value:+d}" if diff else f"{value:d}"


def table(results):
    header = ["measure", "fp32", "int8", "int8 − fp32"]
    body = []
    for name, vals, kind in rows_for(results):
        a, b = vals.get("fp32"), vals.get("int8")
        d = b - a if a is not None and b is not None else None
        body.append([name, fmt(a, kind), fmt(b, kind), fmt(d, kind, diff=True)])
    widths = [max(len(r[c]) for r in [header] + body) for c in range(4)]
    line = lambda r: "| " + " | ".join(  # noqa: E731
        (r[c].ljust(widths[c]) if c == 0 else r[c].rjust(widths[c])) for c in range(4)) + " |"
    sep = "|" + "|".join(["-" * (widths[0] + 2)] + ["-" * (w + 1) + ":" for w in widths[1:]]) + "|"
    return "\n".join([line(header), sep] + [line(r) for r in body])


def setup_notes(meta):
    n = meta["scenes"]
    parts = [f"{n} test scenes of `{meta['data']}`"]
    if meta.get("vqa_questions"):
        parts.append(f"{meta['vqa_questions']} VQA questions")
    if meta.get("web_rows"):
        parts.append(f"{meta['web_rows']} web captions ({meta['web_noisy']} corrupted)")
    return ", ".join(parts)


def markdown_report(results, meta):
    lines = ["## Scene-world models: evaluation", "",
             f"Models `{meta['models']}` (fp32 = the Hugging Face directories, int8 = the `blip quantize` files), "
             f"libblip {meta['libblip']}; {setup_notes(meta)}. Greedy decoding; captions with the prompt "
             f"\"{PROMPT}\" (stripped before checking) judged by `scripts/scene_world/parse.py`; VQA by exact match; "
             f"ITM AUC ranks clean above corrupted web captions (ties half); retrieval ranks each block's images "
             f"for each image's first clean caption (R@K averaged over blocks), then re-ranks the ITC top "
             f"{RERANK_K} by ITM probability.", "", table(results), ""]
    for v in VARIANTS:
        r = results.get(v, {}).get("itm")
        if r and r.get("auc_per_kind"):
            kinds = ", ".join(f"{k} {a:.3f}" for k, a in r["auc_per_kind"].items() if a is not None)
            lines.append(f"- {v} ITM AUC per corruption kind: {kinds}")
    for v in VARIANTS:
        r = results.get(v, {}).get("retrieval")
        if r:
            lines.append(f"- {v} retrieval: {r['blocks']} block(s) of {r['block_size']} images")
            break
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------

def use_library_beside(blip_bin):
    if os.environ.get("BLIP_LIBRARY") or not blip_bin:
        return
    lib = os.path.join(os.path.dirname(os.path.abspath(blip_bin)), "..", "lib", "libblip.so.0")
    if os.path.exists(lib):
        os.environ["BLIP_LIBRARY"] = os.path.normpath(lib)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True, help="folder with caption/ vqa/ match/ and TASK.int8")
    ap.add_argument("--data", required=True, help="a test split folder (scenes.jsonl, images/, ...)")
    ap.add_argument("--blip", default=os.path.join(ROOT, "build", "bin", "blip"),
                    help="the blip program; its ../lib/libblip.so.0 is used unless BLIP_LIBRARY is set")
    ap.add_argument("--only", choices=TASKS, action="append", help="evaluate only this model (repeatable)")
    ap.add_argument("--int8", action="store_true", help="a missing TASK.int8 file is an error (else a warning)")
    ap.add_argument("--no-int8", action="store_true", help="evaluate the fp32 directories only")
    ap.add_argument("--limit", type=int, default=0, help="first N scenes (default all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write every number (and a few wrong answers) to this file")
    ap.add_argument("--markdown", action="store_true",
                    help="print a markdown report section (heading, setup, table, notes) instead of the bare table")
    args = ap.parse_args()
    if args.int8 and args.no_int8:
        ap.error("--int8 and --no-int8 exclude each other")

    use_library_beside(args.blip)
    import blip  # after BLIP_LIBRARY is settled

    tasks = args.only or TASKS
    split = Split(args.data, args.limit)
    print(f"evaluating {', '.join(tasks)} on {len(split.ids)} scenes of {args.data} "
          f"(libblip {blip.__version__}, {os.environ.get('BLIP_LIBRARY', 'bundled library')})",
          file=sys.stderr, flush=True)

    plan = []  # (variant, task, path)
    for task in tasks:
        fp32 = os.path.join(args.models, task)
        if not os.path.exists(os.path.join(fp32, "config.json")):
            raise SystemExit(f"error: {fp32} is not a model directory (no config.json)")
        plan.append(("fp32", task, fp32))
        if args.no_int8:
            continue
        q = os.path.join(args.models, task + ".int8")
        if os.path.exists(q):
            plan.append(("int8", task, q))
        elif args.int8:
            raise SystemExit(f"error: {q} does not exist (blip quantize --model {fp32} --out {q})")
        else:
            print(f"warning: {q} does not exist; no int8 column for {task}", file=sys.stderr)

    results = {v: {} for v in VARIANTS}
    seconds = {}
    started = time.time()
    for variant, task, path in plan:
        t0 = time.time()
        label = f"{variant} {task}"
        print(f"{label}: loading {path}", file=sys.stderr, flush=True)
        with blip.Model(path, threads=args.threads) as m:
            if task == "caption":
                results[variant]["caption"] = eval_caption(m, split, variant)
            elif task == "vqa":
                results[variant]["vqa"] = eval_vqa(m, split, variant)
            else:
                results[variant]["itm"] = eval_itm_filter(m, split, variant)
                results[variant]["retrieval"] = eval_retrieval(m, split, variant)
        seconds[label] = round(time.time() - t0, 1)
        print(f"{label}: done in {seconds[label]} s", file=sys.stderr, flush=True)

    meta = {"models": args.models, "data": args.data, "scenes": len(split.ids),
            "vqa_questions": len(split.vqa) if "vqa" in tasks else 0,
            "web_rows": len(split.web) if "match" in tasks else 0,
            "web_noisy": sum(1 for r in split.web if r.get("noisy")) if "match" in tasks else 0,
            "libblip": blip.__version__, "library": os.environ.get("BLIP_LIBRARY"),
            "prompt": PROMPT, "threads": args.threads, "seconds": seconds,
            "total_seconds": round(time.time() - started, 1)}
    try:
        meta["blip_cli_version"] = subprocess.run([args.blip, "--version"], capture_output=True, text=True,
                                                  timeout=30).stdout.strip()
    except OSError:
        pass
    print(markdown_report(results, meta) if args.markdown else table(results), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=2, ensure_ascii=False)
            f.write("\n")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(130)
