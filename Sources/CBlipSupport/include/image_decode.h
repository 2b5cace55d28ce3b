#ifndef BLIP_SUPPORT_IMAGE_DECODE_H
#define BLIP_SUPPORT_IMAGE_DECODE_H

/* JPEG (libjpeg) and PNG (libpng) decoding from memory, safe on hostile input: errors come
 * back as a status code and a message (never exit(), never a longjmp out of this file), every
 * allocation is freed on every error path, and the pixel count is checked against a limit
 * before any pixel memory is allocated.
 *
 * Output follows what Pillow produces for the file and what Hugging Face's convert_to_rgb then
 * sees, so the Swift side only has to composite alpha onto white:
 *   - GRAY8: 8-bit greyscale (1/2/4-bit scaled like Pillow; 16-bit CLIPPED to 255 like Pillow's
 *            I;16 -> RGB conversion), greyscale JPEG.
 *   - RGB8:  truecolour, palette without tRNS, 16-bit truecolour (high byte), JPEG (CMYK/YCCK
 *            JPEGs are inverted the Adobe way and converted with Pillow's cmyk2rgb).
 *   - RGBA8: anything with an alpha channel or a tRNS chunk (grey+alpha replicated to RGB;
 *            tRNS colour keys compared the way Pillow compares them).
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    BS_IMAGE_GRAY8 = 1,
    BS_IMAGE_RGB8 = 3,
    BS_IMAGE_RGBA8 = 4,
};

enum {
    BS_IMAGE_OK = 0,
    BS_IMAGE_ERR_FORMAT = 1,      /* not JPEG/PNG, corrupt or truncated data */
    BS_IMAGE_ERR_TOO_LARGE = 2,   /* width*height above the limit (checked before allocating) */
    BS_IMAGE_ERR_NO_MEMORY = 3,
    BS_IMAGE_ERR_UNSUPPORTED = 4, /* valid file of a kind we do not decode (e.g. 12-bit JPEG) */
    BS_IMAGE_ERR_ARGUMENT = 5,
};

enum {
    BS_IMAGE_KIND_UNKNOWN = 0,
    BS_IMAGE_KIND_JPEG = 1,
    BS_IMAGE_KIND_PNG = 2,
};

typedef struct bs_image {
    uint8_t *pixels; /* malloc'd, rows packed: stride = width * channels */
    int32_t width;
    int32_t height;
    int32_t format;  /* BS_IMAGE_GRAY8 / RGB8 / RGBA8 == bytes per pixel */
} bs_image;

/* Which decoder the magic bytes select. */
int bs_image_detect(const uint8_t *data, size_t size);

/* Decodes `data`. On success returns BS_IMAGE_OK and fills *out (free with bs_image_free).
 * On failure returns a BS_IMAGE_ERR_* code, leaves *out zeroed and writes a NUL-terminated
 * message into msg (if msg_capacity > 0). max_pixels bounds width*height. */
int bs_image_decode(const uint8_t *data, size_t size, uint64_t max_pixels, bs_image *out,
                    char *msg, size_t msg_capacity);

/* Frees the pixels and zeroes *img. Safe on a zeroed image and on NULL. */
void bs_image_free(bs_image *img);

#ifdef __cplusplus
}
#endif

#endif
