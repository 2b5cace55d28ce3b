#!/usr/bin/env python3
"""Check that transformers and libblip agree on the scene-world models (fp32 HF directories).

    python3 scripts/compare_scene_models_transformers.py --models Examples/models \
        --data local/scene/data/test [--limit 200] [--only caption|vqa|match]...

For each of MODELS/caption, MODELS/vqa, MODELS/match:
- loads it with transformers (float32, `output_loading_info=True`): any missing, unexpected or
  mismatched key is printed and the script stops with status 1;
- caption: greedy `generate` (prompt "a picture of", processor(images, text=prompt): transformers
  turns [CLS] a picture of [SEP] into [DEC] a picture of, as libblip does; max_new_tokens 20)
  on the first N test images, compared token for token with libblip's `return_tokens=True` ids;
- vqa: greedy answers to every vqa.jsonl question of those images, compared the same way;
- match: ITM probability and ITC cosine of each image with its web.jsonl text (max |difference|).
A generation disagreement is a "float-noise tie" when transformers' two best logits at the first
differing step are less than 1e-4 apart; the others are real disagreements.

Exit status: 1 when loading reports keys or there is a real (non-tie) token disagreement.
Uses the libblip beside --blip (BIN/../lib/libblip.so.0) unless BLIP_LIBRARY is set. Torch runs
on --threads threads (default 1).
"""
import argparse
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from scripts.evaluate_scene_models import PROMPT, Split, use_library_beside  # noqa: E402

TIE = 1e-4
MAX_NEW = 20
BATCH = 16


def load_hf(cls, path):
    import torch
    model, info = cls.from_pretrained(path, output_loading_info=True, dtype=torch.float32)
    bad = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    print(f"  transformers {cls.__name__} {path}: "
          + ("; ".join(f"{k}: {sorted(map(str, v))}" for k, v in bad.items()) if bad else "no missing/unexpected keys"),
          flush=True)
    if bad:
        print(f"FAILED: transformers does not load {path} cleanly", flush=True)
        sys.exit(1)
    model.eval()
    return model, bad


def trim(seq, start, sep):
    """The sequence up to and including the first [SEP] at or after `start` (drops padding)."""
    seq = list(seq)
    for i in range(start, len(seq)):
        if seq[i] == sep:
            return seq[:i + 1]
    return seq


class Tally:
    def __init__(self, what):
        self.what = what
        self.n = self.same = self.ties = 0
        self.real = []       # examples of real disagreements
        self.tie_examples = []

    def add(self, key, hf_ids, lb_ids, logits, prompt_len, decode):
        self.n += 1
        if hf_ids == lb_ids:
            self.same += 1
            return
        pos = next((i for i, (a, b) in enumerate(zip(hf_ids, lb_ids)) if a != b), min(len(hf_ids), len(lb_ids)))
        step = pos - prompt_len
        margin = second = None
        if 0 <= step < len(logits):
            top = logits[step].topk(2)
            margin = float(top.values[0] - top.values[1])
            second = int(top.indices[1])
        row = {"key": key, "position": pos, "margin": margin,
               "libblip_took_second": second is not None and pos < len(lb_ids) and lb_ids[pos] == second,
               "transformers": decode(hf_ids), "libblip": decode(lb_ids), "hf_ids": hf_ids, "lb_ids": lb_ids}
        if margin is not None and margin < TIE:
            self.ties += 1
            self.tie_examples.append(row)
        else:
            self.real.append(row)

    def report(self):
        print(f"{self.what}: {self.same}/{self.n} identical token sequences, {self.ties} float-noise ties "
              f"(top-2 margin < {TIE:g}), {len(self.real)} real disagreements", flush=True)
        for r in self.real[:10]:
            m = "n/a" if r["margin"] is None else f"{r['margin']:.3g}"
            print(f"  {r['key']}: first difference at token {r['position']} (transformers top-2 margin {m}, "
                  f"libblip took transformers' 2nd: {r['libblip_took_second']})\n"
                  f"    transformers {r['hf_ids']} {r['transformers']!r}\n"
                  f"    libblip      {r['lb_ids']} {r['libblip']!r}")


def open_images(paths):
    from PIL import Image
    out = []
    for p in paths:
        with Image.open(p) as im:
            out.append(im.convert("RGB"))
    return out


def generate(model, inputs, prompt_len, sep):
    import torch
    with torch.no_grad():
        out = model.generate(**inputs, do_sample=False, num_beams=1, max_new_tokens=MAX_NEW,
                             output_logits=True, return_dict_in_generate=True)
    seqs = [trim(s.tolist(), prompt_len, sep) for s in out.sequences]
    logits = [[step[b] for step in out.logits] for b in range(len(seqs))]
    return seqs, logits


def compare_caption(path, split, threads, blip):
    from transformers import BlipForConditionalGeneration, BlipProcessor
    model, bad = load_hf(BlipForConditionalGeneration, path)
    processor = BlipProcessor.from_pretrained(path)
    sep = model.config.text_config.sep_token_id
    lb = blip.Model(path, threads=threads)
    tally = Tally("caption")
    ids = split.ids
    t0 = time.time()
    for s in range(0, len(ids), BATCH):
        chunk = ids[s:s + BATCH]
        paths = [split.image[i] for i in chunk]
        inputs = processor(images=open_images(paths), text=[PROMPT] * len(chunk), return_tensors="pt")
        prompt_len = inputs["input_ids"].shape[1] - 1          # [DEC] + prompt ([SEP] dropped)
        hf, logits = generate(model, inputs, prompt_len, sep)
        ours = lb.caption(paths, prompt=PROMPT, max_new_tokens=MAX_NEW, return_tokens=True)
        for k, image_id in enumerate(chunk):
            tally.add(image_id, hf[k], ours[k][1], logits[k], prompt_len,
                      lambda t: processor.decode(t, skip_special_tokens=True))
        print(f"  [caption] {s + len(chunk)}/{len(ids)}  {time.time() - t0:.1f} s", file=sys.stderr, flush=True)
    lb.close()
    return tally, bad


def compare_vqa(path, split, threads, blip):
    from transformers import BlipForQuestionAnswering, BlipProcessor
    model, bad = load_hf(BlipForQuestionAnswering, path)
    processor = BlipProcessor.from_pretrained(path)
    sep = model.config.text_config.sep_token_id
    lb = blip.Model(path, threads=threads)
    tally = Tally("vqa")
    by_question = {}
    for r in split.vqa:
        by_question.setdefault(r["question"], []).append(r)
    done, shown, t0 = 0, 0, time.time()
    for question, rows in by_question.items():
        for s in range(0, len(rows), BATCH):
            chunk = rows[s:s + BATCH]
            paths = [split.path(r["image"]) for r in chunk]
            # one question per batch: no padding in the question the answer decoder attends to
            inputs = processor(images=open_images(paths), text=[question] * len(chunk), return_tensors="pt")
            hf, logits = generate(model, inputs, 1, sep)
            ours = lb.answer(paths, question, max_new_tokens=MAX_NEW, return_tokens=True)
            for k, r in enumerate(chunk):
                tally.add(f"{r['image_id']} {question!r}", hf[k], ours[k][1], logits[k], 1,
                          lambda t: processor.decode(t, skip_special_tokens=True))
            done += len(chunk)
        if done - shown >= 100 or done == len(split.vqa):
            shown = done
            print(f"  [vqa] {done}/{len(split.vqa)}  {time.time() - t0:.1f} s", file=sys.stderr, flush=True)
    lb.close()
    return tally, bad


def compare_match(path, split, threads, blip):
    import torch
    from transformers import BlipForImageTextRetrieval, BlipProcessor
    model, bad = load_hf(BlipForImageTextRetrieval, path)
    processor = BlipProcessor.from_pretrained(path)
    lb = blip.Model(path, threads=threads)
    d_itm = d_itc = 0.0
    for r in split.web:
        p = split.path(r["image"])
        inputs = processor(images=open_images([p]), text=[r["text"]], return_tensors="pt")
        with torch.no_grad():
            itm = torch.softmax(model(**inputs, use_itm_head=True).itm_score, dim=1)[0, 1].item()
            itc = model(**inputs, use_itm_head=False).itm_score[0, 0].item()
        ours_itm, ours_itc = lb.match(p, r["text"])
        d_itm, d_itc = max(d_itm, abs(itm - ours_itm)), max(d_itc, abs(itc - ours_itc))
    lb.close()
    print(f"match: {len(split.web)} web captions, max |ITM probability difference| {d_itm:.2e}, "
          f"max |ITC cosine difference| {d_itc:.2e}", flush=True)
    return d_itm, d_itc, bad


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--limit", type=int, default=200, help="first N test scenes (200)")
    ap.add_argument("--only", choices=["caption", "vqa", "match"], action="append")
    ap.add_argument("--blip", default=os.path.join(ROOT, "build", "bin", "blip"))
    ap.add_argument("--threads", type=int, default=1, help="libblip and torch threads (1)")
    ap.add_argument("--match-tolerance", type=float, default=1e-3,
                    help="ITM/ITC differences above this fail the match check (1e-3)")
    args = ap.parse_args()

    use_library_beside(args.blip)
    import blip
    import torch
    import transformers
    torch.set_num_threads(args.threads)
    split = Split(args.data, args.limit)
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, libblip {blip.__version__} "
          f"({os.environ.get('BLIP_LIBRARY', 'bundled library')}); {len(split.ids)} scenes of {args.data}", flush=True)
    failed = False
    for task in args.only or ["caption", "vqa", "match"]:
        path = os.path.join(args.models, task)
        if task == "match":
            d_itm, d_itc, bad = compare_match(path, split, args.threads, blip)
            failed |= bool(bad) or max(d_itm, d_itc) > args.match_tolerance
            continue
        tally, bad = (compare_caption if task == "caption" else compare_vqa)(path, split, args.threads, blip)
        tally.report()
        failed |= bool(bad) or bool(tally.real)
    print("FAILED" if failed else "OK", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
