"""blip.finetune: the same run through Python and `blip finetune` reports the same losses;
an exception in on_progress stops the run cleanly; bad arguments raise BlipError. Runs on the
tiny training fixtures (Tests/BlipTrainingTests/Fixtures)."""
import json
import os
import subprocess

import pytest

import blip

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "BlipTrainingTests", "Fixtures")
CAPTION = os.path.join(FIXTURES, "models", "caption")
MATCH = os.path.join(FIXTURES, "models", "match")
CAPTION_TRAIN = os.path.join(FIXTURES, "caption.jsonl")
MATCH_TRAIN = os.path.join(FIXTURES, "match.jsonl")
CLI = os.environ.get("BLIP_CLI", os.path.join(ROOT, "build", "bin", "blip"))


def cli_finetune(*args):
    subprocess.run([CLI, "finetune", *args, "--quiet"], capture_output=True, text=True, check=True)


def read_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.mark.parametrize("task,model,train", [("caption", CAPTION, CAPTION_TRAIN), ("match", MATCH, MATCH_TRAIN)])
def test_losses_match_cli_log(tmp_path, task, model, train):
    # 3 steps of batch 3 over 8 rows: a short last batch, an epoch boundary, shuffling.
    settings = dict(max_steps=3, batch_size=3, augment="none", lr=1e-4, warmup_steps=1, seed=3, threads=2)
    cli_log = tmp_path / "cli.jsonl"
    cli_finetune("--task", task, "--model", model, "--train", train, "--out", str(tmp_path / "cli"),
                 "--max-steps", "3", "--batch-size", "3", "--augment", "none", "--lr", "1e-4",
                 "--warmup-steps", "1", "--seed", "3", "--threads", "2", "--log", str(cli_log))
    expected = read_log(cli_log)
    assert [e["step"] for e in expected] == [1, 2, 3]

    seen = []
    py_log = tmp_path / "py.jsonl"
    result = blip.finetune(task, train, str(tmp_path / "py"), model=model, log=str(py_log),
                           on_progress=seen.append, **settings)
    assert result == str(tmp_path / "py")
    assert all(isinstance(p, blip.FinetuneProgress) for p in seen)
    assert [p.step for p in seen] == [1, 2, 3]
    assert all(p.total_steps == 3 for p in seen)
    assert [p.epoch for p in seen] == [e["epoch"] for e in expected]
    # the same run: the same losses, bit for bit, and the same learning rates
    assert [p.loss for p in seen] == [e["loss"] for e in expected]
    assert [p.lr for p in seen] == pytest.approx([e["lr"] for e in expected], rel=1e-6)
    assert [e["loss"] for e in read_log(py_log)] == [e["loss"] for e in expected]
    assert seen[-1].eta_seconds == 0 and all(p.samples_per_second > 0 for p in seen)
    # the output directory loads and runs
    with blip.Model(str(tmp_path / "py")) as m:
        if task == "caption":
            assert isinstance(m.caption(os.path.join(FIXTURES, "images", "red_circle.png")), str)
        else:
            itm, itc = m.match(os.path.join(FIXTURES, "images", "red_circle.png"), "a red circle")
            assert 0 <= itm <= 1 and -1 <= itc <= 1


class Stop(Exception):
    pass


def test_exception_in_on_progress_aborts(tmp_path):
    calls = []

    def on_progress(p):
        calls.append(p.step)
        raise Stop(f"stop at {p.step}")

    out = tmp_path / "out"
    with pytest.raises(Stop, match="stop at 1"):
        blip.finetune("caption", CAPTION_TRAIN, str(out), model=CAPTION, max_steps=3, batch_size=2, augment="none",
                      threads=2, on_progress=on_progress)
    assert calls == [1]
    assert not out.exists()
    # the library is left in a usable state: the next run works
    blip.finetune("caption", CAPTION_TRAIN, str(out), model=CAPTION, max_steps=1, batch_size=2, augment="none",
                  threads=2)
    assert (out / "config.json").exists() and (out / "model.safetensors").exists()


@pytest.mark.parametrize("kwargs,status,words", [
    (dict(task="segment"), -1, "segment"),
    (dict(train="/nonexistent/train.jsonl"), -2, "/nonexistent/train.jsonl"),
    (dict(model=None), -1, "config"),
    (dict(config=os.path.join(CAPTION, "config.json")), -1, "config"),
    (dict(model="/nonexistent/model"), -2, "/nonexistent/model"),
    (dict(batch_size=0), -1, "batch"),
    (dict(epochs=2 ** 40), -1, "epochs"),
    (dict(max_steps=0), -1, "max_steps"),
    (dict(lr="fast"), -1, "lr"),
    (dict(schedule="linear"), -1, "linear"),
    (dict(augment="flip"), -1, "flip"),
    (dict(freeze="everything"), -1, "everything"),
    (dict(task=None), -1, "task"),
    (dict(train=None), -1, "train"),
])
def test_bad_arguments_raise(tmp_path, kwargs, status, words):
    args = dict(task="caption", train=CAPTION_TRAIN, out=str(tmp_path / "out"), model=CAPTION, max_steps=1,
                batch_size=2, augment="none")
    args.update(kwargs)
    with pytest.raises(blip.BlipError) as e:
        blip.finetune(**args)
    assert e.value.status == status
    assert words in str(e.value)
    assert not (tmp_path / "out").exists()


def test_ctrl_c_stops_the_run(tmp_path):
    import signal
    calls = []

    def on_progress(p):
        calls.append(p.step)
        if p.step == 2:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C would, mid-run

    out = tmp_path / "out"
    # The binding records Ctrl-C under Python's default handler (a host's own handler, or SIG_IGN,
    # wins). A process started in the background by a non-interactive shell inherits SIGINT
    # ignored, so Python never installs its default handler there: install it for this test.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        try:
            blip.finetune("caption", CAPTION_TRAIN, str(out), model=CAPTION, epochs=1000, batch_size=2,
                          augment="none", threads=2, on_progress=on_progress)
        except KeyboardInterrupt:
            pass
        else:
            pytest.fail(f"no KeyboardInterrupt: {len(calls)} progress calls, last step {calls[-1] if calls else None}")
        assert calls == [1, 2]
        assert not out.exists()
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
