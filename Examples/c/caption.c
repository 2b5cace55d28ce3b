/* Caption image files with libblip.
 *
 *   cc caption.c $(pkg-config --cflags --libs blip) -o caption
 *   ./caption MODEL_DIR image.jpg [image.png ...]
 *
 * Prints one line per image: "path: caption". Images that cannot be read are reported and
 * skipped; the exit code is 1 if any failed. */
#include <blip.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR IMAGE...\n", argv[0]);
        return 2;
    }
    blip_model *model = NULL;
    if (blip_model_load(argv[1], NULL, &model) != BLIP_OK) {
        fprintf(stderr, "cannot load %s: %s\n", argv[1], blip_last_error());
        return 2;
    }
    blip_generation_params params = blip_generation_default_params();
    int failed = 0;
    for (int i = 2; i < argc; i++) {
        blip_image image;
        if (blip_image_load_file(argv[i], &image) != BLIP_OK) {
            fprintf(stderr, "%s\n", blip_last_error());
            failed = 1;
            continue;
        }
        char text[1024];
        int32_t tokens[512];
        blip_text_result result = {text, sizeof text, tokens, 512, 0, 0, 0};
        if (blip_caption(model, &image, 1, NULL, &params, &result) == BLIP_OK) {
            printf("%s: %s\n", argv[i], text);
        } else {
            fprintf(stderr, "%s: %s\n", argv[i], blip_last_error());
            failed = 1;
        }
        blip_image_free(&image);
    }
    blip_model_free(model);
    return failed;
}
