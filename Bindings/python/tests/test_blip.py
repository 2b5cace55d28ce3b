"""pytest suite for the Python binding: the same inputs through Python and the `blip` CLI give
identical results; every image input form works; errors raise BlipError with the library's
message. Runs against the tiny fixture models (see scripts/make_fixtures.py)."""
import json
import os
import subprocess

import numpy as np
import pytest

import blip

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "BlipCoreTests", "Fixtures")
CAPTION = os.path.join(FIXTURES, "models", "captioning")
ITM = os.path.join(FIXTURES, "models", "itm")
VQA = os.path.join(FIXTURES, "models", "vqa-gen")
CLI = os.environ.get("BLIP_CLI", os.path.join(ROOT, "build", "bin", "blip"))
PHOTOS = [os.path.join(ROOT, "Examples", "images", n) for n in ("astronaut.jpg", "cat.jpg", "coffee.png")]


def cli(*args):
    out = subprocess.run([CLI, *args, "--json"], capture_output=True, text=True, check=True)
    return [json.loads(line) for line in out.stdout.splitlines()]


@pytest.fixture(scope="module")
def captioner():
    return blip.Model(CAPTION, threads=2)


@pytest.fixture(scope="module")
def matcher():
    return blip.Model(ITM, threads=2)


def test_version():
    # the library's version (blip.h) is the package's (pyproject.toml)
    pyproject = open(os.path.join(os.path.dirname(__file__), "..", "pyproject.toml")).read()
    package = next(l.split('"')[1] for l in pyproject.splitlines() if l.startswith("version = "))
    assert blip.__version__ == package == "0.1.0"


def test_caption_matches_cli(captioner):
    expected = cli("caption", "--model", CAPTION, *PHOTOS)
    for path, line in zip(PHOTOS, expected):
        text, tokens = captioner.caption(path, return_tokens=True)
        assert tokens == line["tokens"]
        assert text == line["caption"]
        assert tokens[0] == 30522


def test_caption_options_match_cli(captioner):
    expected = cli("caption", "--model", CAPTION, "--prompt", "a picture of", "--beams", "3", "--min-length", "5",
                   "--repetition-penalty", "1.3", PHOTOS[1])[0]
    text, tokens = captioner.caption(PHOTOS[1], prompt="a picture of", beams=3, min_length=5,
                                     repetition_penalty=1.3, return_tokens=True)
    assert tokens == expected["tokens"]
    assert tokens[:4] == [30522, 1037, 3861, 1997]
    assert text.startswith("a picture of")


def test_sampling_is_seeded(captioner):
    a = captioner.caption(PHOTOS[0], preset="capfilt", seed=7, return_tokens=True)[1]
    b = captioner.caption(PHOTOS[0], preset="capfilt", seed=7, return_tokens=True)[1]
    assert a == b


def test_image_forms_agree(captioner):
    from PIL import Image
    rgb = np.asarray(Image.open(PHOTOS[1]).convert("RGB"))
    with open(PHOTOS[1], "rb") as f:
        data = f.read()
    by_path = captioner.caption(PHOTOS[1], return_tokens=True)
    assert captioner.caption(data, return_tokens=True) == by_path
    assert captioner.caption(rgb, return_tokens=True) == by_path
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert captioner.caption(rgba, return_tokens=True) == by_path
    strided = np.zeros((rgb.shape[0], rgb.shape[1] + 7, 3), np.uint8)
    strided[:, :rgb.shape[1]] = rgb
    assert captioner.caption(strided[:, :rgb.shape[1]], return_tokens=True) == by_path


def test_lists_give_lists(captioner):
    texts = captioner.caption(PHOTOS)
    assert isinstance(texts, list) and len(texts) == 3
    assert texts[1] == captioner.caption(PHOTOS[1])


def test_streaming_and_abort(captioner):
    seen = []
    text, tokens = captioner.caption(PHOTOS[0], return_tokens=True, on_token=lambda t, s: seen.append(t))
    assert seen == tokens[1:]
    with pytest.raises(blip.BlipError) as e:
        captioner.caption(PHOTOS[0], on_token=lambda t, s: False)
    assert e.value.status == -8


def test_embeddings_match_cli(matcher):
    lines = cli("embed", "--model", ITM, "--image", PHOTOS[0], "--text", "a cat")
    text_line = next(l for l in lines if "text" in l)
    image_line = next(l for l in lines if "image" in l)
    assert np.array_equal(matcher.embed_text("a cat"), np.array(text_line["embedding"], np.float32))
    assert np.array_equal(matcher.embed_image(PHOTOS[0]), np.array(image_line["embedding"], np.float32))
    assert abs(np.linalg.norm(matcher.embed_image(PHOTOS[0])) - 1) < 1e-5


def test_match_matches_cli(matcher):
    lines = cli("match", "--model", ITM, "--text", "a cat", "--text", "a cup of coffee", PHOTOS[1])
    scores = matcher.match(PHOTOS[1], ["a cat", "a cup of coffee"])
    for line, (itm, itc) in zip(lines, scores):
        assert itm == pytest.approx(line["itm"], abs=1e-7)
        assert itc == pytest.approx(line["itc"], abs=1e-7)
    sim = matcher.similarity(PHOTOS, ["a cat", "a cup of coffee"])
    assert sim.shape == (3, 2)
    assert sim[1][0] == pytest.approx(scores[0][1], abs=1e-6)


@pytest.mark.skipif(not os.path.isdir(VQA), reason="no VQA fixture")
def test_answer_matches_cli():
    model = blip.Model(VQA, threads=2)
    line = cli("answer", "--model", VQA, "--question", "what is in the picture?", PHOTOS[2])[0]
    text, tokens = model.answer(PHOTOS[2], "what is in the picture?", return_tokens=True)
    assert tokens == line["tokens"] and text == line["answer"]


@pytest.mark.skipif(not os.path.isdir(VQA), reason="no VQA fixture")
def test_answer_several_questions_per_image():
    """Every --question is answered, for every image, in order (a repeated flag once kept only the last)."""
    model = blip.Model(VQA, threads=2)
    questions = ["what is in the picture?", "is it a cat?", "what colour is it?"]
    lines = cli("answer", "--model", VQA, *sum([["--question", q] for q in questions], []), PHOTOS[1], PHOTOS[2])
    assert [(l["image"], l["question"]) for l in lines] == [(p, q) for p in PHOTOS[1:3] for q in questions]
    for l in lines:
        text, tokens = model.answer(l["image"], l["question"], return_tokens=True)
        assert tokens == l["tokens"] and text == l["answer"]
    cands = ["yes", "no"]
    ranked = cli("answer", "--model", VQA, "--question", questions[0], "--question", questions[1],
                 *sum([["--candidate", c] for c in cands], []), PHOTOS[0])
    assert [l["question"] for l in ranked] == questions[:2]
    for l in ranked:
        assert l["answer"] == model.answer(PHOTOS[0], l["question"], candidates=cands)


@pytest.mark.skipif(not os.path.isdir(VQA), reason="no VQA fixture")
def test_rank_mode_matches_cli():
    model = blip.Model(VQA, threads=2)
    cands = ["sleeping", "a dog", "two cats on a sofa"]
    line = cli("answer", "--model", VQA, "--question", "what is the cat doing?",
               *sum([["--candidate", c] for c in cands], []), PHOTOS[1])[0]
    scores = model.rank_answers(PHOTOS[1], "what is the cat doing?", cands)
    assert [c["log_likelihood"] for c in line["candidates"]] == pytest.approx(scores, abs=1e-5)
    assert model.answer(PHOTOS[1], "what is the cat doing?", candidates=cands) == line["answer"]


def test_retrieve(matcher):
    sim = matcher.similarity(PHOTOS, ["a cat"])
    order = sorted(range(3), key=lambda i: -sim[i][0])
    hits = matcher.retrieve(PHOTOS, "a cat", top_k=2, rerank=False)
    assert [h[0] for h in hits] == order[:2]
    assert hits[0][1] == pytest.approx(sim[order[0]][0], abs=1e-6)
    reranked = matcher.retrieve(PHOTOS, "a cat", top_k=2)
    assert sorted(h[0] for h in reranked) == sorted(order[:2])
    for i, p in reranked:
        assert p == pytest.approx(matcher.match(PHOTOS[i], "a cat")[0], abs=1e-6)


def test_errors_carry_library_messages(captioner, matcher):
    with pytest.raises(blip.BlipError) as e:
        blip.Model("/nonexistent/model")
    assert e.value.status == -2 and "/nonexistent/model" in str(e.value)
    with pytest.raises(blip.BlipError) as e:
        captioner.answer(PHOTOS[0], "what is it?")
    assert e.value.status == -5 and "BlipForQuestionAnswering" in str(e.value)
    with pytest.raises(blip.BlipError) as e:
        matcher.caption(PHOTOS[0])
    assert e.value.status == -5
    with pytest.raises(blip.BlipError) as e:
        captioner.caption(b"not an image")
    assert e.value.status == -4
    with pytest.raises(blip.BlipError) as e:
        captioner.caption(PHOTOS[0], prompt="")
    assert e.value.status == -1
    with pytest.raises(blip.BlipError) as e:
        captioner.caption(PHOTOS[0], max_length=-3)
    assert e.value.status == -1
    with pytest.raises(blip.BlipError):
        captioner.caption(PHOTOS[0], beams=0)
    with pytest.raises(TypeError):
        captioner.caption(np.zeros((4, 4), np.float32))
    with pytest.raises(blip.BlipError) as e:
        captioner.caption(PHOTOS[0], preset="nope")
    assert "unknown preset" in str(e.value)


def test_quantize_then_run_every_task_on_the_int8_file(tmp_path):
    out = str(tmp_path / "captioning.int8.safetensors")
    blip.quantize(CAPTION, out)
    with blip.Model(out, threads=2) as q8:
        assert q8.info["storage"].startswith("libblip-int8 v1")
        text = q8.caption(PHOTOS[0], max_new_tokens=5)
        assert isinstance(text, str)
    itm = str(tmp_path / "itm.int8.safetensors")
    blip.quantize(ITM, itm)
    with blip.Model(itm, threads=2) as q8, blip.Model(ITM, threads=2) as f32:
        a, b = f32.embed_image(PHOTOS[1]), q8.embed_image(PHOTOS[1])
        assert float(np.dot(a, b)) > 0.99
        assert 0.0 <= q8.match(PHOTOS[1], "a cat")[0] <= 1.0


def test_quantize_errors_raise_and_leave_nothing(tmp_path):
    out = tmp_path / "x.int8.safetensors"
    with pytest.raises(blip.BlipError):
        blip.quantize(str(tmp_path / "no-such-model"), str(out))
    assert not out.exists()


def test_quantize_options_reach_the_file(tmp_path):
    # the CLI-only options are reachable from Python (blip_quantize_with_params)
    default, small = str(tmp_path / "default.int8"), str(tmp_path / "small.int8")
    blip.quantize(CAPTION, default)
    blip.quantize(CAPTION, small, lm_head_int8=False, embeddings="int8", image_activation_bits=8)
    assert os.path.getsize(small) < os.path.getsize(default)   # int8 word embeddings
    with blip.Model(small, threads=2) as q8, blip.Model(default, threads=2) as d8:
        assert "take 7-bit activations" not in q8.info["storage"]
        assert "take 7-bit activations" in d8.info["storage"]
        assert isinstance(q8.caption(PHOTOS[0], max_new_tokens=3), str)
    for kwargs, message in [({"embeddings": "bf16"}, "must be f16, int8 or f32"),
                            ({"image_activation_bits": 9}, "must be 7 or 8")]:
        bad = tmp_path / "bad.int8"
        with pytest.raises(blip.BlipError, match=message):
            blip.quantize(CAPTION, str(bad), **kwargs)
        assert not bad.exists()
    with pytest.raises(TypeError):
        blip.quantize(CAPTION, str(tmp_path / "t.int8"), image_activation_bits="7")


def test_cli_quantize_image_activation_bits(tmp_path):
    # 7 (default) lists the image-side matrices as 7-bit in `info`; 8 lists none; 9 is refused
    for bits, listed in [("7", True), ("8", False)]:
        out = str(tmp_path / f"q{bits}.safetensors")
        subprocess.run([CLI, "quantize", "--model", CAPTION, "--out", out, "--image-activation-bits", bits],
                       capture_output=True, text=True, check=True)
        with blip.Model(out, threads=2) as q8:
            assert ("take 7-bit activations" in q8.info["storage"]) == listed
            assert isinstance(q8.caption(PHOTOS[0], max_new_tokens=3), str)
    bad = subprocess.run([CLI, "quantize", "--model", CAPTION, "--out", str(tmp_path / "q9.safetensors"),
                          "--image-activation-bits", "9"], capture_output=True, text=True)
    assert bad.returncode != 0 and "must be 7 or 8" in bad.stderr
    assert not (tmp_path / "q9.safetensors").exists()
