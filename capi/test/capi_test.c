// capi_test drives libedgerun through edgerun.h the way an app does: it opens
// stories260K, checks greedy generation against the golden token ids, exercises the
// stop callback, the cancel flag and the error paths, and frees everything (make
// test-capi runs it under valgrind's leak check). Run it from capi/test: the model is
// found at ../../../shared/models, at $EDGERUN_MODELS, or at argv[1]; argv[2] names the
// LoRA adapter directory that mkadapter wrote (the adapter checks are skipped without
// it).

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgerun.h"

// The 60 greedy continuation ids of stories260K after "Once upon a time" (prompt ids
// [1, 403, 407, 261, 378]): ../shared/models/stories260K/golden-greedy.json,
// once_upon_a_time.continuation_ids.
static const int32_t golden[60] = {
    432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426, 338, 401, 396, 267,
    337, 410, 408, 419, 292, 411, 322, 265, 282, 295, 433, 426, 385, 328, 432,
    358, 394, 261, 370, 432, 352, 266, 268, 388, 426, 338, 391, 266, 267, 337,
    335, 312, 432, 398, 312, 286, 267, 414, 270, 333, 415, 426, 13,  438, 310,
};
// The text those ids decode to (same file, once_upon_a_time.text, without the prompt).
static const char golden_text[] =
    ", there was a little girl named Lily. She loved to play outside in the park. One "
    "day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily";

static int failures;

#define CHECK(cond, ...)                                                     \
	do {                                                                     \
		if (!(cond)) {                                                       \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);             \
			fprintf(stderr, __VA_ARGS__);                                    \
			fprintf(stderr, " (last error: %s)\n", edgerun_last_error());    \
			failures++;                                                      \
		}                                                                    \
	} while (0)

struct collect {
	int32_t ids[512];
	int n;
	char text[4096];
	size_t len;
	int stop_after;        // stop via the return value after this many tokens (0: never)
	volatile int *cancel;  // set after cancel_after tokens
	int cancel_after;
};

static int on_token(int32_t id, const char *text, void *user) {
	struct collect *c = user;
	if (id >= 0 && c->n < 512) {
		c->ids[c->n++] = id;
	}
	size_t l = strlen(text);
	if (c->len + l < sizeof c->text) {
		memcpy(c->text + c->len, text, l + 1);
		c->len += l;
	}
	if (c->cancel && c->n == c->cancel_after) {
		*c->cancel = 1;
	}
	return c->stop_after > 0 && c->n >= c->stop_after;
}

// adapters switches a LoRA adapter on and off in one session while another runs the
// base model, then merges it into the weights and unmerges it.
static void adapters(edgerun_model *m, const char *adapter_dir) {
	const char *names[] = {"story"};
	const float scales[] = {1.0f};
	CHECK(edgerun_adapter_load(m, "story", adapter_dir) == 0, "adapter_load(%s)", adapter_dir);
	CHECK(edgerun_adapter_load(m, "story", adapter_dir) == -1, "loading the same name twice succeeded");
	CHECK(edgerun_adapter_load(m, "bad", "/nonexistent/adapter") == -1, "loading a missing adapter succeeded");

	edgerun_session *base = edgerun_session_new(m), *tuned = edgerun_session_new(m);
	CHECK(edgerun_session_set_adapters(tuned, names, scales, 1) == 0, "set_adapters");
	const char *unknown[] = {"nope"};
	CHECK(edgerun_session_set_adapters(tuned, unknown, scales, 1) == -1, "unknown adapter accepted");
	struct collect with = {0}, without = {0};
	CHECK(edgerun_generate(tuned, "Once upon a time", 20, 0.0f, 0, on_token, &with, NULL) == 20, "generate with adapter");
	CHECK(edgerun_generate(base, "Once upon a time", 20, 0.0f, 0, on_token, &without, NULL) == 20, "generate without");
	CHECK(memcmp(without.ids, golden, 20 * sizeof golden[0]) == 0, "the base session is affected by the other session's adapter");
	CHECK(memcmp(with.ids, golden, 20 * sizeof golden[0]) != 0, "the adapter does not change the output");
	CHECK(edgerun_adapter_unload(m, "story") == -1, "unloading an active adapter succeeded");

	// Switch it off again: the same session gives the base model's tokens.
	struct collect off = {0};
	CHECK(edgerun_session_set_adapters(tuned, NULL, NULL, 0) == 0, "set_adapters(none)");
	edgerun_session_reset(tuned);
	edgerun_generate(tuned, "Once upon a time", 20, 0.0f, 0, on_token, &off, NULL);
	CHECK(off.n == 20 && memcmp(off.ids, golden, 20 * sizeof golden[0]) == 0, "adapter switched off: not the golden tokens");

	// Merged into the weights, the base session gives what the adapter session gave.
	struct collect merged = {0}, unmerged = {0};
	CHECK(edgerun_merge(m, names, scales, 1, NULL) == 0, "merge");
	CHECK(edgerun_merge(m, names, scales, 1, NULL) == -1, "merging twice succeeded");
	edgerun_session_reset(base);
	edgerun_generate(base, "Once upon a time", 20, 0.0f, 0, on_token, &merged, NULL);
	CHECK(merged.n == 20 && memcmp(merged.ids, with.ids, 20 * sizeof golden[0]) == 0, "merged output differs from the unmerged adapter's");
	CHECK(edgerun_unmerge(m) == 0, "unmerge");
	edgerun_session_reset(base);
	edgerun_generate(base, "Once upon a time", 20, 0.0f, 0, on_token, &unmerged, NULL);
	CHECK(unmerged.n == 20 && memcmp(unmerged.ids, golden, 20 * sizeof golden[0]) == 0, "unmerged: not the golden tokens");

	edgerun_session_free(tuned);
	edgerun_session_free(base);
	CHECK(edgerun_adapter_unload(m, "story") == 0, "unload");
	CHECK(edgerun_adapter_unload(m, "story") == -1, "unloading twice succeeded");
}

int main(int argc, char **argv) {
	char dir[1024], model_path[1200], tok_path[1200];
	const char *env = getenv("EDGERUN_MODELS");
	const char *models = argc > 1 ? argv[1] : env && *env ? env : "../../../shared/models";
	const char *adapter_dir = argc > 2 ? argv[2] : NULL;
	snprintf(dir, sizeof dir, "%s/stories260K", models);
	snprintf(model_path, sizeof model_path, "%s/stories260K.gguf", dir);
	snprintf(tok_path, sizeof tok_path, "%s/tok512.bin", dir);

	// Errors: a missing file fails with a message; NULL handles are rejected.
	edgerun_model *bad = edgerun_open("/nonexistent/model.gguf", NULL, 1);
	CHECK(bad == NULL, "opening a missing file succeeded");
	CHECK(strstr(edgerun_last_error(), "/nonexistent/model.gguf") != NULL, "error does not name the file: %s", edgerun_last_error());
	CHECK(edgerun_session_new(NULL) == NULL, "session on a NULL model");
	CHECK(edgerun_generate(NULL, "x", 1, 0, 0, NULL, NULL, NULL) == -1, "generate on a NULL session");
	CHECK(edgerun_close(NULL) == 0, "close(NULL)");

	// The GGUF and the llama2.c checkpoint must both give the golden tokens.
	const char *paths[2] = {model_path, NULL};
	char bin_path[1200];
	snprintf(bin_path, sizeof bin_path, "%s/stories260K.bin", dir);
	paths[1] = bin_path;
	for (int f = 0; f < 2; f++) {
		edgerun_model *m = edgerun_open(paths[f], f == 1 ? tok_path : NULL, 2);
		if (m == NULL) {
			fprintf(stderr, "FAIL: edgerun_open(%s): %s\n", paths[f], edgerun_last_error());
			return 1;
		}
		CHECK(edgerun_last_error()[0] == '\0', "error set after a successful open: %s", edgerun_last_error());
		CHECK(edgerun_vocab_size(m) == 512, "vocab size %d", edgerun_vocab_size(m));

		edgerun_session *s = edgerun_session_new(m);
		CHECK(s != NULL, "session_new");
		struct collect c = {0};
		int n = edgerun_generate(s, "Once upon a time", 60, 0.0f, 0, on_token, &c, NULL);
		CHECK(n == 60, "%s: generated %d tokens, want 60", paths[f], n);
		CHECK(c.n == 60, "%s: callback saw %d tokens, want 60", paths[f], c.n);
		for (int i = 0; i < c.n && i < 60; i++) {
			if (c.ids[i] != golden[i]) {
				CHECK(0, "%s: token %d is %d, want %d", paths[f], i, c.ids[i], golden[i]);
				break;
			}
		}
		CHECK(strcmp(c.text, golden_text) == 0, "%s: text %s", paths[f], c.text);

		// Closing a model with an open session is refused.
		CHECK(edgerun_close(m) == -1, "close with an open session succeeded");
		CHECK(strstr(edgerun_last_error(), "session") != NULL, "error: %s", edgerun_last_error());

		// The callback stops generation by returning nonzero.
		CHECK(edgerun_session_reset(s) == 0, "reset");
		struct collect c2 = {0};
		c2.stop_after = 7;
		n = edgerun_generate(s, "Once upon a time", 60, 0.0f, 0, on_token, &c2, NULL);
		CHECK(n == 7 && c2.n == 7, "stop via callback: %d tokens, callback %d", n, c2.n);
		CHECK(c2.n == 7 && memcmp(c2.ids, golden, 7 * sizeof golden[0]) == 0, "stopped run differs from golden");

		// The cancel flag stops it too; a flag already set generates nothing.
		edgerun_session_reset(s);
		volatile int cancel = 0;
		struct collect c3 = {0};
		c3.cancel = &cancel;
		c3.cancel_after = 3;
		n = edgerun_generate(s, "Once upon a time", 60, 0.0f, 0, on_token, &c3, &cancel);
		CHECK(n == 3, "cancel: %d tokens", n);
		edgerun_session_reset(s);
		n = edgerun_generate(s, "Once upon a time", 60, 0.0f, 0, NULL, NULL, &cancel);
		CHECK(n == 0, "pre-cancelled: %d tokens", n);

		// Sampling with a seed is reproducible.
		struct collect a = {0}, b = {0};
		edgerun_session_reset(s);
		edgerun_generate(s, "Once upon a time", 20, 0.8f, 42, on_token, &a, NULL);
		edgerun_session *s2 = edgerun_session_new(m);
		edgerun_generate(s2, "Once upon a time", 20, 0.8f, 42, on_token, &b, NULL);
		CHECK(a.n == b.n && a.n > 0 && memcmp(a.ids, b.ids, a.n * sizeof a.ids[0]) == 0, "seeded sampling differs");

		edgerun_session_free(s2);
		edgerun_session_free(s);
		if (f == 0 && adapter_dir != NULL) {
			adapters(m, adapter_dir);
		}
		CHECK(edgerun_close(m) == 0, "close");
	}
	if (failures) {
		fprintf(stderr, "capi_test: %d failure(s)\n", failures);
		return 1;
	}
	printf("capi_test: ok (golden greedy tokens through the C ABI, GGUF and llama2.c%s)\n",
	       adapter_dir ? "; adapter switch, merge, unmerge" : "; adapter checks skipped: no adapter directory given");
	return 0;
}
