"""Tests of the scene world: python3 -m pytest scripts/scene_world -q  (from the repo root)."""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile

import pytest
from PIL import Image

from .scene import image_rng, Scene, SHAPES, COLOURS, BACKGROUNDS, relation_holds
from .language import all_captions, captions_for, vqa_for, vocabulary, caption_plan
from .parse import caption_correct, check_caption, tokenize
from .noise import KINDS, corrupt, applicable
from .generate import generate_split, make_scene, first_caption

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB = os.path.join(HERE, "..", "..", "Tests", "BlipCoreTests", "Fixtures", "models",
                     "captioning", "vocab.txt")
N_SCENES = 2000


def _bert_vocab() -> set[str]:
    with open(VOCAB, encoding="utf-8") as f:
        return {l.rstrip("\n") for l in f}


def _words(text: str) -> list[str]:
    """BERT's basic tokenization of our (ASCII, lower-case) texts: split on spaces and
    punctuation."""
    return re.findall(r"[a-z0-9]+|[^\sa-z0-9]", text.lower())


def _tree_digest(root: str) -> dict:
    out = {}
    for d, _, files in os.walk(root):
        for fn in files:
            p = os.path.join(d, fn)
            with open(p, "rb") as f:
                out[os.path.relpath(p, root)] = hashlib.sha256(f.read()).hexdigest()
    return out


def test_determinism_and_layout(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    # b is rendered by worker processes: same bytes
    for out, workers in ((a, 1), (b, 3)):
        generate_split(str(out), "train", 24, seed=7, noise=0.5, captions_per_image=2,
                       shards_of=10, workers=workers)
    da, db = _tree_digest(str(a)), _tree_digest(str(b))
    assert da == db and len(da) == 24 + 3 + 6   # PNGs, 3 shards, 6 jsonl/json files
    # image i does not depend on --count
    generate_split(str(tmp_path / "c"), "train", 5, seed=7, shards_of=10)
    for i in range(5):
        name = f"train/images/train_{i:06d}.png"
        assert _tree_digest(str(tmp_path / "c"))[name] == da[name]
    # a different seed or split gives different images
    generate_split(str(tmp_path / "d"), "val", 3, seed=7)
    assert (_tree_digest(str(tmp_path / "d"))["val/images/val_000000.png"]
            != da["train/images/train_000000.png"])

    root = a / "train"
    rows = [json.loads(l) for l in open(root / "captions.jsonl")]
    assert len(rows) == 48 and all(set(r) == {"image", "text", "image_id"} for r in rows)
    assert all((root / r["image"]).is_file() for r in rows)
    vqa = [json.loads(l) for l in open(root / "vqa.jsonl")]
    assert vqa and all({"image", "question", "answer"} <= set(r) for r in vqa)
    web = [json.loads(l) for l in open(root / "web.jsonl")]
    noise = [json.loads(l) for l in open(root / "noise.jsonl")]
    assert len(web) == 24 and sum(r["noisy"] for r in web) == 12 == len(noise)
    scenes = [json.loads(l) for l in open(root / "scenes.jsonl")]
    by_id = {s["image_id"]: Scene.from_json(s) for s in scenes}
    for r in web:
        assert caption_correct(r["text"], by_id[r["image_id"]]) == (not r["noisy"]), r

    # shards: img2dataset layout, readable with tarfile
    shard_names = sorted(os.listdir(root / "shards"))
    assert shard_names == ["00000.tar", "00001.tar", "00002.tar"]
    seen = []
    for sn in shard_names:
        with tarfile.open(root / "shards" / sn) as t:
            names = t.getnames()
            assert len(names) % 3 == 0
            for k in range(0, len(names), 3):
                key = names[k][:-4]
                assert names[k:k + 3] == [f"{key}.jpg", f"{key}.txt", f"{key}.json"]
                assert re.fullmatch(r"\d{9}", key) and key.startswith(sn[:5])
                img = Image.open(io.BytesIO(t.extractfile(names[k]).read()))
                assert img.format == "JPEG" and img.size == (160, 160)
                txt = t.extractfile(names[k + 1]).read().decode()
                meta = json.loads(t.extractfile(names[k + 2]).read())
                assert meta["key"] == key and meta["caption"] == txt and meta["status"] == "success"
                seen.append((meta["image_id"], txt))
    assert seen == [(r["image_id"], r["text"]) for r in web]


def test_vocabulary_single_bert_tokens():
    bert = _bert_vocab()
    assert all(w in bert for w in vocabulary()), sorted(w for w in vocabulary() if w not in bert)
    used = set()
    for i in range(N_SCENES):
        sc = make_scene(11, 0, i, 160)
        rng = image_rng(11, 0, i, 2)
        texts, _ = captions_for(sc, rng, 3)
        for t in texts:
            assert len(t.split()) <= 20, t
            used |= set(_words(t))
        for q, a, _ in vqa_for(sc, image_rng(11, 0, i, 3), 6):
            used |= set(_words(q)) | set(_words(a))
            assert len(_words(a)) == 1, a
    missing = sorted(w for w in used if w not in bert)
    assert not missing, missing
    assert used <= vocabulary(), sorted(used - vocabulary())


def test_every_paraphrase_accepted():
    """All captions the generator can produce (every template choice) for 2000 scenes."""
    total = 0
    for i in range(N_SCENES):
        sc = make_scene(21, 0, i, 160)
        for c in all_captions(sc):
            total += 1
            r = check_caption(c, sc)
            assert r.ok, (c, r.reason, sc.to_json())
    assert total > 50 * N_SCENES


def corruption_rates(n=N_SCENES, seed=31):
    """{kind: (rejected, tried)} over n scenes."""
    stats = {k: [0, 0] for k in KINDS}
    for i in range(n):
        sc = make_scene(seed, 0, i, 160)
        _, plans = captions_for(sc, image_rng(seed, 0, i, 2), 1)
        rng = image_rng(seed, 0, i, 4)
        for kind in KINDS:
            if not applicable(kind, plans[0]):
                continue
            donor = None
            if kind == "other_image":
                for j in range(i + 1, i + 60):
                    dsc, dtext = first_caption(seed, 0, j % n, 160)
                    if sorted(o.attrs for o in dsc.objects) != sorted(o.attrs for o in sc.objects):
                        donor = dtext
                        break
            t = corrupt(kind, plans[0], sc, rng, donor)
            stats[kind][1] += 1
            stats[kind][0] += not caption_correct(t, sc)
    return stats


def test_corruptions_rejected():
    stats = corruption_rates()
    for kind, (rej, n) in stats.items():
        assert n > 0
        need = 1.0 if kind in ("truncated", "junk") else 0.99
        assert rej / n >= need, (kind, rej, n)


def test_parser_details():
    sc = Scene(160, 160, "grey", [])
    from .scene import Obj
    a = Obj("circle", "red", "small", 30, 80, 14, 0)
    b = Obj("triangle", "blue", "large", 120, 80, 26, 0)
    c = Obj("square", "green", "small", 120, 20, 14, 0)
    d = Obj("square", "green", "small", 30, 20, 14, 0)
    two = Scene(160, 160, "grey", [a, b])
    assert caption_correct("a small red circle to the left of a large blue triangle", two)
    assert caption_correct("a large blue triangle right of a small red circle.", two)
    assert caption_correct("a picture of a small red circle and a large blue triangle on a gray background", two)
    assert not caption_correct("a small red circle to the right of a large blue triangle", two)
    assert not caption_correct("a small red circle above a large blue triangle", two)   # same height
    assert not caption_correct("a red circle and a large blue triangle", two)            # no size
    assert not caption_correct("a small red circle", two)                                 # missing object
    assert not caption_correct("a small red circle and a large blue triangle on a black background", two)
    assert not caption_correct("a small red circle and a large blue triangle and a large blue triangle", two)
    assert not caption_correct("IMG_2931.jpg", two)
    assert not caption_correct("", two)
    three = Scene(160, 160, "grey", [a, c, d])   # both squares 60 px above the circle
    assert caption_correct("two small green squares and a small red circle", three)
    assert caption_correct("two small green squares above a small red circle", three)
    assert caption_correct("a small red circle is below two small green squares", three)
    low = Obj("square", "green", "small", 120, 84, 14, 0)   # level with the circle
    mixed = Scene(160, 160, "grey", [a, d, low])
    assert not caption_correct("two small green squares above a small red circle", mixed)
    assert caption_correct("a small red circle left of two small green squares", Scene(
        160, 160, "grey", [a, c, low]))
    assert not caption_correct("a small green square and a small red circle", three)      # count
    assert tokenize("a b, c.") == ["a", "b", ",", "c", "."]


def test_match_manifest_negatives(tmp_path):
    from .negatives import write_match_manifest
    generate_split(str(tmp_path), "train", 300, seed=5, captions_per_image=2)
    split = tmp_path / "train"
    path = write_match_manifest(str(split), per_caption=3)
    first = open(path, encoding="utf-8").read()
    assert write_match_manifest(str(split), per_caption=3) == path and open(path).read() == first
    rows = [json.loads(l) for l in first.splitlines()]
    captions = [json.loads(l) for l in open(split / "captions.jsonl", encoding="utf-8")]
    assert [{k: v for k, v in r.items() if k != "negatives"} for r in rows] == captions
    scenes = {s["image_id"]: Scene.from_json(s) for s in map(json.loads, open(split / "scenes.jsonl"))}
    false = total = 0
    for r in rows:
        negs = r["negatives"]
        assert 1 <= len(negs) <= 3 and len(set(negs)) == len(negs) and r["text"] not in negs
        for t in negs:
            total += 1
            false += not caption_correct(t, scenes[r["image_id"]])
    assert total >= 0.95 * 3 * len(rows) and false / total >= 0.99, (false, total)


def test_curriculum_manifests(tmp_path):
    from .curriculum import write_curriculum, FILES
    generate_split(str(tmp_path), "train", 400, seed=9)
    split = tmp_path / "train"
    counts = write_curriculum(str(split), seed=3)
    first = {name: open(split / name).read() for name in FILES}
    assert write_curriculum(str(split), seed=3) == counts                      # deterministic
    assert {name: open(split / name).read() for name in FILES} == first
    scenes = {s["image_id"]: s for s in map(json.loads, open(split / "scenes.jsonl"))}
    side_of = {"on the left": ("x", True), "on the right": ("x", False),
               "at the top": ("y", True), "at the bottom": ("y", False)}
    for name in ("positions-h1.jsonl", "positions-h.jsonl", "positions.jsonl", "positions-v1.jsonl"):
        rows = [json.loads(l) for l in first[name].splitlines()]
        assert rows and counts[name] == len(rows)
        axes = set()
        for r in rows:
            s = scenes[r["image_id"]]
            parts = re.split(r", | and ", r["text"])
            assert len(parts) == len(s["objects"]) and ("1." not in name or len(parts) == 1)
            named = set()
            for p in parts:
                m = re.fullmatch(r"a (small|large) (\w+) (\w+) (on the left|on the right|at the top|at the bottom)", p)
                assert m, p
                axis, before = side_of[m.group(4)]
                axes.add(axis)
                o = next(o for o in s["objects"] if (o["size"], o["colour"], o["shape"]) == m.group(1, 2, 3))
                half = (s["width"] if axis == "x" else s["height"]) / 2
                assert (o[axis] < half) == before and abs(o[axis] - half) >= 20, (r, o)
                named.add(m.group(1, 2, 3))
            assert len(named) == len(parts)                                    # every object, once
        assert axes == {"positions.jsonl": {"x", "y"}, "positions-v1.jsonl": {"y"}}.get(name, {"x"})
    relations = [json.loads(l) for l in first["relations.jsonl"].splitlines()]
    assert len(relations) > 100
    for r in relations:   # captions of the generator's grammar, true of their scene, stating a relation
        assert check_caption(r["text"], Scene.from_json(scenes[r["image_id"]])).ok, r
        assert re.search(r"\b(left of|right of|above|below|under)\b", r["text"]), r
    vertical = [json.loads(l) for l in first["relations-v.jsonl"].splitlines()]
    assert 0 < len(vertical) < len(relations)
    assert vertical == [r for r in relations if re.search(r"\b(above|below|under)\b", r["text"])]
    captions = open(split / "captions.jsonl").read()
    assert first["captions-relations.jsonl"] == captions + first["relations.jsonl"]
    mixed = [json.loads(l) for l in first["captions-positions.jsonl"].splitlines()]
    plain = [json.loads(l) for l in first["captions-relations.jsonl"].splitlines()]
    positions = [json.loads(l) for l in first["positions.jsonl"].splitlines()]
    assert mixed == plain + [dict(r, prompt="a map of") for r in positions]
    sides = {}
    for name, axis, words in (("vqa-sides-h.jsonl", "x", ("left", "right")), ("vqa-sides-v.jsonl", "y", ("top", "bottom"))):
        sides[name] = [json.loads(l) for l in first[name].splitlines()]
        assert len(sides[name]) > 100 and counts[name] == len(sides[name])
        assert {q["answer"] for q in sides[name]} == set(words)
        for q in sides[name]:     # the one object that looks like that, on the side the answer says
            s = scenes[q["image_id"]]
            m = re.fullmatch(r"is the (small|large) (\w+) (\w+) (on the left or on the right|at the top or at the bottom)\?",
                             q["question"])
            assert m, q
            alike = [o for o in s["objects"] if (o["size"], o["colour"], o["shape"]) == m.group(1, 2, 3)]
            assert len(alike) == 1, q
            half = (s["width"] if axis == "x" else s["height"]) / 2
            assert (alike[0][axis] < half) == (q["answer"] == words[0]) and abs(alike[0][axis] - half) >= 20, q
    questions = [json.loads(l) for l in open(split / "vqa.jsonl")]
    relation_questions = [json.loads(l) for l in first["vqa-relations.jsonl"].splitlines()]
    assert relation_questions and relation_questions == [q for q in questions if q["type"].startswith("relation")]
    assert [json.loads(l) for l in first["vqa-sides-mix.jsonl"].splitlines()] == (
        questions + sides["vqa-sides-h.jsonl"] + sides["vqa-sides-v.jsonl"])


def _sides_true(text: str, scene: dict) -> list[bool]:
    """For each "a SIZE COLOUR SHAPE SIDE" part of a position caption: is that object on that side?"""
    words = {"on the left": ("x", True), "on the right": ("x", False), "at the top": ("y", True), "at the bottom": ("y", False)}
    out = []
    for part in re.split(r", | and ", text):
        m = re.fullmatch(r"a (small|large) (\w+) (\w+) (on the left|on the right|at the top|at the bottom)", part)
        assert m, text
        axis, before = words[m.group(4)]
        o = next(o for o in scene["objects"] if (o["size"], o["colour"], o["shape"]) == m.group(1, 2, 3))
        out.append((o[axis] < (scene["width"] if axis == "x" else scene["height"]) / 2) == before)
    return out


def test_filter_curriculum_manifests(tmp_path):
    from .curriculum import write_curriculum
    from .filter_curriculum import FILES, WEIGHTED, write_filter_curriculum
    generate_split(str(tmp_path), "train", 600, seed=9)
    split = tmp_path / "train"
    with pytest.raises(SystemExit, match="curriculum --split-dir"):   # the captioner's manifests come first
        write_filter_curriculum(str(split))
    write_curriculum(str(split))
    counts = write_filter_curriculum(str(split), seed=4)
    first = {name: [json.loads(l) for l in open(split / name)] for name in FILES + (WEIGHTED,)}
    assert write_filter_curriculum(str(split), seed=4) == counts                      # deterministic
    assert {name: [json.loads(l) for l in open(split / name)] for name in FILES + (WEIGHTED,)} == first
    scenes = {s["image_id"]: s for s in map(json.loads, open(split / "scenes.jsonl"))}
    key = lambda r: json.dumps(r, sort_keys=True)

    def kind(row):
        """What a row teaches: its negatives checked against its scene."""
        scene, text = scenes[row["image_id"]], row["text"]
        assert row["negatives"] and text not in row["negatives"]
        if re.search(r"(on the|at the) (left|right|top|bottom)$", text):
            axis = "h" if "on the" in text else "v"
            assert all(_sides_true(text, scene))
            flipped = [[not ok for ok in _sides_true(n, scene)] for n in row["negatives"]]
            if all(sum(f) == 1 for f in flipped):
                return "side-" + axis                       # one object's side wrong
            assert all(all(f) for f in flipped) and len(flipped) == 1 and len(set(re.findall(
                r"left|right|top|bottom", text))) == 2, row
            return "swap-" + axis                           # every side wrong, both sides named
        sc = Scene.from_json(scene)
        assert check_caption(text, sc).ok and not any(check_caption(n, sc).ok for n in row["negatives"]), row
        if "match-weighted" in row.get("_from", ""):
            return "weighted"
        (neg,) = row["negatives"]
        a, b = re.sub(r"\b(to the |)(left|right) of|above|below|under", "#", text), \
            re.sub(r"\b(to the |)(left|right) of|above|below|under", "#", neg)
        assert a == b and a.count("#") == 1, row            # only the relation changed
        return "relation-" + ("v" if re.search(r"above|below|under", text) else "h")

    weighted = {key(r) for r in first[WEIGHTED]}
    kinds = {}
    for name in FILES:
        assert counts[name] == len(first[name]) > 20, (name, counts[name])
        found = {}
        for r in first[name]:
            k = "weighted" if key(r) in weighted else kind(r)
            found[k] = found.get(k, 0) + 1
        kinds[name] = found
    assert set(kinds["match-sides-h.jsonl"]) == {"side-h"} and set(kinds["match-swaps-h.jsonl"]) == {"swap-h"}
    h = kinds["match-relations-h.jsonl"]
    assert set(h) == {"swap-h", "relation-h"} and h["swap-h"] == counts["match-swaps-h.jsonl"] >= h["relation-h"]
    assert kinds["match-sides-v.jsonl"]["side-v"] // 3 == sum(v for k, v in kinds["match-sides-v.jsonl"].items() if k != "side-v")
    assert set(kinds["match-swaps-v.jsonl"]) <= {"swap-v", "swap-h", "relation-h"}
    v = kinds["match-relations-v.jsonl"]
    assert v["relation-v"] // 4 == v["swap-v"] and v["relation-v"] // 2 == v.get("swap-h", 0) + v.get("relation-h", 0)
    mix = kinds["match-mix.jsonl"]
    assert mix["weighted"] == len(first[WEIGHTED]) and mix["relation-v"] == min(mix["weighted"] // 6, v["relation-v"])
    for r in first[WEIGHTED]:
        kind(dict(r, _from="match-weighted"))             # true caption, every negative false


def test_weighted_negatives_follow_their_weights():
    from .negatives import negatives_for, NEGATIVE_KINDS
    only_colour = {k: 0 for k in NEGATIVE_KINDS}
    only_colour["colour"] = 1
    for i in range(200):
        scene = make_scene(3, 0, i, 128)
        texts, plans = captions_for(scene, image_rng(3, 0, i, 2), 1)
        for neg in negatives_for(plans[0], scene, image_rng(3, 0, i, 6), 2, only_colour):
            changed = [(a, b) for a, b in zip(texts[0].split(), neg.split()) if a != b]
            assert len(neg.split()) == len(texts[0].split()) and changed and all(
                {a, b} <= set(COLOURS) | set(BACKGROUNDS) for a, b in changed), (texts[0], neg)
