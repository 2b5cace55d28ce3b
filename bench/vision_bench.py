#!/usr/bin/env python3
"""The vision encoder side by side: PyTorch (fp32, dynamic int8), ONNX Runtime (fp32, dynamic
int8 of a torch.onnx export) and libblip (fp32, int8), same model, same photograph, same thread
count, each engine in its own subprocess, in one run; plus the fp32 floor of this CPU.

    python3 bench/vision_bench.py --model local/base-match --threads 2 [--reps 15]

MODEL is any full-size BLIP directory (random weights run the same computation as trained
ones). The ONNX files and libblip's int8 file are written beside it on first use
(MODEL.vision.onnx, MODEL.vision.int8.onnx, MODEL.int8.safetensors).

Times are medians over --reps rounds (after one warm-up call each); a round times every engine
once, in turn, so all engines share whatever speed the machine has at the moment. Each engine
runs the encoder alone on preprocessed pixels (libblip: blip_encode_image_states, which also
preprocesses the image: it is the number an engine user sees). The fp32 floor is the encoder's
multiply-adds (linear layers, attention and patch embedding) at the best GEMM rate this CPU
reaches on the encoder's largest shape (577 x 768 x 3072, the same thread count: torch.mm timed
in the same rounds, and torch.mm and numpy before and after them, bench/floors.py): no engine
can be faster without doing less arithmetic. Accuracy: every engine's states against PyTorch
fp32's on bench.py's 16 photos. Needs torch, transformers, onnx, onnxscript, onnxruntime,
scikit-image.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from floors import sgemm_rate  # noqa: E402
from statistics import median  # noqa: E402
ENGINES = ["torch", "torch-int8", "ort", "ort-int8", "blip", "blip-int8"]
TITLES = {"torch": "PyTorch fp32", "torch-int8": "PyTorch dynamic int8", "ort": "ONNX Runtime fp32",
          "ort-int8": "ONNX Runtime dynamic int8", "blip": "libblip fp32", "blip-int8": "libblip int8"}


def photo():
    from PIL import Image
    return Image.open(os.path.join(HERE, "..", "Examples", "images", "astronaut.jpg")).convert("RGB")


def pixel_values(model, image=None):
    from transformers import BlipImageProcessor
    return BlipImageProcessor.from_pretrained(model)(images=image if image is not None else photo(),
                                                     return_tensors="pt")["pixel_values"]


def accuracy_photos():
    """bench.py's 16 photos (8 of scikit-image's, and their mirror images), as RGB arrays: the
    accuracy rows compare every engine's states on all of them, not on the timed photo alone."""
    from bench import photos
    return photos()


def vision_model(model):
    """The checkpoint's own vision encoder: loaded through its architecture's class (a bare
    BlipVisionModel.from_pretrained would not find the `vision_model.` weights and start random)."""
    import transformers
    with open(os.path.join(model, "config.json")) as f:
        arch = json.load(f)["architectures"][0]
    full = getattr(transformers, arch).from_pretrained(model, attn_implementation="eager")
    return full.vision_model.eval()


def export_onnx(model):
    """MODEL.vision.onnx (fp32) and MODEL.vision.int8.onnx (quantize_dynamic, int8 weights)."""
    import torch
    fp32, int8 = model.rstrip("/") + ".vision.onnx", model.rstrip("/") + ".vision.int8.onnx"
    if not os.path.exists(fp32):
        m = vision_model(model)

        class LastHidden(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, px):
                return self.m(pixel_values=px).last_hidden_state
        torch.onnx.export(LastHidden(m), (pixel_values(model),), fp32, input_names=["pixel_values"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False)
    if not os.path.exists(int8):
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(fp32, int8, weight_type=QuantType.QInt8)
    return fp32, int8


def save_states(states, engine):
    """The engine's whole last_hidden_state for each accuracy photo, saved for main()."""
    import tempfile
    import numpy as np
    path = os.path.join(tempfile.gettempdir(), f"vision_bench_{os.getppid()}_{engine}.npy")
    np.save(path, np.asarray(states, dtype=np.float32))
    return path


def prepare(engine, model, threads):
    """(one encode of the timed photo as a function of no arguments, the states of every
    accuracy photo) for the engine."""
    if engine == "gemm":
        import torch
        torch.set_num_threads(threads)
        a, b = torch.randn(577, 768), torch.randn(768, 3072)
        return (lambda: torch.mm(a, b)), None
    if engine.startswith("torch"):
        import torch
        torch.set_num_threads(threads)
        m = vision_model(model)
        if engine == "torch-int8":
            m = torch.ao.quantization.quantize_dynamic(m, {torch.nn.Linear}, dtype=torch.qint8)
        px = pixel_values(model)

        def states(pixels):
            with torch.inference_mode():
                return m(pixel_values=pixels).last_hidden_state
        return (lambda: states(px)), [states(pixel_values(model, p)).numpy()[0] for p in accuracy_photos()]
    if engine.startswith("ort"):
        import onnxruntime as ort
        fp32, int8 = export_onnx(model)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(int8 if engine == "ort-int8" else fp32, options, providers=["CPUExecutionProvider"])
        px = pixel_values(model).numpy()
        return ((lambda: session.run(None, {"pixel_values": px})),
                [session.run(None, {"pixel_values": pixel_values(model, p).numpy()})[0][0] for p in accuracy_photos()])
    import ctypes
    import numpy as np
    import blip
    from blip._images import ImageBatch
    from blip._native import lib
    path = model.rstrip("/") + ".int8.safetensors" if engine == "blip-int8" else model
    m = blip.Model(path, threads=threads)
    tokens, width = lib.blip_model_vision_tokens(m._handle), lib.blip_model_vision_width(m._handle)
    states = (ctypes.c_float * (tokens * width))()
    image = np.asarray(photo())

    def encode(rgb=image):
        with ImageBatch([rgb]) as b:
            lib.blip_encode_image_states(m._handle, b.array, 1, states, tokens * width)
        return np.frombuffer(states, dtype=np.float32).reshape(tokens, width).copy()
    return (lambda: encode()), [encode(p) for p in accuracy_photos()]


def worker(engine, model, threads):
    """Serves one engine over stdin/stdout: prints the path of its saved states, then one time
    (seconds) per 'run' line it reads, until stdin closes. A 'run' of the GEMM pseudo-engine
    times 20 calls of torch.mm on the encoder's largest shape."""
    fn, states = prepare(engine, model, threads)
    fn()
    print(save_states(states, engine) if states is not None else "-", flush=True)
    calls = 20 if engine == "gemm" else 1
    for line in sys.stdin:
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        print((time.perf_counter() - t) / calls, flush=True)


def vision_macs(model):
    with open(os.path.join(model, "config.json")) as f:
        v = json.load(f)["vision_config"]
    d, f_, layers = v.get("hidden_size", 768), v.get("intermediate_size", 3072), v.get("num_hidden_layers", 12)
    side, patch = v.get("image_size", 384), v.get("patch_size", 16)
    n = (side // patch) ** 2 + 1
    per_layer = n * (4 * d * d + 2 * d * f_) + 2 * n * n * d
    return layers * per_layer + (n - 1) * 3 * patch * patch * d


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--blip", default=os.path.join(HERE, "..", "build", "bin", "blip"))
    ap.add_argument("--worker")
    ap.add_argument("--engines", default=",".join(ENGINES),
                    help="comma-separated subset (torch, the reference for accuracy, always runs)")
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.model, args.threads)
        return
    int8 = args.model.rstrip("/") + ".int8.safetensors"
    if not os.path.exists(int8):
        subprocess.run([args.blip, "quantize", "--model", args.model, "--out", int8], check=True)
    export_onnx(args.model)
    engines = ["torch"] + [e for e in ENGINES if e != "torch" and e in args.engines.split(",")]
    best_sgemm = max(sgemm_rate(args.threads).values())   # again after the rounds: the best counts
    # Every engine (and the GEMM that sets the floor) is a live worker process; the rounds
    # interleave them, so a drift in this machine's speed (seen within minutes on shared hosts)
    # reaches every engine alike instead of whichever ran during it. A pause before each
    # timing lets the previous engine's spinning threads (OpenMP, ONNX Runtime) go to sleep.
    workers = {e: subprocess.Popen([sys.executable, __file__, "--worker", e, "--model", args.model,
                                    "--threads", str(args.threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True) for e in engines + ["gemm"]}
    saved, times = {}, {e: [] for e in workers}
    for e, w in workers.items():
        line = w.stdout.readline().strip()
        if not line:
            raise SystemExit(f"{e} worker failed to start")
        saved[e] = line
    for _ in range(args.reps):
        for e, w in workers.items():
            time.sleep(0.3)
            w.stdin.write("run\n")
            w.stdin.flush()
            times[e].append(float(w.stdout.readline()))
    for w in workers.values():
        w.stdin.close()
        w.wait()
    results = {e: {"seconds": median(times[e]), "states": saved[e]} for e in engines}
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    family = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("cpu family")), "?")
    model_id = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model\t")), "?")
    macs = vision_macs(args.model)
    best_sgemm = max([best_sgemm, 2 * 577 * 768 * 3072 / min(times["gemm"]) / 1e9] + list(sgemm_rate(args.threads).values()))
    rate = best_sgemm
    floor = 2 * macs / (rate * 1e9)
    print(f"CPU: {cpu} (family {family} model {model_id}), {args.threads} threads; vision encoder "
          f"{2 * macs / 1e9:.0f} GFLOP; GEMM rate {rate:.0f} GFLOP/s -> fp32 floor {floor:.3f} s\n")
    print("| engine | seconds | / ONNX Runtime fp32 | / fp32 floor |")
    print("|---|---:|---:|---:|")
    for engine in engines:
        s = results[engine]["seconds"]
        ort = results["ort"]["seconds"] if "ort" in results else float("nan")
        print(f"| {TITLES[engine]} | {s:.3f} | {s / ort:.2f} | {s / floor:.2f} |")
    import numpy as np
    states = {e: np.load(results[e]["states"]) for e in engines}
    for path in {results[e]["states"] for e in engines}:
        os.remove(path)
    ref = states["torch"]
    print(f"\nAccuracy against PyTorch fp32 over all 577 x 768 states of {len(ref)} photos (bench.py's; relative"
          " RMS error ||x - ref|| / ||ref|| of each photo; cosine of the class token, which the ITC projection and"
          " the pooler read):\n")
    print("| engine | relative RMS error, mean (worst) | max abs error | class-token cosine, mean (worst) |")
    print("|---|---:|---:|---:|")
    for e in engines[1:]:
        x = states[e]
        rms = [np.linalg.norm(a - r) / np.linalg.norm(r) for a, r in zip(x, ref)]
        cos = [float(np.dot(a[0], r[0]) / (np.linalg.norm(a[0]) * np.linalg.norm(r[0]))) for a, r in zip(x, ref)]
        print(f"| {TITLES[e]} | {np.mean(rms):.2e} ({max(rms):.2e}) | {np.abs(x - ref).max():.2e} | "
              f"{np.mean(cos):.6f} ({min(cos):.6f}) |")


if __name__ == "__main__":
    main()
