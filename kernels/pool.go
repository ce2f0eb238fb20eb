// Package kernels holds the compute kernels of the forward pass: matrix-vector and
// matrix-matrix products over packed weights (every int4 type), RMSNorm, RoPE, softmax,
// SiLU, and the worker pool that spreads them over the cores.
//
// Each kernel has a generic Go version that is the specification; architecture-specific
// assembly versions (kernels_amd64.s, …) are registered in an implementation table
// (see impl.go) and tested against it. The purego build tag disables all assembly.
package kernels

import (
	"runtime"
	"sync"
)

// Pool runs data-parallel loops on a fixed set of worker goroutines. The calling
// goroutine takes part in every loop, so a Pool of n threads starts n-1 goroutines.
// A Pool is safe for use by one caller at a time; Run calls from several goroutines
// are serialised. MatVec and MatMul over Q4_0 and Q8_0 weights do not allocate.
type Pool struct {
	threads int
	mu      sync.Mutex
	work    chan task
	wg      sync.WaitGroup
	done    sync.WaitGroup
	closed  bool

	// Scratch reused by MatVec/MatMul while mu is held.
	mul     mulJob
	act     q8Act
	scratch [][]float32 // per-worker dequantisation buffers
	sj      scratchJob  // RunScratch's job
}

// job is a loop body: run handles indices [lo, hi) on worker w (0 is the caller).
type job interface{ run(lo, hi, w int) }

type funcJob func(lo, hi int)

func (f funcJob) run(lo, hi, _ int) { f(lo, hi) }

type task struct {
	j      job
	lo, hi int
	w      int
}

// NewPool returns a pool of the given number of threads; threads <= 0 means one per CPU.
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := &Pool{threads: threads, work: make(chan task, threads)}
	p.scratch = make([][]float32, threads)
	for i := 1; i < threads; i++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for t := range p.work {
				t.j.run(t.lo, t.hi, t.w)
				p.done.Done()
			}
		}()
	}
	return p
}

// Threads returns the number of threads the pool runs loops on.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.threads
}

// Run calls fn over [0, n) split into contiguous chunks, one per thread, and returns
// when all have finished. Chunks are multiples of grain (except the last) so callers
// can keep blocks together; grain <= 0 means 1. A nil Pool runs fn(0, n) on the caller.
func (p *Pool) Run(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if p == nil {
		fn(0, n)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.run(n, grain, funcJob(fn))
}

// RunScratch is Run for loop bodies that need a scratch buffer: each call of fn gets
// its worker's reusable buffer of size floats (contents undefined), so a loop that
// runs once per token does not allocate one per call. The buffer is valid only
// during fn.
func (p *Pool) RunScratch(n, grain, size int, fn func(lo, hi int, buf []float32)) {
	if n <= 0 {
		return
	}
	if p == nil {
		fn(0, n, make([]float32, size))
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sj = scratchJob{p, size, fn}
	p.run(n, grain, &p.sj)
	p.sj.fn = nil
}

type scratchJob struct {
	p    *Pool
	size int
	fn   func(lo, hi int, buf []float32)
}

func (j *scratchJob) run(lo, hi, w int) { j.fn(lo, hi, j.p.buf(w, j.size)) }

// run is Run with p.mu held and a job instead of a closure, so callers that keep their
// job in the Pool dispatch without allocating.
func (p *Pool) run(n, grain int, j job) {
	if n <= 0 {
		return
	}
	if grain <= 0 {
		grain = 1
	}
	units := (n + grain - 1) / grain
	parts := min(p.threads, units)
	if parts <= 1 {
		j.run(0, n, 0)
		return
	}
	p.done.Add(parts - 1)
	per := units / parts
	extra := units % parts
	lo := 0
	var first0, first1 int
	for i := 0; i < parts; i++ {
		u := per
		if i < extra {
			u++
		}
		hi := min(lo+u*grain, n)
		if i == 0 {
			first0, first1 = lo, hi
		} else {
			p.work <- task{j: j, lo: lo, hi: hi, w: i}
		}
		lo = hi
	}
	j.run(first0, first1, 0)
	p.done.Wait()
}

// buf returns worker w's scratch buffer of at least n floats.
func (p *Pool) buf(w, n int) []float32 {
	if cap(p.scratch[w]) < n {
		p.scratch[w] = make([]float32, n)
	}
	return p.scratch[w][:n]
}

// Close stops the worker goroutines. The pool must not be used afterwards.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	close(p.work)
	p.wg.Wait()
}
