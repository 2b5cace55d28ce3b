/* C ABI tests for libblip: argument checking, error reporting, image input paths, golden
 * embeddings, concurrent use of one model, finetuning and CapFilt. Built with -std=c99 -Wall -Werror against the
 * installed-layout header and library (see run.sh). Exits non-zero on the first failure. */
#include "blip.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            failures++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s — ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, "\n");                                          \
        }                                                                   \
    } while (0)
#define EXPECT_STATUS(call, code)                                                         \
    do {                                                                                  \
        int s_ = (call);                                                                  \
        CHECK(s_ == (code), "%s returned %s (%d), expected %s: %s", #call,               \
              blip_status_string(s_), s_, blip_status_string(code), blip_last_error());   \
        if ((code) != BLIP_OK) CHECK(blip_last_error()[0] != 0, "no error message after %s", #call); \
    } while (0)

static const char *fixtures;
static char path_buf[4096];
static const char *fixture(const char *rel) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", fixtures, rel);
    return path_buf;
}

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)n);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); buf = NULL; }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* Reads the expected embedding of `photo` from expected_itm_embeddings.txt. */
static int expected_embedding(const char *file, const char *photo, float *out, int dim) {
    FILE *f = fopen(file, "r");
    if (!f) return 0;
    char name[256];
    int found = 0;
    while (!found && fscanf(f, "%255s", name) == 1) {
        int match = strcmp(name, photo) == 0;
        for (int i = 0; i < dim; i++) {
            float v;
            if (fscanf(f, "%f", &v) != 1) { fclose(f); return 0; }
            if (match) out[i] = v;
        }
        found = match;
    }
    fclose(f);
    return found;
}

static float max_abs_diff(const float *a, const float *b, int n) {
    float m = 0;
    for (int i = 0; i < n; i++) { float d = fabsf(a[i] - b[i]); if (d > m) m = d; }
    return m;
}

static void test_library_basics(void) {
    CHECK(strcmp(blip_version(), "0.1.0") == 0, "version %s", blip_version());
    CHECK(strcmp(blip_status_string(BLIP_ERR_IO), "BLIP_ERR_IO") == 0, "status string");
    CHECK(strcmp(blip_status_string(12345), "BLIP_ERR_UNKNOWN") == 0, "unknown status");
    CHECK(blip_last_error() != NULL, "last_error never NULL");
}

static void test_null_arguments(void) {
    blip_model *m = NULL;
    blip_image img;
    float out[16];
    char buf[16];
    memset(&img, 0, sizeof img);
    EXPECT_STATUS(blip_model_load(NULL, NULL, &m), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_model_load(fixture("models/itm"), NULL, NULL), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_image_load_file(NULL, &img), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_image_load_file(fixture("photos/chelsea.png"), NULL), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_image_load_memory(NULL, 10, &img), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_image_load_memory("abc", 0, &img), BLIP_ERR_IMAGE_FORMAT);
    EXPECT_STATUS(blip_model_info(NULL, buf, sizeof buf, NULL), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_encode_image(NULL, &img, 1, out, 16), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_encode_image_states(NULL, &img, 1, out, 16), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(blip_model_embedding_dim(NULL) == 0, "dim of NULL");
    CHECK(blip_model_vision_tokens(NULL) == 0, "tokens of NULL");
    CHECK(blip_model_vision_width(NULL) == 0, "width of NULL");
    blip_model_free(NULL);
    blip_image_free(NULL);
    blip_image_free(&img); /* pixels NULL: no-op */
    blip_log_set(NULL, NULL);
}

static void test_bad_params(void) {
    blip_model *m = NULL;
    blip_model_params p = blip_model_default_params();
    CHECK(p.size == sizeof p && p.n_threads == 0, "default params");
    p.size = 3;
    EXPECT_STATUS(blip_model_load(fixture("models/itm"), &p, &m), BLIP_ERR_INVALID_ARGUMENT);
    p = blip_model_default_params();
    p.n_threads = -4;
    EXPECT_STATUS(blip_model_load(fixture("models/itm"), &p, &m), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_model_load("/nonexistent", NULL, &m), BLIP_ERR_IO);
    CHECK(m == NULL, "out_model untouched on failure");
    EXPECT_STATUS(blip_model_load(fixture("photos"), NULL, &m), BLIP_ERR_IO);
    const char bad_utf8[] = {'/', (char)0xff, (char)0xfe, 0};
    EXPECT_STATUS(blip_model_load(bad_utf8, NULL, &m), BLIP_ERR_INVALID_ARGUMENT);
}

/* A params struct from an older, shorter blip.h: only its size field exists. The library must
 * read that field alone and refuse; under AddressSanitizer (make test-sanitizers) reading any
 * further field is a heap-buffer-overflow report. */
static void test_truncated_params(void) {
    size_t *old = malloc(sizeof(size_t));
    *old = sizeof(size_t);
    blip_model *m = NULL;
    EXPECT_STATUS(blip_model_load(fixture("models/captioning"), (const blip_model_params *)old, &m),
                  BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "sizeof(blip_model_params)") != NULL, "message: %s", blip_last_error());
    EXPECT_STATUS(blip_model_load(fixture("models/captioning"), NULL, &m), BLIP_OK);
    uint8_t pixels[4 * 4 * 3] = {0};
    blip_image img = {pixels, 4, 4, 12, BLIP_PIXEL_RGB8};
    char text[64];
    blip_text_result r = {text, sizeof text, NULL, 0, 0, 0, 0};
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, (const blip_generation_params *)old, &r), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_generation_preset("paper", (blip_generation_params *)old), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_quantize_with_params(fixture("models/captioning"), "/nonexistent/q.safetensors",
                                            (const blip_quantize_params *)old), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_finetune((const blip_finetune_params *)old), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "blip_finetune_default_params()") != NULL, "message: %s", blip_last_error());
    EXPECT_STATUS(blip_capfilt((const blip_capfilt_params *)old), BLIP_ERR_INVALID_ARGUMENT);
    blip_model_free(m);
    free(old);
}

static void test_bad_images(void) {
    blip_image img;
    memset(&img, 0, sizeof img);
    unsigned char junk[64];
    for (int i = 0; i < 64; i++) junk[i] = (unsigned char)(i * 37 + 11);
    EXPECT_STATUS(blip_image_load_memory(junk, sizeof junk, &img), BLIP_ERR_IMAGE_FORMAT);
    EXPECT_STATUS(blip_image_load_file("/nonexistent.png", &img), BLIP_ERR_IO);
    size_t size = 0;
    unsigned char *png = read_all(fixture("photos/chelsea.png"), &size);
    CHECK(png != NULL, "read chelsea.png");
    if (png) {
        EXPECT_STATUS(blip_image_load_memory(png, size / 2, &img), BLIP_ERR_IMAGE_FORMAT); /* truncated */
        free(png);
    }
    unsigned char *jpg = read_all(fixture("photos/coffee.jpg"), &size);
    CHECK(jpg != NULL, "read coffee.jpg");
    if (jpg) {
        EXPECT_STATUS(blip_image_load_memory(jpg, size / 2, &img), BLIP_ERR_IMAGE_FORMAT); /* truncated */
        free(jpg);
    }
    CHECK(img.pixels == NULL, "no pixels on failure");
}

static void test_model(void) {
    blip_model *m = NULL;
    blip_model_params p = blip_model_default_params();
    p.n_threads = 2;
    EXPECT_STATUS(blip_model_load(fixture("models/itm"), &p, &m), BLIP_OK);
    if (!m) return;
    int dim = blip_model_embedding_dim(m);
    CHECK(dim == 16, "embedding dim %d", dim);

    /* info: too small buffer reports the size needed */
    char small[4];
    size_t needed = 0;
    EXPECT_STATUS(blip_model_info(m, small, sizeof small, &needed), BLIP_ERR_BUFFER_TOO_SMALL);
    CHECK(needed > sizeof small, "needed %zu", needed);
    char *info = malloc(needed);
    int len = blip_model_info(m, info, needed, NULL);
    CHECK(len == (int)needed - 1 && strstr(info, "BlipForImageTextRetrieval") != NULL, "info %d %s", len, info);
    free(info);

    /* golden embedding through the file path */
    const char *photos[] = {"chelsea.png", "astronaut.jpg", "camera_gray.png", "coffee.jpg"};
    for (int k = 0; k < 4; k++) {
        char rel[256];
        snprintf(rel, sizeof rel, "photos/%s", photos[k]);
        blip_image img;
        EXPECT_STATUS(blip_image_load_file(fixture(rel), &img), BLIP_OK);
        float got[16], want[16];
        EXPECT_STATUS(blip_encode_image(m, &img, 1, got, 16), BLIP_OK);
        char expected_path[4096];
        snprintf(expected_path, sizeof expected_path, "%s", getenv("BLIP_CAPI_EXPECTED"));
        CHECK(expected_embedding(expected_path, photos[k], want, 16), "expected values for %s", photos[k]);
        CHECK(max_abs_diff(got, want, 16) < 1e-4f, "%s embedding differs by %g", photos[k], max_abs_diff(got, want, 16));

        /* the same pixels through a caller-owned view with padded stride, and from memory */
        int bpp = img.format == BLIP_PIXEL_GRAY8 ? 1 : img.format == BLIP_PIXEL_RGB8 ? 3 : 4;
        int stride = img.width * bpp + 13;
        unsigned char *padded = calloc((size_t)stride * (size_t)img.height, 1);
        for (int y = 0; y < img.height; y++)
            memcpy(padded + (size_t)y * (size_t)stride, img.pixels + (size_t)y * (size_t)img.stride, (size_t)(img.width * bpp));
        blip_image view = {padded, img.width, img.height, stride, img.format};
        float again[16];
        EXPECT_STATUS(blip_encode_image(m, &view, 1, again, 16), BLIP_OK);
        CHECK(max_abs_diff(got, again, 16) == 0, "strided view differs for %s", photos[k]);
        free(padded);

        size_t size;
        unsigned char *bytes = read_all(fixture(rel), &size);
        blip_image decoded;
        EXPECT_STATUS(blip_image_load_memory(bytes, size, &decoded), BLIP_OK);
        float from_memory[16];
        EXPECT_STATUS(blip_encode_image(m, &decoded, 1, from_memory, 16), BLIP_OK);
        CHECK(max_abs_diff(got, from_memory, 16) == 0, "memory path differs for %s", photos[k]);
        blip_image_free(&decoded);
        free(bytes);
        blip_image_free(&img);
        CHECK(img.pixels == NULL, "free clears pixels");
    }

    /* RGB vs BGRA of the same colours give the same embedding; batch of 2 equals singles */
    unsigned char rgb[5 * 4 * 3], bgra[5 * 4 * 4];
    for (int i = 0; i < 20; i++) {
        unsigned char r = (unsigned char)(i * 13), g = (unsigned char)(255 - i * 7), b = (unsigned char)(i * i);
        rgb[i * 3] = r; rgb[i * 3 + 1] = g; rgb[i * 3 + 2] = b;
        bgra[i * 4] = b; bgra[i * 4 + 1] = g; bgra[i * 4 + 2] = r; bgra[i * 4 + 3] = 255;
    }
    blip_image pair[2] = {{rgb, 5, 4, 15, BLIP_PIXEL_RGB8}, {bgra, 5, 4, 20, BLIP_PIXEL_BGRA8}};
    float two[32];
    EXPECT_STATUS(blip_encode_image(m, pair, 2, two, 32), BLIP_OK);
    CHECK(max_abs_diff(two, two + 16, 16) == 0, "RGB and opaque BGRA differ");

    /* bad views and buffers */
    float out[32];
    blip_image bad = {rgb, 5, 4, 14, BLIP_PIXEL_RGB8};
    EXPECT_STATUS(blip_encode_image(m, &bad, 1, out, 32), BLIP_ERR_INVALID_ARGUMENT); /* stride too small */
    blip_image zero = {rgb, 0, 4, 15, BLIP_PIXEL_RGB8};
    EXPECT_STATUS(blip_encode_image(m, &zero, 1, out, 32), BLIP_ERR_INVALID_ARGUMENT);
    blip_image nopix = {NULL, 5, 4, 15, BLIP_PIXEL_RGB8};
    EXPECT_STATUS(blip_encode_image(m, &nopix, 1, out, 32), BLIP_ERR_INVALID_ARGUMENT);
    blip_image badfmt = {rgb, 5, 4, 15, 42};
    EXPECT_STATUS(blip_encode_image(m, &badfmt, 1, out, 32), BLIP_ERR_INVALID_ARGUMENT);
    blip_image huge = {rgb, 100000, 100000, 300000, BLIP_PIXEL_RGB8};
    EXPECT_STATUS(blip_encode_image(m, &huge, 1, out, 32), BLIP_ERR_TOO_LARGE);
    EXPECT_STATUS(blip_encode_image(m, pair, 0, out, 32), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_encode_image(m, NULL, 1, out, 32), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_encode_image(m, pair, 2, out, 31), BLIP_ERR_BUFFER_TOO_SMALL);
    EXPECT_STATUS(blip_encode_image(m, pair, 1, NULL, 16), BLIP_ERR_INVALID_ARGUMENT);

    /* vision states: tokens x width floats */
    int n = blip_model_vision_tokens(m) * blip_model_vision_width(m);
    CHECK(n == 17 * 32, "states size %d", n);
    float *states = malloc(sizeof(float) * (size_t)n);
    EXPECT_STATUS(blip_encode_image_states(m, pair, 1, states, (size_t)n), BLIP_OK);
    EXPECT_STATUS(blip_encode_image_states(m, pair, 1, states, (size_t)n - 1), BLIP_ERR_BUFFER_TOO_SMALL);
    free(states);
    blip_model_free(m);

    /* a captioning model has no retrieval projection */
    EXPECT_STATUS(blip_model_load(fixture("models/captioning"), &p, &m), BLIP_OK);
    if (m) {
        CHECK(blip_model_embedding_dim(m) == 0, "captioning embedding dim");
        EXPECT_STATUS(blip_encode_image(m, pair, 1, out, 32), BLIP_ERR_UNSUPPORTED);
        blip_model_free(m);
    }
}

/* One model shared by 4 threads gives the serial result (blip.h's thread-safety rule). */
struct worker { blip_model *model; blip_image image; float out[16]; int status; };
static void *encode_worker(void *arg) {
    struct worker *w = arg;
    for (int i = 0; i < 5 && w->status == BLIP_OK; i++) w->status = blip_encode_image(w->model, &w->image, 1, w->out, 16);
    return NULL;
}

static void test_threads(void) {
    blip_model *m = NULL;
    EXPECT_STATUS(blip_model_load(fixture("models/itm"), NULL, &m), BLIP_OK);
    if (!m) return;
    blip_image img;
    EXPECT_STATUS(blip_image_load_file(fixture("photos/astronaut.jpg"), &img), BLIP_OK);
    float serial[16];
    EXPECT_STATUS(blip_encode_image(m, &img, 1, serial, 16), BLIP_OK);
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i].model = m; w[i].image = img; w[i].status = BLIP_OK;
        pthread_create(&t[i], NULL, encode_worker, &w[i]);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        CHECK(w[i].status == BLIP_OK, "thread %d status %d", i, w[i].status);
        CHECK(max_abs_diff(serial, w[i].out, 16) == 0, "thread %d result differs", i);
    }
    blip_image_free(&img);
    blip_model_free(m);
}

static int tokens_seen;
static int count_tokens(int32_t token, const char *text, void *user) {
    (void)token; (void)text; (void)user;
    tokens_seen++;
    return 0;
}
static int stop_after_two(int32_t token, const char *text, void *user) {
    (void)token; (void)text;
    return ++*(int *)user >= 2;
}

static void test_generation(void) {
    blip_model *m = NULL;
    EXPECT_STATUS(blip_model_load(fixture("models/captioning"), NULL, &m), BLIP_OK);
    if (!m) return;
    blip_image img;
    EXPECT_STATUS(blip_image_load_file(fixture("photos/chelsea.png"), &img), BLIP_OK);
    blip_generation_params p = blip_generation_default_params();
    char text[2048];
    int32_t tokens[512];
    blip_text_result r = {text, sizeof text, tokens, 512, 0, 0, 0};

    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &p, &r), BLIP_OK);
    CHECK(r.n_tokens >= 2 && tokens[0] == 30522, "caption tokens %zu first %d", r.n_tokens, tokens[0]);
    CHECK(r.text_length == strlen(text), "text length");
    size_t n_plain = r.n_tokens;

    /* prompt kept in the output, with the exact ids transformers uses */
    EXPECT_STATUS(blip_caption(m, &img, 1, "a picture of", &p, &r), BLIP_OK);
    CHECK(tokens[0] == 30522 && tokens[1] == 1037 && tokens[2] == 3861 && tokens[3] == 1997, "prompt ids");
    CHECK(strncmp(text, "a picture of", 12) == 0, "prompt text: %s", text);

    /* a too-small text buffer reports the needed size; tokens still fit */
    char tiny[4];
    blip_text_result small = {tiny, sizeof tiny, tokens, 512, 0, 0, 0};
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &p, &small), BLIP_ERR_BUFFER_TOO_SMALL);
    CHECK(small.status == BLIP_ERR_BUFFER_TOO_SMALL && small.text_length > 3 && small.n_tokens == n_plain,
          "needed size %zu tokens %zu", small.text_length, small.n_tokens);
    blip_text_result few = {text, sizeof text, tokens, 2, 0, 0, 0};
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &p, &few), BLIP_ERR_BUFFER_TOO_SMALL);
    CHECK(few.n_tokens == n_plain, "tokens needed reported");

    /* bad input */
    const char bad_utf8[] = {'a', (char)0xc3, (char)0x28, 0};
    EXPECT_STATUS(blip_caption(m, &img, 1, bad_utf8, &p, &r), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_caption(m, &img, 1, "", &p, &r), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_caption(m, &img, 1, "   ", &p, &r), BLIP_ERR_INVALID_ARGUMENT);
    char long_prompt[6000];
    for (int i = 0; i < 2999; i++) { long_prompt[2 * i] = 'a'; long_prompt[2 * i + 1] = ' '; }
    long_prompt[5998] = 0;
    EXPECT_STATUS(blip_caption(m, &img, 1, long_prompt, &p, &r), BLIP_ERR_TOO_LARGE);
    blip_generation_params q = p;
    q.max_length = -1;
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &q, &r), BLIP_ERR_INVALID_ARGUMENT);
    q = p; q.num_beams = 0;
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &q, &r), BLIP_ERR_INVALID_ARGUMENT);
    q = p; q.top_p = 2.0f; q.do_sample = 1;
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &q, &r), BLIP_ERR_INVALID_ARGUMENT);
    q = p; q.size = 8;
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &q, &r), BLIP_ERR_INVALID_ARGUMENT);
    q = p; q.early_stopping = 9;
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &q, &r), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &p, NULL), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_caption(m, NULL, 1, NULL, &p, &r), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_caption(m, &img, 0, NULL, &p, &r), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_caption(NULL, &img, 1, NULL, &p, &r), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_answer(m, &img, 1, "what?", &p, &r), BLIP_ERR_UNSUPPORTED);
    EXPECT_STATUS(blip_answer(m, &img, 1, NULL, &p, &r), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_generation_preset("nope", &q), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_generation_preset(NULL, &q), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_generation_preset("paper", NULL), BLIP_ERR_INVALID_ARGUMENT);

    /* presets; sampling is deterministic per seed */
    q = blip_generation_default_params();
    EXPECT_STATUS(blip_generation_preset("paper", &q), BLIP_OK);
    CHECK(q.num_beams == 3 && q.min_length == 5 && q.max_length == 20, "paper preset");
    EXPECT_STATUS(blip_generation_preset("capfilt", &q), BLIP_OK);
    CHECK(q.do_sample && q.top_p > 0.89f && q.top_p < 0.91f && q.top_k == 50, "capfilt preset");
    int32_t t1[512], t2[512];
    blip_text_result s1 = {NULL, 0, t1, 512, 0, 0, 0}, s2 = {NULL, 0, t2, 512, 0, 0, 0};
    q.seed = 42;
    blip_caption(m, &img, 1, NULL, &q, &s1);
    blip_caption(m, &img, 1, NULL, &q, &s2);
    CHECK(s1.n_tokens == s2.n_tokens && memcmp(t1, t2, s1.n_tokens * sizeof(int32_t)) == 0, "same seed, same tokens");

    /* streaming and abort */
    q = blip_generation_default_params();
    q.on_token = count_tokens;
    tokens_seen = 0;
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &q, &r), BLIP_OK);
    CHECK(tokens_seen == (int)r.n_tokens - 1, "callback saw %d of %zu", tokens_seen, r.n_tokens);
    int calls = 0;
    q.on_token = stop_after_two;
    q.token_user_data = &calls;
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &q, &r), BLIP_ERR_ABORTED);

    /* a batch where one image is bad: that result fails, the others succeed */
    blip_image batch[3] = {img, {NULL, 4, 4, 12, BLIP_PIXEL_RGB8}, img};
    blip_text_result rs[3];
    char texts[3][512];
    for (int i = 0; i < 3; i++) { blip_text_result z = {texts[i], 512, NULL, 0, 0, 0, 0}; rs[i] = z; }
    EXPECT_STATUS(blip_caption(m, batch, 3, NULL, &p, rs), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(rs[0].status == BLIP_OK && rs[1].status == BLIP_ERR_INVALID_ARGUMENT && rs[2].status == BLIP_OK, "per-image status");
    CHECK(strcmp(texts[0], texts[2]) == 0, "batch results agree");
    CHECK(strstr(blip_last_error(), "images[1]") != NULL, "message names the image: %s", blip_last_error());
    blip_image_free(&img);
    blip_model_free(m);

    /* VQA: generate and rank */
    EXPECT_STATUS(blip_model_load(fixture("models/vqa-gen"), NULL, &m), BLIP_OK);
    if (!m) return;
    EXPECT_STATUS(blip_image_load_file(fixture("photos/chelsea.png"), &img), BLIP_OK);
    EXPECT_STATUS(blip_answer(m, &img, 1, "what is the cat doing?", &p, &r), BLIP_OK);
    CHECK(tokens[0] == 30522, "answer starts with [DEC]");
    const char *cands[] = {"sleeping", "a dog"};
    float scores[2];
    EXPECT_STATUS(blip_answer_rank(m, &img, "what is the cat doing?", cands, 2, scores), BLIP_OK);
    CHECK(scores[0] < 0 && scores[1] < 0, "log-likelihoods are negative");
    EXPECT_STATUS(blip_answer_rank(m, &img, "what?", cands, 0, scores), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_answer_rank(m, &img, "what?", NULL, 2, scores), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_answer_rank(m, &img, "what?", cands, 2, NULL), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_caption(m, &img, 1, NULL, &p, &r), BLIP_ERR_UNSUPPORTED);
    int32_t hit;
    float hit_score;
    EXPECT_STATUS(blip_retrieve(m, &img, 1, cands, 1, 1, 0, &hit, &hit_score, 1), BLIP_ERR_UNSUPPORTED);
    blip_image_free(&img);
    blip_model_free(m);
}

static void test_matching(void) {
    blip_model *m = NULL;
    EXPECT_STATUS(blip_model_load(fixture("models/itm"), NULL, &m), BLIP_OK);
    if (!m) return;
    blip_image imgs[2];
    EXPECT_STATUS(blip_image_load_file(fixture("photos/chelsea.png"), &imgs[0]), BLIP_OK);
    EXPECT_STATUS(blip_image_load_file(fixture("photos/coffee.jpg"), &imgs[1]), BLIP_OK);
    const char *texts[] = {"a cat", "a cup of coffee", "a dog"};
    float itm[6], itc[6], itc_only[6], emb_i[32], emb_t[48];
    EXPECT_STATUS(blip_match(m, imgs, 2, texts, 3, itm, itc, 6), BLIP_OK);
    EXPECT_STATUS(blip_match(m, imgs, 2, texts, 3, NULL, itc_only, 6), BLIP_OK);
    CHECK(max_abs_diff(itc, itc_only, 6) == 0, "ITC alone equals ITC with ITM");
    EXPECT_STATUS(blip_encode_image(m, imgs, 2, emb_i, 32), BLIP_OK);
    EXPECT_STATUS(blip_encode_text(m, texts, 3, emb_t, 48), BLIP_OK);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            float dot = 0;
            for (int d = 0; d < 16; d++) dot += emb_i[i * 16 + d] * emb_t[j * 16 + d];
            CHECK(fabsf(dot - itc[i * 3 + j]) < 1e-5f, "itc[%d][%d] %g vs embeddings %g", i, j, itc[i * 3 + j], dot);
            CHECK(itm[i * 3 + j] > 0 && itm[i * 3 + j] < 1, "itm probability");
        }
    int32_t idx[4];
    float sc[4];
    EXPECT_STATUS(blip_retrieve(m, imgs, 2, texts, 2, 5, 0, idx, sc, 4), BLIP_OK);
    CHECK(sc[0] == (itc[idx[0] * 3] ) && sc[0] >= sc[1], "retrieval ranks by ITC");
    EXPECT_STATUS(blip_retrieve(m, imgs, 2, texts, 2, 2, 1, idx, sc, 4), BLIP_OK);
    CHECK(sc[0] == itm[idx[0] * 3] && sc[0] >= sc[1], "re-ranked by ITM");
    EXPECT_STATUS(blip_retrieve(m, imgs, 2, texts, 2, 2, 1, idx, sc, 3), BLIP_ERR_BUFFER_TOO_SMALL);
    EXPECT_STATUS(blip_retrieve(m, imgs, 2, texts, 2, 0, 1, idx, sc, 4), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_match(m, imgs, 2, texts, 3, itm, itc, 5), BLIP_ERR_BUFFER_TOO_SMALL);
    EXPECT_STATUS(blip_match(m, imgs, 2, texts, 3, NULL, NULL, 6), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_match(m, imgs, 2, NULL, 3, itm, itc, 6), BLIP_ERR_INVALID_ARGUMENT);
    const char *with_null[] = {"a", NULL};
    EXPECT_STATUS(blip_encode_text(m, with_null, 2, emb_t, 48), BLIP_ERR_INVALID_ARGUMENT);
    const char *empty[] = {""};
    EXPECT_STATUS(blip_encode_text(m, empty, 1, emb_t, 48), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_encode_text(m, texts, 3, emb_t, 47), BLIP_ERR_BUFFER_TOO_SMALL);
    blip_image_free(&imgs[0]);
    blip_image_free(&imgs[1]);
    blip_model_free(m);
}

static void test_quantize(void) {
    char out[4096];
    snprintf(out, sizeof out, "/tmp/blip-capi-%d.int8.safetensors", (int)getpid());
    EXPECT_STATUS(blip_quantize(NULL, out), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_quantize(fixture("models/itm"), NULL), BLIP_ERR_INVALID_ARGUMENT);
    EXPECT_STATUS(blip_quantize("/nonexistent", out), BLIP_ERR_IO);
    EXPECT_STATUS(blip_quantize(fixture("models/itm"), out), BLIP_OK);
    blip_model *q = NULL, *f = NULL;
    EXPECT_STATUS(blip_model_load(out, NULL, &q), BLIP_OK);
    EXPECT_STATUS(blip_model_load(fixture("models/itm"), NULL, &f), BLIP_OK);
    if (q && f) {
        blip_image img;
        EXPECT_STATUS(blip_image_load_file(fixture("photos/chelsea.png"), &img), BLIP_OK);
        float a[16], b[16], dot = 0;
        EXPECT_STATUS(blip_encode_image(q, &img, 1, a, 16), BLIP_OK);
        EXPECT_STATUS(blip_encode_image(f, &img, 1, b, 16), BLIP_OK);
        for (int i = 0; i < 16; i++) dot += a[i] * b[i];
        CHECK(dot > 0.99f, "int8 vs fp32 embedding cosine %g", dot);
        char info[4096];
        CHECK(blip_model_info(q, info, sizeof info, NULL) > 0 && strstr(info, "int8") != NULL, "info names int8: %s", info);
        blip_image_free(&img);
    }
    blip_model_free(q);
    blip_model_free(f);
    /* a truncated quantized file is refused */
    size_t size;
    unsigned char *bytes = read_all(out, &size);
    FILE *t = fopen(out, "wb");
    if (bytes && t) { fwrite(bytes, 1, size / 2, t); fclose(t); }
    free(bytes);
    q = NULL;
    EXPECT_STATUS(blip_model_load(out, NULL, &q), BLIP_ERR_MODEL_FORMAT);
    remove(out);
}

static long file_size(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void test_quantize_params(void) {
    blip_quantize_params p = blip_quantize_default_params();
    CHECK(p.size == sizeof p, "default size %zu", p.size);
    CHECK(p.quantize_lm_head == 1 && p.image_activation_bits == 7, "defaults %d %d", p.quantize_lm_head, p.image_activation_bits);
    CHECK(p.embeddings && strcmp(p.embeddings, "f16") == 0, "default embeddings %s", p.embeddings ? p.embeddings : "NULL");
    char a[4096], b[4096];
    snprintf(a, sizeof a, "/tmp/blip-capi-%d.default.int8", (int)getpid());
    snprintf(b, sizeof b, "/tmp/blip-capi-%d.small.int8", (int)getpid());
    const char *model = fixture("models/captioning");
    /* bad params are refused before anything is written */
    blip_quantize_params bad = p;
    bad.size = sizeof bad - 1;
    EXPECT_STATUS(blip_quantize_with_params(model, b, &bad), BLIP_ERR_INVALID_ARGUMENT);
    bad = p;
    bad.image_activation_bits = 9;
    EXPECT_STATUS(blip_quantize_with_params(model, b, &bad), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "image_activation_bits") != NULL, "message: %s", blip_last_error());
    bad = p;
    bad.embeddings = "bf16";
    EXPECT_STATUS(blip_quantize_with_params(model, b, &bad), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(file_size(b) < 0, "nothing written on bad params");
    /* NULL params = the defaults = blip_quantize; int8 embeddings make a smaller file that loads */
    EXPECT_STATUS(blip_quantize_with_params(model, a, NULL), BLIP_OK);
    blip_quantize_params small = p;
    small.embeddings = "int8";
    small.image_activation_bits = 8;
    small.quantize_lm_head = 0;
    EXPECT_STATUS(blip_quantize_with_params(model, b, &small), BLIP_OK);
    CHECK(file_size(b) > 0 && file_size(b) < file_size(a), "int8 embeddings: %ld bytes vs %ld", file_size(b), file_size(a));
    blip_model *m = NULL;
    EXPECT_STATUS(blip_model_load(b, NULL, &m), BLIP_OK);
    blip_model_free(m);
    remove(a);
    remove(b);
}

/* ---- finetuning (fixtures: Tests/BlipTrainingTests/Fixtures) ---- */
static const char *train_fixtures;
static char train_buf[4][4096];
static const char *train_fixture(int slot, const char *rel) {
    snprintf(train_buf[slot], sizeof train_buf[slot], "%s/%s", train_fixtures, rel);
    return train_buf[slot];
}

static void remove_tree(const char *path) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    int rc = system(cmd);
    (void)rc;
}

#define MAX_SEEN 16
typedef struct progress_log {
    int calls;
    blip_finetune_progress seen[MAX_SEEN];
    int abort_after; /* > 0: the abort callback asks to stop once this many steps were reported */
    int abort_polls;
} progress_log;

static void record_progress(const blip_finetune_progress *p, void *user) {
    progress_log *log = user;
    if (log->calls < MAX_SEEN) log->seen[log->calls] = *p;
    log->calls++;
}

static int abort_when_done(void *user) {
    progress_log *log = user;
    log->abort_polls++;
    return log->abort_after > 0 && log->calls >= log->abort_after;
}

/* The "loss" values of a --log file, in order; returns how many. */
static int read_log_losses(const char *path, double *out, int max) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[4096];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        const char *k = strstr(line, "\"loss\": ");
        if (!k) continue;
        out[n++] = strtod(k + 8, NULL);
    }
    fclose(f);
    return n;
}

static blip_finetune_params tiny_caption_run(const char *out) {
    blip_finetune_params p = blip_finetune_default_params();
    p.task = "caption";
    p.model = train_fixture(0, "models/caption");
    p.train = train_fixture(1, "caption.jsonl");
    p.out = out;
    p.augment = "none";
    p.max_steps = 2;
    p.batch_size = 2;
    p.n_threads = 2;
    return p;
}

static void test_finetune_defaults(void) {
    blip_finetune_params p = blip_finetune_default_params();
    CHECK(p.size == sizeof p, "size %zu", p.size);
    CHECK(p.task == NULL && p.model == NULL && p.config == NULL && p.train == NULL && p.val == NULL && p.out == NULL,
          "paths default to NULL");
    CHECK(p.epochs == 1 && p.max_steps == 0 && p.batch_size == 8 && p.grad_accum == 1, "epochs/steps/batch defaults");
    CHECK(p.lr == 1e-5f && p.min_lr == 0 && p.weight_decay == 0.05f && p.warmup_steps == 0, "optimizer defaults");
    CHECK(p.schedule && strcmp(p.schedule, "cosine") == 0, "schedule default");
    CHECK(p.clip_norm == 0 && p.label_smoothing == 0.1f && p.max_text_length == 40 && p.prompt == NULL, "loss/text defaults");
    CHECK(p.freeze && strcmp(p.freeze, "none") == 0, "freeze default");
    CHECK(p.augment && strcmp(p.augment, "crop") == 0, "augment default");
    CHECK(p.shuffle == 1 && p.seed == 0 && p.save_every == 0 && p.resume == 0 && p.log == NULL, "run defaults");
    CHECK(p.n_threads == 0 && p.strict == 0, "threads/strict defaults");
    CHECK(p.on_progress == NULL && p.progress_user_data == NULL && p.should_abort == NULL && p.abort_user_data == NULL,
          "no callbacks by default");
}

static void test_finetune_run(void) {
    char out[4096], log_path[4096];
    snprintf(out, sizeof out, "/tmp/blip-capi-finetune-%d", (int)getpid());
    snprintf(log_path, sizeof log_path, "/tmp/blip-capi-finetune-%d.jsonl", (int)getpid());
    remove_tree(out);
    progress_log seen;
    memset(&seen, 0, sizeof seen);
    blip_finetune_params p = tiny_caption_run(out);
    p.log = log_path;
    p.on_progress = record_progress;
    p.progress_user_data = &seen;
    p.should_abort = abort_when_done; /* never stops: abort_after is 0 */
    p.abort_user_data = &seen;
    EXPECT_STATUS(blip_finetune(&p), BLIP_OK);
    CHECK(seen.calls == 2, "progress called %d times", seen.calls);
    CHECK(seen.abort_polls >= 2, "abort callback polled %d times", seen.abort_polls);
    double losses[8];
    int n_logged = read_log_losses(log_path, losses, 8);
    CHECK(n_logged == 2, "log has %d loss lines", n_logged);
    for (int i = 0; i < seen.calls && i < 2; i++) {
        const blip_finetune_progress *s = &seen.seen[i];
        CHECK(s->step == i + 1 && s->total_steps == 2 && s->epoch == 0, "progress %d: step %d/%d epoch %d", i, s->step,
              s->total_steps, s->epoch);
        CHECK(isfinite(s->loss) && s->loss > 0, "progress %d loss %g", i, s->loss);
        CHECK(s->lr >= 0 && s->lr <= 1e-5f, "progress %d lr %g", i, (double)s->lr);
        CHECK(s->samples_per_second > 0 && s->eta_seconds >= 0, "progress %d speed %g eta %g", i, s->samples_per_second,
              s->eta_seconds);
        if (i < n_logged) CHECK(s->loss == losses[i], "progress loss %.17g vs --log %.17g", s->loss, losses[i]);
    }
    CHECK(seen.calls < 2 || seen.seen[1].eta_seconds == 0, "eta 0 at the last step");
    CHECK(seen.calls < 2 || (seen.seen[0].lr > 0 && seen.seen[1].lr < seen.seen[0].lr), "cosine schedule decays: %g then %g",
          (double)seen.seen[0].lr, (double)seen.seen[1].lr);
    /* the output directory is a model blip_model_load takes, and it captions */
    blip_model *m = NULL, *base = NULL;
    EXPECT_STATUS(blip_model_load(out, NULL, &m), BLIP_OK);
    EXPECT_STATUS(blip_model_load(train_fixture(0, "models/caption"), NULL, &base), BLIP_OK);
    if (m && base) {
        blip_image img;
        EXPECT_STATUS(blip_image_load_file(train_fixture(2, "images/red_circle.png"), &img), BLIP_OK);
        char text[512], base_text[512];
        int32_t tokens[64], base_tokens[64];
        blip_text_result r = {text, sizeof text, tokens, 64, 0, 0, 0};
        blip_text_result b = {base_text, sizeof base_text, base_tokens, 64, 0, 0, 0};
        EXPECT_STATUS(blip_caption(m, &img, 1, NULL, NULL, &r), BLIP_OK);
        EXPECT_STATUS(blip_caption(base, &img, 1, NULL, NULL, &b), BLIP_OK);
        /* the tiny fixture's vocabulary is small: its decoder start id comes from its config */
        CHECK(r.n_tokens >= 2 && b.n_tokens >= 1 && tokens[0] == base_tokens[0], "finetuned caption tokens %zu first %d (base %d)",
              r.n_tokens, tokens[0], base_tokens[0]);
        blip_image_free(&img);
    }
    blip_model_free(m);
    blip_model_free(base);
    remove_tree(out);
    remove(log_path);
}

static void test_finetune_abort(void) {
    char out[4096];
    snprintf(out, sizeof out, "/tmp/blip-capi-finetune-abort-%d", (int)getpid());
    remove_tree(out);
    progress_log seen;
    memset(&seen, 0, sizeof seen);
    seen.abort_after = 1;
    blip_finetune_params p = tiny_caption_run(out);
    p.on_progress = record_progress;
    p.progress_user_data = &seen;
    p.should_abort = abort_when_done;
    p.abort_user_data = &seen;
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_ABORTED);
    CHECK(seen.calls == 1 && seen.seen[0].step == 1, "aborted after %d progress calls", seen.calls);
    CHECK(access(out, F_OK) != 0, "an aborted run writes no output directory");
    remove_tree(out);
}

static void test_finetune_bad_input(void) {
    char out[4096];
    snprintf(out, sizeof out, "/tmp/blip-capi-finetune-bad-%d", (int)getpid());
    blip_finetune_params p;
    EXPECT_STATUS(blip_finetune(NULL), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.train = NULL;
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "train") != NULL, "message names train: %s", blip_last_error());
    p = tiny_caption_run(out);
    p.out = NULL;
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.task = NULL;
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.train = train_fixture(1, "no-such-manifest.jsonl");
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_IO);
    CHECK(strstr(blip_last_error(), "no-such-manifest.jsonl") != NULL, "message names the file: %s", blip_last_error());
    p = tiny_caption_run(out);
    p.task = "segment";
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "segment") != NULL, "message names the task: %s", blip_last_error());
    p = tiny_caption_run(out);
    p.size = 0;
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "size") != NULL, "message names size: %s", blip_last_error());
    p = tiny_caption_run(out);
    p.size = sizeof p - 8;
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.model = NULL; /* neither model nor config */
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.config = train_fixture(2, "models/caption/config.json"); /* both */
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.schedule = "linear";
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.augment = "flip";
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.freeze = "all";
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.batch_size = 0;
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.max_steps = -1;
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.lr = NAN;
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_caption_run(out);
    p.model = "/nonexistent/model";
    EXPECT_STATUS(blip_finetune(&p), BLIP_ERR_IO);
    CHECK(access(out, F_OK) != 0, "failed runs write no output directory");
}

/* ---- CapFilt (fixture models: captioning + itm, a manifest written here) ---- */
typedef struct capfilt_log {
    int calls;
    blip_capfilt_progress last;
    int64_t first_total;
    int abort_after; /* > 0: the abort callback asks to stop once this many reports came */
    int abort_polls;
} capfilt_log;

static void record_capfilt(const blip_capfilt_progress *p, void *user) {
    capfilt_log *log = user;
    if (log->calls == 0) log->first_total = p->pairs_total;
    log->last = *p;
    log->last.shard = NULL; /* only valid during the call */
    CHECK(p->shard != NULL && strstr(p->shard, "manifest.jsonl") != NULL, "progress names the input: %s",
          p->shard ? p->shard : "(null)");
    log->calls++;
}

static int capfilt_abort(void *user) {
    capfilt_log *log = user;
    log->abort_polls++;
    return log->abort_after > 0 && log->calls >= log->abort_after;
}

static char capfilt_dir[4096], capfilt_manifest[4200], capfilt_captioner[4200], capfilt_filter[4200];

static void write_capfilt_manifest(void) {
    snprintf(capfilt_dir, sizeof capfilt_dir, "/tmp/blip-capi-capfilt-%d", (int)getpid());
    remove_tree(capfilt_dir);
    mkdir(capfilt_dir, 0755);
    snprintf(capfilt_manifest, sizeof capfilt_manifest, "%s/manifest.jsonl", capfilt_dir);
    snprintf(capfilt_captioner, sizeof capfilt_captioner, "%s/models/captioning", fixtures);
    snprintf(capfilt_filter, sizeof capfilt_filter, "%s/models/itm", fixtures);
    FILE *f = fopen(capfilt_manifest, "w");
    CHECK(f != NULL, "write %s", capfilt_manifest);
    if (!f) return;
    const char *photos[] = {"chelsea.png", "coffee.jpg", "astronaut.jpg", "camera_gray.png"};
    for (int i = 0; i < 4; i++)
        fprintf(f, "{\"image\": \"%s/photos/%s\", \"text\": \"a photo number %d\", \"key\": \"k%d\"}\n", fixtures,
                photos[i], i, i);
    fprintf(f, "{\"image\": \"missing.jpg\", \"text\": \"no such image\", \"key\": \"bad\"}\n");
    fclose(f);
}

static blip_capfilt_params tiny_capfilt_run(const char *out) {
    blip_capfilt_params p = blip_capfilt_default_params();
    p.captioner = capfilt_captioner;
    p.filter = capfilt_filter;
    p.input = capfilt_manifest;
    p.output = out;
    p.captions_per_image = 2;
    p.batch_size = 2;
    p.n_threads = 2;
    return p;
}

static void test_capfilt_defaults(void) {
    blip_capfilt_params p = blip_capfilt_default_params();
    CHECK(p.size == sizeof p, "size %zu", p.size);
    CHECK(p.captioner == NULL && p.filter == NULL && p.input == NULL && p.output == NULL, "paths default to NULL");
    CHECK(p.captions_per_image == 1 && p.threshold == 0.5f && p.seed == 0 && p.batch_size == 8, "run defaults");
    CHECK(p.preset && strcmp(p.preset, "capfilt") == 0, "preset default");
    CHECK(p.n_threads == 0 && p.resume == 0 && p.captioner_model == NULL && p.filter_model == NULL, "threads/resume/models");
    CHECK(p.on_progress == NULL && p.should_abort == NULL, "no callbacks by default");
    CHECK(p.prompt == NULL, "no prompt by default");
}

static int count_lines(const char *path, const char *needle) {
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    char line[8192];
    int n = 0;
    while (fgets(line, sizeof line, f)) n += needle == NULL || strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

static void test_capfilt_run(void) {
    char out[4300], again[4300];
    snprintf(out, sizeof out, "%s/out.jsonl", capfilt_dir);
    snprintf(again, sizeof again, "%s/again.jsonl", capfilt_dir);
    capfilt_log seen;
    memset(&seen, 0, sizeof seen);
    blip_capfilt_params p = tiny_capfilt_run(out);
    p.on_progress = record_capfilt;
    p.progress_user_data = &seen;
    p.should_abort = capfilt_abort; /* never stops */
    p.abort_user_data = &seen;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_OK);
    CHECK(seen.calls == 4, "progress: %d reports (3 batches + 1 finished output)", seen.calls);
    CHECK(seen.abort_polls >= 4, "abort polled %d times", seen.abort_polls);
    CHECK(seen.first_total == 5 && seen.last.pairs_total == 5 && seen.last.pairs_done == 5 && seen.last.errors == 1,
          "pairs %lld/%lld errors %lld", (long long)seen.last.pairs_done, (long long)seen.last.pairs_total,
          (long long)seen.last.errors);
    CHECK(seen.last.shards_done == 1 && seen.last.shards_total == 1 && seen.last.shards_skipped == 0,
          "shards %d/%d", seen.last.shards_done, seen.last.shards_total);
    CHECK(seen.last.images_per_second > 0 && seen.last.elapsed_seconds > 0 && seen.last.eta_seconds == 0,
          "speed %g eta %g", seen.last.images_per_second, seen.last.eta_seconds);
    CHECK(count_lines(out, NULL) == 5, "%d records", count_lines(out, NULL));
    CHECK(count_lines(out, "\"synthetic\": [{") == 4 && count_lines(out, "\"error\"") == 1, "records and error record");
    size_t n1 = 0, n2 = 0;
    unsigned char *first = read_all(out, &n1);

    /* an existing output without resume is refused; with resume it is kept as it is */
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "resume") != NULL, "message names resume: %s", blip_last_error());
    p.resume = 1;
    int calls = seen.calls;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_OK);
    CHECK(seen.calls == calls, "resume with everything finished does no work (%d reports)", seen.calls - calls);
    size_t n0 = 0;
    unsigned char *kept = read_all(out, &n0);
    CHECK(kept && first && n0 == n1 && memcmp(kept, first, n1) == 0, "resume keeps the finished output");
    free(kept);

    /* loaded handles give the same bytes as paths (and stay usable) */
    blip_model *cap = NULL, *itm = NULL;
    EXPECT_STATUS(blip_model_load(capfilt_captioner, NULL, &cap), BLIP_OK);
    EXPECT_STATUS(blip_model_load(capfilt_filter, NULL, &itm), BLIP_OK);
    p = tiny_capfilt_run(again);
    p.captioner = NULL;
    p.filter = NULL;
    p.captioner_model = cap;
    p.filter_model = itm;
    p.batch_size = 5; /* results do not depend on the batch size */
    EXPECT_STATUS(blip_capfilt(&p), BLIP_OK);
    unsigned char *second = read_all(again, &n2);
    CHECK(first && second && n1 == n2 && memcmp(first, second, n1) == 0, "handles and paths give identical records");
    CHECK(blip_model_embedding_dim(itm) == 16, "the filter handle is still usable");
    free(first);
    free(second);
    blip_model_free(cap);
    blip_model_free(itm);
}

static void test_capfilt_abort(void) {
    char out[4300];
    snprintf(out, sizeof out, "%s/aborted.jsonl", capfilt_dir);
    capfilt_log seen;
    memset(&seen, 0, sizeof seen);
    seen.abort_after = 1;
    blip_capfilt_params p = tiny_capfilt_run(out);
    p.on_progress = record_capfilt;
    p.progress_user_data = &seen;
    p.should_abort = capfilt_abort;
    p.abort_user_data = &seen;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_ABORTED);
    CHECK(seen.calls == 1 && seen.last.pairs_done == 2, "aborted after %d reports, %lld pairs", seen.calls,
          (long long)seen.last.pairs_done);
    CHECK(access(out, F_OK) != 0, "an aborted run leaves no unfinished output");
    /* asked to stop before it starts: nothing is loaded or written */
    seen.calls = 1;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_ABORTED);
    CHECK(access(out, F_OK) != 0, "no output");
}

static void test_capfilt_bad_input(void) {
    char out[4300];
    snprintf(out, sizeof out, "%s/bad.jsonl", capfilt_dir);
    blip_capfilt_params p;
    EXPECT_STATUS(blip_capfilt(NULL), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_capfilt_run(out);
    p.size = 0;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "size") != NULL, "message names size: %s", blip_last_error());
    p = tiny_capfilt_run(out);
    p.size = sizeof p - 8;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_capfilt_run(out);
    p.input = NULL;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "input") != NULL, "message names input: %s", blip_last_error());
    p = tiny_capfilt_run(out);
    p.output = "";
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_capfilt_run(out);
    p.captioner = NULL;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "captioner") != NULL, "message names captioner: %s", blip_last_error());
    p = tiny_capfilt_run(out);
    p.threshold = 1.5f;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "threshold") != NULL, "message names the threshold: %s", blip_last_error());
    p = tiny_capfilt_run(out);
    p.threshold = NAN;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_capfilt_run(out);
    p.captions_per_image = 0;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_capfilt_run(out);
    p.batch_size = 0;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_capfilt_run(out);
    p.n_threads = -1;
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_capfilt_run(out);
    p.preset = "greedy-ish";
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "greedy-ish") != NULL, "message names the preset: %s", blip_last_error());
    p = tiny_capfilt_run(out);
    p.prompt = " ";
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    CHECK(strstr(blip_last_error(), "prompt") != NULL, "message names the prompt: %s", blip_last_error());
    p = tiny_capfilt_run(out);
    p.prompt = "\xff\xfe";
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_INVALID_ARGUMENT);
    p = tiny_capfilt_run(out);
    p.input = "/nonexistent/manifest.jsonl";
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_IO);
    p = tiny_capfilt_run(out);
    p.captioner = "/nonexistent/model";
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_IO);
    p = tiny_capfilt_run(out);
    p.captioner = capfilt_filter; /* a retrieval model is no captioner */
    EXPECT_STATUS(blip_capfilt(&p), BLIP_ERR_UNSUPPORTED);
    CHECK(strstr(blip_last_error(), "BlipForConditionalGeneration") != NULL, "message names the kind: %s", blip_last_error());
    CHECK(access(out, F_OK) != 0, "failed runs write no output");
}

static int log_lines;
static void count_log(int level, const char *message, void *user) {
    (void)level; (void)message; (void)user;
    log_lines++;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: test_capi FIXTURES_DIR TRAINING_FIXTURES_DIR\n"); return 2; }
    fixtures = argv[1];
    train_fixtures = argv[2];
    blip_log_set(count_log, NULL);
    test_library_basics();
    test_null_arguments();
    test_bad_params();
    test_truncated_params();
    test_bad_images();
    test_model();
    test_threads();
    test_generation();
    test_matching();
    test_quantize();
    test_quantize_params();
    test_finetune_defaults();
    test_finetune_bad_input();
    test_finetune_run();
    test_finetune_abort();
    write_capfilt_manifest();
    test_capfilt_defaults();
    test_capfilt_bad_input();
    test_capfilt_run();
    test_capfilt_abort();
    if (!failures) remove_tree(capfilt_dir);
    blip_log_set(NULL, NULL);
    if (failures) { fprintf(stderr, "%d C API check(s) failed\n", failures); return 1; }
    printf("C API tests passed\n");
    return 0;
}
