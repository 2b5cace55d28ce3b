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
