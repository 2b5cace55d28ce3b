/* C ABI tests for libblip: argument checking, error reporting, image input paths, golden
 * embeddings, and concurrent use of one model. Built with -std=c99 -Wall -Werror against the
 * installed-layout header and library (see run.sh). Exits non-zero on the first failure. */
#include "blip.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static int log_lines;
static void count_log(int level, const char *message, void *user) {
    (void)level; (void)message; (void)user;
    log_lines++;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: test_capi FIXTURES_DIR\n"); return 2; }
    fixtures = argv[1];
    blip_log_set(count_log, NULL);
    test_library_basics();
    test_null_arguments();
    test_bad_params();
    test_bad_images();
    test_model();
    test_threads();
    blip_log_set(NULL, NULL);
    if (failures) { fprintf(stderr, "%d C API check(s) failed\n", failures); return 1; }
    printf("C API tests passed\n");
    return 0;
}
