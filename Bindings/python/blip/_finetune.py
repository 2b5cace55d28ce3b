"""blip.finetune: `blip finetune` from Python (blip_finetune in include/blip.h)."""
import collections

from . import _jobs
from ._jobs import _float, _int, _path, _text
from ._native import PROGRESS_CALLBACK, FinetuneParams, lib

FinetuneProgress = collections.namedtuple(
    "FinetuneProgress", "step total_steps epoch loss lr samples_per_second eta_seconds")
FinetuneProgress.__doc__ = """One optimizer step's report: `step` counts from 1, `epoch` from 0, `loss` is the
mean loss of the step's batch before the update (the `loss` that `--log` writes)."""


def finetune(task, train, out, model=None, config=None, val=None, epochs=1, batch_size=8, lr=1e-5,
             max_steps=None, grad_accum=1, min_lr=0.0, weight_decay=0.05, warmup_steps=0, schedule="cosine",
             clip_norm=0.0, label_smoothing=0.1, prompt=None, max_text_length=40, freeze="none", augment="crop",
             shuffle=True, seed=0, save_every=0, resume=False, log=None, threads=0, strict=False,
             on_progress=None):
    """Finetunes a BLIP model as `blip finetune` does (same options, same defaults, same results)
    and writes a Hugging Face model directory to `out`; returns `out`.

    task: "caption", "vqa" or "match". Start from `model` (a model directory) or train from
    scratch from `config` (a config.json); give exactly one. `train` / `val` are JSONL manifests.
    max_steps=None runs by epochs. `on_progress(p)` is called after every optimizer step with a
    FinetuneProgress (step, total_steps, epoch, loss, lr, samples_per_second, eta_seconds).
    If it raises (or Ctrl-C arrives), the run stops at the next micro-batch and that exception
    is re-raised here; `out` is then left as it was (if the exception came at the very last
    step the model is still written before it is re-raised). Errors raise BlipError."""
    p = _jobs.default_params(lib.blip_finetune_default_params, FinetuneParams, "blip_finetune_params")
    p.task = _text("task", task)
    p.train = _path("train", train)
    p.out = _path("out", out)
    p.model = _path("model", model)
    p.config = _path("config", config)
    p.val = _path("val", val)
    p.epochs = _int("epochs", epochs)
    p.max_steps = 0 if max_steps is None else _int("max_steps", max_steps, low=1)
    p.batch_size = _int("batch_size", batch_size)
    p.grad_accum = _int("grad_accum", grad_accum)
    p.lr = _float("lr", lr)
    p.min_lr = _float("min_lr", min_lr)
    p.weight_decay = _float("weight_decay", weight_decay)
    p.warmup_steps = _int("warmup_steps", warmup_steps)
    p.schedule = _text("schedule", schedule)
    p.clip_norm = _float("clip_norm", 0.0 if clip_norm is None else clip_norm)
    p.label_smoothing = _float("label_smoothing", label_smoothing)
    p.prompt = _text("prompt", prompt)
    p.max_text_length = _int("max_text_length", max_text_length)
    p.freeze = _text("freeze", "none" if freeze is None else freeze)
    p.augment = _text("augment", "none" if augment is None else augment)
    p.shuffle = 1 if shuffle else 0
    p.seed = _int("seed", seed, low=0, high=2 ** 64 - 1)
    p.save_every = _int("save_every", save_every)
    p.resume = 1 if resume else 0
    p.log = _path("log", log)
    p.n_threads = _int("threads", threads)
    p.strict = 1 if strict else 0

    _jobs.run(lib.blip_finetune, p, PROGRESS_CALLBACK, on_progress,
              lambda s: FinetuneProgress(s.step, s.total_steps, s.epoch, s.loss, s.lr, s.samples_per_second,
                                         s.eta_seconds))
    return out
