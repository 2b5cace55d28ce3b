"""blip.Model: the Python face of a loaded libblip model."""
import ctypes
import json
import os

from ._images import ImageBatch
from ._native import TOKEN_CALLBACK, GenerationParams, TextResult, check, lib

# Generated texts are at most 512 tokens (the position table); these buffers always suffice
# for the ids, and the text buffer grows on BLIP_ERR_BUFFER_TOO_SMALL.
_MAX_TOKENS = 512
_EARLY_STOPPING = {False: 0, True: 1, "never": 2}


def _generation_params(preset, beams, max_length, min_length, max_new_tokens, sample, top_k, top_p,
                       temperature, repetition_penalty, length_penalty, no_repeat_ngram_size,
                       early_stopping, seed):
    p = lib.blip_generation_default_params()
    check(lib.blip_generation_preset(preset.encode(), ctypes.byref(p)))
    for field, value in (("num_beams", beams), ("max_length", max_length), ("min_length", min_length),
                         ("max_new_tokens", max_new_tokens), ("top_k", top_k), ("top_p", top_p),
                         ("temperature", temperature), ("repetition_penalty", repetition_penalty),
                         ("length_penalty", length_penalty), ("no_repeat_ngram_size", no_repeat_ngram_size),
                         ("seed", seed)):
        if value is not None:
            setattr(p, field, value)
    if sample is not None:
        p.do_sample = 1 if sample else 0
    if early_stopping is not None:
        p.early_stopping = _EARLY_STOPPING[early_stopping]
    return p


def _floats(buffer, rows, cols):
    try:
        import numpy as np
        return np.ctypeslib.as_array(buffer).reshape(rows, cols).copy()
    except ImportError:
        flat = list(buffer)
        return [flat[r * cols:(r + 1) * cols] for r in range(rows)]


def _shape(result, return_tokens):
    if isinstance(result, list):
        return result if return_tokens else [t for t, _ in result]
    return result if return_tokens else result[0]


class Model:
    """A BLIP model loaded from a Hugging Face model directory.

    Safe to share between threads (calls release the GIL while libblip works)."""

    def __init__(self, path, threads=0):
        params = lib.blip_model_default_params()
        params.n_threads = int(threads)
        handle = ctypes.c_void_p()
        check(lib.blip_model_load(os.fsencode(path), ctypes.byref(params), ctypes.byref(handle)))
        self._handle = handle

    def close(self):
        if getattr(self, "_handle", None):
            lib.blip_model_free(self._handle)
            self._handle = None

    def __del__(self):
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def info(self):
        """Architecture, sizes, storage and GEMM path, as a dict."""
        needed = ctypes.c_size_t(0)
        lib.blip_model_info(self._handle, None, 0, ctypes.byref(needed))
        buf = ctypes.create_string_buffer(needed.value)
        check(lib.blip_model_info(self._handle, buf, needed.value, None))
        return json.loads(buf.value.decode())

    @property
    def embedding_dim(self):
        return lib.blip_model_embedding_dim(self._handle)

    def _generate(self, fn, images, text, params, on_token):
        single = not isinstance(images, list)
        images = [images] if single else images
        n = len(images)
        callback = None
        if on_token is not None:
            def forward(token, so_far, _user):
                return 1 if on_token(token, so_far.decode("utf-8", "replace")) is False else 0
            callback = TOKEN_CALLBACK(forward)
            params.on_token = callback
        capacity = 4096
        while True:
            texts = [ctypes.create_string_buffer(capacity) for _ in range(n)]
            ids = [(ctypes.c_int32 * _MAX_TOKENS)() for _ in range(n)]
            results = (TextResult * n)()
            for i in range(n):
                results[i].text = ctypes.cast(texts[i], ctypes.c_void_p)
                results[i].text_capacity = capacity
                results[i].tokens = ids[i]
                results[i].tokens_capacity = _MAX_TOKENS
            with ImageBatch(images) as batch:
                status = fn(self._handle, batch.array, n, text, ctypes.byref(params), results)
            needed = max(results[i].text_length + 1 for i in range(n))
            if status == -7 and needed > capacity:  # BLIP_ERR_BUFFER_TOO_SMALL: retry with room
                capacity = needed
                continue
            check(status)
            out = [(texts[i].value.decode("utf-8"), list(ids[i][:results[i].n_tokens])) for i in range(n)]
            return out[0] if single else out

    def caption(self, image, prompt=None, beams=None, max_length=None, min_length=None, max_new_tokens=None,
                sample=None, top_k=None, top_p=None, temperature=None, repetition_penalty=None,
                length_penalty=None, no_repeat_ngram_size=None, early_stopping=None, seed=None,
                preset="hf", return_tokens=False, on_token=None):
        """Caption an image (path, encoded bytes or numpy array), or a list of images.

        Settings default to transformers' generate defaults (greedy, prompt + 20 new tokens);
        `preset` may be "hf", "paper" or "capfilt". `on_token(token_id, text_so_far)` streams;
        returning False stops with BlipError. With return_tokens=True returns (text, tokens)."""
        params = _generation_params(preset, beams, max_length, min_length, max_new_tokens, sample, top_k, top_p,
                                    temperature, repetition_penalty, length_penalty, no_repeat_ngram_size,
                                    early_stopping, seed)
        result = self._generate(lib.blip_caption, image, prompt.encode() if prompt is not None else None,
                                params, on_token)
        return _shape(result, return_tokens)

    def answer(self, image, question, candidates=None, beams=None, max_length=None, min_length=None, max_new_tokens=None,
               sample=None, top_k=None, top_p=None, temperature=None, repetition_penalty=None,
               length_penalty=None, no_repeat_ngram_size=None, early_stopping=None, seed=None,
               preset="hf", return_tokens=False, on_token=None):
        """Answer a question about an image (or each of a list of images). With `candidates`,
        rank mode: the candidate with the highest log-likelihood (see rank_answers)."""
        if candidates is not None:
            def best(img):
                scores = self.rank_answers(img, question, candidates)
                return candidates[max(range(len(candidates)), key=scores.__getitem__)]
            return [best(i) for i in image] if isinstance(image, list) else best(image)
        params = _generation_params(preset, beams, max_length, min_length, max_new_tokens, sample, top_k, top_p,
                                    temperature, repetition_penalty, length_penalty, no_repeat_ngram_size,
                                    early_stopping, seed)
        result = self._generate(lib.blip_answer, image, question.encode(), params, on_token)
        return _shape(result, return_tokens)

    def rank_answers(self, image, question, candidates):
        """VQA rank mode: log-likelihood of each candidate answer (higher is better), as the
        BLIP paper evaluates VQA. Returns a list of floats in the candidates' order."""
        n = len(candidates)
        scores = (ctypes.c_float * max(n, 1))()
        encoded = (ctypes.c_char_p * max(n, 1))(*[c.encode() for c in candidates])
        with ImageBatch([image]) as batch:
            check(lib.blip_answer_rank(self._handle, batch.array, question.encode(), encoded, n, scores))
        return list(scores[:n])

    def retrieve(self, images, query, top_k=5, rerank=True):
        """Text-to-image retrieval: [(image_index, score), ...] best first, for one query (or a
        list of such lists for a list of queries). ITC shortlists top_k; with rerank the ITM
        probability orders them (score = ITM probability, else ITC cosine)."""
        queries = query if isinstance(query, list) else [query]
        k = min(top_k, len(images))
        indices = (ctypes.c_int32 * (k * len(queries)))()
        scores = (ctypes.c_float * (k * len(queries)))()
        encoded = (ctypes.c_char_p * len(queries))(*[q.encode() for q in queries])
        with ImageBatch(images) as batch:
            check(lib.blip_retrieve(self._handle, batch.array, len(images), encoded, len(queries), top_k,
                                    1 if rerank else 0, indices, scores, len(indices)))
        rows = [[(indices[q * k + r], scores[q * k + r]) for r in range(k)] for q in range(len(queries))]
        return rows if isinstance(query, list) else rows[0]

    def match(self, image, text):
        """(itm, itc) for an image and a text; lists give a list of rows, one per image, of
        (itm, itc) per text."""
        images = image if isinstance(image, list) else [image]
        texts = text if isinstance(text, list) else [text]
        n, m = len(images), len(texts)
        itm = (ctypes.c_float * (n * m))()
        itc = (ctypes.c_float * (n * m))()
        encoded = (ctypes.c_char_p * m)(*[t.encode() for t in texts])
        with ImageBatch(images) as batch:
            check(lib.blip_match(self._handle, batch.array, n, encoded, m, itm, itc, n * m))
        rows = [[(itm[i * m + j], itc[i * m + j]) for j in range(m)] for i in range(n)]
        if not isinstance(text, list):
            rows = [r[0] for r in rows]
        return rows if isinstance(image, list) else rows[0]

    def similarity(self, images, texts):
        """ITC cosine matrix [len(images), len(texts)] (retrieval): each input encoded once."""
        n, m = len(images), len(texts)
        itc = (ctypes.c_float * (n * m))()
        encoded = (ctypes.c_char_p * m)(*[t.encode() for t in texts])
        with ImageBatch(images) as batch:
            check(lib.blip_match(self._handle, batch.array, n, encoded, m, None, itc, n * m))
        return _floats(itc, n, m)

    def embed_text(self, text):
        """Normalised ITC text embedding(s): (dim,) float32, or a list for a list of texts."""
        single = not isinstance(text, list)
        texts = [text] if single else text
        dim = self.embedding_dim
        out = (ctypes.c_float * max(dim * len(texts), 1))()
        encoded = (ctypes.c_char_p * len(texts))(*[t.encode() for t in texts])
        check(lib.blip_encode_text(self._handle, encoded, len(texts), out, dim * len(texts)))
        rows = _floats(out, len(texts), dim)
        return rows[0] if single else list(rows)

    def embed_image(self, image):
        """Normalised ITC image embedding(s): (dim,) float32, or a list for a list of images."""
        single = not isinstance(image, list)
        images = [image] if single else image
        dim = self.embedding_dim
        if dim == 0:
            # let the library produce its own message for the unsupported task
            with ImageBatch(images[:1]) as batch:
                check(lib.blip_encode_image(self._handle, batch.array, 1, None, 0))
        out = (ctypes.c_float * (dim * len(images)))()
        with ImageBatch(images) as batch:
            check(lib.blip_encode_image(self._handle, batch.array, len(images), out, len(out)))
        rows = _floats(out, len(images), dim)
        return rows[0] if single else list(rows)
