"""Memory in proportion to the input: an image of extreme aspect ratio within the pixel limit
must not cost memory out of proportion to its decoded size (blip.h: bombs cannot exhaust memory).
Before the resampling coefficients were built in strips, a 30,000,000 x 1 PNG (90 MB decoded)
cost about 480 MB of coefficient tables on top of the image."""
import os
import subprocess
import sys

import numpy as np
from PIL import Image

from test_blip import CAPTION

PEAK_RSS = """
import resource, sys, blip
with blip.Model(sys.argv[1], threads=1) as m:
    m.caption(sys.argv[2], max_new_tokens=2)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def peak_rss_of_caption(image_path):
    out = subprocess.run([sys.executable, "-c", PEAK_RSS, CAPTION, image_path], capture_output=True, text=True,
                         check=True, env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    return int(out.stdout.strip().splitlines()[-1])


def test_extreme_aspect_ratio_costs_memory_in_proportion(tmp_path):
    small = tmp_path / "small.png"
    Image.new("RGB", (64, 64), (120, 30, 200)).save(small)
    width = 30_000_000
    # a pattern that deflate compresses well, so the file itself stays small
    row = ((np.arange(width * 3, dtype=np.uint32) // 7) % 256).astype(np.uint8).reshape(1, width, 3)
    wide, tall = tmp_path / "wide.png", tmp_path / "tall.png"
    Image.fromarray(row, "RGB").save(wide)
    Image.fromarray(row.reshape(width, 1, 3), "RGB").save(tall)
    decoded = width * 3
    baseline = peak_rss_of_caption(str(small))
    for path in (wide, tall):
        extra = peak_rss_of_caption(str(path)) - baseline
        # the decoded image and bounded scratch: well under 3 x the decoded size
        assert extra < 3 * decoded, f"{path.name}: {extra / 1e6:.0f} MB above baseline for a {decoded / 1e6:.0f} MB image"


def test_grey_image_is_resized_before_it_becomes_rgb(tmp_path):
    """A 396-byte JPEG (found by the image fuzzer) declaring 65010 x 2057 grey pixels, just under
    the pixel limit: 134 MB decoded. Expanding it to RGB before resizing cost 4 bytes per pixel on
    top of the baseline; resizing the grey plane first costs 2 (the decoder's buffer and its copy)."""
    small = tmp_path / "small.png"
    Image.new("RGB", (64, 64), (120, 30, 200)).save(small)
    bomb = os.path.join(os.path.dirname(__file__), "data", "grey-65010x2057.jpg")
    decoded = 65010 * 2057
    extra = peak_rss_of_caption(bomb) - peak_rss_of_caption(str(small))
    assert extra < 2.5 * decoded, f"{extra / 1e6:.0f} MB above baseline for a {decoded / 1e6:.0f} MB grey image"
