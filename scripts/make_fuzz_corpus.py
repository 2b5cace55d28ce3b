#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets (Tests/fuzz/corpus/TARGET/), small
valid (and a few edge-case) inputs the fuzzer mutates from. Deterministic; rerun after a
format changes:

    python3 scripts/make_fuzz_corpus.py [--blip build/bin/blip]

Needs numpy, pillow and safetensors; the int8 seed needs a built `blip` (quantizes the tiny
small-vocabulary captioning fixture of the training tests)."""
import argparse
import io
import json
import os
import shutil
import subprocess
import struct
import tarfile
import tempfile

import numpy as np
from PIL import Image
from safetensors.numpy import save

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
OUT = os.path.join(ROOT, "Tests", "fuzz", "corpus")
FIXTURES = os.path.join(ROOT, "Tests", "BlipCoreTests", "Fixtures")


def write(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors_seeds():
    rng = np.random.default_rng(0)
    write("safetensors", "f32", save({"a.weight": rng.standard_normal((4, 3)).astype(np.float32),
                                      "a.bias": np.zeros(4, np.float32)}, metadata={"format": "pt"}))
    write("safetensors", "dtypes", save({"h": rng.standard_normal((2, 5)).astype(np.float16),
                                         "i": np.arange(6, dtype=np.int8).reshape(2, 3),
                                         "s": np.array(1.5, np.float32)}))
    write("safetensors", "empty-table", b"\x02\x00\x00\x00\x00\x00\x00\x00{}")
    header = b'{"x":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}'
    write("safetensors", "bf16", len(header).to_bytes(8, "little") + header + bytes(range(8)))


def config_seeds():
    for arch in ["captioning", "vqa", "itm"]:
        write("config", f"{arch}.json", open(os.path.join(FIXTURES, "models", arch, "config.json")).read())
    write("config", "preprocessor.json", open(os.path.join(FIXTURES, "models", "captioning", "preprocessor_config.json")).read())
    write("config", "preprocessor-shortest.json", json.dumps({"size": {"shortest_edge": 224}, "resample": 2,
                                                              "image_mean": 0.5, "image_std": [0.5, 0.5, 0.5]}))


def int8_seed(blip):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "captioning.int8")
        subprocess.run([blip, "quantize", "--model", os.path.join(ROOT, "Tests", "BlipTrainingTests", "Fixtures", "models", "caption"), "--out", out],
                       check=True, capture_output=True)
        write("int8", "captioning", open(out, "rb").read())


def image_seeds():
    rng = np.random.default_rng(1)
    rgb = Image.fromarray(rng.integers(0, 256, (9, 13, 3), dtype=np.uint8), "RGB")

    def encode(img, fmt, **kw):
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        return b.getvalue()
    write("image", "rgb.png", encode(rgb, "PNG"))
    write("image", "gray.png", encode(rgb.convert("L"), "PNG"))
    write("image", "rgba.png", encode(rgb.convert("RGBA"), "PNG"))
    write("image", "palette.png", encode(rgb.convert("P"), "PNG"))
    write("image", "wide.png", encode(rgb.resize((40, 3)), "PNG"))
    write("image", "gray16.png", encode(Image.fromarray((rng.integers(0, 65535, (5, 6))).astype(np.uint16)), "PNG"))
    write("image", "baseline.jpg", encode(rgb.resize((16, 16)), "JPEG", quality=80))
    write("image", "progressive.jpg", encode(rgb.resize((24, 8)), "JPEG", progressive=True))
    write("image", "gray.jpg", encode(rgb.convert("L"), "JPEG"))
    write("image", "cmyk.jpg", encode(rgb.convert("CMYK"), "JPEG"))
    for name in ["astronaut.jpg", "camera_gray.png", "coffee.jpg"]:
        shutil.copy(os.path.join(FIXTURES, "photos", name), os.path.join(OUT, "image", name))


def tokenizer_seeds():
    for i, text in enumerate(["a picture of a cat sitting on a mat.", "Héllo WORLD!! naïve café",
                              "中文字符 and emoji 😀 mixed", "tab\tnew\nline\x00nul", "[CLS] [SEP] [MASK] [unused3]",
                              "unaffable" * 30, "x" * 150, "   ", "don't; stop: (now) [ok]"]):
        write("tokenizer", f"text{i}", text)


def manifest_seeds():
    caption = '{"image": "a.png", "text": "a red circle", "image_id": "1"}\n{"image": "b.png", "text": "two squares"}\n'
    vqa = '{"image": "a.png", "question": "what color is it?", "answer": "red"}\n'
    match = '{"image": "a.png", "text": "a cat", "image_id": 7}\nnot json\n{"image": 3}\n'
    write("manifest", "caption", b"\x00" + caption.encode())
    write("manifest", "vqa", b"\x01" + vqa.encode())
    write("manifest", "match-strict", b"\x82" + match.encode())


def webdataset_seeds():
    png = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(png, "PNG")
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for key, text in [("000000000", "a red square"), ("000000001", "caf\xe9")]:
            for ext, data in [("png", png.getvalue()), ("txt", text.encode()),
                              ("json", json.dumps({"key": key}).encode())]:
                info = tarfile.TarInfo(f"{key}.{ext}")
                info.size = len(data)
                info.mtime = 0
                tar.addfile(info, io.BytesIO(data))
    write("webdataset", "two-samples.tar", b.getvalue())


def generation_seeds():
    """Layout in Tests/fuzz/BlipFuzz/GenerationFuzzTarget.swift: flags, size, the params fields
    between size and the callbacks (x86-64 / aarch64 layout of blip_generation_params), text."""
    def seed(name, flags, text=b"", size=96, max_length=0, max_new_tokens=0, min_length=0, num_beams=1,
             do_sample=0, temperature=1.0, top_k=50, top_p=1.0, repetition_penalty=1.0, length_penalty=1.0,
             no_repeat_ngram_size=0, early_stopping=0, seed=0):
        fields = struct.pack("<5ififffiiQ", max_length, max_new_tokens, min_length, num_beams, do_sample,
                             temperature, top_k, top_p, repetition_penalty, length_penalty,
                             no_repeat_ngram_size, early_stopping, seed)
        write("generation", name, bytes([flags]) + struct.pack("<Q", size) + fields + text)
    seed("caption-greedy", 0, b"a picture of")
    seed("caption-beams", 0, max_length=20, min_length=5, num_beams=3, repetition_penalty=1.0)
    seed("caption-sample", 0x12, do_sample=1, top_p=0.9, top_k=0, temperature=0.7, seed=42)
    seed("answer-two-images", 0x03, b"what color is the circle?", num_beams=3, no_repeat_ngram_size=2,
         early_stopping=1)
    seed("answer-abort-small-buffers", 0x61, b"how many?", max_new_tokens=8)
    seed("bad-size", 0x08, size=40)
    seed("null-params-null-prompt", 0x84)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--blip", default=os.path.join(ROOT, "build", "bin", "blip"))
    args = ap.parse_args()
    shutil.rmtree(OUT, ignore_errors=True)
    safetensors_seeds()
    config_seeds()
    int8_seed(args.blip)
    image_seeds()
    tokenizer_seeds()
    manifest_seeds()
    webdataset_seeds()
    generation_seeds()
    for t in sorted(os.listdir(OUT)):
        files = os.listdir(os.path.join(OUT, t))
        size = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in files)
        print(f"{t}: {len(files)} seeds, {size} bytes")


if __name__ == "__main__":
    main()
