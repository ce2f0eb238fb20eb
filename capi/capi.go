package main

/*
#define EDGERUN_NO_PROTOTYPES
#include <stdlib.h>
#include "edgerun.h"

// The handles: C memory holding an index into the Go-side table.
struct edgerun_model { uintptr_t id; };
struct edgerun_session { uintptr_t id; };

void edgerun_set_error(const char *msg);
int edgerun_call_token_cb(edgerun_token_cb cb, int32_t id, const char *text, void *user);
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/edgerun/edgerun/runtime"
)

// errStopped ends a generation that the callback or the cancel flag stopped.
var errStopped = errors.New("capi: stopped")

// The handle table: handles hold ids, never Go pointers.
var (
	mu       sync.Mutex
	nextID   uintptr
	models   = map[uintptr]*model{}
	sessions = map[uintptr]*session{}
)

type model struct {
	e        *runtime.Engine
	sessions int
}

type session struct {
	model uintptr
	s     *runtime.Session
}

func setError(err error) {
	if err == nil {
		C.edgerun_set_error(nil)
		return
	}
	cs := C.CString(err.Error())
	C.edgerun_set_error(cs)
	C.free(unsafe.Pointer(cs))
}

// guard turns a panic into an error (bad input must never take the app down).
func guard(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("capi: internal error: %v", r)
	}
}

func lookupModel(h *C.edgerun_model) (*model, uintptr, error) {
	if h == nil {
		return nil, 0, errors.New("capi: model handle is NULL")
	}
	id := uintptr(h.id)
	mu.Lock()
	defer mu.Unlock()
	m := models[id]
	if m == nil {
		return nil, 0, errors.New("capi: invalid model handle (closed already?)")
	}
	return m, id, nil
}

func lookupSession(h *C.edgerun_session) (*session, error) {
	if h == nil {
		return nil, errors.New("capi: session handle is NULL")
	}
	mu.Lock()
	defer mu.Unlock()
	s := sessions[uintptr(h.id)]
	if s == nil {
		return nil, errors.New("capi: invalid session handle (freed already?)")
	}
	return s, nil
}

//export edgerun_open
func edgerun_open(path, tokenizerPath *C.char, threads C.int) (h *C.edgerun_model) {
	var err error
	defer func() { setError(err) }()
	defer guard(&err)
	if path == nil {
		err = errors.New("capi: edgerun_open: path is NULL")
		return nil
	}
	opts := []runtime.Option{runtime.WithThreads(int(threads))}
	if tokenizerPath != nil {
		opts = append(opts, runtime.WithTokenizer(C.GoString(tokenizerPath)))
	}
	e, err := runtime.Open(C.GoString(path), opts...)
	if err != nil {
		return nil
	}
	mu.Lock()
	nextID++
	id := nextID
	models[id] = &model{e: e}
	mu.Unlock()
	h = (*C.edgerun_model)(C.malloc(C.sizeof_struct_edgerun_model))
	h.id = C.uintptr_t(id)
	return h
}

//export edgerun_close
func edgerun_close(h *C.edgerun_model) (rc C.int) {
	var err error
	defer func() { setError(err) }()
	defer guard(&err)
	if h == nil {
		return 0
	}
	m, id, err := lookupModel(h)
	if err != nil {
		return -1
	}
	mu.Lock()
	if m.sessions > 0 {
		mu.Unlock()
		err = fmt.Errorf("capi: edgerun_close: the model still has %d open session(s): free them first", m.sessions)
		return -1
	}
	delete(models, id)
	mu.Unlock()
	C.free(unsafe.Pointer(h))
	if err = m.e.Close(); err != nil {
		return -1
	}
	return 0
}

//export edgerun_vocab_size
func edgerun_vocab_size(h *C.edgerun_model) C.int {
	m, _, err := lookupModel(h)
	setError(err)
	if err != nil {
		return -1
	}
	return C.int(m.e.Model.Config.Vocab)
}

//export edgerun_session_new
func edgerun_session_new(h *C.edgerun_model) (sh *C.edgerun_session) {
	var err error
	defer func() { setError(err) }()
	defer guard(&err)
	m, mid, err := lookupModel(h)
	if err != nil {
		return nil
	}
	s := &session{model: mid, s: m.e.NewSession()}
	mu.Lock()
	nextID++
	id := nextID
	sessions[id] = s
	m.sessions++
	mu.Unlock()
	sh = (*C.edgerun_session)(C.malloc(C.sizeof_struct_edgerun_session))
	sh.id = C.uintptr_t(id)
	return sh
}

//export edgerun_session_reset
func edgerun_session_reset(h *C.edgerun_session) C.int {
	s, err := lookupSession(h)
	setError(err)
	if err != nil {
		return -1
	}
	s.s.Reset()
	return 0
}

//export edgerun_session_free
func edgerun_session_free(h *C.edgerun_session) {
	setError(nil)
	if h == nil {
		return
	}
	id := uintptr(h.id)
	mu.Lock()
	s := sessions[id]
	if s != nil {
		delete(sessions, id)
		if m := models[s.model]; m != nil {
			m.sessions--
		}
	}
	mu.Unlock()
	if s == nil {
		setError(errors.New("capi: edgerun_session_free: invalid session handle (freed already?)"))
		return
	}
	s.s.Close() // releases its adapters so they can be unloaded
	C.free(unsafe.Pointer(h))
}

// adapterSet converts C arrays of n names and scales.
func adapterSet(names **C.char, scales *C.float, n C.int) ([]runtime.AdapterScale, error) {
	if n < 0 || (n > 0 && (names == nil || scales == nil)) {
		return nil, fmt.Errorf("capi: adapter set: %d names at %p, scales at %p", n, names, scales)
	}
	if n == 0 {
		return nil, nil
	}
	ns := unsafe.Slice(names, int(n))
	ss := unsafe.Slice(scales, int(n))
	set := make([]runtime.AdapterScale, n)
	for i := range set {
		if ns[i] == nil {
			return nil, fmt.Errorf("capi: adapter set: name %d is NULL", i)
		}
		set[i] = runtime.AdapterScale{Name: C.GoString(ns[i]), Scale: float32(ss[i])}
	}
	return set, nil
}

//export edgerun_adapter_load
func edgerun_adapter_load(h *C.edgerun_model, name, path *C.char) (rc C.int) {
	var err error
	defer func() { setError(err) }()
	defer guard(&err)
	m, _, err := lookupModel(h)
	if err != nil {
		return -1
	}
	if name == nil || path == nil {
		err = errors.New("capi: edgerun_adapter_load: name or path is NULL")
		return -1
	}
	if _, err = m.e.LoadAdapter(C.GoString(name), C.GoString(path)); err != nil {
		return -1
	}
	return 0
}

//export edgerun_adapter_unload
func edgerun_adapter_unload(h *C.edgerun_model, name *C.char) (rc C.int) {
	var err error
	defer func() { setError(err) }()
	defer guard(&err)
	m, _, err := lookupModel(h)
	if err != nil {
		return -1
	}
	if name == nil {
		err = errors.New("capi: edgerun_adapter_unload: name is NULL")
		return -1
	}
	if err = m.e.UnloadAdapter(C.GoString(name)); err != nil {
		return -1
	}
	return 0
}

//export edgerun_session_set_adapters
func edgerun_session_set_adapters(h *C.edgerun_session, names **C.char, scales *C.float, n C.int) (rc C.int) {
	var err error
	defer func() { setError(err) }()
	defer guard(&err)
	s, err := lookupSession(h)
	if err != nil {
		return -1
	}
	set, err := adapterSet(names, scales, n)
	if err != nil {
		return -1
	}
	if err = s.s.SetAdapters(set); err != nil {
		return -1
	}
	return 0
}

//export edgerun_merge
func edgerun_merge(h *C.edgerun_model, names **C.char, scales *C.float, n C.int, typ *C.char) (rc C.int) {
	var err error
	defer func() { setError(err) }()
	defer guard(&err)
	m, _, err := lookupModel(h)
	if err != nil {
		return -1
	}
	set, err := adapterSet(names, scales, n)
	if err != nil {
		return -1
	}
	var opts runtime.MergeOptions
	if typ != nil {
		opts.Type = C.GoString(typ)
	}
	if _, err = m.e.Merge(set, opts); err != nil {
		return -1
	}
	return 0
}

//export edgerun_unmerge
func edgerun_unmerge(h *C.edgerun_model) (rc C.int) {
	var err error
	defer func() { setError(err) }()
	defer guard(&err)
	m, _, err := lookupModel(h)
	if err != nil {
		return -1
	}
	m.e.Unmerge()
	return 0
}

//export edgerun_generate
func edgerun_generate(h *C.edgerun_session, prompt *C.char, maxTokens C.int, temperature C.float, seed C.uint64_t,
	cb C.edgerun_token_cb, user unsafe.Pointer, cancel *C.int) (n C.int) {
	var err error
	defer func() { setError(err) }()
	defer guard(&err)
	s, err := lookupSession(h)
	if err != nil {
		return -1
	}
	if prompt == nil {
		err = errors.New("capi: edgerun_generate: prompt is NULL")
		return -1
	}
	cancelled := func() bool {
		return cancel != nil && atomic.LoadInt32((*int32)(unsafe.Pointer(cancel))) != 0
	}
	if cancelled() {
		return 0
	}
	opts := runtime.GenerateOptions{MaxTokens: int(maxTokens)}
	if temperature > 0 {
		opts.Sampler = runtime.SamplerConfig{Temperature: float32(temperature), TopK: 40, TopP: 0.95, MinP: 0.05, Seed: uint64(seed)}
	}
	count := 0
	onToken := func(id int, text string) error {
		if id >= 0 {
			count++
		}
		if cb != nil {
			ct := C.CString(text)
			stop := C.edgerun_call_token_cb(cb, C.int32_t(id), ct, user)
			C.free(unsafe.Pointer(ct))
			if stop != 0 {
				return errStopped
			}
		}
		if cancelled() {
			return errStopped
		}
		return nil
	}
	_, err = s.s.Generate(context.Background(), C.GoString(prompt), opts, onToken)
	if errors.Is(err, errStopped) {
		err = nil
	}
	if err != nil {
		return -1
	}
	return C.int(count)
}
