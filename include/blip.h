/*
 * blip.h — the C interface of libblip: BLIP vision-language models on the CPU.
 *
 * Version: see BLIP_VERSION_* below and blip_version(). The ABI is versioned by the SONAME
 * (libblip.so.0); within one SONAME, functions and enum values are only ever added, and every
 * params struct starts with a `size` field so that older callers keep working.
 *
 * Conventions
 *   - Functions return a status: BLIP_OK (0) or a negative BLIP_ERR_* code. On error,
 *     blip_last_error() returns a message for the calling thread (valid until the next libblip
 *     call on that thread). Output arguments are only written on success.
 *   - Params structs are passed by pointer. Get defaults from blip_*_default_params() and
 *     change fields; pass NULL to use the defaults. `size` must be sizeof(the struct).
 *   - Text is UTF-8. Strings returned by the library are owned by the library.
 *
 * Thread safety
 *   A loaded blip_model is immutable: any number of threads may call any function on the same
 *   model at the same time; each call uses its own scratch memory. blip_model_free must not race
 *   with other calls on that model. blip_image values are plain data owned by whoever filled them.
 *   params.n_threads is the parallelism of every call on that model, and only of those: two
 *   models loaded with different n_threads keep them when used at the same time from two
 *   threads. (libblip keeps OpenBLAS single-threaded and splits large GEMMs over the call's own
 *   threads, since OpenBLAS's thread count is process-wide; a host that uses the same OpenBLAS
 *   library itself finds its thread count set to 1 once libblip has loaded it.)
 *
 * Resource limits
 *   Decoded images are limited to BLIP_MAX_IMAGE_PIXELS pixels; larger images are refused
 *   (BLIP_ERR_TOO_LARGE) before any pixel memory is allocated, so decompression bombs cannot
 *   exhaust memory. Beyond a model's own working memory, a call on one image needs at most
 *   about 8 bytes per decoded pixel whatever the image's shape (measured: RGBA PNG 8.1, RGB
 *   JPEG 6.1, grey 2.0), so about 1 GB at the pixel limit.
 */
#ifndef BLIP_H
#define BLIP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define BLIP_API __attribute__((visibility("default")))
#else
#define BLIP_API
#endif

#define BLIP_VERSION_MAJOR 0
#define BLIP_VERSION_MINOR 1
#define BLIP_VERSION_PATCH 0
#define BLIP_ABI_VERSION 0

/* Largest decoded image accepted, in pixels (width * height): 128 megapixels. */
#define BLIP_MAX_IMAGE_PIXELS (128L * 1024L * 1024L)

/* ---- status codes ---------------------------------------------------------------------- */
#define BLIP_OK 0
#define BLIP_ERR_INVALID_ARGUMENT (-1) /* NULL pointer, out-of-range value, bad params size */
#define BLIP_ERR_IO (-2)               /* file missing or unreadable */
#define BLIP_ERR_MODEL_FORMAT (-3)     /* config, weights or tokenizer files malformed */
#define BLIP_ERR_IMAGE_FORMAT (-4)     /* image not decodable (corrupt, truncated, unknown type) */
#define BLIP_ERR_UNSUPPORTED (-5)      /* the model has no weights for this task */
#define BLIP_ERR_OUT_OF_MEMORY (-6)
#define BLIP_ERR_BUFFER_TOO_SMALL (-7) /* a caller buffer is too small; the needed size is reported */
#define BLIP_ERR_ABORTED (-8)          /* the abort callback asked to stop */
#define BLIP_ERR_TOO_LARGE (-9)        /* image or input over a documented limit */
#define BLIP_ERR_INTERNAL (-10)

/* Message for the last error on the calling thread ("" when none). Never NULL. */
BLIP_API const char *blip_last_error(void);
/* Static name of a status code, e.g. "BLIP_ERR_IO". Never NULL. */
BLIP_API const char *blip_status_string(int status);
/* Library version, "MAJOR.MINOR.PATCH". */
BLIP_API const char *blip_version(void);

/* ---- logging ----------------------------------------------------------------------------- */
#define BLIP_LOG_ERROR 0
#define BLIP_LOG_WARN 1
#define BLIP_LOG_INFO 2
#define BLIP_LOG_DEBUG 3
typedef void (*blip_log_callback)(int level, const char *message, void *user_data);
/* Route library log messages (one line each, no trailing newline) to `callback`. The library is
 * silent by default; pass NULL to silence it again. Applies process-wide. */
BLIP_API void blip_log_set(blip_log_callback callback, void *user_data);

/* ---- images ------------------------------------------------------------------------------ */
#define BLIP_PIXEL_RGB8 0
#define BLIP_PIXEL_RGBA8 1
#define BLIP_PIXEL_BGRA8 2
#define BLIP_PIXEL_GRAY8 3

/* A view of 8-bit pixels. Callers may point it at their own memory (a video frame, an engine's
 * render target): the library reads the pixels during a call and never keeps or frees them.
 * `stride` is the distance in bytes between rows (>= width * bytes per pixel). Alpha is
 * composited onto white, as Hugging Face's image processor does. */
typedef struct blip_image {
    const uint8_t *pixels;
    int32_t width;
    int32_t height;
    int32_t stride;
    int32_t format; /* BLIP_PIXEL_* */
} blip_image;

/* Decode a JPEG or PNG file / encoded buffer into library-owned pixels (RGB8, RGBA8 or GRAY8).
 * Release with blip_image_free. */
BLIP_API int blip_image_load_file(const char *path, blip_image *out_image);
BLIP_API int blip_image_load_memory(const void *data, size_t size, blip_image *out_image);
/* Frees pixels returned by blip_image_load_*; sets image->pixels to NULL. NULL-safe. Do not call
 * it on views of your own memory. */
BLIP_API void blip_image_free(blip_image *image);

/* ---- models ------------------------------------------------------------------------------ */
typedef struct blip_model blip_model;

typedef struct blip_model_params {
    size_t size;        /* sizeof(blip_model_params) */
    int32_t n_threads;  /* threads per call; 0 = all cores (default) */
} blip_model_params;

BLIP_API blip_model_params blip_model_default_params(void);

/* Load a Hugging Face BLIP model directory (config.json, model.safetensors, vocab.txt,
 * preprocessor_config.json) or a single-file int8 model written by blip_quantize. Weights are
 * memory-mapped. */
BLIP_API int blip_model_load(const char *path, const blip_model_params *params, blip_model **out_model);
/* NULL-safe. */
BLIP_API void blip_model_free(blip_model *model);

/* JSON description of the model: architecture, sizes, parameter count, storage, GEMM path.
 * Writes a NUL-terminated string into buf when it fits. Returns the string length (without NUL)
 * on success, or BLIP_ERR_BUFFER_TOO_SMALL with *needed (if not NULL) set to the size needed
 * including the NUL. */
BLIP_API int blip_model_info(const blip_model *model, char *buf, size_t buf_size, size_t *needed);

/* Width of the normalised retrieval embeddings (256 for BLIP ITM/ITC models), or 0 when the
 * model has no projection heads. */
BLIP_API int32_t blip_model_embedding_dim(const blip_model *model);
/* Vision tokens per image (577 at 384x384) and the vision width (768 base, 1024 large). */
BLIP_API int32_t blip_model_vision_tokens(const blip_model *model);
BLIP_API int32_t blip_model_vision_width(const blip_model *model);

/* ---- encoding ---------------------------------------------------------------------------- */
/* Normalised image embeddings, normalize(vision_proj(vision(x)[:, 0])), for n_images images:
 * writes n_images * blip_model_embedding_dim() floats, row-major, into out (out_count floats
 * available). Requires a model with projection heads (BlipForImageTextRetrieval). */
BLIP_API int blip_encode_image(const blip_model *model, const blip_image *images, size_t n_images,
                               float *out, size_t out_count);

/* The vision encoder's last_hidden_state (post-LayerNorm, all tokens) for n_images images:
 * n_images * blip_model_vision_tokens() * blip_model_vision_width() floats. Works for every
 * architecture. */
BLIP_API int blip_encode_image_states(const blip_model *model, const blip_image *images, size_t n_images,
                                      float *out, size_t out_count);

/* Normalised ITC text embeddings, normalize(text_proj(text_encoder(text)[:, 0])), for n_texts
 * UTF-8 strings: writes n_texts * blip_model_embedding_dim() floats into out. Texts longer than
 * the position table (512 tokens) are refused with BLIP_ERR_TOO_LARGE. */
BLIP_API int blip_encode_text(const blip_model *model, const char *const *texts, size_t n_texts,
                              float *out, size_t out_count);

/* ---- image-text matching -------------------------------------------------------------- */
/* Scores every (image, text) pair (BlipForImageTextRetrieval). itm_out[i * n_texts + j] =
 * probability that text j matches image i (softmax of the ITM head, index 1); itc_out likewise
 * = cosine of the normalised ITC embeddings. Either output may be NULL to skip that head: ITC
 * alone is cheap (each image and text is encoded once: a retrieval similarity matrix), ITM runs
 * the text encoder with cross-attention once per pair. Each non-NULL output must hold
 * n_images * n_texts floats (out_count). */
BLIP_API int blip_match(const blip_model *model, const blip_image *images, size_t n_images,
                        const char *const *texts, size_t n_texts, float *itm_out, float *itc_out, size_t out_count);

/* Text-to-image retrieval in one call: for each of n_queries texts, the top_k images (of
 * n_images) by ITC similarity; with rerank non-zero, those re-ordered by ITM match probability
 * (the BLIP paper's two-stage retrieval). Writes k = min(top_k, n_images) entries per query:
 * indices_out[q * k + r] = image index of rank r, scores_out[q * k + r] = its ITM probability
 * (rerank) or ITC cosine. Both outputs must hold n_queries * k values (out_count). */
BLIP_API int blip_retrieve(const blip_model *model, const blip_image *images, size_t n_images,
                           const char *const *queries, size_t n_queries, int32_t top_k, int rerank,
                           int32_t *indices_out, float *scores_out, size_t out_count);

/* ---- text generation: captions and answers --------------------------------------------- */
/* Called with each new token id and the text generated so far (prompt excluded, UTF-8).
 * Return 0 to continue, non-zero to stop the call with BLIP_ERR_ABORTED. With greedy search
 * and sampling tokens arrive as they are chosen; with beam search the best sequence is only
 * known at the end, so its tokens are reported after the search. */
typedef int (*blip_token_callback)(int32_t token, const char *text_so_far, void *user_data);
/* Polled between images and decoding steps; return non-zero to stop with BLIP_ERR_ABORTED. */
typedef int (*blip_abort_callback)(void *user_data);

#define BLIP_EARLY_STOPPING_HEURISTIC 0 /* transformers early_stopping=False (default) */
#define BLIP_EARLY_STOPPING_ALL_BEAMS 1 /* early_stopping=True */
#define BLIP_EARLY_STOPPING_NEVER 2     /* early_stopping="never" */

/* Decoding settings, with the meaning and defaults of transformers' generate(). Lengths count
 * the whole returned sequence: [DEC], the prompt and the new tokens. */
typedef struct blip_generation_params {
    size_t size;                  /* sizeof(blip_generation_params) */
    int32_t max_length;           /* 0 = transformers' default: prompt + 20 new tokens */
    int32_t max_new_tokens;       /* > 0 overrides max_length */
    int32_t min_length;           /* [SEP] is forbidden below this total length (0) */
    int32_t num_beams;            /* 1 = greedy / plain sampling (1) */
    int32_t do_sample;            /* non-zero: multinomial sampling (0) */
    float temperature;            /* sampling (1.0) */
    int32_t top_k;                /* sampling, 0 disables (50) */
    float top_p;                  /* sampling, 1 disables (1.0) */
    float repetition_penalty;     /* 1 disables (1.0) */
    float length_penalty;         /* beam search (1.0) */
    int32_t no_repeat_ngram_size; /* 0 disables */
    int32_t early_stopping;       /* BLIP_EARLY_STOPPING_* */
    uint64_t seed;                /* sampling: same seed, same output (0) */
    blip_token_callback on_token; /* optional streaming */
    void *token_user_data;
    blip_abort_callback should_abort; /* optional */
    void *abort_user_data;
} blip_generation_params;

BLIP_API blip_generation_params blip_generation_default_params(void);
/* Applies a named preset to params (keeps size and callbacks): "hf" (transformers' defaults),
 * "paper" (BLIP's published captions: beam 3, length 5..20), "capfilt" (CapFilt's synthetic
 * captions: nucleus sampling top-p 0.9, top-k 50, repetition penalty 1.1, length 5..20),
 * "paper-vqa" (beam 3, length 1..10). */
BLIP_API int blip_generation_preset(const char *name, blip_generation_params *params);

/* One generated text. The caller provides the buffers; the library fills them and reports the
 * sizes. When a buffer is too small (or NULL), status is BLIP_ERR_BUFFER_TOO_SMALL and
 * text_length / n_tokens still tell the size needed. */
typedef struct blip_text_result {
    char *text;               /* in: buffer for the UTF-8 text (NUL-terminated) */
    size_t text_capacity;     /* in: bytes available in text */
    int32_t *tokens;          /* in: buffer for the token ids (may be NULL if not wanted) */
    size_t tokens_capacity;   /* in: ids available in tokens */
    size_t text_length;       /* out: text length in bytes, without the NUL */
    size_t n_tokens;          /* out: number of token ids */
    int32_t status;           /* out: BLIP_OK or this image's error */
} blip_text_result;

/* Captions n_images images (BlipForConditionalGeneration). `prompt` (UTF-8, may be NULL)
 * starts every caption and is kept in the output, as transformers does. An empty prompt is
 * BLIP_ERR_INVALID_ARGUMENT (pass NULL instead); prompts and questions longer than the text
 * position table (512 tokens with [CLS] and [SEP]) are refused with BLIP_ERR_TOO_LARGE. results[i] receives
 * image i. Returns BLIP_OK when every image succeeded; otherwise the first failing status
 * (blip_last_error() describes it) while the other results are still filled. */
BLIP_API int blip_caption(const blip_model *model, const blip_image *images, size_t n_images, const char *prompt,
                          const blip_generation_params *params, blip_text_result *results);

/* Answers `question` about each image (BlipForQuestionAnswering); as blip_caption. */
BLIP_API int blip_answer(const blip_model *model, const blip_image *images, size_t n_images, const char *question,
                         const blip_generation_params *params, blip_text_result *results);

/* VQA rank mode (the BLIP paper's evaluation): scores each of n_candidates answers by its
 * log-likelihood under the answer decoder given the image and question: for a candidate
 * tokenised [CLS] a1..an [SEP], the sum of log p(token) over a1..an and [SEP] with [DEC] as the
 * first decoder input (natural log; no length normalisation or label smoothing). Higher is
 * better; scores_out receives n_candidates values in the given order. One image per call. */
BLIP_API int blip_answer_rank(const blip_model *model, const blip_image *image, const char *question,
                              const char *const *candidates, size_t n_candidates, float *scores_out);

/* ---- int8 quantization ------------------------------------------------------------------ */
/* Writes a single-file int8 model for the Hugging Face model directory `model_dir` to
 * `out_path` (a safetensors file, format "libblip-int8" v1: config, vocabulary and
 * preprocessing parameters in its metadata; every transformer linear layer as int8 with one
 * scale per output channel; word embeddings F16, the tied LM head quantized to int8 at load;
 * the rest F32; about 28% of the fp32 size for BLIP-base; the linears that read image
 * features take 7-bit activations at run time, as `blip quantize` does by default). The result loads with
 * blip_model_load like a directory. Written to out_path + ".partial" first, so a failure
 * leaves nothing at out_path. Progress goes to the log callback (blip_log_set). */
BLIP_API int blip_quantize(const char *model_dir, const char *out_path);

/* The choices `blip quantize` offers as flags; blip_quantize uses the defaults. */
typedef struct blip_quantize_params {
    size_t size;                   /* sizeof(blip_quantize_params) */
    int32_t quantize_lm_head;      /* non-zero: the LM head's vocabulary projection runs in int8;
                                      0 keeps it in float (slower decoding, same file size) (1) */
    const char *embeddings;        /* word-embedding storage: "f16" | "int8" (23 MB smaller per
                                      BLIP-base table, less accurate) | "f32"; NULL = "f16" ("f16") */
    int32_t image_activation_bits; /* activation levels of the linears that read image features
                                      (vision encoder, cross-attention keys and values): 7 (faster
                                      on AVX2) or 8 (more precise) (7) */
} blip_quantize_params;

/* The defaults above. */
BLIP_API blip_quantize_params blip_quantize_default_params(void);

/* blip_quantize with explicit choices; params NULL = the defaults. BLIP_ERR_INVALID_ARGUMENT
 * for a wrong size or an unknown choice, before anything is read or written. */
BLIP_API int blip_quantize_with_params(const char *model_dir, const char *out_path,
                                       const blip_quantize_params *params);

/* ---- finetuning ------------------------------------------------------------------------- */
/* Trains a captioner ("caption"), a VQA model ("vqa") or the ITM/ITC filter ("match") on a JSONL
 * manifest and writes a Hugging Face model directory, exactly as `blip finetune` does (the fields
 * below are its flags; the defaults are its defaults, see blip_finetune_default_params).
 *
 * Thread safety and resources: training runs on the calling thread plus internal worker threads
 * (n_threads, 0 = all cores), without changing any loaded model's parallelism. The model directory is read into the run's own parameter buffers: it is never shared
 * with loaded blip_model handles, which stay valid and unchanged (load `out` again to use the
 * result). Run one finetune per process at a time. */

/* One optimizer step's report. */
typedef struct blip_finetune_progress {
    int32_t step;              /* optimizer steps done, from 1 */
    int32_t total_steps;
    int32_t epoch;             /* from 0 */
    double loss;               /* mean loss of this step's batch before the update */
    float lr;                  /* learning rate used for this step */
    double samples_per_second;
    double eta_seconds;        /* estimated time to the end */
} blip_finetune_progress;

/* Called on the calling thread after every optimizer step. `progress` is only valid during the
 * call. To stop, make the abort callback return non-zero. */
typedef void (*blip_finetune_progress_callback)(const blip_finetune_progress *progress, void *user_data);

typedef struct blip_finetune_params {
    size_t size;                 /* sizeof(blip_finetune_params) */
    const char *task;            /* "caption" | "vqa" | "match" (required) */
    const char *model;           /* model directory to start from, or NULL with config */
    const char *config;          /* config.json to train from scratch (tokenizer and preprocessor
                                    files beside it), or NULL with model */
    const char *train;           /* JSONL manifest; image paths relative to its folder (required) */
    const char *val;             /* validation manifest evaluated after every epoch, the best epoch
                                    is kept; NULL = none */
    const char *out;             /* output model directory, replaced atomically at the end (required) */
    int32_t epochs;              /* (1) */
    int32_t max_steps;           /* optimizer steps in all, overrides epochs; 0 = by epochs (0) */
    int32_t batch_size;          /* rows per micro-batch (8) */
    int32_t grad_accum;          /* micro-batches per optimizer step (1) */
    float lr;                    /* peak learning rate (1e-5) */
    float min_lr;                /* final learning rate of the cosine schedule (0) */
    float weight_decay;          /* AdamW weight decay (0.05) */
    int32_t warmup_steps;        /* linear warmup steps (0) */
    const char *schedule;        /* "cosine" | "constant"; NULL = "cosine" ("cosine") */
    float clip_norm;             /* global gradient-norm clipping; 0 = off (0) */
    float label_smoothing;       /* LM label smoothing (0.1) */
    const char *prompt;          /* caption prompt prepended to every caption; NULL = none */
    int32_t max_text_length;     /* token limit for texts and questions (40) */
    const char *freeze;          /* "none" | "vision" | "text"; NULL = "none" ("none") */
    const char *augment;         /* "none" | "crop" | "crop-flip"; NULL = "crop" ("crop") */
    int32_t shuffle;             /* non-zero: shuffle rows each epoch (1) */
    uint64_t seed;               /* shuffling, crops, negatives and dropout (0) */
    int32_t save_every;          /* resumable checkpoint every N steps; 0 = never (0) */
    int32_t resume;              /* non-zero: resume from the checkpoint beside out when it exists (0) */
    const char *log;             /* JSONL file, one line per optimizer step; NULL = none */
    int32_t n_threads;           /* 0 = all cores (0) */
    int32_t strict;              /* non-zero: stop at the first bad manifest row or image instead
                                    of skipping it (0) */
    blip_finetune_progress_callback on_progress; /* optional, after every optimizer step */
    void *progress_user_data;
    blip_abort_callback should_abort; /* optional, polled before every micro-batch */
    void *abort_user_data;
} blip_finetune_params;

/* The defaults above; task, train and out are NULL and model/config must be set too. String
 * fields point to static strings. */
BLIP_API blip_finetune_params blip_finetune_default_params(void);

/* Runs the whole finetune. params must not be NULL. Returns BLIP_OK once `out` is written;
 * BLIP_ERR_INVALID_ARGUMENT for bad or missing fields, BLIP_ERR_IO for unreadable files,
 * BLIP_ERR_MODEL_FORMAT / BLIP_ERR_IMAGE_FORMAT for malformed inputs, BLIP_ERR_ABORTED when the
 * abort callback returned non-zero (then `out` is not written; a checkpoint written by
 * save_every is kept for resume). Skipped manifest rows and images are reported through the log
 * callback (blip_log_set), as are resumes and validation results. */
BLIP_API int blip_finetune(const blip_finetune_params *params);

/* ---- CapFilt ----
 * blip_capfilt runs `blip capfilt` (BLIP's caption-and-filter bootstrapping) exactly as the CLI
 * does: same fields as its flags, same defaults (blip_capfilt_default_params), byte-identical
 * outputs. A captioner samples captions_per_image synthetic captions per (image, web text) pair,
 * the filter's ITM head scores the web text and every synthetic caption, and a text is kept when
 * its match probability is >= threshold.
 *
 * input / output: a JSONL manifest ({"image", "text"} rows, optional "key") and a JSONL file of
 * records; or a folder of WebDataset shards (NNNNN.tar with KEY.jpg/.png, KEY.txt, KEY.json) and
 * a folder getting, per input shard, the same NNNNN.tar (KEY.jpg copied, KEY.txt the kept texts,
 * KEY.json the record) and NNNNN.jsonl (the shard's records). Each caption's sampler seed
 * derives from (seed, key, caption index) only: results do not depend on order, batching or
 * sharding, so a shard processed alone gives the bytes it gives in a whole run. Every output
 * file appears atomically (temporary, fsync, rename). A pair that cannot be processed (bad
 * image, missing text, ...) becomes a record with an "error" field; the run goes on.
 *
 * Thread safety and resources: runs on the calling thread plus internal worker threads
 * (n_threads, 0 = all cores; models it loads use that count, given handles keep their own).
 * Models are loaded from the paths for the call and released at its end, unless loaded handles
 * are given (captioner_model / filter_model): those are only read and stay owned by the caller,
 * so one process can run many shards without reloading. */

/* A report after every batch of pairs and after every finished output (shard). */
typedef struct blip_capfilt_progress {
    int64_t pairs_done;        /* records written by this run so far (error records included) */
    int64_t pairs_total;       /* pairs this run will write when known (a manifest); -1 for shards */
    int64_t errors;            /* error records among pairs_done */
    int32_t shards_done;       /* outputs finished by this run (a manifest input has one output) */
    int32_t shards_total;      /* outputs this run writes (finished ones skipped by resume excluded) */
    int32_t shards_skipped;    /* outputs already finished and skipped (resume) */
    double images_per_second;  /* pairs captioned and scored per second of this run */
    double elapsed_seconds;
    double eta_seconds;        /* estimated seconds left; -1 until it can be estimated */
    const char *shard;         /* the shard (or manifest) being processed, valid during the call */
} blip_capfilt_progress;

/* Called on the calling thread. `progress` is only valid during the call. To stop, make the
 * abort callback return non-zero. */
typedef void (*blip_capfilt_progress_callback)(const blip_capfilt_progress *progress, void *user_data);

typedef struct blip_capfilt_params {
    size_t size;                 /* sizeof(blip_capfilt_params) */
    const char *captioner;       /* captioning model (BlipForConditionalGeneration) path, or NULL
                                    with captioner_model */
    const char *filter;          /* filter model (BlipForImageTextRetrieval with an ITM head) path,
                                    or NULL with filter_model */
    const char *input;           /* JSONL manifest or folder of .tar shards (required) */
    const char *output;          /* JSONL file (manifest input) or folder (shard input) (required) */
    int32_t captions_per_image;  /* synthetic captions per image, 1..64 (1) */
    float threshold;             /* keep a text when its ITM probability is >= this, in [0, 1] (0.5) */
    const char *preset;          /* decoding of synthetic captions: a blip_generation_preset name,
                                    e.g. "capfilt", "paper", "hf";
                                    NULL = "capfilt" ("capfilt") */
    uint64_t seed;               /* run seed; each caption's seed derives from it, the key and the
                                    caption index (0) */
    int32_t batch_size;          /* pairs read and processed together, 1..4096; results do not
                                    depend on it (8) */
    int32_t n_threads;           /* 0 = all cores (0); unused for given model handles */
    int32_t resume;              /* non-zero: keep finished outputs and do the rest; zero: existing
                                    outputs are an error (0) */
    const blip_model *captioner_model; /* optional, instead of captioner: a loaded captioning model */
    const blip_model *filter_model;    /* optional, instead of filter: a loaded retrieval model */
    blip_capfilt_progress_callback on_progress; /* optional */
    void *progress_user_data;
    blip_abort_callback should_abort; /* optional, polled before the run and after every batch */
    void *abort_user_data;
    const char *prompt;          /* text every synthetic caption starts from, as the captioner was
                                    finetuned (e.g. "a picture of"); left out of the caption that is
                                    scored and recorded. NULL = none (NULL) */
} blip_capfilt_params;

/* The defaults above; captioner, filter, input and output are NULL. String fields point to
 * static strings. */
BLIP_API blip_capfilt_params blip_capfilt_default_params(void);

/* Runs the whole CapFilt job. params must not be NULL. Returns BLIP_OK once every output is
 * written; BLIP_ERR_INVALID_ARGUMENT for bad or missing fields or an existing output without
 * resume, BLIP_ERR_IO for unreadable inputs or unwritable outputs, BLIP_ERR_MODEL_FORMAT for
 * malformed models, BLIP_ERR_UNSUPPORTED for a model of the wrong kind, BLIP_ERR_ABORTED when
 * the abort callback returned non-zero (outputs finished before stay, the one in progress is
 * discarded: rerun with resume to finish). The closing summary goes to the log callback. */
BLIP_API int blip_capfilt(const blip_capfilt_params *params);

#ifdef __cplusplus
}
#endif
#endif /* BLIP_H */
