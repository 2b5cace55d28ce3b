"""Generating one split: images, ground truth, captions, VQA, web-noise captions, shards.

Everything about image i of a split derives from numpy SeedSequence([seed, split_id, i,
stream]) (scene.image_rng), so image i is the same whatever --count is, and the same seed
gives byte-identical files. Streams: 0 scene, 1 grain, 2 captions, 3 VQA, 4 corruption.
The choice of noisy rows uses SeedSequence([seed, split_id, 0, 9]).
"""
from __future__ import annotations

import hashlib
import os
import time

from .scene import sample_scene, image_rng, Scene
from .render import render
from .language import captions_for, vqa_for
from .noise import KINDS, corrupt, applicable, choose_noisy_rows
from .writers import Jsonl, ShardWriter, png_bytes, jpeg_bytes, dumps, shard_key

SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
DEFAULT_SEEDS = {"train": 1, "val": 2, "test": 3}   # plus split_id in every SeedSequence


def split_id(split: str) -> int:
    if split in SPLIT_IDS:
        return SPLIT_IDS[split]
    # other split names: a stable id from the name
    return 100 + int(hashlib.sha256(split.encode()).hexdigest()[:6], 16)


def make_scene(seed: int, sid: int, i: int, size: int) -> Scene:
    return sample_scene(image_rng(seed, sid, i, 0), size=size)


def first_caption(seed: int, sid: int, i: int, size: int) -> tuple[Scene, str]:
    sc = make_scene(seed, sid, i, size)
    texts, _ = captions_for(sc, image_rng(seed, sid, i, 2), 1)
    return sc, texts[0]


def render_image(job: dict, i: int) -> dict:
    """Everything about image i that takes time (scene, pixels, texts, its web text), computed
    from its own seeds only, so images can be made in any order and in worker processes."""
    seed, sid, size = job["seed"], job["sid"], job["size"]
    scene = make_scene(seed, sid, i, size)
    img = render(scene, image_rng(seed, sid, i, 1))
    texts, plans = captions_for(scene, image_rng(seed, sid, i, 2), job["captions_per_image"])
    qas = vqa_for(scene, image_rng(seed, sid, i, 3), job["questions_per_image"])
    web_text, kind = texts[0], None
    if i in job["noisy"]:
        rng = image_rng(seed, sid, i, 4)
        ok_kinds = [k for k in job["kinds"] if applicable(k, plans[0])]
        kind = ok_kinds[int(rng.integers(len(ok_kinds)))]
        donor = None
        if kind == "other_image":
            mine = sorted(o.attrs for o in scene.objects)
            for _ in range(50):
                j = int(rng.integers(max(job["count"], 2)))
                if j == i:
                    continue
                dsc, dtext = first_caption(seed, sid, j, size)
                if sorted(o.attrs for o in dsc.objects) != mine:
                    donor = dtext
                    break
            if donor is None:   # pragma: no cover - practically impossible
                kind = "junk"
        web_text = corrupt(kind, plans[0], scene, rng, donor)
    return {"scene": scene, "texts": texts, "qas": qas, "web_text": web_text, "kind": kind,
            "png": png_bytes(img) if job["png"] else None, "jpg": jpeg_bytes(img) if job["jpg"] else None}


_JOB: dict = {}


def _init_worker(job: dict) -> None:
    _JOB.update(job)


def _render_in_worker(i: int) -> dict:
    return render_image(_JOB, i)


def _render_all(job: dict, count: int, workers: int):
    """render_image for 0..count-1, in order; with workers > 1 in a process pool (the output is
    the same: every image depends on its index alone)."""
    if workers <= 1:
        for i in range(count):
            yield render_image(job, i)
        return
    import multiprocessing
    with multiprocessing.get_context("fork").Pool(workers, _init_worker, (job,)) as pool:
        yield from pool.imap(_render_in_worker, range(count), chunksize=64)


def generate_split(out: str, split: str, count: int, seed: int | None = None, size: int = 160,
                   noise: float = 0.0, captions_per_image: int = 1, questions_per_image: int = 4,
                   shards_of: int = 0, write_png: bool = True, kinds=KINDS,
                   progress: bool = False, workers: int = 1) -> dict:
    seed = DEFAULT_SEEDS.get(split, 0) if seed is None else seed
    sid = split_id(split)
    root = os.path.join(out, split)
    img_dir = os.path.join(root, "images")
    os.makedirs(img_dir, exist_ok=True)
    noisy = choose_noisy_rows(count, noise, image_rng(seed, sid, 0, 9)) if noise > 0 else set()

    scenes_f = Jsonl(os.path.join(root, "scenes.jsonl"))
    caps_f = Jsonl(os.path.join(root, "captions.jsonl"))
    vqa_f = Jsonl(os.path.join(root, "vqa.jsonl"))
    web_f = Jsonl(os.path.join(root, "web.jsonl"))
    noise_f = Jsonl(os.path.join(root, "noise.jsonl"))
    shards = ShardWriter(os.path.join(root, "shards"), shards_of) if shards_of > 0 else None
    kind_counts: dict[str, int] = {}
    t0 = time.time()
    job = dict(seed=seed, sid=sid, size=size, count=count, noisy=noisy, kinds=kinds,
               captions_per_image=captions_per_image, questions_per_image=questions_per_image,
               png=write_png, jpg=shards is not None)
    for i, item in enumerate(_render_all(job, count, workers)):
        scene, texts, qas, web_text, kind = item["scene"], item["texts"], item["qas"], item["web_text"], item["kind"]
        image_id = f"{split}_{i:06d}"
        rel = f"images/{image_id}.png"
        if write_png:
            with open(os.path.join(root, rel), "wb") as f:
                f.write(item["png"])
        key = shards.next_key() if shards else shard_key(i // 10000, i % 10000)
        if kind is not None:
            kind_counts[kind] = kind_counts.get(kind, 0) + 1
            noise_f.write({"image_id": image_id, "key": key, "row": i, "kind": kind,
                           "text": web_text, "clean": texts[0]})

        sj = scene.to_json()
        scenes_f.write({"image_id": image_id, "key": key, "image": rel, "split": split,
                        "seed": seed, "index": i, **sj, "caption": texts[0], "captions": texts})
        for t in texts:
            caps_f.write({"image": rel, "text": t, "image_id": image_id})
        for q, a, qt in qas:
            vqa_f.write({"image": rel, "question": q, "answer": a, "image_id": image_id, "type": qt})
        web_f.write({"image": rel, "text": web_text, "image_id": image_id, "key": key,
                     "noisy": kind is not None, "noise": kind})
        if shards:
            jpg = item["jpg"]
            meta = {"key": key, "caption": web_text, "url": f"scene-world://{split}/{image_id}",
                    "status": "success", "error_message": None,
                    "width": scene.width, "height": scene.height,
                    "original_width": scene.width, "original_height": scene.height,
                    "exif": None, "sha256": hashlib.sha256(jpg).hexdigest(),
                    "image_id": image_id, "noise": kind, "clean_caption": texts[0], "scene": sj}
            shards.write(key, jpg, web_text, meta)
        if progress and (i + 1) % 1000 == 0:
            el = time.time() - t0
            print(f"{split}: {i + 1}/{count} images, {el:.1f}s", flush=True)
    for f in (scenes_f, caps_f, vqa_f, web_f, noise_f):
        f.close()
    if shards:
        shards.close()
    info = {"split": split, "split_id": sid, "seed": seed, "count": count, "size": size,
            "noise": noise, "noisy_rows": len(noisy), "noise_kinds": dict(sorted(kind_counts.items())),
            "captions_per_image": captions_per_image, "questions_per_image": questions_per_image,
            "shards_of": shards_of}
    with open(os.path.join(root, "info.json"), "w") as f:
        f.write(dumps(info) + "\n")
    info["seconds"] = round(time.time() - t0, 2)
    return info
