#ifndef BLIP_SUPPORT_LAST_ERROR_H
#define BLIP_SUPPORT_LAST_ERROR_H
/* Thread-local storage for blip_last_error(): C's _Thread_local is the simplest portable way
 * to give every calling thread its own message. */
void bs_set_last_error(const char *message);
const char *bs_last_error(void);
#endif
