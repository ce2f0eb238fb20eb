package runtime

import (
	"errors"

	"github.com/edgerun/edgerun/int4"
)

// memOptions are the small-memory options of Open (memory.go).
type memOptions struct {
	mlock   bool
	noMmap  bool
	noCheck bool
	limit   int64
	kvType  int4.Type // precision of the sessions' KV caches (kvcache.go); 0 is int4.F32
}

// WithMlock locks the model's weights in RAM (mlock(2) on the memory map) so that the
// kernel never pages them out: steadier latency on boards and phones under memory
// pressure. Open fails with a clear error when the system does not permit it (see
// RLIMIT_MEMLOCK, `ulimit -l`) or has no mlock (Windows, wasm). Closing the engine
// releases the lock.
func WithMlock(on bool) Option { return func(o *options) { o.mem.mlock = on } }

// WithMmap chooses how Open holds the weights: mapped from the file (true, the default:
// zero-copy, shared between processes, loads instantly) or read into memory (false,
// llama.cpp's --no-mmap: the pages are the process's own, cannot be dropped and re-read
// under memory pressure, and stream up to ~7% faster at decode on some machines —
// measured here for the TinyLlama-shaped Q4_0 model; see BenchmarkLoraTinyLlama).
func WithMmap(on bool) Option { return func(o *options) { o.mem.noMmap = !on } }

// WithMemoryCheck turns the up-front memory check of Open on (the default) or off.
// The check estimates what the model needs (EstimateMemory) and refuses, before the
// file is mapped, a model whose weights plus KV cache would not fit in the memory
// available (AvailableMemory).
func WithMemoryCheck(on bool) Option { return func(o *options) { o.mem.noCheck = !on } }

// WithMemoryLimit caps the memory Open may count on at n bytes (when that is less than
// what the system reports available): a budget for an app that shares the device.
func WithMemoryLimit(n int64) Option { return func(o *options) { o.mem.limit = n } }

// WithKVType sets the precision the KV caches of new sessions store keys and values in:
// int4.F32 (the default), int4.F16 (half the memory; stories260K's logits move by up to 0.02)
// or int4.Q8_0 (17/64 of the memory, for models whose head size is a multiple of 32).
// Open and NewEngine fail, wrapping ErrKVType, for any other type or a head size Q8_0
// cannot split; the memory check of Open counts the cache at this precision.
func WithKVType(t int4.Type) Option { return func(o *options) { o.mem.kvType = t } }

// ErrMlock is returned by Open when WithMlock(true) cannot lock the weights in memory.
var ErrMlock = errors.New("runtime: cannot lock the weights in memory")
