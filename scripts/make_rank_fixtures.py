#!/usr/bin/env python3
"""Expected VQA rank-mode scores (log-likelihood of each candidate answer under the answer
decoder) for the tiny VQA fixture, computed with transformers' modules directly.
Writes Tests/BlipCoreTests/Fixtures/expected_rank.json."""
import json
import os
import sys

import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import blip_reference as ref  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
FIX = os.path.join(ROOT, "Tests", "BlipCoreTests", "Fixtures")
MODEL = os.path.join(FIX, "models", "vqa-gen")
QUESTION = "what is the cat doing?"
CANDIDATES = ["sleeping", "a dog", "yes", "two cats on a sofa", "running away quickly"]


@torch.no_grad()
def main():
    from transformers import BertTokenizer
    model = ref.ARCHS["vqa"].from_pretrained(MODEL).eval()
    tok = BertTokenizer.from_pretrained(MODEL)
    out = {"question": QUESTION, "candidates": CANDIDATES, "images": {}}
    for photo in ["chelsea.png", "astronaut.jpg"]:
        px = ref.pixel_values(MODEL, Image.open(os.path.join(FIX, "photos", photo)))
        image_embeds = model.vision_model(pixel_values=px).last_hidden_state
        q = tok(QUESTION, return_tensors="pt")
        qstates = model.text_encoder(input_ids=q.input_ids, attention_mask=q.attention_mask,
                                     encoder_hidden_states=image_embeds).last_hidden_state
        scores = []
        for cand in CANDIDATES:
            ids = tok(cand, return_tensors="pt").input_ids
            ids[:, 0] = model.config.text_config.bos_token_id
            logits = model.text_decoder(input_ids=ids, encoder_hidden_states=qstates).logits
            logp = torch.log_softmax(logits[0, :-1].double(), dim=-1)
            scores.append(float(logp.gather(1, ids[0, 1:, None]).sum()))
        out["images"][photo] = scores
    with open(os.path.join(FIX, "expected_rank.json"), "w") as f:
        json.dump(out, f, indent=1)
    print(out)


if __name__ == "__main__":
    main()
