#!/usr/bin/env python3
"""Caption every JPEG/PNG in a folder and write one JSON line per image.

    python3 Examples/python/caption_folder.py MODEL_DIR FOLDER [--out captions.jsonl] [--beams 3]

Unreadable images get an "error" field; the others are still captioned."""
import argparse
import json
import os
import sys
import time

import blip


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("folder")
    ap.add_argument("--out", help="JSONL output file (default: stdout)")
    ap.add_argument("--beams", type=int, default=1)
    ap.add_argument("--prompt")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()

    model = blip.Model(args.model, threads=args.threads)
    names = sorted(n for n in os.listdir(args.folder) if n.lower().endswith((".jpg", ".jpeg", ".png")))
    out = open(args.out, "w") if args.out else sys.stdout
    start = time.perf_counter()
    for i, name in enumerate(names, 1):
        path = os.path.join(args.folder, name)
        try:
            text, tokens = model.caption(path, prompt=args.prompt, beams=args.beams, return_tokens=True)
            record = {"image": path, "caption": text, "tokens": tokens}
        except blip.BlipError as e:
            record = {"image": path, "error": str(e)}
        out.write(json.dumps(record) + "\n")
        print(f"[{i}/{len(names)}] {name}", file=sys.stderr)
    print(f"{len(names)} images in {time.perf_counter() - start:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
