"""Deterministic writers: JSONL manifests and WebDataset tar shards (img2dataset layout:
NNNNN.tar holding KEY.jpg, KEY.txt, KEY.json for each sample, in that order)."""
from __future__ import annotations

import io
import json
import os
import tarfile

JPEG_QUALITY = 95


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def read_jsonl(path: str) -> list[dict]:
    """The rows of a JSONL file (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Jsonl:
    def __init__(self, path: str):
        self.f = open(path, "w", encoding="utf-8", newline="\n")

    def write(self, obj) -> None:
        self.f.write(dumps(obj) + "\n")

    def close(self) -> None:
        self.f.close()


def png_bytes(img) -> bytes:
    b = io.BytesIO()
    img.save(b, format="PNG", compress_level=1)
    return b.getvalue()


def jpeg_bytes(img) -> bytes:
    b = io.BytesIO()
    img.save(b, format="JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=False)
    return b.getvalue()


def shard_key(shard: int, index_in_shard: int) -> str:
    """img2dataset's key: 5-digit shard number then the sample's index in the shard."""
    return f"{shard:05d}{index_in_shard:04d}"


class ShardWriter:
    """Writes samples into DIR/00000.tar, DIR/00001.tar, ... `per_shard` samples each."""

    def __init__(self, directory: str, per_shard: int):
        if per_shard > 10000:
            raise ValueError("at most 10000 samples per shard (4-digit in-shard index)")
        os.makedirs(directory, exist_ok=True)
        self.dir, self.per_shard = directory, per_shard
        self.tar = None
        self.shard = -1
        self.n = 0

    def next_key(self) -> str:
        return shard_key(self.n // self.per_shard, self.n % self.per_shard)

    def _add(self, name: str, data: bytes) -> None:
        ti = tarfile.TarInfo(name)
        ti.size = len(data)
        ti.mtime = 0
        ti.mode = 0o644
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        self.tar.addfile(ti, io.BytesIO(data))

    def write(self, key: str, jpg: bytes, text: str, meta: dict) -> None:
        shard = self.n // self.per_shard
        if shard != self.shard:
            self.close()
            self.shard = shard
            self.tar = tarfile.open(os.path.join(self.dir, f"{shard:05d}.tar"), "w",
                                    format=tarfile.USTAR_FORMAT)
        self._add(f"{key}.jpg", jpg)
        self._add(f"{key}.txt", text.encode("utf-8"))
        self._add(f"{key}.json", dumps(meta).encode("utf-8"))
        self.n += 1

    def close(self) -> None:
        if self.tar is not None:
            self.tar.close()
            self.tar = None
