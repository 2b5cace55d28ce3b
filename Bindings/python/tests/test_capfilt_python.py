"""blip.capfilt (Python over blip_capfilt) writes exactly the CLI's bytes on the same input, for
shards and for a JSONL manifest, with paths or loaded blip.Model handles; an exception in
on_progress stops the run and is re-raised; bad arguments raise BlipError."""
import json
import os

import pytest

import blip
from test_capfilt import CAPTIONER, FILTER, PHOTOS, capfilt as cli_capfilt, folder_bytes, make_shards, read, records


def test_python_shards_equal_the_cli(tmp_path):
    make_shards(tmp_path / "in", 2, 3)
    cli_capfilt(tmp_path / "in", tmp_path / "cli", "--captions-per-image", "2", "--seed", "5")
    seen = []
    out = blip.capfilt(CAPTIONER, FILTER, tmp_path / "in", tmp_path / "py", captions_per_image=2, seed=5,
                       batch_size=2, threads=2, on_progress=seen.append)
    assert out == tmp_path / "py"
    assert folder_bytes(tmp_path / "py") == folder_bytes(tmp_path / "cli")
    last = seen[-1]
    assert last.pairs_done == 6 and last.errors == 0 and last.shards_done == 2 and last.shards_total == 2
    assert last.pairs_total is None and last.images_per_second > 0 and last.eta_seconds == 0
    assert {p.shard for p in seen} == {"00000.tar", "00001.tar"}
    # loaded models give the same bytes as paths
    cap, itm = blip.Model(CAPTIONER, threads=2), blip.Model(FILTER, threads=2)
    blip.capfilt(cap, itm, tmp_path / "in", tmp_path / "models", captions_per_image=2, seed=5)
    assert folder_bytes(tmp_path / "models") == folder_bytes(tmp_path / "cli")
    # an existing output needs resume=True, which keeps it
    with pytest.raises(blip.BlipError, match="resume"):
        blip.capfilt(cap, itm, tmp_path / "in", tmp_path / "models", captions_per_image=2, seed=5)
    blip.capfilt(cap, itm, tmp_path / "in", tmp_path / "models", captions_per_image=2, seed=5, resume=True)
    assert folder_bytes(tmp_path / "models") == folder_bytes(tmp_path / "cli")


def test_python_manifest_equals_the_cli(tmp_path):
    pairs = make_shards(tmp_path / "in", 1, 4)
    manifest = tmp_path / "m.jsonl"
    with open(manifest, "w") as f:
        for key, photo, text in pairs:
            f.write(json.dumps({"image": photo, "text": text, "key": key}) + "\n")
        f.write(json.dumps({"image": "missing.jpg", "text": "t"}) + "\n")
    cli_capfilt(manifest, tmp_path / "cli.jsonl", "--threshold", "0.4", "--preset", "capfilt",
                "--prompt", "a picture of")
    seen = []
    blip.capfilt(CAPTIONER, FILTER, manifest, tmp_path / "py.jsonl", threshold=0.4, on_progress=seen.append,
                 prompt="a picture of")
    assert read(tmp_path / "py.jsonl") == read(tmp_path / "cli.jsonl")
    # the prompt changes the captions and is not part of them
    blip.capfilt(CAPTIONER, FILTER, manifest, tmp_path / "plain.jsonl", threshold=0.4)
    prompted, plain = records(tmp_path / "py.jsonl"), records(tmp_path / "plain.jsonl")
    captions = [s["text"] for r in prompted if "synthetic" in r for s in r["synthetic"]]
    assert len(captions) == 4 and not any(c.startswith("a picture of") for c in captions)
    assert captions != [s["text"] for r in plain if "synthetic" in r for s in r["synthetic"]]
    assert len(records(tmp_path / "py.jsonl")) == 5
    assert seen[-1].pairs_total == 5 and seen[-1].errors == 1 and seen[-1].shard == str(manifest)


def test_exception_in_on_progress_stops_and_is_reraised(tmp_path):
    make_shards(tmp_path / "in", 3, 2)

    class Stop(Exception):
        pass

    def stop_after_first_shard(p):
        if p.shards_done == 1:
            raise Stop()

    with pytest.raises(Stop):
        blip.capfilt(CAPTIONER, FILTER, tmp_path / "in", tmp_path / "out", batch_size=1,
                     on_progress=stop_after_first_shard)
    assert sorted(os.listdir(tmp_path / "out")) == ["00000.jsonl", "00000.tar"]  # finished shard kept, no temporaries
    blip.capfilt(CAPTIONER, FILTER, tmp_path / "in", tmp_path / "out", resume=True)
    cli_capfilt(tmp_path / "in", tmp_path / "cli")
    assert folder_bytes(tmp_path / "out") == folder_bytes(tmp_path / "cli")


@pytest.mark.parametrize("kwargs,words", [
    (dict(threshold=1.5), "threshold"),
    (dict(captions_per_image=0), "captions"),
    (dict(batch_size=0), "batch size"),
    (dict(preset="nope"), "nope"),
    (dict(threads=-1), "threads"),
    (dict(seed=-1), "seed"),
    (dict(captions_per_image="2"), "captions_per_image"),
])
def test_bad_arguments(tmp_path, kwargs, words):
    make_shards(tmp_path / "in", 1, 1)
    with pytest.raises(blip.BlipError, match=words):
        blip.capfilt(CAPTIONER, FILTER, tmp_path / "in", tmp_path / "out", **kwargs)
    assert not (tmp_path / "out" / "00000.tar").exists()


def test_wrong_models_and_missing_input(tmp_path):
    make_shards(tmp_path / "in", 1, 1)
    with pytest.raises(blip.BlipError, match="BlipForConditionalGeneration"):
        blip.capfilt(FILTER, FILTER, tmp_path / "in", tmp_path / "out")
    with pytest.raises(blip.BlipError) as e:
        blip.capfilt(CAPTIONER, FILTER, tmp_path / "nothing-here", tmp_path / "out2")
    assert e.value.status == -2  # BLIP_ERR_IO
    with pytest.raises(blip.BlipError, match="filter"):
        blip.capfilt(CAPTIONER, None, tmp_path / "in", tmp_path / "out3")
