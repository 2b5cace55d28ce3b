"""Loading libblip.so and declaring the C functions (see include/blip.h)."""
import ctypes
import ctypes.util
import os

PIXEL_RGB8, PIXEL_RGBA8, PIXEL_BGRA8, PIXEL_GRAY8 = 0, 1, 2, 3


class BlipError(Exception):
    """An error reported by libblip; `status` is the BLIP_ERR_* code."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Image(ctypes.Structure):
    _fields_ = [("pixels", ctypes.c_void_p), ("width", ctypes.c_int32), ("height", ctypes.c_int32),
                ("stride", ctypes.c_int32), ("format", ctypes.c_int32)]


class ModelParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("n_threads", ctypes.c_int32)]


TOKEN_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_int32, ctypes.c_char_p, ctypes.c_void_p)
ABORT_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class GenerationParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("max_length", ctypes.c_int32), ("max_new_tokens", ctypes.c_int32),
                ("min_length", ctypes.c_int32), ("num_beams", ctypes.c_int32), ("do_sample", ctypes.c_int32),
                ("temperature", ctypes.c_float), ("top_k", ctypes.c_int32), ("top_p", ctypes.c_float),
                ("repetition_penalty", ctypes.c_float), ("length_penalty", ctypes.c_float),
                ("no_repeat_ngram_size", ctypes.c_int32), ("early_stopping", ctypes.c_int32),
                ("seed", ctypes.c_uint64), ("on_token", TOKEN_CALLBACK), ("token_user_data", ctypes.c_void_p),
                ("should_abort", ABORT_CALLBACK), ("abort_user_data", ctypes.c_void_p)]


class FinetuneProgress(ctypes.Structure):
    _fields_ = [("step", ctypes.c_int32), ("total_steps", ctypes.c_int32), ("epoch", ctypes.c_int32),
                ("loss", ctypes.c_double), ("lr", ctypes.c_float), ("samples_per_second", ctypes.c_double),
                ("eta_seconds", ctypes.c_double)]


PROGRESS_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.POINTER(FinetuneProgress), ctypes.c_void_p)


class FinetuneParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("task", ctypes.c_char_p), ("model", ctypes.c_char_p),
                ("config", ctypes.c_char_p), ("train", ctypes.c_char_p), ("val", ctypes.c_char_p),
                ("out", ctypes.c_char_p), ("epochs", ctypes.c_int32), ("max_steps", ctypes.c_int32),
                ("batch_size", ctypes.c_int32), ("grad_accum", ctypes.c_int32), ("lr", ctypes.c_float),
                ("min_lr", ctypes.c_float), ("weight_decay", ctypes.c_float), ("warmup_steps", ctypes.c_int32),
                ("schedule", ctypes.c_char_p), ("clip_norm", ctypes.c_float), ("label_smoothing", ctypes.c_float),
                ("prompt", ctypes.c_char_p), ("max_text_length", ctypes.c_int32), ("freeze", ctypes.c_char_p),
                ("augment", ctypes.c_char_p), ("shuffle", ctypes.c_int32), ("seed", ctypes.c_uint64),
                ("save_every", ctypes.c_int32), ("resume", ctypes.c_int32), ("log", ctypes.c_char_p),
                ("n_threads", ctypes.c_int32), ("strict", ctypes.c_int32),
                ("on_progress", PROGRESS_CALLBACK), ("progress_user_data", ctypes.c_void_p),
                ("should_abort", ABORT_CALLBACK), ("abort_user_data", ctypes.c_void_p)]


class QuantizeParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("quantize_lm_head", ctypes.c_int32), ("embeddings", ctypes.c_char_p),
                ("image_activation_bits", ctypes.c_int32)]


class CapFiltProgress(ctypes.Structure):
    _fields_ = [("pairs_done", ctypes.c_int64), ("pairs_total", ctypes.c_int64), ("errors", ctypes.c_int64),
                ("shards_done", ctypes.c_int32), ("shards_total", ctypes.c_int32), ("shards_skipped", ctypes.c_int32),
                ("images_per_second", ctypes.c_double), ("elapsed_seconds", ctypes.c_double),
                ("eta_seconds", ctypes.c_double), ("shard", ctypes.c_char_p)]


CAPFILT_PROGRESS_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.POINTER(CapFiltProgress), ctypes.c_void_p)


class CapFiltParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_size_t), ("captioner", ctypes.c_char_p), ("filter", ctypes.c_char_p),
                ("input", ctypes.c_char_p), ("output", ctypes.c_char_p), ("captions_per_image", ctypes.c_int32),
                ("threshold", ctypes.c_float), ("preset", ctypes.c_char_p), ("seed", ctypes.c_uint64),
                ("batch_size", ctypes.c_int32), ("n_threads", ctypes.c_int32), ("resume", ctypes.c_int32),
                ("captioner_model", ctypes.c_void_p), ("filter_model", ctypes.c_void_p),
                ("on_progress", CAPFILT_PROGRESS_CALLBACK), ("progress_user_data", ctypes.c_void_p),
                ("should_abort", ABORT_CALLBACK), ("abort_user_data", ctypes.c_void_p), ("prompt", ctypes.c_char_p)]


class TextResult(ctypes.Structure):
    _fields_ = [("text", ctypes.c_void_p), ("text_capacity", ctypes.c_size_t),
                ("tokens", ctypes.POINTER(ctypes.c_int32)), ("tokens_capacity", ctypes.c_size_t),
                ("text_length", ctypes.c_size_t), ("n_tokens", ctypes.c_size_t), ("status", ctypes.c_int32)]


def _find_library():
    env = os.environ.get("BLIP_LIBRARY")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("libblip.so.0", "libblip.so"):
        candidate = os.path.join(here, name)
        if os.path.exists(candidate):
            return candidate
    return ctypes.util.find_library("blip") or "libblip.so.0"


def _load():
    path = _find_library()
    try:
        # Never unloaded: a Swift library must stay mapped for the life of the process.
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(f"cannot load libblip ({path}): {e}; build it with `make` and set BLIP_LIBRARY") from e
    c = ctypes
    sig = {
        "blip_last_error": (c.c_char_p, []),
        "blip_status_string": (c.c_char_p, [c.c_int]),
        "blip_version": (c.c_char_p, []),
        "blip_image_load_file": (c.c_int, [c.c_char_p, c.POINTER(Image)]),
        "blip_image_load_memory": (c.c_int, [c.c_void_p, c.c_size_t, c.POINTER(Image)]),
        "blip_image_free": (None, [c.POINTER(Image)]),
        "blip_model_default_params": (ModelParams, []),
        "blip_model_load": (c.c_int, [c.c_char_p, c.POINTER(ModelParams), c.POINTER(c.c_void_p)]),
        "blip_model_free": (None, [c.c_void_p]),
        "blip_model_info": (c.c_int, [c.c_void_p, c.c_char_p, c.c_size_t, c.POINTER(c.c_size_t)]),
        "blip_model_embedding_dim": (c.c_int32, [c.c_void_p]),
        "blip_model_vision_tokens": (c.c_int32, [c.c_void_p]),
        "blip_model_vision_width": (c.c_int32, [c.c_void_p]),
        "blip_encode_image": (c.c_int, [c.c_void_p, c.POINTER(Image), c.c_size_t, c.POINTER(c.c_float), c.c_size_t]),
        "blip_encode_image_states": (c.c_int, [c.c_void_p, c.POINTER(Image), c.c_size_t, c.POINTER(c.c_float), c.c_size_t]),
        "blip_encode_text": (c.c_int, [c.c_void_p, c.POINTER(c.c_char_p), c.c_size_t, c.POINTER(c.c_float), c.c_size_t]),
        "blip_match": (c.c_int, [c.c_void_p, c.POINTER(Image), c.c_size_t, c.POINTER(c.c_char_p), c.c_size_t,
                                 c.POINTER(c.c_float), c.POINTER(c.c_float), c.c_size_t]),
        "blip_retrieve": (c.c_int, [c.c_void_p, c.POINTER(Image), c.c_size_t, c.POINTER(c.c_char_p), c.c_size_t,
                                    c.c_int32, c.c_int, c.POINTER(c.c_int32), c.POINTER(c.c_float), c.c_size_t]),
        "blip_answer_rank": (c.c_int, [c.c_void_p, c.POINTER(Image), c.c_char_p, c.POINTER(c.c_char_p), c.c_size_t,
                                       c.POINTER(c.c_float)]),
        "blip_generation_default_params": (GenerationParams, []),
        "blip_generation_preset": (c.c_int, [c.c_char_p, c.POINTER(GenerationParams)]),
        "blip_caption": (c.c_int, [c.c_void_p, c.POINTER(Image), c.c_size_t, c.c_char_p, c.POINTER(GenerationParams),
                                   c.POINTER(TextResult)]),
        "blip_answer": (c.c_int, [c.c_void_p, c.POINTER(Image), c.c_size_t, c.c_char_p, c.POINTER(GenerationParams),
                                  c.POINTER(TextResult)]),
        "blip_quantize": (c.c_int, [c.c_char_p, c.c_char_p]),
        "blip_quantize_default_params": (QuantizeParams, []),
        "blip_quantize_with_params": (c.c_int, [c.c_char_p, c.c_char_p, c.POINTER(QuantizeParams)]),
        "blip_finetune_default_params": (FinetuneParams, []),
        "blip_finetune": (c.c_int, [c.POINTER(FinetuneParams)]),
        "blip_capfilt_default_params": (CapFiltParams, []),
        "blip_capfilt": (c.c_int, [c.POINTER(CapFiltParams)]),
    }
    for name, (restype, argtypes) in sig.items():
        fn = getattr(lib, name)
        fn.restype = restype
        fn.argtypes = argtypes
    return lib


lib = _load()


def check(status):
    """Raises BlipError with the library's message for a negative status."""
    if status < 0:
        raise BlipError(status, lib.blip_last_error().decode("utf-8", "replace"))
    return status
