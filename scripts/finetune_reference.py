#!/usr/bin/env python3
"""PyTorch reference for libblip's trainer (`blip finetune`), with transformers + torch.optim.AdamW.

    python3 scripts/finetune_reference.py --task caption --model DIR --train M.jsonl \
        --max-steps 3 --batch-size 3 --lr 1e-3 --weight-decay 0.05 --label-smoothing 0.1 \
        --prompt "a picture of" --out-json out.json [--out-weights w.safetensors] [--dump-grads g.safetensors]

Implements the semantics of /work/shared/interface.md (`blip finetune`) for the settings the
acceptance checks use: no augmentation, no shuffle (batches = consecutive manifest rows, the last
one of an epoch may be smaller; with --max-steps beyond one epoch the manifest is walked again),
constant lr, no warmup, no clipping, one micro-batch per step, model.train() (dropout as the
config says, normally 0), float32. Images: BlipImageProcessor(Pil).from_pretrained(DIR), i.e. the
inference preprocessing.

What `.loss` is in transformers 5.24 (read from the installed modeling_blip.py / modeling_blip_text.py):
- BlipForConditionalGeneration(pixel_values, input_ids, attention_mask, labels).loss: the text
  decoder (causal, cross-attending to all vision tokens) computes `CrossEntropyLoss(reduction="mean",
  label_smoothing=text_decoder.label_smoothing)` (ignore_index -100) of `logits[:, :-1]` against
  `labels[:, 1:]` (the shift is done inside BlipTextLMHeadModel), flattened over the whole batch:
  the mean over all non-ignored target tokens of the batch (token-weighted, NOT a mean of per-row
  means). Smoothing as torch defines it: per token (1-S)·(-log p[y]) + S·mean_c(-log p[c]) over
  all vocab_size classes ([DEC]/[ENC] included). `BlipTextLMHeadModel.__init__` copies
  config.label_smoothing into `self.label_smoothing`, so changing the config after loading has no
  effect: we set both.
- BlipForQuestionAnswering(pixel_values, input_ids, attention_mask, decoder_input_ids,
  decoder_attention_mask, labels).loss: question = text_encoder (bidirectional, cross-attention to
  the vision tokens, all-ones image mask); the answer decoder runs on decoder_input_ids with
  decoder_attention_mask (causal × padding), cross-attends to the question states with
  encoder_attention_mask = the question's attention_mask; the loss is the same shifted,
  token-weighted mean CE with label smoothing (its "labels are already shifted right" comment
  only means decoder_input_ids defaults to labels; the shift still happens inside), then
  `.mean()` of that scalar (a no-op).
- BlipForImageTextRetrieval has no loss; the match (filter) loss below is ours (ITC + ITM with
  given hard negatives, as interface.md/the lead's brief defines it).

Parameters and names: transformers 5 ties text_decoder.cls.predictions.decoder.weight to
text_decoder.bert.embeddings.word_embeddings.weight and decoder.bias to cls.predictions.bias;
`named_parameters()` yields each shared tensor once, under the word-embeddings name and
`text_decoder.cls.predictions.bias`. Those names are exactly the keys save_pretrained writes
(the tied decoder.weight / decoder.bias keys are omitted; the position_ids buffers are not
persistent). Gradients (--dump-grads) and weights (--out-weights) use these names; the match
task's temperature gradient is the tensor `temp`.
"""
import argparse
import json
import os
import shutil
import sys
import tempfile

import torch
import torch.nn.functional as F
from PIL import Image

MAX_QUESTION_LENGTH = 40  # interface.md: the question tokenized as for `answer`
MAX_ANSWER_LENGTH = 10


# ---------------------------------------------------------------------------------------------
# Loading

def model_class(model_dir):
    from transformers import BlipForConditionalGeneration, BlipForImageTextRetrieval, BlipForQuestionAnswering
    with open(os.path.join(model_dir, "config.json")) as f:
        arch = json.load(f)["architectures"][0]
    return {"BlipForConditionalGeneration": BlipForConditionalGeneration,
            "BlipForQuestionAnswering": BlipForQuestionAnswering,
            "BlipForImageTextRetrieval": BlipForImageTextRetrieval}[arch]


TASK_ARCH = {"caption": "BlipForConditionalGeneration", "vqa": "BlipForQuestionAnswering",
             "match": "BlipForImageTextRetrieval"}


def load_model(model_dir, task, label_smoothing=0.0):
    cls = model_class(model_dir)
    if cls.__name__ != TASK_ARCH[task]:
        raise SystemExit(f"--task {task} needs a {TASK_ARCH[task]} model, {model_dir} is {cls.__name__}")
    model = cls.from_pretrained(model_dir, dtype=torch.float32)
    model.config.text_config.label_smoothing = label_smoothing
    if hasattr(model, "text_decoder"):
        model.text_decoder.label_smoothing = label_smoothing  # read once in __init__
    model.train()
    return model


def image_processor(model_dir):
    """The PIL backend explicitly: what transformers picks without torchvision, and what libblip
    implements (PIL bicubic)."""
    try:
        from transformers.models.blip.image_processing_pil_blip import BlipImageProcessorPil as P
    except ImportError:
        from transformers import BlipImageProcessor as P
    return P.from_pretrained(model_dir)


def tokenizer(model_dir):
    from transformers import BertTokenizer
    return BertTokenizer.from_pretrained(model_dir)


def read_manifest(path):
    base = os.path.dirname(os.path.abspath(path))
    rows = []
    with open(path) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                row["_path"] = os.path.join(base, row["image"])
                rows.append(row)
    return rows


def batches(rows, batch_size, max_steps):
    """Consecutive rows, the last batch of an epoch possibly smaller; epochs repeat until max_steps."""
    per_epoch = [rows[i:i + batch_size] for i in range(0, len(rows), batch_size)]
    out = []
    while len(out) < max_steps:
        out.extend(per_epoch)
    return out[:max_steps]


# ---------------------------------------------------------------------------------------------
# Batch encoding (interface.md `blip finetune` semantics)

def pad(seqs, value=0):
    n = max(len(s) for s in seqs)
    ids = torch.tensor([s + [value] * (n - len(s)) for s in seqs], dtype=torch.long)
    mask = torch.tensor([[1] * len(s) + [0] * (n - len(s)) for s in seqs], dtype=torch.long)
    return ids, mask


def pixels(proc, rows):
    images = [Image.open(r["_path"]) for r in rows]
    return proc(images=images, return_tensors="pt")["pixel_values"].to(torch.float32)


def caption_inputs(tok, rows, prompt, max_text_length, bos_id):
    prompt_len = 1 + len(tok(prompt, add_special_tokens=False)["input_ids"]) if prompt else 0
    seqs = []
    for r in rows:
        text = prompt + " " + r["text"] if prompt else r["text"]
        ids = tok(text, truncation=True, max_length=max_text_length)["input_ids"]
        ids[0] = bos_id
        seqs.append(ids)
    ids, mask = pad(seqs)
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :prompt_len] = -100
    return dict(input_ids=ids, attention_mask=mask, labels=labels)


def vqa_inputs(tok, rows, bos_id):
    q = [tok(r["question"], truncation=True, max_length=MAX_QUESTION_LENGTH)["input_ids"] for r in rows]
    a = []
    for r in rows:
        ids = tok(r["answer"], truncation=True, max_length=MAX_ANSWER_LENGTH)["input_ids"]
        ids[0] = bos_id
        a.append(ids)
    q_ids, q_mask = pad(q)
    a_ids, a_mask = pad(a)
    return dict(input_ids=q_ids, attention_mask=q_mask, decoder_input_ids=a_ids,
                decoder_attention_mask=a_mask, labels=a_ids.masked_fill(a_mask == 0, -100))


def match_inputs(tok, rows, max_text_length):
    ids, mask = pad([tok(r["text"], truncation=True, max_length=max_text_length)["input_ids"] for r in rows])
    out = dict(input_ids=ids, attention_mask=mask, image_ids=image_ids(rows), explicit=None)
    # Optional "negatives": texts known not to match the row's image, extra ITM negatives.
    negs = [(i, t) for i, r in enumerate(rows) for t in r.get("negatives", [])]
    if negs:
        n_ids, n_mask = pad([tok(t, truncation=True, max_length=max_text_length)["input_ids"] for _, t in negs])
        out["explicit"] = (n_ids, n_mask, torch.tensor([i for i, _ in negs], dtype=torch.long))
    return out


def make_negatives(image_ids, batch_size, max_steps, seed):
    """Random valid ITM hard negatives per step (--negatives format): for each row of a batch, an
    index of the same batch whose image_id differs (never a positive)."""
    g = torch.Generator().manual_seed(seed)
    steps = []
    for b in batches(list(image_ids), batch_size, max_steps):
        entry = {}
        for key in ("neg_image_for_text", "neg_text_for_image"):
            picks = []
            for i in range(len(b)):
                valid = [j for j in range(len(b)) if b[j] != b[i]]
                if not valid:
                    raise SystemExit(f"a batch of {len(b)} rows has only image_id {b[i]!r}: no ITM negative")
                picks.append(valid[int(torch.randint(len(valid), (1,), generator=g))])
            entry[key] = picks
        steps.append(entry)
    return steps


def image_ids(rows):
    return [r.get("image_id", r["image"]) for r in rows]


# ---------------------------------------------------------------------------------------------
# The match (filter) loss: ITC + ITM with given hard negatives

def match_loss(model, temp, pixel_values, input_ids, attention_mask, image_ids, neg_image_for_text, neg_text_for_image,
               explicit=None):
    with torch.no_grad():
        temp.clamp_(0.001, 0.5)
    image_embeds = model.vision_model(pixel_values=pixel_values)[0]
    image_feat = F.normalize(model.vision_proj(image_embeds[:, 0, :]), dim=-1)
    text_out = model.text_encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
    text_feat = F.normalize(model.text_proj(text_out[:, 0, :]), dim=-1)
    sim_i2t = image_feat @ text_feat.t() / temp
    sim_t2i = text_feat @ image_feat.t() / temp
    n = len(image_ids)
    pos = torch.tensor([[1.0 if image_ids[i] == image_ids[j] else 0.0 for j in range(n)] for i in range(n)])
    targets = pos / pos.sum(1, keepdim=True)
    loss_i2t = -(F.log_softmax(sim_i2t, dim=1) * targets).sum(1).mean()
    loss_t2i = -(F.log_softmax(sim_t2i, dim=1) * targets).sum(1).mean()
    loss_itc = (loss_i2t + loss_t2i) / 2

    for i in range(n):
        for name, j in (("neg_image_for_text", neg_image_for_text[i]), ("neg_text_for_image", neg_text_for_image[i])):
            if image_ids[i] == image_ids[j]:
                raise SystemExit(f"{name}[{i}] = {j}: rows {i} and {j} share image_id {image_ids[i]!r}")
    image_atts = torch.ones(image_embeds.shape[:-1], dtype=torch.long)
    nit = torch.tensor(neg_image_for_text, dtype=torch.long)
    nti = torch.tensor(neg_text_for_image, dtype=torch.long)

    def cls_state(ids, mask, embeds):
        return model.text_encoder(input_ids=ids, attention_mask=mask, encoder_hidden_states=embeds,
                                  encoder_attention_mask=image_atts)[0][:, 0, :]

    pos_state = cls_state(input_ids, attention_mask, image_embeds)
    neg_a = cls_state(input_ids, attention_mask, image_embeds[nit])
    neg_b = cls_state(input_ids[nti], attention_mask[nti], image_embeds)
    states = [pos_state, neg_a, neg_b]
    if explicit is not None:   # (ids, mask, owner row) of each explicit negative text
        e_ids, e_mask, owners = explicit
        states.append(cls_state(e_ids, e_mask, image_embeds[owners]))
    itm_logits = model.itm_head(torch.cat(states, dim=0))
    itm_labels = torch.cat([torch.ones(n, dtype=torch.long), torch.zeros(itm_logits.shape[0] - n, dtype=torch.long)])
    loss_itm = F.cross_entropy(itm_logits, itm_labels)
    return loss_itc + loss_itm, loss_itc, loss_itm


# ---------------------------------------------------------------------------------------------
# Training

def trainable_parameters(model, freeze):
    """(name, tensor) of every trainable tensor, each shared tensor once (named_parameters dedups).
    freeze vision → vision_model frozen; freeze text → text_encoder and text_decoder frozen (the
    projections, the ITM head and temp stay trainable)."""
    frozen = {"vision": ("vision_model.",), "text": ("text_encoder.", "text_decoder."), "none": ()}[freeze]
    out = []
    for name, p in model.named_parameters():
        if name.startswith(frozen):
            p.requires_grad_(False)
        else:
            out.append((name, p))
    return out


def save_safetensors(tensors, path, metadata=None):
    """F32 safetensors with a deterministic header (sorted keys and metadata; safetensors' own
    writer orders metadata by hash, which makes regenerated fixtures differ byte-wise)."""
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = dict(sorted(metadata.items()))
    for name in sorted(tensors):
        data = tensors[name].detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)


def save_weights(model, path):
    """model.safetensors exactly as save_pretrained writes it (F32)."""
    with tempfile.TemporaryDirectory() as d:
        model.to(torch.float32).save_pretrained(d)
        shutil.copy(os.path.join(d, "model.safetensors"), path)


def finetune(task, model_dir, train, max_steps, batch_size, lr, weight_decay=0.05, label_smoothing=0.0,
             prompt=None, max_text_length=40, freeze="none", negatives=None, dump_grads=None,
             out_weights=None, log=print):
    """Runs the reference; returns the result dict (--out-json). `negatives`: list per step of
    {"neg_image_for_text": [...], "neg_text_for_image": [...]} (match only)."""
    model = load_model(model_dir, task, label_smoothing if task != "match" else 0.0)
    proc, tok = image_processor(model_dir), tokenizer(model_dir)
    bos = model.config.text_config.bos_token_id
    params = trainable_parameters(model, freeze)
    temp = None
    if task == "match":
        temp = torch.nn.Parameter(torch.tensor(0.07, dtype=torch.float32))
        params.append(("temp", temp))
        if negatives is None:
            raise SystemExit("--task match needs --negatives FILE.json")
    optimizer = torch.optim.AdamW([p for _, p in params], lr=lr, betas=(0.9, 0.999), eps=1e-8,
                                  weight_decay=weight_decay)
    result = {"task": task, "losses": []}
    if task == "match":
        result["loss_itc"], result["loss_itm"] = [], []
    rows = read_manifest(train)
    for step, batch in enumerate(batches(rows, batch_size, max_steps)):
        optimizer.zero_grad(set_to_none=True)
        px = pixels(proc, batch)
        if task == "caption":
            loss = model(pixel_values=px, **caption_inputs(tok, batch, prompt, max_text_length, bos)).loss
        elif task == "vqa":
            loss = model(pixel_values=px, **vqa_inputs(tok, batch, bos)).loss
        else:
            if step >= len(negatives):
                raise SystemExit(f"--negatives has {len(negatives)} steps, step {step + 1} needs one")
            enc = match_inputs(tok, batch, max_text_length)
            neg = negatives[step]
            loss, itc, itm = match_loss(model, temp, px, enc["input_ids"], enc["attention_mask"], enc["image_ids"],
                                        neg["neg_image_for_text"], neg["neg_text_for_image"], enc["explicit"])
            result["loss_itc"].append(itc.item())
            result["loss_itm"].append(itm.item())
        loss.backward()
        if step == 0 and dump_grads:
            grads = {n: p.grad if p.grad is not None else torch.zeros_like(p) for n, p in params}
            save_safetensors(grads, dump_grads, {"format": "pt"})
        optimizer.step()
        result["losses"].append(loss.item())
        log(f"step {step + 1}: loss {loss.item():.6f}")
    result["steps"] = len(result["losses"])
    if temp is not None:
        result["temp"] = temp.item()
    if out_weights:
        save_weights(model, out_weights)
    return result, model


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=["caption", "vqa", "match"], required=True)
    ap.add_argument("--model", required=True, help="Hugging Face model directory (the class must fit the task)")
    ap.add_argument("--train", required=True, help="JSONL manifest; image paths relative to its folder")
    ap.add_argument("--max-steps", type=int, required=True,
                    help="optimizer steps; beyond one epoch the manifest is walked again from the start")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=1e-5)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--label-smoothing", type=float, default=0.1, help="caption / vqa only")
    ap.add_argument("--prompt", default=None, help="caption only: prepended as PROMPT + ' ' + text; its tokens get no loss")
    ap.add_argument("--max-text-length", type=int, default=40, help="caption and match texts (vqa: question 40, answer 10)")
    ap.add_argument("--freeze", choices=["vision", "text", "none"], default="none",
                    help="vision: vision_model frozen; text: text_encoder and text_decoder frozen "
                         "(vision_proj, text_proj, itm_head and temp stay trainable)")
    ap.add_argument("--negatives", help='match: {"steps": [{"neg_image_for_text": [...], "neg_text_for_image": [...]}, ...]}, '
                                        "one entry per step, indices into that step's batch")
    ap.add_argument("--out-json", required=True)
    ap.add_argument("--out-weights", help="final weights (F32 safetensors, save_pretrained's keys)")
    ap.add_argument("--dump-grads", help="gradients of every trainable tensor after the first backward (F32)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    negatives = None
    if args.negatives:
        with open(args.negatives) as f:
            negatives = json.load(f)["steps"]
    result, _ = finetune(args.task, args.model, args.train, args.max_steps, args.batch_size, args.lr,
                         args.weight_decay, args.label_smoothing, args.prompt, args.max_text_length, args.freeze,
                         negatives, args.dump_grads, args.out_weights, log=lambda s: print(s, file=sys.stderr))
    with open(args.out_json, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
