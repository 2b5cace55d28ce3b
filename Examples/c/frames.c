/* Frame captioning as a game or robotics engine does it: raw RGBA frames from the engine's
 * own memory go straight to libblip (no encoding, no copy), one caption per frame, with the
 * per-frame latency.
 *
 *   cc frames.c $(pkg-config --cflags --libs blip) -lm -o frames
 *   ./frames MODEL_DIR [N_FRAMES] [WIDTH] [HEIGHT]
 *
 * The "scene" is synthetic: a sky gradient, ground, and a red ball moving across, drawn into
 * an RGBA8 buffer with a padded row stride (as render targets often have). */
#include <blip.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static void draw_frame(uint8_t *rgba, int w, int h, int stride, int t) {
    float bx = (float)((t * 37) % w), by = h * 0.6f + 0.15f * h * sinf((float)t * 0.5f);
    float r = h * 0.08f;
    for (int y = 0; y < h; y++) {
        uint8_t *row = rgba + (size_t)y * (size_t)stride;
        for (int x = 0; x < w; x++) {
            uint8_t *p = row + 4 * x;
            int ground = y > h * 0.7f;
            p[0] = ground ? 60 : (uint8_t)(120 + 100 * y / h);
            p[1] = ground ? 140 : (uint8_t)(170 + 60 * y / h);
            p[2] = ground ? 50 : 255;
            p[3] = 255;
            float dx = x - bx, dy = y - by;
            if (dx * dx + dy * dy < r * r) { p[0] = 220; p[1] = 30; p[2] = 30; }
        }
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MODEL_DIR [N_FRAMES] [WIDTH] [HEIGHT]\n", argv[0]);
        return 2;
    }
    int frames = argc > 2 ? atoi(argv[2]) : 5;
    int w = argc > 3 ? atoi(argv[3]) : 640, h = argc > 4 ? atoi(argv[4]) : 360;
    if (frames <= 0 || w <= 0 || h <= 0) { fprintf(stderr, "bad frame count or size\n"); return 2; }
    blip_model *model = NULL;
    blip_model_params mp = blip_model_default_params();
    mp.n_threads = 2;
    if (blip_model_load(argv[1], &mp, &model) != BLIP_OK) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], blip_last_error());
        return 2;
    }
    int stride = w * 4 + 64; /* padded rows */
    uint8_t *buffer = malloc((size_t)stride * (size_t)h);
    if (!buffer) return 2;
    blip_generation_params gp = blip_generation_default_params();
    gp.max_new_tokens = 12;
    double total = 0;
    for (int t = 0; t < frames; t++) {
        draw_frame(buffer, w, h, stride, t);
        blip_image frame = {buffer, w, h, stride, BLIP_PIXEL_RGBA8};
        char text[1024];
        blip_text_result result = {text, sizeof text, NULL, 0, 0, 0, 0};
        double start = now_ms();
        int status = blip_caption(model, &frame, 1, NULL, &gp, &result);
        double ms = now_ms() - start;
        if (status != BLIP_OK) {
            fprintf(stderr, "frame %d: %s\n", t, blip_last_error());
            free(buffer);
            blip_model_free(model);
            return 1;
        }
        total += ms;
        printf("frame %3d  %7.1f ms  %s\n", t, ms, text);
    }
    printf("mean latency %.1f ms per %dx%d frame\n", total / frames, w, h);
    free(buffer);
    blip_model_free(model);
    return 0;
}
