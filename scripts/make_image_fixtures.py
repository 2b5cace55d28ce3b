#!/usr/bin/env python3
"""Writes the image-pipeline golden fixtures into Tests/BlipCoreTests/Fixtures/images/.

Needs Pillow + numpy (+ scikit-image for the photographs; transformers for the preprocessing
floats, which are skipped if it is not importable). Every expected output comes from Pillow /
transformers themselves:

  decode/*          encoded PNG/JPEG inputs covering the PNG colour types, bit depths, tRNS,
                    interlacing and baseline/progressive/grey/CMYK JPEG; expected_rgb/*.png is
                    transformers' convert_to_rgb(Image.open(f)) (alpha composited onto white).
  resize/*          RGB/L sources and Pillow Image.resize() outputs (all filters, up/down/odd).
  composite_*.png   all 65536 (value, alpha) pairs composited onto white by PIL.alpha_composite.
  preprocess/*      BlipImageProcessorPil outputs as raw little-endian float32.
  manifest.json     what each test compares.

Outputs are small (PNG is lossless); run from the repository root:
    python3 scripts/make_image_fixtures.py
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "Tests", "BlipCoreTests", "Fixtures", "images")

# --------------------------------------------------------------------------------------------
# A tiny PNG writer (Pillow cannot write 16-bit RGB, tRNS on every colour type or interlacing).


def _chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)


def _pack_rows(samples, bit_depth):
    rows = []
    for r in samples:
        if bit_depth == 16:
            rows.append(r.astype(">u2").tobytes())
        elif bit_depth == 8:
            rows.append(r.astype(np.uint8).tobytes())
        else:
            per = 8 // bit_depth
            out = bytearray((len(r) * bit_depth + 7) // 8)
            for i, v in enumerate(r):
                out[i // per] |= int(v) << (8 - bit_depth * (i % per + 1))
            rows.append(bytes(out))
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_bytes(pixels, color_type, bit_depth, plte=None, trns=None, interlace=False, width=None, height=None,
              extra_chunks=()):
    px = np.asarray(pixels)
    if px.ndim == 2:
        px = px[:, :, None]
    h, w, ch = px.shape
    assert ch == CHANNELS[color_type]
    raw = bytearray()

    def emit(sub):
        sh, sw, _ = sub.shape
        if sh == 0 or sw == 0:
            return
        for row in _pack_rows(sub.reshape(sh, sw * ch), bit_depth):
            raw.append(0)
            raw.extend(row)

    if interlace:
        for (x0, y0, dx, dy) in ADAM7:
            emit(px[y0::dy, x0::dx])
    else:
        emit(px)
    out = b"\x89PNG\r\n\x1a\n"
    out += _chunk(b"IHDR", struct.pack(">IIBBBBB", width if width is not None else w,
                                       height if height is not None else h,
                                       bit_depth, color_type, 0, 0, 1 if interlace else 0))
    for c in extra_chunks:
        out += _chunk(*c)
    if plte is not None:
        out += _chunk(b"PLTE", bytes(np.asarray(plte, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        out += _chunk(b"tRNS", trns)
    out += _chunk(b"IDAT", zlib.compress(bytes(raw), 9))
    out += _chunk(b"IEND", b"")
    return out


# --------------------------------------------------------------------------------------------


def hf_convert_to_rgb(im):
    """transformers v5 image_transforms.convert_to_rgb for PIL images."""
    try:
        from transformers.image_transforms import convert_to_rgb
        return np.array(convert_to_rgb(im, return_numpy=True))
    except Exception:
        has_alpha = "A" in im.getbands() or im.info.get("transparency") is not None
        if has_alpha:
            im = im.convert("RGBA")
            bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
            return np.array(Image.alpha_composite(bg, im).convert("RGB"))
        return np.array(im.convert("RGB"))


def save_png(path, arr):
    arr = np.asarray(arr, dtype=np.uint8)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(arr).save(path, optimize=True)


def write(rel, data):
    path = os.path.join(OUT, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def pattern(w, h, ch):
    """Deterministic test pattern also computed by the Swift tests (ImageTestSupport.pattern)."""
    y, x = np.mgrid[0:h, 0:w]
    planes = [((x * 31 + y * 17 + c * 85 + (x ^ y)) & 255) for c in range(ch)]
    return np.stack(planes, -1).astype(np.uint8)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(1234)
    manifest = {"decode": [], "resize": [], "resize_pattern": [], "preprocess": []}

    # ---------------------------------------------------------------- sources for resizing
    def smooth_noise(h, w, ch):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)), ((x + y) * 7) % 256], -1)[..., :ch]
        noise = rng.integers(-40, 41, (h, w, ch))
        return np.clip(base + noise, 0, 255).astype(np.uint8)

    sources = {
        "rgb_37x23": smooth_noise(23, 37, 3),
        "rgb_61x45": rng.integers(0, 256, (45, 61, 3), dtype=np.uint8),  # hard: pure noise, clipping
        "rgb_5x3": rng.integers(0, 256, (3, 5, 3), dtype=np.uint8),
        "rgb_1x1": np.array([[[200, 30, 90]]], dtype=np.uint8),
        "gray_37x23": smooth_noise(23, 37, 1)[..., 0],
    }
    try:
        from skimage import data as skdata
        sources["astronaut_96x80"] = skdata.astronaut()[30:110, 170:266]  # the face, 96x80
        sources["camera_80x60"] = skdata.camera()[100:160, 200:280]       # greyscale photo
        chelsea = skdata.chelsea()[70:166, 150:278]                       # 128x96 cat face
    except Exception as e:  # pragma: no cover
        sys.exit(f"scikit-image is needed for the photograph fixtures: {e}")

    for name, arr in sources.items():
        save_png(os.path.join(OUT, "resize", name + ".png"), arr)

    cases = [
        ("rgb_37x23", 16, 11, 3), ("rgb_37x23", 100, 71, 3), ("rgb_37x23", 37, 50, 3),
        ("rgb_37x23", 20, 23, 3), ("rgb_37x23", 37, 23, 3), ("rgb_37x23", 7, 3, 3),
        ("rgb_61x45", 13, 29, 3), ("rgb_61x45", 128, 17, 3), ("rgb_61x45", 1, 1, 3),
        # Pillow 13 pass order: vertical first iff H - h > 2 * (W - w) (here 30 vs 2 * (61 - w)).
        ("rgb_61x45", 45, 15, 3), ("rgb_61x45", 46, 15, 3), ("rgb_61x45", 47, 15, 3), ("rgb_61x45", 60, 44, 3),
        ("camera_80x60", 79, 20, 3), ("camera_80x60", 100, 7, 5),
        ("rgb_5x3", 384, 384, 3), ("rgb_5x3", 2, 9, 3),
        ("rgb_1x1", 384, 384, 3), ("rgb_1x1", 3, 2, 3),
        ("gray_37x23", 16, 11, 3), ("gray_37x23", 50, 60, 3),
        ("astronaut_96x80", 29, 31, 3), ("astronaut_96x80", 384, 384, 3),
        ("camera_80x60", 23, 17, 3), ("camera_80x60", 150, 101, 3),
    ]
    for filt in (1, 2, 4, 5):
        cases += [("rgb_37x23", 16, 11, filt), ("rgb_37x23", 100, 71, filt), ("camera_80x60", 33, 70, filt)]
    for src, w, h, filt in cases:
        im = Image.fromarray(sources[src])
        out = np.array(im.resize((w, h), filt))
        entry = {"source": f"resize/{src}.png", "width": w, "height": h, "filter": filt,
                 "fnv1a64": fnv1a64(out.tobytes())}
        if w * h < 100000 or src in ("rgb_1x1", "rgb_5x3"):  # big photo outputs: hash only (size)
            rel = f"resize/expected/{src}_to_{w}x{h}_f{filt}.png"
            save_png(os.path.join(OUT, rel), out)
            entry["expected"] = rel
        manifest["resize"].append(entry)

    # Large procedural sources (built in the test too): big downscale factors and 1920x1080.
    for (sw, sh, ch, w, h) in [(1001, 703, 3, 37, 23), (1920, 1080, 3, 384, 384), (640, 480, 1, 384, 384),
                               (300, 2000, 3, 384, 384)]:
        src = pattern(sw, sh, ch)
        im = Image.fromarray(src if ch == 3 else src[..., 0])
        out = np.array(im.resize((w, h), Image.BICUBIC))
        manifest["resize_pattern"].append({"source_width": sw, "source_height": sh, "channels": ch,
                                           "width": w, "height": h, "fnv1a64": fnv1a64(out.tobytes()),
                                           "first_bytes": [int(v) for v in out.reshape(-1)[:16]]})

    # ---------------------------------------------------------------- decode: PNG variants
    def add_decode(name, data, expect_format, tolerance=0):
        write(f"decode/{name}", data)
        im = Image.open(io.BytesIO(data))
        im.load()
        rgb = hf_convert_to_rgb(im)
        rel = f"decode/expected_rgb/{name}.png"
        save_png(os.path.join(OUT, rel), rgb)
        manifest["decode"].append({"file": f"decode/{name}", "expected_rgb": rel, "format": expect_format,
                                   "width": rgb.shape[1], "height": rgb.shape[0], "tolerance": tolerance,
                                   "pillow_mode": im.mode})

    h, w = 13, 17
    g8 = rng.integers(0, 256, (h, w))
    g8[0, :4] = [0, 5, 100, 255]
    add_decode("gray8.png", png_bytes(g8, 0, 8), "gray8")
    add_decode("gray8_trns.png", png_bytes(g8, 0, 8, trns=struct.pack(">H", 100)), "rgba8")
    for bd in (1, 2, 4):
        gb = rng.integers(0, 2 ** bd, (h, w))
        add_decode(f"gray{bd}.png", png_bytes(gb, 0, bd), "gray8")
        add_decode(f"gray{bd}_trns0.png", png_bytes(gb, 0, bd, trns=struct.pack(">H", 0)), "rgba8")
        add_decode(f"gray{bd}_trns1.png", png_bytes(gb, 0, bd, trns=struct.pack(">H", 1)), "rgba8")
    g16 = rng.integers(0, 400, (h, w))  # Pillow clips I;16 to 255 when converting
    g16[1, :3] = [300, 65535, 7]
    add_decode("gray16.png", png_bytes(g16, 0, 16), "gray8")
    add_decode("gray16_trns.png", png_bytes(g16, 0, 16, trns=struct.pack(">H", int(g16[0, 0]))), "rgba8")
    rgb8 = rng.integers(0, 256, (h, w, 3))
    rgb8[2, 3] = rgb8[0, 0]
    add_decode("rgb8.png", png_bytes(rgb8, 2, 8), "rgb8")
    add_decode("rgb8_trns.png", png_bytes(rgb8, 2, 8, trns=struct.pack(">HHH", *[int(v) for v in rgb8[0, 0]])), "rgba8")
    rgb16 = rng.integers(0, 65536, (h, w, 3))
    add_decode("rgb16.png", png_bytes(rgb16, 2, 16), "rgb8")
    # Pillow compares the raw 16-bit key with the 8-bit (high byte) pixel.
    hi = rgb16[0, 0] >> 8
    add_decode("rgb16_trns_hibyte.png", png_bytes(rgb16, 2, 16, trns=struct.pack(">HHH", *[int(v) for v in hi])), "rgba8")
    add_decode("rgb16_trns_exact.png", png_bytes(rgb16, 2, 16, trns=struct.pack(">HHH", *[int(v) for v in rgb16[0, 0]])), "rgba8")
    rgba8 = rng.integers(0, 256, (h, w, 4))
    rgba8[0, :4, 3] = [0, 255, 1, 128]
    add_decode("rgba8.png", png_bytes(rgba8, 6, 8), "rgba8")
    add_decode("rgba16.png", png_bytes(rng.integers(0, 65536, (h, w, 4)), 6, 16), "rgba8")
    add_decode("la8.png", png_bytes(rng.integers(0, 256, (h, w, 2)), 4, 8), "rgba8")
    add_decode("la16.png", png_bytes(rng.integers(0, 65536, (h, w, 2)), 4, 16), "rgba8")
    plte = rng.integers(0, 256, (7, 3))
    idx8 = rng.integers(0, 7, (h, w))
    idx8[0, :3] = [7, 200, 255]  # past the palette: Pillow shows opaque black
    add_decode("palette8.png", png_bytes(idx8, 3, 8, plte=plte), "rgb8")
    add_decode("palette8_trns.png", png_bytes(idx8, 3, 8, plte=plte, trns=bytes([0, 128, 255, 7])), "rgba8")
    add_decode("palette8_trns_simple.png", png_bytes(idx8, 3, 8, plte=plte, trns=bytes([255, 0])), "rgba8")
    for bd in (1, 2, 4):
        n = 2 ** bd
        add_decode(f"palette{bd}_trns.png",
                   png_bytes(rng.integers(0, n, (h, w)), 3, bd, plte=rng.integers(0, 256, (n, 3)),
                             trns=bytes(rng.integers(0, 256, n).astype(np.uint8))), "rgba8")
    add_decode("palette2.png", png_bytes(rng.integers(0, 4, (h, w)), 3, 2, plte=rng.integers(0, 256, (4, 3))), "rgb8")
    # Interlaced (Adam7) variants, with sizes that leave some passes empty.
    add_decode("rgb8_interlaced.png", png_bytes(rgb8, 2, 8, interlace=True), "rgb8")
    add_decode("rgba16_interlaced.png", png_bytes(rng.integers(0, 65536, (5, 3, 4)), 6, 16, interlace=True), "rgba8")
    add_decode("palette2_interlaced.png", png_bytes(rng.integers(0, 4, (h, w)), 3, 2, plte=rng.integers(0, 256, (4, 3)),
                                                    interlace=True), "rgb8")
    add_decode("gray4_interlaced_1x1.png", png_bytes(np.array([[9]]), 0, 4, interlace=True), "gray8")
    # Ancillary chunks we must ignore (gamma is not applied by Pillow).
    add_decode("rgb8_gamma.png", png_bytes(rgb8, 2, 8, extra_chunks=[(b"gAMA", struct.pack(">I", 100000)),
                                                                     (b"tEXt", b"Comment\x00hello")]), "rgb8")
    # ---------------------------------------------------------------- decode: JPEG
    cat = Image.fromarray(chelsea)
    for name, kw, fmt in [("baseline420.jpg", dict(quality=90), "rgb8"),
                          ("baseline444.jpg", dict(quality=95, subsampling=0), "rgb8"),
                          ("baseline422.jpg", dict(quality=80, subsampling=1), "rgb8"),
                          ("progressive.jpg", dict(quality=85, progressive=True), "rgb8"),
                          ("odd_size.jpg", dict(quality=90), "rgb8")]:
        b = io.BytesIO()
        (cat.crop((3, 5, 3 + 61, 5 + 45)) if name == "odd_size.jpg" else cat).save(b, "JPEG", **kw)
        add_decode(name, b.getvalue(), fmt)
    b = io.BytesIO()
    cat.convert("L").save(b, "JPEG", quality=90)
    add_decode("gray.jpg", b.getvalue(), "gray8")
    b = io.BytesIO()
    cat.crop((0, 0, 64, 48)).convert("CMYK").save(b, "JPEG", quality=90)
    add_decode("cmyk.jpg", b.getvalue(), "rgb8")

    # ---------------------------------------------------------------- invalid inputs
    def ihdr_only(width, height):
        return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                + _chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _chunk(b"IEND", b""))

    write("bad/huge_header.png", ihdr_only(100000, 100000))
    write("bad/zero_width.png", ihdr_only(0, 10))
    good = png_bytes(rgb8, 2, 8)
    bad = bytearray(good)
    bad[-20] ^= 0x55  # inside the IDAT CRC / data: CRC mismatch
    write("bad/bad_crc.png", bytes(bad))
    bad_anc = png_bytes(rgb8, 2, 8, extra_chunks=[(b"tEXt", b"Comment\x00hello")])
    i = bad_anc.index(b"tEXt") + 4 + len(b"Comment\x00hello")
    bad_anc = bad_anc[:i] + bytes([bad_anc[i] ^ 0xFF]) + bad_anc[i + 1:]
    write("bad/bad_crc_ancillary.png", bad_anc)
    # zlib stream corrupt but CRC right
    raw = bytearray(zlib.compress(b"\x00" * 100))
    raw[3] ^= 0xFF
    write("bad/bad_zlib.png", b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 10, 8, 0, 0, 0, 0))
          + _chunk(b"IDAT", bytes(raw)) + _chunk(b"IEND", b""))
    # Pillow's verdicts on these, for the record.
    manifest["bad"] = {}
    for f in sorted(os.listdir(os.path.join(OUT, "bad"))):
        try:
            im = Image.open(os.path.join(OUT, "bad", f))
            im.load()
            manifest["bad"][f] = "pillow: loaded"
        except Exception as e:
            manifest["bad"][f] = f"pillow: {type(e).__name__}: {e}"

    # ---------------------------------------------------------------- composite onto white
    y, x = np.mgrid[0:256, 0:256]
    rgba = np.stack([x, 255 - x, (x * 37) % 256, y], -1).astype(np.uint8)
    save_png(os.path.join(OUT, "composite_rgba.png"), rgba)
    comp = hf_convert_to_rgb(Image.fromarray(rgba))
    save_png(os.path.join(OUT, "composite_expected.png"), comp)

    # ---------------------------------------------------------------- preprocessing floats
    try:
        from transformers import BlipImageProcessorPil
    except Exception as e:
        print("transformers not importable, preprocessing fixtures skipped:", e)
        BlipImageProcessorPil = None
    if BlipImageProcessorPil is not None:
        import transformers
        manifest["transformers_version"] = transformers.__version__

        def run(proc_kwargs, call_kwargs, image, name, config_json=None):
            proc = BlipImageProcessorPil(**proc_kwargs)
            out = proc(image, return_tensors="np", **call_kwargs)["pixel_values"][0]
            assert out.dtype == np.float32
            rel = f"preprocess/{name}.f32"
            write(rel, out.astype("<f4").tobytes())
            entry = {"name": name, "expected": rel, "channels": out.shape[0], "height": out.shape[1],
                     "width": out.shape[2]}
            if config_json is not None:
                write(f"preprocess/{name}_config/preprocessor_config.json", json.dumps(config_json).encode())
                entry["config_dir"] = f"preprocess/{name}_config"
            manifest["preprocess"].append(entry)
            return out

        # All 256 values per channel, no resize: the exact rescale/normalise arithmetic.
        ramp = np.arange(256, dtype=np.uint8).reshape(16, 16)
        save_png(os.path.join(OUT, "preprocess/ramp16.png"), ramp)
        run({}, {"do_resize": False}, Image.open(os.path.join(OUT, "preprocess/ramp16.png")), "ramp16_noresize",
            {"do_resize": False})
        # RGBA source (composited), non-square target, 445-byte-hub-style config.
        rgba_src = Image.open(io.BytesIO(open(os.path.join(OUT, "decode/rgba8.png"), "rb").read()))
        hub = {"do_normalize": True, "do_pad": True, "do_rescale": True, "do_resize": True,
               "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "BlipImageProcessor",
               "image_std": [0.26862954, 0.26130258, 0.27577711], "processor_class": "BlipProcessor",
               "resample": 3, "rescale_factor": 0.00392156862745098, "size": {"height": 24, "width": 32},
               "size_divisor": 32}
        run({"size": {"height": 24, "width": 32}}, {}, rgba_src, "rgba8_32x24", hub)
        # Photograph, default 384x384 (stored: it is the full output, 1.7 MB, so only samples).
        proc = BlipImageProcessorPil()
        astro = Image.open(os.path.join(OUT, "resize/astronaut_96x80.png"))
        out = proc(astro, return_tensors="np")["pixel_values"][0]
        flat = out.reshape(-1)
        idx = list(range(0, flat.size, 1009)) + [flat.size - 1]
        manifest["preprocess_default_samples"] = {
            "source": "resize/astronaut_96x80.png", "count": int(flat.size),
            "indices": idx, "values": [float(flat[i]) for i in idx],
            "sum": float(flat.astype(np.float64).sum())}
        # shortest_edge sizing
        run({"size": {"shortest_edge": 20}}, {}, Image.open(os.path.join(OUT, "resize/rgb_37x23.png")),
            "shortest_edge_20", {"size": {"shortest_edge": 20}})

    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=None, separators=(',', ':'), default=int)
    total = 0
    for dp, _, fs in os.walk(OUT):
        total += sum(os.path.getsize(os.path.join(dp, f)) for f in fs)
    print(f"wrote {OUT}: {total / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
