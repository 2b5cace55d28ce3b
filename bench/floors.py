"""The floor of each bench.py row on this CPU: the least time any engine could take for that
work, from the model's arithmetic and unavoidable memory reads at rates measured here.

Rates (all with the benchmark's thread count busy at once):
- sgemm: the best of torch.mm and numpy on 577 x 768 @ 768 x 3072 (the vision MLP's shape),
  best of 8 rounds of 10 calls each. The fp32 floor runs all arithmetic at this rate.
- int8: the CPU's int8 multiply-accumulate instruction peak (bench/peak_rates.c: vpdpbusd with
  AVX-512 VNNI, else the AVX2 paired tile) scaled by the sgemm's efficiency against the fp32
  FMA instruction peak measured the same way, i.e. an int8 GEMM as efficient as the best sgemm.
- memory: a streaming read of a buffer far larger than the caches (peak_rates.c).

Work per row (BLIP-base shapes read from the models' config.json; a multiply-add is 2 FLOPs):
- vision encode: the encoder's linear layers, both attention products and the patch embedding.
- caption greedy, N new tokens: the vision encode, the decoder's cross-attention keys and
  values over the image tokens (one GEMM per layer), then N decoder passes, each reading every
  weight the step uses (self-attention, cross-attention query and output, MLP, LM head) and the
  cached cross-attention keys and values from memory: 4 bytes per element for fp32, 1 for
  int8 (an int8 engine could store the cache in int8 too). Per-step arithmetic is far below
  these reads, and the weights (hundreds of MB) do not fit in any cache, so they stream.
- ITM match: the vision encode, the text encoder's cross-attention keys and values over the
  image tokens, and one read of the text encoder's other weights (a short text is memory-bound).
Beam search and VQA have no floor column: their step counts depend on the generated text.
Every rate is the best of all measurements in the run (the machine may be shared or throttled
at any one moment, and a floor measured low would let an engine look faster than its floor).
"""
import json
import os
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def peak_rates(threads):
    """bench/peak_rates.c compiled with the first C compiler found and run: its JSON dict."""
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "peak_rates")
        for cc in ("clang", "cc", "gcc"):
            try:
                subprocess.run([cc, "-O2", "-pthread", os.path.join(HERE, "peak_rates.c"), "-o", exe],
                               check=True, capture_output=True)
                break
            except (OSError, subprocess.CalledProcessError):
                continue
        else:
            raise SystemExit("floors: no C compiler (clang, cc, gcc) could build bench/peak_rates.c")
        out = subprocess.run([exe, str(threads)], check=True, capture_output=True, text=True)
        return json.loads(out.stdout)


def sgemm_rate(threads):
    """Best GFLOP/s of torch.mm and numpy on the vision MLP's GEMM shape."""
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    m, k, n = 577, 768, 3072
    best = {}
    a, b = np.random.rand(m, k).astype(np.float32), np.random.rand(k, n).astype(np.float32)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    for name, fn in (("torch", lambda: torch.mm(ta, tb)), ("numpy", lambda: a @ b)):
        fn()
        times = []
        for _ in range(8):
            t = time.perf_counter()
            for _ in range(10):
                fn()
            times.append((time.perf_counter() - t) / 10)
        best[name] = 2 * m * k * n / min(times) / 1e9
    return best


class Shapes:
    def __init__(self, models):
        with open(os.path.join(models, "blip-base-captioning", "config.json")) as f:
            c = json.load(f)
        v, t = c["vision_config"], c["text_config"]
        self.vd, self.vff, self.vlayers = v["hidden_size"], v["intermediate_size"], v["num_hidden_layers"]
        self.patch = v["patch_size"]
        self.tokens = (v["image_size"] // self.patch) ** 2 + 1
        self.td, self.tff, self.tlayers, self.vocab = (t["hidden_size"], t["intermediate_size"],
                                                        t["num_hidden_layers"], t["vocab_size"])

    def vision_macs(self):
        n, d = self.tokens, self.vd
        linear = n * (4 * d * d + 2 * d * self.vff)
        attention = 2 * n * n * d
        return self.vlayers * (linear + attention) + (n - 1) * 3 * self.patch ** 2 * d

    def cross_kv_macs(self):
        """Keys and values of every text layer's cross-attention over the image tokens."""
        return self.tlayers * 2 * self.tokens * self.vd * self.td

    def cross_kv_elements(self):
        return self.tlayers * 2 * self.tokens * self.td

    def text_layer_weights(self):
        """Weights one text position touches per layer, cross-attention keys and values excluded."""
        d = self.td
        return 4 * d * d + 2 * d * d + 2 * d * self.tff

    def decode_step_elements(self):
        return self.tlayers * self.text_layer_weights() + self.td * self.td + self.vocab * self.td \
            + self.cross_kv_elements()


class Floors:
    """Rates are the best seen over every `measure()` call: a floor is what the CPU can do, and
    a shared or throttled machine only ever measures it low (bench.py measures before and
    after the engines)."""

    def __init__(self, models, threads):
        self.shapes = Shapes(models)
        self.threads = threads
        self.peaks, self.sgemm = {}, {}
        self.measure()

    def measure(self):
        for key, value in peak_rates(self.threads).items():
            self.peaks[key] = max(self.peaks.get(key, value), value) if isinstance(value, float) else value
        for key, value in sgemm_rate(self.threads).items():
            self.sgemm[key] = max(self.sgemm.get(key, 0.0), value)
        self.fp32_gflops = max(self.sgemm.values())
        efficiency = min(1.0, self.fp32_gflops / self.peaks["fp32_gflops"])
        self.int8_gmacs = self.peaks["int8_gmacs"] * efficiency
        self.bytes_per_second = self.peaks["read_gbps"] * 1e9

    def compute(self, macs, int8):
        return macs / (self.int8_gmacs * 1e9) if int8 else 2 * macs / (self.fp32_gflops * 1e9)

    def memory(self, elements, int8):
        return elements * (1 if int8 else 4) / self.bytes_per_second

    def seconds(self, key, int8, new_tokens=20):
        """Floor of bench.py's row `key` in seconds, or None where the row has none."""
        s = self.shapes
        vision = self.compute(s.vision_macs(), int8)
        if key == "vision":
            return vision
        if key == "caption_greedy20":
            return vision + self.compute(s.cross_kv_macs(), int8) + new_tokens * self.memory(s.decode_step_elements(), int8)
        if key == "itm":
            return vision + self.compute(s.cross_kv_macs(), int8) + self.memory(s.tlayers * s.text_layer_weights(), int8)
        return None

    def describe(self):
        p = self.peaks
        sgemm = ", ".join(f"{k} {v:.0f}" for k, v in self.sgemm.items())
        return (f"Floors: sgemm {self.fp32_gflops:.0f} GFLOP/s (best of {sgemm}; {p['fp32_kind']} instruction peak "
                f"{p['fp32_gflops']:.0f}), int8 {self.int8_gmacs:.0f} GMAC/s ({p['int8_kind']} instruction peak "
                f"{p['int8_gmacs']:.0f} at the sgemm's efficiency), memory read {p['read_gbps']:.1f} GB/s; "
                f"{p['threads']} threads (bench/floors.py says what each row's floor counts).")
