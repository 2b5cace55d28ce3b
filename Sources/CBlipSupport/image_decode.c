/* JPEG/PNG decoding from memory for libblip (see include/image_decode.h).
 *
 * Both libraries report fatal errors by calling a handler that must not return: libjpeg's
 * default handler calls exit() and libpng longjmps. Here each decoder installs handlers that
 * record the message and longjmp back to the setjmp point in this file, where everything
 * allocated so far (tracked in a context struct that outlives the jump) is freed. */

#include "image_decode.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

static void set_msg(char *msg, size_t cap, const char *fmt, ...) {
    if (msg == NULL || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
}

int bs_image_detect(const uint8_t *data, size_t size) {
    if (data == NULL) return BS_IMAGE_KIND_UNKNOWN;
    if (size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF) return BS_IMAGE_KIND_JPEG;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size >= 8 && memcmp(data, png_sig, 8) == 0) return BS_IMAGE_KIND_PNG;
    return BS_IMAGE_KIND_UNKNOWN;
}

void bs_image_free(bs_image *img) {
    if (img == NULL) return;
    free(img->pixels);
    memset(img, 0, sizeof(*img));
}

/* Checks dimensions against the limit; returns BS_IMAGE_OK or an error code with message. */
static int check_size(uint64_t w, uint64_t h, uint64_t max_pixels, char *msg, size_t cap) {
    if (w == 0 || h == 0) {
        set_msg(msg, cap, "image has zero size (%llux%llu)", (unsigned long long)w, (unsigned long long)h);
        return BS_IMAGE_ERR_FORMAT;
    }
    /* w, h < 2^32 here, so the product cannot overflow 64 bits. */
    if (w > max_pixels || h > max_pixels || w * h > max_pixels || w > INT32_MAX || h > INT32_MAX) {
        set_msg(msg, cap, "image is too large: %llux%llu pixels exceeds the limit of %llu pixels",
                (unsigned long long)w, (unsigned long long)h, (unsigned long long)max_pixels);
        return BS_IMAGE_ERR_TOO_LARGE;
    }
    return BS_IMAGE_OK;
}

/* ----------------------------------------------------------------------------------------- */
/* JPEG                                                                                      */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX + 64];
    int code;
} bs_jpeg_error;

static void bs_jpeg_error_exit(j_common_ptr cinfo) {
    bs_jpeg_error *err = (bs_jpeg_error *)cinfo->err;
    char buffer[JMSG_LENGTH_MAX];
    buffer[0] = 0;
    (*cinfo->err->format_message)(cinfo, buffer);
    snprintf(err->message, sizeof(err->message), "JPEG: %s", buffer);
    if (err->code == BS_IMAGE_OK) err->code = BS_IMAGE_ERR_FORMAT;
    longjmp(err->jump, 1);
}

/* Warnings are ignored (Pillow does not see them either) except running out of data:
 * Pillow refuses truncated JPEGs ("image file is truncated"), even one missing only its EOI. */
static void bs_jpeg_emit_message(j_common_ptr cinfo, int msg_level) {
    if (msg_level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
        bs_jpeg_error *err = (bs_jpeg_error *)cinfo->err;
        snprintf(err->message, sizeof(err->message), "JPEG: image file is truncated (premature end of data)");
        err->code = BS_IMAGE_ERR_FORMAT;
        longjmp(err->jump, 1);
    }
    if (msg_level == -1) cinfo->err->num_warnings++;
}

static void bs_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

typedef struct {
    struct jpeg_decompress_struct cinfo;
    bs_jpeg_error err;
    uint8_t *pixels;   /* output */
    uint8_t *row;      /* CMYK scanline */
    int created;
} bs_jpeg_ctx;

/* Pillow: CMYK;I unpacking (invert) then cmyk2rgb with MULDIV255 rounding. */
static inline uint8_t muldiv255(int a, int b) {
    int t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

static int decode_jpeg(const uint8_t *data, size_t size, uint64_t max_pixels, bs_image *out,
                       char *msg, size_t cap) {
    bs_jpeg_ctx *ctx = (bs_jpeg_ctx *)calloc(1, sizeof(bs_jpeg_ctx));
    if (ctx == NULL) {
        set_msg(msg, cap, "out of memory");
        return BS_IMAGE_ERR_NO_MEMORY;
    }
    struct jpeg_decompress_struct *cinfo = &ctx->cinfo;
    cinfo->err = jpeg_std_error(&ctx->err.pub);
    ctx->err.pub.error_exit = bs_jpeg_error_exit;
    ctx->err.pub.emit_message = bs_jpeg_emit_message;
    ctx->err.pub.output_message = bs_jpeg_output_message;
    ctx->err.code = BS_IMAGE_OK;

    if (setjmp(ctx->err.jump)) {
        int code = ctx->err.code == BS_IMAGE_OK ? BS_IMAGE_ERR_FORMAT : ctx->err.code;
        set_msg(msg, cap, "%s", ctx->err.message);
        if (ctx->created) jpeg_destroy_decompress(cinfo);
        free(ctx->pixels);
        free(ctx->row);
        free(ctx);
        return code;
    }

    jpeg_create_decompress(cinfo);
    ctx->created = 1;
    jpeg_mem_src(cinfo, data, (unsigned long)size);
    if (jpeg_read_header(cinfo, TRUE) != JPEG_HEADER_OK) {
        snprintf(ctx->err.message, sizeof(ctx->err.message), "JPEG: file contains no image");
        ctx->err.code = BS_IMAGE_ERR_FORMAT;
        longjmp(ctx->err.jump, 1);
    }
    int rc = check_size(cinfo->image_width, cinfo->image_height, max_pixels, ctx->err.message,
                        sizeof(ctx->err.message));
    if (rc != BS_IMAGE_OK) {
        ctx->err.code = rc;
        longjmp(ctx->err.jump, 1);
    }
    if (cinfo->data_precision != 8) {
        snprintf(ctx->err.message, sizeof(ctx->err.message), "JPEG: cannot handle %d-bit samples",
                 cinfo->data_precision);
        ctx->err.code = BS_IMAGE_ERR_UNSUPPORTED;
        longjmp(ctx->err.jump, 1);
    }
    int format;
    int cmyk = 0;
    switch (cinfo->num_components) {
    case 1:
        cinfo->out_color_space = JCS_GRAYSCALE;
        format = BS_IMAGE_GRAY8;
        break;
    case 3:
        cinfo->out_color_space = JCS_RGB;
        format = BS_IMAGE_RGB8;
        break;
    case 4:
        cinfo->out_color_space = JCS_CMYK; /* libjpeg turns YCCK into CMYK */
        format = BS_IMAGE_RGB8;
        cmyk = 1;
        break;
    default:
        snprintf(ctx->err.message, sizeof(ctx->err.message), "JPEG: cannot handle %d-component images",
                 cinfo->num_components);
        ctx->err.code = BS_IMAGE_ERR_UNSUPPORTED;
        longjmp(ctx->err.jump, 1);
    }

    jpeg_start_decompress(cinfo);
    const size_t w = cinfo->output_width, h = cinfo->output_height;
    if (w != cinfo->image_width || h != cinfo->image_height ||
        (int)cinfo->output_components != (cmyk ? 4 : format)) {
        snprintf(ctx->err.message, sizeof(ctx->err.message), "JPEG: unexpected decoder output layout");
        ctx->err.code = BS_IMAGE_ERR_FORMAT;
        longjmp(ctx->err.jump, 1);
    }
    const size_t stride = w * (size_t)format;
    ctx->pixels = (uint8_t *)malloc(stride * h);
    if (cmyk) ctx->row = (uint8_t *)malloc(w * 4);
    if (ctx->pixels == NULL || (cmyk && ctx->row == NULL)) {
        snprintf(ctx->err.message, sizeof(ctx->err.message), "out of memory decoding a %zux%zu JPEG", w, h);
        ctx->err.code = BS_IMAGE_ERR_NO_MEMORY;
        longjmp(ctx->err.jump, 1);
    }
    while (cinfo->output_scanline < h) {
        size_t y = cinfo->output_scanline;
        JSAMPROW dest = cmyk ? ctx->row : ctx->pixels + y * stride;
        if (jpeg_read_scanlines(cinfo, &dest, 1) != 1) {
            snprintf(ctx->err.message, sizeof(ctx->err.message), "JPEG: image file is truncated");
            ctx->err.code = BS_IMAGE_ERR_FORMAT;
            longjmp(ctx->err.jump, 1);
        }
        if (cmyk) {
            uint8_t *o = ctx->pixels + y * stride;
            const uint8_t *s = ctx->row;
            for (size_t x = 0; x < w; x++, s += 4, o += 3) {
                int c = 255 - s[0], m = 255 - s[1], yy = 255 - s[2], nk = s[3]; /* nk = 255 - (255 - k) */
                int v;
                v = nk - muldiv255(c, nk);
                o[0] = (uint8_t)(v < 0 ? 0 : v);
                v = nk - muldiv255(m, nk);
                o[1] = (uint8_t)(v < 0 ? 0 : v);
                v = nk - muldiv255(yy, nk);
                o[2] = (uint8_t)(v < 0 ? 0 : v);
            }
        }
    }
    jpeg_finish_decompress(cinfo); /* reads up to EOI: a missing EOI is a truncated file */
    jpeg_destroy_decompress(cinfo);
    out->pixels = ctx->pixels;
    out->width = (int32_t)w;
    out->height = (int32_t)h;
    out->format = format;
    free(ctx->row);
    free(ctx);
    return BS_IMAGE_OK;
}

/* ----------------------------------------------------------------------------------------- */
/* PNG                                                                                       */

typedef struct {
    png_structp png;
    png_infop info;
    jmp_buf jump;
    const uint8_t *data;
    size_t size;
    size_t pos;
    char message[256];
    int code;
    uint8_t *pixels; /* output */
    uint8_t *raw;    /* one raw row, or the whole raw image when interlaced */
    png_bytep *rows; /* row pointers into raw (interlaced) */
} bs_png_ctx;

static void bs_png_error(png_structp png, png_const_charp text) {
    bs_png_ctx *ctx = (bs_png_ctx *)png_get_error_ptr(png);
    if (ctx->code == BS_IMAGE_OK) {
        snprintf(ctx->message, sizeof(ctx->message), "PNG: %s", text ? text : "decoding error");
        ctx->code = BS_IMAGE_ERR_FORMAT;
    }
    longjmp(ctx->jump, 1);
}

static void bs_png_warning(png_structp png, png_const_charp text) {
    (void)png;
    (void)text;
}

static void bs_png_read(png_structp png, png_bytep dest, png_size_t length) {
    bs_png_ctx *ctx = (bs_png_ctx *)png_get_io_ptr(png);
    if (length > ctx->size - ctx->pos) {
        snprintf(ctx->message, sizeof(ctx->message), "PNG: image file is truncated");
        ctx->code = BS_IMAGE_ERR_FORMAT;
        png_error(png, "image file is truncated");
    }
    memcpy(dest, ctx->data + ctx->pos, length);
    ctx->pos += length;
}

static void png_fail(bs_png_ctx *ctx, int code, const char *text) {
    snprintf(ctx->message, sizeof(ctx->message), "%s", text);
    ctx->code = code;
    longjmp(ctx->jump, 1);
}

typedef struct {
    int color_type, bit_depth;
    int has_trns;
    png_uint_16 trns_gray;
    png_uint_16 trns_r, trns_g, trns_b;
    uint8_t palette[256][4]; /* RGBA, entries past PLTE are opaque black like Pillow */
} png_layout;

static inline uint8_t gray_scale(int bit_depth, unsigned v) {
    switch (bit_depth) {
    case 1: return v ? 255 : 0;
    case 2: return (uint8_t)(v * 85);
    case 4: return (uint8_t)(v * 17);
    default: return (uint8_t)v;
    }
}

/* Converts one raw row (packing expanded to 1 byte per sample, 16-bit big-endian) to the
 * output format, reproducing Pillow's modes and transparency handling. */
static void png_convert_row(const png_layout *L, const uint8_t *s, uint8_t *o, size_t w) {
    const int bd = L->bit_depth;
    switch (L->color_type) {
    case PNG_COLOR_TYPE_GRAY:
        if (bd == 16) {
            /* Pillow "I;16": convert clips to 0..255; tRNS compares the 16-bit value. */
            for (size_t x = 0; x < w; x++, s += 2) {
                unsigned v = ((unsigned)s[0] << 8) | s[1];
                uint8_t g = v > 255 ? 255 : (uint8_t)v;
                if (L->has_trns) {
                    o[0] = o[1] = o[2] = g;
                    o[3] = v == L->trns_gray ? 0 : 255;
                    o += 4;
                } else {
                    *o++ = g;
                }
            }
        } else {
            /* Pillow "1" (tRNS 255 if nonzero else 0) or "L" (tRNS raw value compared with the
             * scaled 8-bit sample). */
            unsigned t = L->trns_gray;
            if (bd == 1) t = t ? 255 : 0;
            for (size_t x = 0; x < w; x++, s++) {
                uint8_t g = gray_scale(bd, *s);
                if (L->has_trns) {
                    o[0] = o[1] = o[2] = g;
                    o[3] = g == t ? 0 : 255;
                    o += 4;
                } else {
                    *o++ = g;
                }
            }
        }
        break;
    case PNG_COLOR_TYPE_RGB: {
        const size_t step = bd == 16 ? 2 : 1;
        for (size_t x = 0; x < w; x++, s += 3 * step) {
            uint8_t r = s[0], g = s[step], b = s[2 * step]; /* 16-bit: high byte (Pillow RGB;16B) */
            o[0] = r;
            o[1] = g;
            o[2] = b;
            if (L->has_trns) {
                /* Pillow keeps the raw 16-bit key and compares it with the 8-bit pixel. */
                o[3] = (r == L->trns_r && g == L->trns_g && b == L->trns_b) ? 0 : 255;
                o += 4;
            } else {
                o += 3;
            }
        }
        break;
    }
    case PNG_COLOR_TYPE_PALETTE:
        for (size_t x = 0; x < w; x++, s++) {
            const uint8_t *p = L->palette[*s];
            o[0] = p[0];
            o[1] = p[1];
            o[2] = p[2];
            if (L->has_trns) {
                o[3] = p[3];
                o += 4;
            } else {
                o += 3;
            }
        }
        break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: {
        const size_t step = bd == 16 ? 2 : 1;
        for (size_t x = 0; x < w; x++, s += 2 * step, o += 4) {
            o[0] = o[1] = o[2] = s[0];
            o[3] = s[step];
        }
        break;
    }
    case PNG_COLOR_TYPE_RGB_ALPHA: {
        const size_t step = bd == 16 ? 2 : 1;
        for (size_t x = 0; x < w; x++, s += 4 * step, o += 4) {
            o[0] = s[0];
            o[1] = s[step];
            o[2] = s[2 * step];
            o[3] = s[3 * step];
        }
        break;
    }
    }
}

static int decode_png(const uint8_t *data, size_t size, uint64_t max_pixels, bs_image *out,
                      char *msg, size_t cap) {
    bs_png_ctx *ctx = (bs_png_ctx *)calloc(1, sizeof(bs_png_ctx));
    png_layout *L = (png_layout *)calloc(1, sizeof(png_layout));
    if (ctx == NULL || L == NULL) {
        free(ctx);
        free(L);
        set_msg(msg, cap, "out of memory");
        return BS_IMAGE_ERR_NO_MEMORY;
    }
    ctx->data = data;
    ctx->size = size;
    ctx->code = BS_IMAGE_OK;

    if (setjmp(ctx->jump)) {
        int code = ctx->code == BS_IMAGE_OK ? BS_IMAGE_ERR_FORMAT : ctx->code;
        set_msg(msg, cap, "%s", ctx->message[0] ? ctx->message : "PNG: decoding error");
        if (ctx->png) png_destroy_read_struct(&ctx->png, ctx->info ? &ctx->info : NULL, NULL);
        free(ctx->pixels);
        free(ctx->raw);
        free(ctx->rows);
        free(ctx);
        free(L);
        return code;
    }

    ctx->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, bs_png_error, bs_png_warning);
    if (ctx->png == NULL) png_fail(ctx, BS_IMAGE_ERR_NO_MEMORY, "out of memory");
    ctx->info = png_create_info_struct(ctx->png);
    if (ctx->info == NULL) png_fail(ctx, BS_IMAGE_ERR_NO_MEMORY, "out of memory");
    /* From here on libpng errors land in bs_png_error, which longjmps to ctx->jump. */
    png_set_read_fn(ctx->png, ctx, bs_png_read);
    /* Our own pixel limit decides (libpng's default 1e6 per side would fire first). */
    png_set_user_limits(ctx->png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_cache_max(ctx->png, 1000);
    png_set_chunk_malloc_max(ctx->png, 8u * 1024u * 1024u);
    /* A bad CRC is a corrupt file, in ancillary chunks too (Pillow: "broken PNG file"). */
    png_set_crc_action(ctx->png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);

    png_read_info(ctx->png, ctx->info);
    png_uint_32 w32 = 0, h32 = 0;
    int bit_depth = 0, color_type = 0, interlace = 0;
    png_get_IHDR(ctx->png, ctx->info, &w32, &h32, &bit_depth, &color_type, &interlace, NULL, NULL);
    int rc = check_size(w32, h32, max_pixels, ctx->message, sizeof(ctx->message));
    if (rc != BS_IMAGE_OK) {
        ctx->code = rc;
        longjmp(ctx->jump, 1);
    }
    L->color_type = color_type;
    L->bit_depth = bit_depth;

    png_bytep trans_alpha = NULL;
    int num_trans = 0;
    png_color_16p trans_color = NULL;
    if (color_type != PNG_COLOR_TYPE_GRAY_ALPHA && color_type != PNG_COLOR_TYPE_RGB_ALPHA &&
        png_get_valid(ctx->png, ctx->info, PNG_INFO_tRNS) &&
        png_get_tRNS(ctx->png, ctx->info, &trans_alpha, &num_trans, &trans_color) != 0) {
        L->has_trns = 1;
        if (trans_color != NULL) {
            L->trns_gray = trans_color->gray;
            L->trns_r = trans_color->red;
            L->trns_g = trans_color->green;
            L->trns_b = trans_color->blue;
        }
    }
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_colorp palette = NULL;
        int num_palette = 0;
        for (int i = 0; i < 256; i++) {
            L->palette[i][0] = L->palette[i][1] = L->palette[i][2] = 0;
            L->palette[i][3] = 255;
        }
        if (png_get_PLTE(ctx->png, ctx->info, &palette, &num_palette) == 0 || palette == NULL)
            png_fail(ctx, BS_IMAGE_ERR_FORMAT, "PNG: palette image without a PLTE chunk");
        if (num_palette > 256) num_palette = 256;
        for (int i = 0; i < num_palette; i++) {
            L->palette[i][0] = palette[i].red;
            L->palette[i][1] = palette[i].green;
            L->palette[i][2] = palette[i].blue;
        }
        if (L->has_trns && trans_alpha != NULL) {
            if (num_trans > 256) num_trans = 256;
            for (int i = 0; i < num_trans; i++) L->palette[i][3] = trans_alpha[i];
        }
    }

    int format;
    switch (color_type) {
    case PNG_COLOR_TYPE_GRAY: format = L->has_trns ? BS_IMAGE_RGBA8 : BS_IMAGE_GRAY8; break;
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_PALETTE: format = L->has_trns ? BS_IMAGE_RGBA8 : BS_IMAGE_RGB8; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
    case PNG_COLOR_TYPE_RGB_ALPHA: format = BS_IMAGE_RGBA8; break;
    default: png_fail(ctx, BS_IMAGE_ERR_FORMAT, "PNG: invalid colour type"); return BS_IMAGE_ERR_FORMAT;
    }

    if (bit_depth < 8) png_set_packing(ctx->png); /* one byte per sample, values unscaled */
    int passes = png_set_interlace_handling(ctx->png);
    png_read_update_info(ctx->png, ctx->info);
    const size_t rowbytes = png_get_rowbytes(ctx->png, ctx->info);
    const size_t w = w32, h = h32;
    const size_t channels = color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGB_ALPHA ? 4
                            : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    if (rowbytes != w * channels * (bit_depth == 16 ? 2 : 1))
        png_fail(ctx, BS_IMAGE_ERR_FORMAT, "PNG: unexpected row layout");

    const size_t stride = w * (size_t)format;
    ctx->pixels = (uint8_t *)malloc(stride * h);
    if (ctx->pixels == NULL) png_fail(ctx, BS_IMAGE_ERR_NO_MEMORY, "out of memory decoding PNG");
    if (passes > 1) {
        /* Interlaced: libpng needs the whole raw image to combine the passes. */
        if (rowbytes > SIZE_MAX / h) png_fail(ctx, BS_IMAGE_ERR_TOO_LARGE, "PNG: image is too large");
        ctx->raw = (uint8_t *)malloc(rowbytes * h);
        ctx->rows = (png_bytep *)malloc(sizeof(png_bytep) * h);
        if (ctx->raw == NULL || ctx->rows == NULL) png_fail(ctx, BS_IMAGE_ERR_NO_MEMORY, "out of memory decoding PNG");
        for (size_t y = 0; y < h; y++) ctx->rows[y] = ctx->raw + y * rowbytes;
        png_read_image(ctx->png, ctx->rows);
        for (size_t y = 0; y < h; y++) png_convert_row(L, ctx->rows[y], ctx->pixels + y * stride, w);
    } else {
        ctx->raw = (uint8_t *)malloc(rowbytes);
        if (ctx->raw == NULL) png_fail(ctx, BS_IMAGE_ERR_NO_MEMORY, "out of memory decoding PNG");
        for (size_t y = 0; y < h; y++) {
            png_read_row(ctx->png, ctx->raw, NULL);
            png_convert_row(L, ctx->raw, ctx->pixels + y * stride, w);
        }
    }
    /* Pillow stops after the image data; a missing IEND is not an error there either. */
    png_destroy_read_struct(&ctx->png, &ctx->info, NULL);
    out->pixels = ctx->pixels;
    out->width = (int32_t)w;
    out->height = (int32_t)h;
    out->format = format;
    free(ctx->raw);
    free(ctx->rows);
    free(ctx);
    free(L);
    return BS_IMAGE_OK;
}

/* ----------------------------------------------------------------------------------------- */

int bs_image_decode(const uint8_t *data, size_t size, uint64_t max_pixels, bs_image *out,
                    char *msg, size_t msg_capacity) {
    if (msg != NULL && msg_capacity > 0) msg[0] = 0;
    if (out == NULL) {
        set_msg(msg, msg_capacity, "no output image");
        return BS_IMAGE_ERR_ARGUMENT;
    }
    memset(out, 0, sizeof(*out));
    if (data == NULL || size == 0) {
        set_msg(msg, msg_capacity, "image data is empty");
        return BS_IMAGE_ERR_FORMAT;
    }
    switch (bs_image_detect(data, size)) {
    case BS_IMAGE_KIND_JPEG: return decode_jpeg(data, size, max_pixels, out, msg, msg_capacity);
    case BS_IMAGE_KIND_PNG: return decode_png(data, size, max_pixels, out, msg, msg_capacity);
    default:
        set_msg(msg, msg_capacity, "unrecognised image format (only JPEG and PNG are supported)");
        return BS_IMAGE_ERR_FORMAT;
    }
}
