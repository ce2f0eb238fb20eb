// Package kernels holds the compute kernels of the forward pass: matrix-vector and
// matrix-matrix products over packed weights (every int4 type), RMSNorm, RoPE, softmax,
// SiLU, and the worker pool that spreads them over the cores.
//
// Each kernel has a generic Go version that is the specification; architecture-specific
// versions (later) are tested against it.
package kernels

import (
	"runtime"
	"sync"
)

// Pool runs data-parallel loops on a fixed set of worker goroutines. The calling
// goroutine takes part in every loop, so a Pool of n threads starts n-1 goroutines.
// A Pool is safe for use by one caller at a time; Run calls from several goroutines
// are serialised.
type Pool struct {
	threads int
	mu      sync.Mutex
	work    chan task
	wg      sync.WaitGroup
	closed  bool
}

type task struct {
	fn     func(lo, hi int)
	lo, hi int
	done   *sync.WaitGroup
}

// NewPool returns a pool of the given number of threads; threads <= 0 means one per CPU.
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := &Pool{threads: threads, work: make(chan task, threads)}
	for i := 1; i < threads; i++ {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for t := range p.work {
				t.fn(t.lo, t.hi)
				t.done.Done()
			}
		}()
	}
	return p
}

// Threads returns the number of threads the pool runs loops on.
func (p *Pool) Threads() int { return p.threads }

// Run calls fn over [0, n) split into contiguous chunks, one per thread, and returns
// when all have finished. Chunks are multiples of grain (except the last) so callers
// can keep blocks together; grain <= 0 means 1.
func (p *Pool) Run(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain <= 0 {
		grain = 1
	}
	units := (n + grain - 1) / grain
	parts := p.threads
	if parts > units {
		parts = units
	}
	if parts <= 1 || p == nil {
		fn(0, n)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	var done sync.WaitGroup
	done.Add(parts - 1)
	per := units / parts
	extra := units % parts
	lo := 0
	var first [2]int
	for i := 0; i < parts; i++ {
		u := per
		if i < extra {
			u++
		}
		hi := min(lo+u*grain, n)
		if i == 0 {
			first = [2]int{lo, hi}
		} else {
			p.work <- task{fn: fn, lo: lo, hi: hi, done: &done}
		}
		lo = hi
	}
	fn(first[0], first[1])
	done.Wait()
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
