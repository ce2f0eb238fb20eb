/*
 * edgerun.h — the C ABI of edgerun, a runtime for LLaMA-family LLMs on CPUs.
 *
 * Build the library with `make capi` (bin/capi/libedgerun.so and libedgerun.a), or
 *   go build -buildmode=c-shared -o libedgerun.so ./capi
 *   go build -buildmode=c-archive -o libedgerun.a ./capi
 * and include only this header (not the libedgerun.h that the Go tool writes beside the
 * library). See capi/README.md for Android (JNI) and iOS.
 *
 * Handles are opaque. Every handle is a small block of C memory that holds an index
 * into the library's own table: no Go pointer ever crosses the boundary, and the
 * handles stay valid until they are freed with their matching function.
 *
 * Threads: functions may be called from any thread. A model may be shared by many
 * sessions; a session must be used by one thread at a time.
 *
 * Errors: functions that fail return NULL or a negative value; edgerun_last_error()
 * then describes the failure.
 */
#ifndef EDGERUN_H
#define EDGERUN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* EDGERUN_ABI_VERSION changes whenever a declaration below changes incompatibly. */
#define EDGERUN_ABI_VERSION 1

/* edgerun_model is a loaded model: its memory-mapped weights, tokenizer and compute
 * threads. Created by edgerun_open, released by edgerun_close. */
typedef struct edgerun_model edgerun_model;

/* edgerun_session is one conversation (a KV cache and the tokens seen so far) on a
 * model. Created by edgerun_session_new, released by edgerun_session_free. */
typedef struct edgerun_session edgerun_session;

/* edgerun_token_cb receives each generated token: its id and the text it completes
 * (UTF-8, NUL-terminated, possibly empty when a character spans several tokens). After
 * the last token, the decoder's remaining bytes (if any) arrive with token_id -1. The
 * text is owned by the library and valid only during the call: copy it to keep it.
 * Return 0 to continue, nonzero to stop generating. */
typedef int (*edgerun_token_cb)(int32_t token_id, const char *text, void *user);

#ifndef EDGERUN_NO_PROTOTYPES

/* edgerun_open loads the model file at path (GGUF, or llama2.c .bin with its tokenizer
 * at tokenizer_path; pass NULL to use the tokenizer inside or beside the model) with
 * `threads` compute threads (0: one per CPU). A model whose weights plus KV cache would
 * not fit in the available memory is refused before it is mapped. Returns NULL on
 * error. */
edgerun_model *edgerun_open(const char *path, const char *tokenizer_path, int threads);

/* edgerun_close unmaps the model's weights and frees the handle. All its sessions must
 * be freed first: if any is still open, nothing is released and -1 is returned.
 * Returns 0 on success; edgerun_close(NULL) returns 0. */
int edgerun_close(edgerun_model *model);

/* edgerun_vocab_size returns the number of tokens of the model's vocabulary, or -1. */
int edgerun_vocab_size(edgerun_model *model);

/* edgerun_session_new starts an empty conversation on model. Returns NULL on error. */
edgerun_session *edgerun_session_new(edgerun_model *model);

/* edgerun_session_reset forgets the conversation; the KV cache memory is kept. */
int edgerun_session_reset(edgerun_session *session);

/* edgerun_session_free releases the session. edgerun_session_free(NULL) does nothing. */
void edgerun_session_free(edgerun_session *session);

/* edgerun_generate appends prompt (tokenized with BOS as the model asks) to the
 * conversation and generates up to max_tokens tokens (<= 0: until end of text or a full
 * context), calling callback (may be NULL) for each one. temperature <= 0 is greedy
 * decoding; otherwise tokens are sampled (top-k 40, top-p 0.95, min-p 0.05) from a
 * generator seeded with seed. Generation stops early when callback returns nonzero or
 * when *cancel (may be NULL; set it from any thread) becomes nonzero; both are normal
 * ends, not errors. Returns the number of tokens generated, or -1 on error. */
int edgerun_generate(edgerun_session *session, const char *prompt, int max_tokens,
                     float temperature, uint64_t seed, edgerun_token_cb callback,
                     void *user, volatile int *cancel);

/* edgerun_last_error returns a description of the last failure on the calling thread
 * ("" when none). The string is owned by the library, lives in thread-local storage
 * (at most 1023 bytes; longer messages are truncated) and stays valid until the next
 * edgerun_ call on the same thread. */
const char *edgerun_last_error(void);

/* Adapters (LoRA). An adapter is loaded once per model under a name of the caller's
 * choosing; sessions then pick their own active set (hot-swap: no reload of the base,
 * other sessions unaffected), or the model merges a set into its weights. */

/* edgerun_adapter_load reads the LoRA adapter at path (a PEFT directory or a GGUF LoRA
 * file), checks it against the model and registers it as name. Returns 0, or -1. */
int edgerun_adapter_load(edgerun_model *model, const char *name, const char *path);

/* edgerun_adapter_unload forgets the adapter called name; refused (-1) while a session
 * has it active. Returns 0, or -1. */
int edgerun_adapter_unload(edgerun_model *model, const char *name);

/* edgerun_session_set_adapters makes the n adapters names[i], scaled by scales[i]
 * (1 = as trained), the session's active set, replacing the previous one; n = 0 runs
 * the base model. The KV cache is kept (call edgerun_session_reset to recompute the
 * conversation with the new set). Returns 0, or -1 (the set is then unchanged). */
int edgerun_session_set_adapters(edgerun_session *session, const char *const *names,
                                 const float *scales, int n);

/* edgerun_merge bakes the n adapters names[i] (scaled by scales[i]) into the model's
 * weights, stored as type (NULL or "base": each weight's own format; or "f32", "f16",
 * "q8_0", "q4_0", ...): every session then runs the merged model at the base model's
 * speed. The memory-mapped originals are kept for edgerun_unmerge. Returns 0, or -1
 * (also when a merge is already in place). */
int edgerun_merge(edgerun_model *model, const char *const *names, const float *scales,
                  int n, const char *type);

/* edgerun_unmerge restores the base weights exactly. Returns 0, or -1. */
int edgerun_unmerge(edgerun_model *model);

#endif /* EDGERUN_NO_PROTOTYPES */

#ifdef __cplusplus
}
#endif

#endif /* EDGERUN_H */
