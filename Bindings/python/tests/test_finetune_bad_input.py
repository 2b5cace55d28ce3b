"""`blip finetune` on bad input never crashes: bad manifest rows and unreadable images are
reported on stderr with their manifest line and skipped (or, with --strict, stop the run with a
non-zero status naming the line); unusable models, tasks and output paths fail with a clear
message. Every failure leaves nothing at --out: no half-written directory, no `*.tmp-*` (or
`*.old-*`, checkpoint) debris beside it. CLI only (env BLIP_CLI); tiny fixtures from
Tests/BlipTrainingTests/Fixtures."""
import json
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "BlipTrainingTests", "Fixtures")
CAPTION = os.path.join(FIXTURES, "models", "caption")
VQA = os.path.join(FIXTURES, "models", "vqa")
MATCH = os.path.join(FIXTURES, "models", "match")
IMAGES = os.path.join(FIXTURES, "images")
CLI = os.environ.get("BLIP_CLI", os.path.join(ROOT, "build", "bin", "blip"))

GOOD = {"image": "red_circle.png", "text": "a red circle"}


def run_cli(*args, timeout=300):
    r = subprocess.run([CLI, *args], capture_output=True, timeout=timeout)
    return r.returncode, r.stderr.decode("utf-8", "replace")


def finetune(out, *args, task="caption", model=CAPTION):
    model_args = ["--model", model] if model else []
    return run_cli("finetune", "--task", task, *model_args, "--out", str(out), "--threads", "2", "--quiet", *args)


@pytest.fixture
def data(tmp_path):
    """A folder with good images and broken ones: a truncated PNG and a truncated JPEG."""
    d = tmp_path / "data"
    d.mkdir()
    for name in ("red_circle.png", "blue_square.png", "yellow_circle.jpg"):
        shutil.copy(os.path.join(IMAGES, name), d / name)
    (d / "truncated.png").write_bytes((d / "red_circle.png").read_bytes()[:100])
    (d / "truncated.jpg").write_bytes((d / "yellow_circle.jpg").read_bytes()[:300])
    return d


def write_manifest(path, lines):
    """lines: dicts (written as JSON) or raw bytes (written as they are)."""
    with open(path, "wb") as f:
        for line in lines:
            f.write(line if isinstance(line, bytes) else json.dumps(line).encode())
            f.write(b"\n")
    return str(path)


def assert_nothing_at(out):
    out = str(out)
    assert not os.path.lexists(out), f"{out} was left behind"
    parent, name = os.path.split(out)
    if os.path.isdir(parent):
        debris = [n for n in os.listdir(parent) if n.startswith(name + ".")]
        assert not debris, f"debris beside {out}: {debris}"


def assert_no_debris_beside(out):
    parent, name = os.path.split(str(out))
    debris = [n for n in os.listdir(parent) if re.match(re.escape(name) + r"\.(tmp|old)-", n)]
    assert not debris, f"debris beside {out}: {debris}"


def assert_model_dir(out):
    for name in ("config.json", "model.safetensors", "vocab.txt", "preprocessor_config.json"):
        assert (out / name).is_file(), f"{out} has no {name}"
    assert_no_debris_beside(out)


BAD_ROWS = [
    # (manifest line, what to expect in the report)
    ({"image": "missing.png", "text": "a red circle"}, r"missing\.png not found"),
    ({"image": "truncated.png", "text": "a red circle"}, r"truncated\.png: PNG: .*truncated"),
    ({"image": "truncated.jpg", "text": "a red circle"}, r"truncated\.jpg: JPEG: .*truncated"),
    ({"image": "blue_square.png", "text": ""}, r'"text" is empty'),
    ({"image": "blue_square.png", "text": "  \t "}, r'"text" is empty'),
    (b'{"image": "blue_square.png", "text": ', r"not valid JSON"),
    (b'{"image": "blue_square.png", "text": "a \xff\xfe square"}', r"not valid UTF-8"),
    (b'["blue_square.png", "a blue square"]', r"not a JSON object"),
    ({"image": "blue_square.png"}, r'missing "text"'),
    ({"image": "data", "text": "a folder"}, r"not a regular file"),
]


def test_bad_rows_are_reported_with_their_line_and_skipped(tmp_path, data):
    (data / "data").mkdir()
    lines = [GOOD] + [row for row, _ in BAD_ROWS] + [{"image": "blue_square.png", "text": "a blue square"}]
    manifest = write_manifest(data / "train.jsonl", lines)
    out = tmp_path / "out"
    status, err = finetune(out, "--train", manifest, "--epochs", "1", "--batch-size", "8", "--augment", "none",
                           "--no-shuffle")
    assert status == 0, err
    for i, (_, expected) in enumerate(BAD_ROWS):
        line = i + 2
        assert re.search(rf"train\.jsonl:{line}: .*{expected}", err), f"line {line} ({expected}) not reported:\n{err}"
    # the good rows (first and last line) are not reported
    assert not re.search(rf"train\.jsonl:(1|{len(lines)}):", err), err
    assert "wrote" in err
    assert_model_dir(out)


def test_bad_vqa_rows_are_skipped(tmp_path, data):
    manifest = write_manifest(data / "vqa.jsonl", [
        {"image": "red_circle.png", "question": "what color is the circle?", "answer": "red"},
        {"image": "red_circle.png", "question": "what color is the circle?", "answer": ""},
        {"image": "red_circle.png", "question": "", "answer": "red"},
        {"image": "red_circle.png", "question": "what color is the circle?"},
        {"image": "truncated.png", "question": "what color is the circle?", "answer": "red"},
    ])
    out = tmp_path / "out"
    status, err = finetune(out, "--train", manifest, "--max-steps", "1", "--augment", "none", task="vqa", model=VQA)
    assert status == 0, err
    for line, expected in [(2, r'"answer" is empty'), (3, r'"question" is empty'), (4, r'missing "answer"'),
                           (5, r"truncated\.png")]:
        assert re.search(rf"vqa\.jsonl:{line}: .*{expected}", err), f"line {line} not reported:\n{err}"
    assert_model_dir(out)


@pytest.mark.parametrize("row,expected", BAD_ROWS[:7], ids=[
    "missing-image", "truncated-png", "truncated-jpeg", "empty-text", "blank-text", "invalid-json", "non-utf8"])
def test_strict_stops_at_the_bad_row(tmp_path, data, row, expected):
    manifest = write_manifest(data / "train.jsonl", [GOOD, row, GOOD])
    out = tmp_path / "out"
    status, err = finetune(out, "--train", manifest, "--max-steps", "2", "--batch-size", "2", "--augment", "none",
                           "--strict")
    assert status != 0, err
    assert re.search(rf"train\.jsonl:2: .*{expected}", err), err
    assert "wrote" not in err
    assert_nothing_at(out)


def test_strict_stops_at_a_bad_validation_row(tmp_path, data):
    train = write_manifest(data / "train.jsonl", [GOOD, GOOD])
    val = write_manifest(data / "val.jsonl", [GOOD, {"image": "missing.png", "text": "a red circle"}])
    out = tmp_path / "out"
    status, err = finetune(out, "--train", train, "--val", val, "--max-steps", "1", "--augment", "none", "--strict")
    assert status != 0, err
    assert re.search(r"val\.jsonl:2: .*missing\.png not found", err), err
    assert_nothing_at(out)


@pytest.mark.parametrize("which", ["train", "val"])
def test_a_manifest_with_no_valid_rows_fails(tmp_path, data, which):
    empty = write_manifest(data / "bad.jsonl", [
        {"image": "missing.png", "text": "a red circle"}, b"not json", {"image": "red_circle.png", "text": ""}])
    good = write_manifest(data / "good.jsonl", [GOOD])
    out = tmp_path / "out"
    train, val = (empty, good) if which == "train" else (good, empty)
    status, err = finetune(out, "--train", train, "--val", val, "--max-steps", "1", "--augment", "none")
    assert status != 0, err
    assert re.search(r"bad\.jsonl: no valid rows \(3 problems; first: line 1: .*missing\.png not found\)", err), err
    assert_nothing_at(out)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"], ids=["empty", "blank-lines"])
def test_an_empty_manifest_fails(tmp_path, content):
    manifest = tmp_path / "train.jsonl"
    manifest.write_bytes(content)
    out = tmp_path / "out"
    status, err = finetune(out, "--train", str(manifest), "--max-steps", "1")
    assert status != 0, err
    assert "no valid rows" in err
    assert_nothing_at(out)


def test_a_manifest_whose_images_all_fail_to_load_fails(tmp_path, data):
    manifest = write_manifest(data / "train.jsonl", [
        {"image": "truncated.png", "text": "a red circle"}, {"image": "truncated.jpg", "text": "a yellow circle"}])
    out = tmp_path / "out"
    status, err = finetune(out, "--train", manifest, "--max-steps", "2", "--augment", "none")
    assert re.search(r"train\.jsonl:1: .*truncated", err) and re.search(r"train\.jsonl:2: .*truncated", err), err
    assert status != 0, err
    assert_nothing_at(out)


def test_an_unreadable_validation_image_is_reported(tmp_path, data):
    train = write_manifest(data / "train.jsonl", [GOOD, GOOD])
    val = write_manifest(data / "val.jsonl", [GOOD, {"image": "truncated.png", "text": "a red circle"}])
    out = tmp_path / "out"
    status, err = finetune(out, "--train", train, "--val", val, "--max-steps", "1", "--augment", "none")
    assert status == 0, err
    assert re.search(r"val\.jsonl:2: .*truncated\.png", err), err


def test_an_int8_model_is_refused(tmp_path, data):
    int8 = tmp_path / "caption.int8"
    status, err = run_cli("quantize", "--model", CAPTION, "--out", str(int8))
    assert status == 0 and int8.is_file(), err
    manifest = write_manifest(data / "train.jsonl", [GOOD])
    out = tmp_path / "out"
    status, err = finetune(out, "--train", manifest, "--max-steps", "1", model=str(int8))
    assert status != 0, err
    assert "single-file (int8) model" in err and str(int8) in err
    assert_nothing_at(out)


@pytest.mark.parametrize("model", ["/nonexistent/model", "emptydir", "nofile"])
def test_a_missing_model_is_refused(tmp_path, data, model):
    (tmp_path / "emptydir").mkdir()
    (tmp_path / "nofile").mkdir()
    shutil.copy(os.path.join(CAPTION, "config.json"), tmp_path / "nofile" / "config.json")
    if not model.startswith("/"):
        model = str(tmp_path / model)
    manifest = write_manifest(data / "train.jsonl", [GOOD])
    out = tmp_path / "out"
    status, err = finetune(out, "--train", manifest, "--max-steps", "1", model=model)
    assert status != 0, err
    assert model in err, err
    assert_nothing_at(out)


def test_an_unwritable_out_fails_cleanly(tmp_path, data):
    # A path under a regular file: not writable even for root (chmod 555 would not stop root).
    blocker = tmp_path / "blocker"
    blocker.write_text("a file, not a folder\n")
    manifest = write_manifest(data / "train.jsonl", [GOOD])
    out = blocker / "out"
    status, err = finetune(out, "--train", manifest, "--max-steps", "1", "--augment", "none")
    assert status != 0, err
    assert str(out) in err and "not a directory" in err.lower(), err
    assert blocker.read_text() == "a file, not a folder\n"
    assert sorted(os.listdir(tmp_path)) == ["blocker", "data"]


def test_an_out_that_is_a_file_is_not_replaced(tmp_path, data):
    out = tmp_path / "out"
    out.write_text("precious\n")
    manifest = write_manifest(data / "train.jsonl", [GOOD])
    status, err = finetune(out, "--train", manifest, "--max-steps", "1", "--augment", "none")
    assert status != 0, err
    assert str(out) in err and "not a directory" in err, err
    assert out.read_text() == "precious\n"
    assert_no_debris_beside(out)


@pytest.mark.parametrize("task,model,train,needs,has", [
    ("vqa", CAPTION, "vqa.jsonl", "BlipForQuestionAnswering", "BlipForConditionalGeneration"),
    ("match", CAPTION, "match.jsonl", "BlipForImageTextRetrieval", "BlipForConditionalGeneration"),
    ("caption", MATCH, "caption.jsonl", "BlipForConditionalGeneration", "BlipForImageTextRetrieval"),
    ("caption", VQA, "caption.jsonl", "BlipForConditionalGeneration", "BlipForQuestionAnswering"),
])
def test_a_task_the_model_cannot_do_is_refused(tmp_path, task, model, train, needs, has):
    out = tmp_path / "out"
    status, err = finetune(out, "--train", os.path.join(FIXTURES, train), "--max-steps", "1", task=task, model=model)
    assert status != 0, err
    assert f"--task {task} needs a {needs} model, but this one is {has}" in err, err
    assert_nothing_at(out)


def test_from_scratch_with_config(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json",
                 "preprocessor_config.json", "generation_config.json"):
        shutil.copy(os.path.join(CAPTION, name), cfg / name)
    out = tmp_path / "out"
    log = tmp_path / "log.jsonl"
    status, err = finetune(out, "--config", str(cfg / "config.json"), "--train", os.path.join(FIXTURES, "caption.jsonl"),
                           "--max-steps", "2", "--batch-size", "4", "--log", str(log), model=None)
    assert status == 0, err
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [1, 2]
    assert_model_dir(out)
    with open(out / "config.json") as f:
        assert json.load(f)["architectures"] == ["BlipForConditionalGeneration"]
    # libblip loads and runs the output
    r = subprocess.run([CLI, "caption", "--model", str(out), "--threads", "2", "--json",
                        os.path.join(IMAGES, "red_circle.png")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "caption" in json.loads(r.stdout.splitlines()[0])
    # and a second run from the same config finds the output directory and replaces it
    status, err = finetune(out, "--config", str(cfg / "config.json"), "--train", os.path.join(FIXTURES, "caption.jsonl"),
                           "--max-steps", "1", model=None)
    assert status == 0, err
    assert_model_dir(out)


def test_from_scratch_without_tokenizer_files_is_refused(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    shutil.copy(os.path.join(CAPTION, "config.json"), cfg / "config.json")
    out = tmp_path / "out"
    status, err = finetune(out, "--config", str(cfg / "config.json"), "--train", os.path.join(FIXTURES, "caption.jsonl"),
                           "--max-steps", "1", model=None)
    assert status != 0, err
    assert "vocab.txt" in err, err
    assert_nothing_at(out)
