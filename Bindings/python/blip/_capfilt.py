"""blip.capfilt: `blip capfilt` from Python (blip_capfilt in include/blip.h)."""
import collections

from . import _jobs
from ._jobs import _float, _int, _invalid, _path, _text
from ._native import CAPFILT_PROGRESS_CALLBACK, CapFiltParams, lib

CapFiltProgress = collections.namedtuple(
    "CapFiltProgress", "pairs_done pairs_total errors shards_done shards_total shards_skipped images_per_second "
                       "elapsed_seconds eta_seconds shard")
CapFiltProgress.__doc__ = """A report after every batch of pairs and after every finished shard (the JSONL output
of a manifest counts as one shard). `pairs_total` is None for shard input (not known up front),
`eta_seconds` None until it can be estimated; `shard` is the input shard (or manifest) in work."""

# CapFilt's defaults (= the CLI's); blip_capfilt_default_params says the same.
DEFAULT_BATCH_SIZE = 8


def _model(name, value, params):
    """A path (str / PathLike) or a loaded blip.Model, into the params' path or handle field."""
    from ._model import Model
    if isinstance(value, Model):
        if not value._handle:
            raise _invalid(f"{name} is a closed blip.Model")
        setattr(params, name + "_model", value._handle)
    else:
        if value is None:
            raise _invalid(f"{name} is required (a model directory or a blip.Model)")
        setattr(params, name, _path(name, value))


def capfilt(captioner, filter, input, output, captions_per_image=1, threshold=0.5, preset="capfilt", seed=0,
            batch_size=DEFAULT_BATCH_SIZE, threads=0, resume=False, on_progress=None, prompt=None):
    """Runs CapFilt as `blip capfilt` does (same options, same defaults, byte-identical outputs);
    returns `output`.

    captioner: a BlipForConditionalGeneration model (path, or a loaded blip.Model); filter: a
    BlipForImageTextRetrieval model with an ITM head (likewise). input/output: a JSONL manifest
    and a JSONL file of records, or a folder of WebDataset .tar shards and an output folder
    (same shard names; NNNNN.tar with KEY.jpg, KEY.txt = kept texts, KEY.json = the record, and
    NNNNN.jsonl). Each caption's seed derives from (seed, key, caption index), so results do not
    depend on order, batch_size or sharding. prompt: text every synthetic caption starts from, as
    the captioner was finetuned (e.g. "a picture of"), left out of the recorded caption. resume=True keeps finished outputs and does the rest
    (otherwise an existing output is an error). threads: 0 = all cores (unused for loaded models).

    `on_progress(p)` gets a CapFiltProgress after every batch and every finished shard. If it
    raises (or Ctrl-C arrives), the run stops after the current batch and that exception is
    re-raised here; finished shards stay (resume=True finishes the rest). Errors raise BlipError."""
    p = _jobs.default_params(lib.blip_capfilt_default_params, CapFiltParams, "blip_capfilt_params")
    _model("captioner", captioner, p)
    _model("filter", filter, p)
    if input is None or output is None:
        raise _invalid("input and output are required")
    p.input = _path("input", input)
    p.output = _path("output", output)
    p.captions_per_image = _int("captions_per_image", captions_per_image)
    p.threshold = _float("threshold", threshold)
    p.preset = _text("preset", "capfilt" if preset is None else preset)
    p.seed = _int("seed", seed, low=0, high=2 ** 64 - 1)
    if prompt is not None:
        p.prompt = _text("prompt", prompt)
    p.batch_size = _int("batch_size", batch_size)
    p.n_threads = _int("threads", threads)
    p.resume = 1 if resume else 0

    _jobs.run(lib.blip_capfilt, p, CAPFILT_PROGRESS_CALLBACK, on_progress, lambda s: CapFiltProgress(
        s.pairs_done, None if s.pairs_total < 0 else s.pairs_total, s.errors, s.shards_done, s.shards_total,
        s.shards_skipped, s.images_per_second, s.elapsed_seconds, None if s.eta_seconds < 0 else s.eta_seconds,
        s.shard.decode("utf-8", "replace") if s.shard else None))
    return output
