"""The CapFilt experiment's bookkeeping: the filter's precision and recall against the known
corruption, and the bootstrapped manifest, on hand-made capfilt records over a generated split."""
import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from scripts.capfilt_experiment import (bootstrapped_rows, check_config, filter_quality, read_jsonl,  # noqa: E402
                                        removed_keeping)
from scripts.scene_world.generate import generate_split  # noqa: E402


def test_filter_quality_and_bootstrapped_rows(tmp_path):
    generate_split(str(tmp_path), "web", 40, seed=5, noise=0.5)
    web_dir = str(tmp_path / "web")
    web = read_jsonl(os.path.join(web_dir, "web.jsonl"))
    scenes = read_jsonl(os.path.join(web_dir, "scenes.jsonl"))
    noisy = [r for r in web if r["noisy"]]
    assert 0 < len(noisy) < len(web)
    records = []
    for k, (r, s) in enumerate(zip(web, scenes)):
        # The filter removes every corrupted text but the first, and the first clean text.
        kept = (not r["noisy"]) if k not in (web.index(noisy[0]), next(i for i, w in enumerate(web) if not w["noisy"])) \
            else r["noisy"]
        # One synthetic caption: the true caption on even rows (kept but for the first), a wrong
        # one on odd rows, removed on every other one of them.
        synthetic = {"text": s["caption"], "itm": 0.9, "kept": k > 0} if k % 2 == 0 else \
            {"text": "a purple elephant", "itm": 0.1, "kept": k % 4 == 3}
        records.append({"key": r["key"], "image": r["image"], "web": {"text": r["text"], "itm": 0.5, "kept": kept},
                        "synthetic": [synthetic], "texts": ([r["text"]] if kept else []) +
                        ([synthetic["text"]] if synthetic["kept"] else [])})
    records.append({"key": "broken", "image": "images/missing.png", "status": "error", "error": "cannot decode"})
    q = filter_quality(records, web_dir)
    clean = len(web) - len(noisy)
    assert q["web_rows"] == len(web) and q["errors"] == 1 and q["corrupted"] == len(noisy)
    assert q["corrupted_removed"] == (len(noisy) - 1) / len(noisy)
    assert q["clean_kept"] == (clean - 1) / clean
    assert q["removal_precision"] == (len(noisy) - 1) / len(noisy)
    assert sum(1 for k in q["removed_per_kind"].values() if k < 1) == 1
    assert q["synthetic"] == len(web) and q["synthetic_kept"] == 29 / 40
    assert q["synthetic_correct"] == 0.5 and q["synthetic_kept_correct"] == 19 / 29
    assert q["itm_auc"] == 0.5 and q["removed_keeping_90"] == 0.0   # every web itm here is 0.5

    clean_rows = [{"image": "/clean/a.png", "text": "a red circle", "image_id": "clean_0"}]
    rows = bootstrapped_rows(records, web_dir, clean_rows)
    assert rows[-1] == clean_rows[0]
    assert len(rows) == sum(len(r.get("texts", [])) for r in records) + 1
    assert all(os.path.isabs(r["image"]) and os.path.exists(r["image"]) for r in rows[:-1])
    # texts of one image share its image_id (ITC positives), distinct images do not
    ids = {}
    for r in rows[:-1]:
        ids.setdefault(r["image"], set()).add(r["image_id"])
    assert all(len(v) == 1 for v in ids.values()) and len({next(iter(v)) for v in ids.values()}) == len(ids)
    json.dumps(q)   # results.json holds it


def test_removed_keeping():
    clean = [0.9, 0.8, 0.7, 0.6, 0.5, 0.95, 0.85, 0.75, 0.65, 0.55]   # 10 clean: keeping 9 puts the bar at 0.55
    corrupted = [0.1, 0.54, 0.55, 0.9]
    assert removed_keeping(clean, corrupted, 0.9) == 0.5
    assert removed_keeping(clean, corrupted, 1.0) == 0.25                 # bar at 0.5
    assert removed_keeping([], corrupted, 0.9) is None


def test_a_work_folder_holds_one_configuration(tmp_path):
    import argparse
    import pytest
    args = argparse.Namespace(work=str(tmp_path / "work"), web_count=100, clean_count=20, noise=0.4, test_count=50,
                              caption_steps=10, filter_steps=10, finetune_steps=5, explicit_negatives=True)
    check_config(args)                       # records it
    check_config(args)                       # the same settings resume
    args.caption_steps = 20
    with pytest.raises(SystemExit, match="caption_steps: 10 there, 20 now"):
        check_config(args)
