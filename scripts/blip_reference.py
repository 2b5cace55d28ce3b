"""Shared helpers for fixture, parity and benchmark scripts: random-weight BLIP models built
with Hugging Face transformers, and the reference outputs libblip must reproduce.

Needs: torch, transformers, pillow, numpy (pip install -r scripts/requirements.txt).
"""
import json
import os
import shutil

import numpy as np
import torch
from transformers import (BlipConfig, BlipForConditionalGeneration, BlipForImageTextRetrieval,
                          BlipForQuestionAnswering)

ARCHS = {
    "captioning": BlipForConditionalGeneration,
    "vqa": BlipForQuestionAnswering,
    "itm": BlipForImageTextRetrieval,
}

VOCAB = os.path.join(os.path.dirname(__file__), "..", "Tests", "BlipCoreTests", "Fixtures", "tokenizer", "vocab.txt")
SHARED_VOCAB = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "bert-base-uncased-vocab.txt")

TINY = dict(
    vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                       image_size=32, patch_size=8, layer_norm_eps=1e-5),
    text_config=dict(hidden_size=16, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
                     max_position_embeddings=40, vocab_size=30524),
    image_text_hidden_size=16,
)

BASE = dict(
    vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                       image_size=384, patch_size=16, layer_norm_eps=1e-5),
    text_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                     max_position_embeddings=512, vocab_size=30524),
    image_text_hidden_size=256,
)


def randomize(model, seed, std=0.02, sharpen_lm=1.0):
    """Random values for every tensor, LayerNorm included, so a wrong eps, a swapped bias or a
    missing LayerNorm cannot pass. `sharpen_lm` scales the LM head so greedy/beam margins are
    far above float noise."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name or "layernorm" in name:
                if name.endswith("weight"):
                    p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
                else:
                    p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(std * torch.randn(p.shape, generator=g))
        if sharpen_lm != 1.0 and hasattr(model, "text_decoder"):
            head = model.text_decoder.cls.predictions
            head.transform.LayerNorm.weight.mul_(sharpen_lm)
    return model


def build(arch, size, seed):
    cfg = BlipConfig(**(TINY if size == "tiny" else BASE))
    model = ARCHS[arch](cfg).eval()
    randomize(model, seed, sharpen_lm=(4.0 if size == "tiny" else 1.0))
    return model


def save_model(model, out_dir, dtype=torch.float32, image_size=None):
    """save_pretrained plus the tokenizer and preprocessor files a Hub checkpoint carries."""
    os.makedirs(out_dir, exist_ok=True)
    model.to(dtype).save_pretrained(out_dir)
    model.to(torch.float32)
    vocab = VOCAB if os.path.exists(VOCAB) else SHARED_VOCAB
    shutil.copy(vocab, os.path.join(out_dir, "vocab.txt"))
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "do_basic_tokenize": True,
                   "tokenize_chinese_chars": True, "strip_accents": None, "model_max_length": 512,
                   "model_input_names": ["input_ids", "attention_mask"]}, f, indent=2)
    with open(os.path.join(out_dir, "special_tokens_map.json"), "w") as f:
        json.dump({"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]",
                   "sep_token": "[SEP]", "unk_token": "[UNK]"}, f, indent=2)
    size = image_size or model.config.vision_config.image_size
    with open(os.path.join(out_dir, "preprocessor_config.json"), "w") as f:
        json.dump({"do_convert_rgb": True, "do_normalize": True, "do_rescale": True, "do_resize": True,
                   "image_mean": [0.48145466, 0.4578275, 0.40821073],
                   "image_processor_type": "BlipImageProcessor",
                   "image_std": [0.26862954, 0.26130258, 0.27577711],
                   "processor_class": "BlipProcessor", "resample": 3,
                   "rescale_factor": 0.00392156862745098,
                   "size": {"height": size, "width": size}}, f, indent=2)


def processor(model_dir):
    from transformers import BlipProcessor
    return BlipProcessor.from_pretrained(model_dir)


def pixel_values(model_dir, image):
    from transformers import AutoImageProcessor
    proc = AutoImageProcessor.from_pretrained(model_dir)
    return proc(images=image, return_tensors="pt")["pixel_values"]


@torch.no_grad()
def vision_states(model, pixels):
    return model.vision_model(pixel_values=pixels).last_hidden_state


@torch.no_grad()
def image_embedding(model, pixels):
    states = vision_states(model, pixels)
    return torch.nn.functional.normalize(model.vision_proj(states[:, 0, :]), dim=-1)


# ---------------------------------------------------------------------------------------------
# Text side: tiny generation models and transformers' generate / text-encoder references.

# Tiny VQA model whose vision and text widths agree: transformers sizes the answer decoder's
# cross-attention for the vision width but feeds it question states of the text width.
TINY_VQA_GEN = dict(
    vision_config=dict(hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2,
                       image_size=32, patch_size=8, layer_norm_eps=1e-5),
    text_config=dict(hidden_size=8, intermediate_size=24, num_hidden_layers=2, num_attention_heads=2,
                     max_position_embeddings=40, vocab_size=30524),
    image_text_hidden_size=8,
)

# Generation fixtures: sharper cross-attention (so the image changes the words) and an [SEP]
# bias (so sequences end at varying lengths and beam search has finished hypotheses to rank).
GENERATION_MODELS = {
    "captioning-gen": dict(arch="captioning", cfg=TINY, seed=200, cross_scale=8.0, eos_boost=0.8),
    "vqa-gen": dict(arch="vqa", cfg=TINY_VQA_GEN, seed=300, cross_scale=8.0, eos_boost=0.5),
}


def build_generation_model(name):
    spec = GENERATION_MODELS[name]
    model = ARCHS[spec["arch"]](BlipConfig(**spec["cfg"])).eval()
    randomize(model, spec["seed"], sharpen_lm=4.0)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if "crossattention" in pname and pname.endswith("weight") and ("self." in pname or "output.dense" in pname):
                p.mul_(spec["cross_scale"])
        model.text_decoder.cls.predictions.bias[model.config.text_config.sep_token_id] += spec["eos_boost"]
    return model


# "a picture of" as the BLIP processor tokenizes it.
PROMPT_IDS = [101, 1037, 3861, 1997, 102]

# (name, transformers generate kwargs). `input_ids` is the tokenizer output passed to generate.
CAPTION_CASES = [
    ("greedy", {}),
    ("prompt", {"input_ids": PROMPT_IDS}),
    ("beam3_min5", {"num_beams": 3, "min_length": 5, "max_length": 20}),
    ("repetition1.3", {"repetition_penalty": 1.3}),
    ("ngram2", {"no_repeat_ngram_size": 2}),
    ("beam3_lp0.5", {"num_beams": 3, "length_penalty": 0.5}),
    ("beam3_early", {"num_beams": 3, "early_stopping": True}),
    ("beam4_never_lp1.5", {"num_beams": 4, "early_stopping": "never", "length_penalty": 1.5}),
    ("beam3_rep1.3_ngram3", {"num_beams": 3, "repetition_penalty": 1.3, "no_repeat_ngram_size": 3}),
    ("beam2_max8", {"num_beams": 2, "max_length": 8}),
    ("greedy_min6_max9", {"min_length": 6, "max_length": 9}),
    ("max_new_tokens5", {"max_new_tokens": 5}),
    ("prompt_beam3", {"input_ids": PROMPT_IDS, "num_beams": 3, "min_length": 5, "max_length": 20}),
    ("prompt_rep1.3", {"input_ids": PROMPT_IDS, "repetition_penalty": 1.3}),
]

# "how many dogs are in the picture?"
QUESTION_IDS = [101, 2129, 2116, 6077, 2024, 1999, 1996, 3861, 1029, 102]

VQA_CASES = [
    ("greedy", {}),
    ("beam3_paper", {"num_beams": 3, "max_length": 10, "min_length": 1}),
    ("repetition1.3", {"repetition_penalty": 1.3}),
]

TEXT_IDS = [
    [101, 1037, 3861, 1997, 102],
    [101, 1037, 2450, 1998, 2014, 3899, 3564, 1999, 1037, 3509, 102],
    [101, 102],
    [101, 2048, 8870, 2006, 1037, 6411, 1012, 102],
]


@torch.no_grad()
def generate_caption(model, pixels, kwargs):
    kw = dict(kwargs)
    ids = kw.pop("input_ids", None)
    if ids is not None:
        kw["input_ids"] = torch.tensor([ids])
        kw["attention_mask"] = torch.ones_like(kw["input_ids"])
    return model.generate(pixel_values=pixels, **kw)[0].tolist()


@torch.no_grad()
def generate_answer(model, pixels, question_ids, kwargs):
    ids = torch.tensor([question_ids])
    return model.generate(input_ids=ids, pixel_values=pixels, attention_mask=torch.ones_like(ids), **kwargs)[0].tolist()


@torch.no_grad()
def decoder_logits(model, pixels, decoder_ids):
    states = vision_states(model, pixels)
    out = model.text_decoder(input_ids=torch.tensor([decoder_ids]), encoder_hidden_states=states,
                             encoder_attention_mask=torch.ones(states.shape[:-1], dtype=torch.long), use_cache=False)
    return out.logits[0]


@torch.no_grad()
def text_embedding(model, ids):
    t = torch.tensor([ids])
    states = model.text_encoder(input_ids=t, attention_mask=torch.ones_like(t)).last_hidden_state
    return torch.nn.functional.normalize(model.text_proj(states[:, 0, :]), dim=-1)[0]


@torch.no_grad()
def itm_logits(model, pixels, ids):
    t = torch.tensor([ids])
    return model(input_ids=t, pixel_values=pixels, attention_mask=torch.ones_like(t), use_itm_head=True).itm_score[0]


@torch.no_grad()
def greedy_margin(model, pixels, kwargs):
    """Smallest gap between the best and second-best processed score over a greedy run: how far
    the expected tokens are from a float-noise flip."""
    kw = dict(kwargs)
    ids = kw.pop("input_ids", None)
    if ids is not None:
        kw["input_ids"] = torch.tensor([ids])
    out = model.generate(pixel_values=pixels, output_scores=True, return_dict_in_generate=True, **kw)
    gaps = [float(s[0].topk(2).values[0] - s[0].topk(2).values[1]) for s in out.scores]
    return min(gaps)
