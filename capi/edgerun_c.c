// C helpers of the edgerun C ABI: the thread-local last-error buffer and the trampoline
// through which Go calls the application's token callback.

#include <string.h>

#include "edgerun.h"

#define EDGERUN_ERROR_MAX 1024

static _Thread_local char edgerun_error_buf[EDGERUN_ERROR_MAX];

// edgerun_set_error copies msg (NULL clears) into the calling thread's error buffer.
void edgerun_set_error(const char *msg) {
	if (msg == NULL) {
		edgerun_error_buf[0] = '\0';
		return;
	}
	strncpy(edgerun_error_buf, msg, EDGERUN_ERROR_MAX - 1);
	edgerun_error_buf[EDGERUN_ERROR_MAX - 1] = '\0';
}

const char *edgerun_last_error(void) { return edgerun_error_buf; }

// edgerun_call_token_cb calls cb: Go cannot call a C function pointer directly.
int edgerun_call_token_cb(edgerun_token_cb cb, int32_t id, const char *text, void *user) {
	return cb(id, text, user);
}
