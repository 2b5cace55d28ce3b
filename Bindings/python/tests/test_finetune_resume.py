"""`blip finetune` killed with SIGKILL mid-run and resumed with --resume ends with exactly the
weights of an uninterrupted run, and never leaves a half-written output directory."""
import json
import os
import signal
import subprocess
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "BlipTrainingTests", "Fixtures")
CLI = os.environ.get("BLIP_CLI", os.path.join(ROOT, "build", "bin", "blip"))


def args(task, out, log):
    model = os.path.join(FIXTURES, "models", task)
    train = os.path.join(FIXTURES, task + ".jsonl")
    # crops, shuffling and hard negatives all draw random numbers: the resumed run must replay them
    return [CLI, "finetune", "--task", task, "--model", model, "--train", train, "--out", str(out),
            "--max-steps", "400", "--batch-size", "3", "--lr", "1e-3", "--augment", "crop", "--seed", "5",
            "--save-every", "7", "--threads", "2", "--quiet", "--log", str(log)]


def steps_logged(log):
    if not os.path.exists(log):
        return 0
    with open(log) as f:
        lines = [line for line in f if line.endswith("\n")]
    return len(lines)


def run_killed_then_resumed(task, tmp_path):
    out, log = tmp_path / "resumed", tmp_path / "resumed.jsonl"
    proc = subprocess.Popen(args(task, out, log), stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while steps_logged(log) < 60 and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, "the run finished before it could be killed; raise --max-steps"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = steps_logged(log)
    assert not out.exists(), "a killed run must not leave an output directory"
    assert os.path.exists(str(out) + ".checkpoint.safetensors")
    subprocess.run(args(task, out, log) + ["--resume"], check=True, stderr=subprocess.DEVNULL)
    return out, log, killed_at


@pytest.mark.parametrize("task", ["caption", "match"])
def test_resume_after_kill_equals_uninterrupted_run(tmp_path, task):
    straight, straight_log = tmp_path / (task + "-straight"), tmp_path / (task + "-straight.jsonl")
    subprocess.run(args(task, straight, straight_log), check=True, stderr=subprocess.DEVNULL)
    resumed, resumed_log, killed_at = run_killed_then_resumed(task, tmp_path)
    assert 60 <= killed_at < 400
    with open(straight / "model.safetensors", "rb") as a, open(resumed / "model.safetensors", "rb") as b:
        assert a.read() == b.read(), f"{task}: resumed weights differ from the uninterrupted run's"
    # the log of the resumed run has each step once, with the uninterrupted run's losses
    with open(straight_log) as a, open(resumed_log) as b:
        expected = [json.loads(line) for line in a]
        got = [json.loads(line) for line in b]
    assert [e["step"] for e in got] == list(range(1, 401))
    assert [e["loss"] for e in got] == [e["loss"] for e in expected]
    assert not os.path.exists(str(resumed) + ".checkpoint.safetensors"), "a finished run removes its checkpoint"
