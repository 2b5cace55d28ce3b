"""blip.ray: CapFilt on a Ray cluster (PyPI `ray[data]`, imported only when used).

    import blip.ray
    blip.ray.capfilt("captioner-dir", "itm-dir", "/shared/shards", "/shared/filtered",
                     address="ray://head:10001", concurrency=8, threads_per_actor=4)

Ray Data runs one task per input shard through `map_batches` with a callable class: an actor
pool (`concurrency` actors, each reserving `threads_per_actor` CPUs, the libblip thread count,
so nothing is oversubscribed) whose actors load the captioner and the filter once and run
blip_capfilt on whole shards. Each shard's outputs (NNNNN.tar and NNNNN.jsonl) are written by
libblip under a temporary name and renamed, exactly as `blip capfilt` writes them: because every
caption's seed derives from (seed, key, caption index), the outputs are byte-identical to the
CLI's and to `blip.capfilt`'s on the same input. Models, input and output paths must be visible
under the same names on every node (shared storage); libblip and this package must be installed
on every node (or shipped with `runtime_env`).
"""
import os
import shutil
import tempfile

from ._capfilt import DEFAULT_BATCH_SIZE
from ._jobs import _invalid


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401 — Ray Data needs the [data] extra (pandas, pyarrow)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"blip.ray needs Ray with Ray Data: pip install 'ray[data]' ({e})") from e
    return ray


def _shards(folder):
    """The .tar files directly in `folder`, sorted (what `blip capfilt` lists)."""
    return sorted(n for n in os.listdir(folder)
                  if n.endswith(".tar") and len(n) > 4 and os.path.isfile(os.path.join(folder, n)))


def _outputs(output, shard):
    return [os.path.join(output, shard[:-len(".tar")] + ".jsonl"), os.path.join(output, shard)]


class _CapFiltActor:
    """One actor of the pool: both models loaded once, then whole shards through blip_capfilt."""

    def __init__(self, captioner, filter, input, output, options, threads):
        import blip
        self._blip = blip
        self.captioner = blip.Model(captioner, threads=threads)
        self.filter = blip.Model(filter, threads=threads)
        self.input, self.output, self.options = input, output, options

    def _one(self, shard):
        stats = {}

        def progress(p):
            stats.update(pairs=p.pairs_done, errors=p.errors)

        if shard == "":  # a JSONL manifest: one task, the same call as blip.capfilt
            self._blip.capfilt(self.captioner, self.filter, self.input, self.output, on_progress=progress,
                               **self.options)
            return stats
        # A folder holding only this shard (a link to it): blip_capfilt then writes exactly this
        # shard's outputs into the shared output folder, atomically.
        folder = tempfile.mkdtemp(prefix="blip-ray-capfilt-")
        try:
            os.symlink(os.path.join(self.input, shard), os.path.join(folder, shard))
            self._blip.capfilt(self.captioner, self.filter, folder, self.output, on_progress=progress,
                               **self.options)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return stats

    def __call__(self, batch):
        shards, pairs, errors = [], [], []
        for shard in batch["shard"]:
            stats = self._one(str(shard))
            shards.append(str(shard))
            pairs.append(stats.get("pairs", 0))
            errors.append(stats.get("errors", 0))
        return {"shard": shards, "pairs": pairs, "errors": errors}


def capfilt(captioner, filter, input, output, captions_per_image=1, threshold=0.5, preset="capfilt", seed=0,
            batch_size=DEFAULT_BATCH_SIZE, resume=False, address=None, concurrency=2, threads_per_actor=1,
            runtime_env=None, on_progress=None, prompt=None):
    """`blip.capfilt` on a Ray cluster: the same arguments and byte-identical outputs, one Ray
    task per input shard on a pool of `concurrency` actors with `threads_per_actor` libblip
    threads (and as many reserved CPUs) each. Returns `output`.

    captioner / filter / input / output are paths, the same on every node (shared storage). A
    JSONL manifest input is one task (use shards to scale out). address: the cluster
    (`"ray://head:10001"` or `"127.0.0.1:6379"`); None uses RAY_ADDRESS, a cluster already
    started on this machine, or else a new local one. When this call connects (Ray not yet
    initialised) it also disconnects at the end; runtime_env is passed to that ray.init.
    resume=True skips shards whose outputs all exist; otherwise an existing output is an error.
    on_progress(shard, pairs, errors, shards_done, shards_total) is called on the driver as
    each shard finishes."""
    ray = _import_ray()
    for name, value in (("captioner", captioner), ("filter", filter), ("input", input), ("output", output)):
        if value is None:
            raise _invalid(f"{name} is required")
    captioner, filter, input, output = (os.path.abspath(os.fspath(v)) for v in (captioner, filter, input, output))
    concurrency = int(concurrency)
    threads_per_actor = int(threads_per_actor)
    if concurrency < 1:
        raise _invalid(f"concurrency must be 1 or more (got {concurrency})")
    if threads_per_actor < 1:
        raise _invalid(f"threads_per_actor must be 1 or more (got {threads_per_actor})")
    options = dict(captions_per_image=captions_per_image, threshold=threshold, preset=preset, seed=seed,
                   prompt=prompt, batch_size=batch_size, threads=threads_per_actor, resume=resume)

    if os.path.isdir(input):
        shards = _shards(input)
        if not shards:
            raise _invalid(f"{input}: no .tar shards in this folder")
        os.makedirs(output, exist_ok=True)
        todo = []
        for shard in shards:
            outs = _outputs(output, shard)
            if resume and all(os.path.exists(o) for o in outs):
                continue
            existing = next((o for o in outs if os.path.exists(o)), None)
            if existing and not resume:
                raise _invalid(f"{existing} already exists; pass resume=True to keep finished outputs and do the "
                               "rest, or remove it")
            todo.append(shard)
    elif os.path.isfile(input):
        if os.path.isdir(output):
            raise _invalid(f"{output} is a folder; a JSONL manifest input writes a JSONL file of records")
        if os.path.exists(output) and not resume:
            raise _invalid(f"{output} already exists; pass resume=True to keep it, or remove it")
        todo = [] if resume and os.path.exists(output) else [""]
    else:
        raise _invalid(f"{input}: neither a JSONL manifest nor a folder of .tar shards")
    if not todo:
        return output

    connected_here = not ray.is_initialized()
    if connected_here:
        ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
    try:
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False
        ds = ray.data.from_items([{"shard": s} for s in todo], override_num_blocks=len(todo))
        results = ds.map_batches(
            _CapFiltActor, batch_size=1, concurrency=min(concurrency, len(todo)), num_cpus=threads_per_actor,
            fn_constructor_kwargs=dict(captioner=captioner, filter=filter, input=input, output=output,
                                       options=options, threads=threads_per_actor))
        done = 0
        for row in results.iter_rows():
            done += 1
            if on_progress is not None:
                on_progress(row["shard"] or input, int(row["pairs"]), int(row["errors"]), done, len(todo))
    finally:
        if connected_here:
            ray.shutdown()
    return output
