#!/usr/bin/env python3
"""Text-to-image search over a folder with a BLIP retrieval model (BlipForImageTextRetrieval).

    python3 Examples/python/image_search.py MODEL_DIR FOLDER "a cat on a sofa" [--top 3] [--rerank]

Embeds every image once (ITC), ranks them by cosine similarity with the query, and optionally
re-ranks the top matches with the ITM head, as the BLIP paper does."""
import argparse
import os

import blip


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("folder")
    ap.add_argument("query")
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--rerank", action="store_true", help="re-rank the top matches by ITM probability")
    args = ap.parse_args()

    model = blip.Model(args.model)
    paths = [os.path.join(args.folder, n) for n in sorted(os.listdir(args.folder))
             if n.lower().endswith((".jpg", ".jpeg", ".png"))]
    embeddings = model.embed_image(paths)          # one normalised vector per image
    query = model.embed_text(args.query)
    scores = [float(sum(a * b for a, b in zip(e, query))) for e in embeddings]
    ranked = sorted(range(len(paths)), key=lambda i: -scores[i])[:args.top]
    if args.rerank:
        itm = {i: model.match(paths[i], args.query)[0] for i in ranked}
        ranked.sort(key=lambda i: -itm[i])
        for i in ranked:
            print(f"{itm[i]:.4f} (itm)  {scores[i]:.4f} (itc)  {paths[i]}")
    else:
        for i in ranked:
            print(f"{scores[i]:.4f}  {paths[i]}")


if __name__ == "__main__":
    main()
