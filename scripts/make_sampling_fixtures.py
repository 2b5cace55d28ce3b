#!/usr/bin/env python3
"""Expected outputs of transformers' sampling warpers (temperature, then top-k, then top-p, the
order `generate` builds them in), on hand-made logit rows: ties at the top-k and top-p
boundaries, rows already holding -inf (a min-length or n-gram ban), one dominant token,
min_tokens_to_keep 1 (sampling) and 2 (beam sampling). Writes
Tests/BlipCoreTests/Fixtures/expected_warpers.json; Tests/BlipCoreTests/SamplingWarperTests.swift
checks LogitsProcessors.warp against it.

Rows are small (the vocabulary size does not change the rules) and values are printed exactly
(float32 -> shortest repr); a case stores which tokens survive, as a mask."""
import json
import os

import numpy as np
import torch
from transformers.generation.logits_process import (LogitsProcessorList, TemperatureLogitsWarper,
                                                    TopKLogitsWarper, TopPLogitsWarper)

ROOT = os.path.join(os.path.dirname(__file__), "..")
OUT = os.path.join(ROOT, "Tests", "BlipCoreTests", "Fixtures", "expected_warpers.json")
VOCAB = 97


def rows():
    rng = np.random.default_rng(20261130)
    out = {"normal": rng.normal(0, 2, VOCAB), "wide": rng.normal(0, 8, VOCAB),
           "flat": rng.normal(0, 0.05, VOCAB)}
    ties = rng.normal(0, 1, VOCAB)
    top = np.sort(ties)[::-1]
    ties[np.argsort(ties)[-12:-6]] = top[8]          # six tokens tied around the 6th-11th places
    out["ties"] = ties
    banned = rng.normal(0, 2, VOCAB)
    banned[rng.choice(VOCAB, 30, replace=False)] = -np.inf
    out["banned"] = banned
    dominant = rng.normal(0, 1, VOCAB)
    dominant[17] = 30.0
    out["dominant"] = dominant
    # A row whose top-p boundary falls on a tie: eight equal tokens carry most of the mass.
    equal = rng.normal(-6, 1, VOCAB)
    equal[rng.choice(VOCAB, 8, replace=False)] = 2.0
    out["equal-top"] = equal
    return {k: v.astype(np.float32) for k, v in out.items()}


SETTINGS = [dict(temperature=t, top_k=k, top_p=p, min_keep=m)
            for t in (1.0, 0.7, 1.5)
            for k in (0, 1, 5, 50, VOCAB + 3)
            for p in (1.0, 0.95, 0.5, 0.01)
            for m in (1, 2)]


def warped(logits, s):
    procs = LogitsProcessorList()
    if s["temperature"] != 1.0:
        procs.append(TemperatureLogitsWarper(s["temperature"]))
    if s["top_k"] != 0:
        procs.append(TopKLogitsWarper(top_k=s["top_k"], min_tokens_to_keep=s["min_keep"]))
    if s["top_p"] < 1.0:
        procs.append(TopPLogitsWarper(top_p=s["top_p"], min_tokens_to_keep=s["min_keep"]))
    scores = torch.from_numpy(logits.copy())[None, :]
    return procs(torch.zeros((1, 1), dtype=torch.long), scores)[0].numpy()


def encode(values):
    return [None if np.isneginf(v) else float(v) for v in values.astype(np.float32)]


def kept_mask(logits, s, out):
    """'1' for each token the warpers keep, '0' for each they set to -inf. A kept token's value
    is its logit divided by the temperature (checked here), so the mask says everything."""
    kept = ~np.isneginf(out)
    scaled = (torch.from_numpy(logits) / s["temperature"]).numpy() if s["temperature"] != 1.0 else logits
    assert np.array_equal(out[kept], scaled[kept])
    return "".join("1" if k else "0" for k in kept)


def main():
    import transformers
    cases = []
    for name, logits in rows().items():
        for s in SETTINGS:
            cases.append([name, s["temperature"], s["top_k"], s["top_p"], s["min_keep"],
                          kept_mask(logits, s, warped(logits, s))])
    with open(OUT, "w") as f:
        json.dump({"transformers": transformers.__version__, "torch": torch.__version__,
                   "rows": {k: encode(v) for k, v in rows().items()},
                   "fields": ["row", "temperature", "top_k", "top_p", "min_keep", "kept"], "cases": cases},
                  f, separators=(",", ":"))
        f.write("\n")
    print(f"{len(cases)} cases -> {OUT} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
