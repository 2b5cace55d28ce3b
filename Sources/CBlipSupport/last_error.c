#include "last_error.h"
#include <stdio.h>

static _Thread_local char last_error[2048];

void bs_set_last_error(const char *message) {
    snprintf(last_error, sizeof last_error, "%s", message ? message : "");
}

const char *bs_last_error(void) { return last_error; }
