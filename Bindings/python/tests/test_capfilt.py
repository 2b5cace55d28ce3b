"""`blip capfilt` end to end on the tiny random-weight fixtures (captioner: captioning, filter:
itm): texts are noise but decoding, seeds, scoring, thresholds and the output formats are the
real ones. Shards are built here with Python's tarfile, as img2dataset/webdataset write them.
CLI only (env BLIP_CLI)."""
import io
import json
import os
import signal
import struct
import subprocess
import tarfile
import time
import zlib

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
MODELS = os.path.join(ROOT, "Tests", "BlipCoreTests", "Fixtures", "models")
CAPTIONER = os.path.join(MODELS, "captioning")
FILTER = os.path.join(MODELS, "itm")
CLI = os.environ.get("BLIP_CLI", os.path.join(ROOT, "build", "bin", "blip"))
PHOTOS = [os.path.join(ROOT, "Examples", "images", n) for n in ("astronaut.jpg", "cat.jpg", "coffee.png")] + [
    os.path.join(ROOT, "Tests", "BlipCoreTests", "Fixtures", "photos", n)
    for n in ("chelsea.png", "camera_gray.png", "coffee.jpg")]
MTIME = 1_700_000_000


def read(path):
    with open(path, "rb") as f:
        return f.read()


def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), MTIME
    tar.addfile(info, io.BytesIO(data))


def image_member(key, photo):
    return key + (".png" if photo.endswith(".png") else ".jpg"), read(photo)


def write_shard(path, samples):
    """samples: (key, photo or None, text bytes or None)."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for key, photo, text in samples:
            if photo is not None:
                add(tar, *image_member(key, photo))
            if text is not None:
                add(tar, key + ".txt", text)
            add(tar, key + ".json", json.dumps({"key": key, "caption": (text or b"").decode("utf-8", "replace")}).encode())


def make_shards(folder, shards, per_shard):
    os.makedirs(folder, exist_ok=True)
    pairs = []
    for s in range(shards):
        samples = []
        for i in range(per_shard):
            key = "%05d%04d" % (s, i)
            photo = PHOTOS[(s * per_shard + i) % len(PHOTOS)]
            text = "a photo, number %d of shard %d" % (i, s)
            samples.append((key, photo, text.encode()))
            pairs.append((key, photo, text))
        write_shard(os.path.join(folder, "%05d.tar" % s), samples)
    return pairs


def capfilt(src, dst, *extra, check=True):
    r = subprocess.run([CLI, "capfilt", "--captioner", CAPTIONER, "--filter", FILTER, "--input", str(src),
                        "--output", str(dst), "--threads", "2", *extra], capture_output=True, timeout=600)
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def folder_bytes(folder):
    return {n: read(os.path.join(folder, n)) for n in sorted(os.listdir(folder))}


def check_record(r, threshold=0.5, captions=1):
    assert "error" not in r, r
    assert set(r) == {"key", "image", "web", "synthetic", "texts"}
    assert len(r["synthetic"]) == captions
    scored = [r["web"]] + r["synthetic"]
    for s in scored:
        assert 0 < s["itm"] < 1 and s["kept"] == (s["itm"] >= threshold) and s["text"].strip()
    assert r["texts"] == [s["text"] for s in scored if s["kept"]]


def test_shards_in_shards_out(tmp_path):
    pairs = make_shards(tmp_path / "in", 2, 3)
    r = capfilt(tmp_path / "in", tmp_path / "out", "--captions-per-image", "2")
    summary = r.stderr.decode()
    assert "6 pairs in (0 errors)" in summary and "images/s" in summary and "web texts kept" in summary
    assert sorted(os.listdir(tmp_path / "out")) == ["00000.jsonl", "00000.tar", "00001.jsonl", "00001.tar"]
    by_key = {}
    for s in range(2):
        recs = records(tmp_path / "out" / ("%05d.jsonl" % s))
        with tarfile.open(tmp_path / "out" / ("%05d.tar" % s)) as tar:
            members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
        assert len(members) == 3 * len(recs)
        for rec in recs:
            check_record(rec, captions=2)
            key = rec["key"]
            by_key[key] = rec
            assert json.loads(members[key + ".json"]) == rec
            assert members[key + ".txt"].decode() == "".join(t + "\n" for t in rec["texts"])
            name, data = image_member(key, next(p for k, p, _ in pairs if k == key))
            assert rec["image"] == name and members[name] == data  # original bytes, copied
    assert sorted(by_key) == [k for k, _, _ in pairs]
    assert [by_key[k]["web"]["text"] for k, _, _ in pairs] == [t for _, _, t in pairs]


def test_jsonl_gives_the_records_the_shards_give(tmp_path):
    """Seeds come from (seed, key, index): the same keys give the same captions and scores in
    either format, in any order, with any batch size."""
    pairs = make_shards(tmp_path / "in", 2, 3)
    capfilt(tmp_path / "in", tmp_path / "out", "--captions-per-image", "2")
    manifest = tmp_path / "m.jsonl"
    with open(manifest, "w") as f:
        for key, photo, text in reversed(pairs):
            f.write(json.dumps({"image": photo, "text": text, "key": key}) + "\n")
    for batch in ("1", "8"):
        capfilt(manifest, tmp_path / ("m%s.out.jsonl" % batch), "--captions-per-image", "2", "--batch-size", batch)
    got = records(tmp_path / "m1.out.jsonl")
    assert read(tmp_path / "m1.out.jsonl") == read(tmp_path / "m8.out.jsonl")
    shard = {r["key"]: r for s in range(2) for r in records(tmp_path / "out" / ("%05d.jsonl" % s))}
    for r in got:
        expected = dict(shard[r["key"]], image=r["image"])
        assert r == expected
    # another seed, other captions
    capfilt(manifest, tmp_path / "seed1.jsonl", "--captions-per-image", "2", "--seed", "1")
    other = records(tmp_path / "seed1.jsonl")
    assert [r["synthetic"][0]["text"] for r in other] != [r["synthetic"][0]["text"] for r in got]
    assert [r["web"] for r in other] == [r["web"] for r in got]


def test_threshold(tmp_path):
    make_shards(tmp_path / "in", 1, 4)
    capfilt(tmp_path / "in", tmp_path / "base", "--captions-per-image", "3")
    recs = records(tmp_path / "base" / "00000.jsonl")
    scores = sorted(s["itm"] for r in recs for s in [r["web"]] + r["synthetic"])
    median = scores[len(scores) // 2]
    for threshold, name in ((0.0, "all"), (median, "median"), (1.0, "none")):
        capfilt(tmp_path / "in", tmp_path / name, "--captions-per-image", "3", "--threshold", repr(threshold))
        got = records(tmp_path / name / "00000.jsonl")
        for r in got:
            check_record(r, threshold=threshold, captions=3)
        kept = sum(len(r["texts"]) for r in got)
        assert kept == {"all": len(scores), "none": 0}.get(name, sum(1 for s in scores if s >= median))
    assert capfilt(tmp_path / "in", tmp_path / "bad", "--threshold", "1.5", check=False).returncode != 0


def huge_png(width=20000, height=20000):
    """A valid PNG header declaring more pixels than the decoder's limit (checked before allocating)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_bad_samples_become_error_records(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = PHOTOS[0]
    with tarfile.open(folder / "00000.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, "a_good.jpg", read(good)); add(tar, "a_good.txt", b"a good pair")
        add(tar, "b_undecodable.jpg", b"\xff\xd8 this is not a jpeg"); add(tar, "b_undecodable.txt", b"text")
        add(tar, "c_huge.png", huge_png()); add(tar, "c_huge.txt", b"text")
        add(tar, "d_notext.jpg", read(good))
        add(tar, "e_latin1.jpg", read(good)); add(tar, "e_latin1.txt", "café".encode("latin-1"))
        add(tar, "f_blank.jpg", read(good)); add(tar, "f_blank.txt", b"  \n")
        add(tar, "g_noimage.txt", b"text without its image")
        add(tar, "h_webp.webp", b"RIFF....WEBP"); add(tar, "h_webp.txt", b"text")
        add(tar, "i_ключ.jpg", read(good)); add(tar, "i_ключ.txt", "ünïcode text".encode())
        add(tar, "z_cut.jpg", read(good))
    data = read(folder / "00000.tar")
    # truncate inside the last member's data: a damaged member, the shard still gives its records
    cut = data.rindex(b"z_cut.jpg") + 1024
    with open(folder / "00000.tar", "wb") as f:
        f.write(data[:cut])
    # a second, healthy shard: the run continues past the damaged one
    make_shards(tmp_path / "more", 1, 2)
    os.rename(tmp_path / "more" / "00000.tar", folder / "00001.tar")

    r = capfilt(folder, tmp_path / "out")
    assert "12 pairs in (8 errors)" in r.stderr.decode(), r.stderr.decode()
    recs = {rec["key"]: rec for rec in records(tmp_path / "out" / "00000.jsonl")}
    assert sorted(recs) == ["a_good", "b_undecodable", "c_huge", "d_notext", "e_latin1", "f_blank",
                            "g_noimage", "h_webp", "i_ключ", "z_cut"]
    check_record(recs["a_good"])
    check_record(recs["i_ключ"])
    assert recs["i_ключ"]["web"]["text"] == "ünïcode text"
    expected_errors = {"b_undecodable": "", "c_huge": "limit", "d_notext": "d_notext.txt", "e_latin1": "UTF-8",
                       "f_blank": "empty", "g_noimage": "no image", "h_webp": "webp", "z_cut": "truncated"}
    for key, words in expected_errors.items():
        rec = recs[key]
        assert rec["texts"] == [] and "web" not in rec and words in rec["error"], rec
    for rec in records(tmp_path / "out" / "00001.jsonl"):
        check_record(rec)
    with tarfile.open(tmp_path / "out" / "00000.tar") as tar:
        names = tar.getnames()
    assert "i_ключ.jpg" in names and "d_notext.jpg" in names and "d_notext.json" in names
    assert json.loads(tar_member(tmp_path / "out" / "00000.tar", "c_huge.json"))["error"] == recs["c_huge"]["error"]


def tar_member(path, name):
    with tarfile.open(path) as tar:
        return tar.extractfile(name).read()


def test_bad_manifest_rows_become_error_records(tmp_path):
    manifest = tmp_path / "m.jsonl"
    with open(manifest, "wb") as f:
        f.write(json.dumps({"image": PHOTOS[1], "text": "fine", "key": "ok"}).encode() + b"\n")
        f.write(b"\n")  # blank lines are not pairs
        f.write(json.dumps({"image": PHOTOS[1]}).encode() + b"\n")
        f.write(b'{"image": "x.jpg", "text": "caf\xe9"}\n')
        f.write(b"not json\n")
        f.write(json.dumps({"image": "missing.jpg", "text": "t", "key": 7}).encode() + b"\n")
        f.write(json.dumps({"image": PHOTOS[2], "text": "again", "key": "ok"}).encode() + b"\n")
    r = capfilt(manifest, tmp_path / "out.jsonl")
    assert "6 pairs in (5 errors)" in r.stderr.decode(), r.stderr.decode()
    recs = records(tmp_path / "out.jsonl")
    assert [x["key"] for x in recs] == ["ok", "3", "4", "5", "7", "ok"]
    check_record(recs[0])
    for rec, words in zip(recs[1:], ["text", "UTF-8", "JSON", "missing.jpg", "more than once"]):
        assert words in rec["error"] and rec["texts"] == [], rec


def test_refuses_existing_output_without_resume_and_wrong_models(tmp_path):
    make_shards(tmp_path / "in", 1, 1)
    capfilt(tmp_path / "in", tmp_path / "out")
    r = capfilt(tmp_path / "in", tmp_path / "out", check=False)
    assert r.returncode != 0 and b"--resume" in r.stderr
    before = folder_bytes(tmp_path / "out")
    capfilt(tmp_path / "in", tmp_path / "out", "--resume")
    assert folder_bytes(tmp_path / "out") == before
    r = subprocess.run([CLI, "capfilt", "--captioner", FILTER, "--filter", FILTER, "--input", str(tmp_path / "in"),
                        "--output", str(tmp_path / "x")], capture_output=True)
    assert r.returncode != 0 and b"BlipForConditionalGeneration" in r.stderr


def test_kill_and_resume_equals_uninterrupted_run(tmp_path):
    make_shards(tmp_path / "in", 8, 6)
    args = ["--captions-per-image", "6", "--batch-size", "4", "--seed", "3"]
    capfilt(tmp_path / "in", tmp_path / "straight", *args)
    expected = folder_bytes(tmp_path / "straight")
    out = tmp_path / "resumed"
    cmd = [CLI, "capfilt", "--captioner", CAPTIONER, "--filter", FILTER, "--input", str(tmp_path / "in"),
           "--output", str(out), "--threads", "2", *args]
    for kill_after in (1, 4):  # kill twice: after the first and after the fourth finished shard
        proc = subprocess.Popen(cmd + (["--resume"] if kill_after > 1 else []), stderr=subprocess.DEVNULL)
        deadline = time.time() + 300
        while proc.poll() is None and time.time() < deadline:
            if out.exists() and sum(n.endswith(".tar") for n in os.listdir(out)) >= kill_after:
                break
            time.sleep(0.005)
        assert proc.poll() is None, "the run finished before it could be killed; make it longer"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        partial = os.listdir(out)
        assert len([n for n in partial if n.endswith(".tar")]) < 8
        for name in partial:  # whatever is there under a final name is complete
            if not ".tmp-" in name:
                assert read(out / name) == expected[name], name
    subprocess.run(cmd + ["--resume"], check=True, stderr=subprocess.DEVNULL, timeout=600)
    assert folder_bytes(out) == expected  # no temporaries left, nothing lost or repeated
