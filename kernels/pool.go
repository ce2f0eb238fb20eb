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
	"sync/atomic"
	"time"
)

// Pool runs data-parallel loops on a fixed set of worker goroutines. The calling
// goroutine takes part in every loop, so a Pool of n threads starts n-1 goroutines.
// A Pool is safe for use by one caller at a time; Run calls from several goroutines
// are serialised. MatVec and MatMul over F32, F16 and the quantized-activation types
// (Q4_0, Q8_0, IQ4_NL, NF4, FP4, NF4_64, FP4_64, Q4_K, Q6_K) do not allocate once
// the pool's buffers have grown to the shapes in use.
//
// Scheduling: a loop is cut into chunks (see chunkUnits) that the caller and the
// workers claim one at a time from a shared counter, so a thread the OS has taken away
// (the machine is shared) delays the loop by at most one chunk; a worker that wakes
// after every chunk is claimed goes back to waiting without touching the loop. Between
// loops, workers spin for spinWait before parking, so the ~150 back-to-back products
// of a decoded token do not each pay a goroutine wake-up.
type Pool struct {
	threads int
	mu      sync.Mutex
	wg      sync.WaitGroup
	closed  bool

	// The current loop, written by the caller before it publishes a new claim word.
	cur    job
	n      int // loop range [0, n)
	chunk  int // indices per chunk (a multiple of the grain)
	chunks int // number of chunks

	// claim is generation<<32 | chunks<<16 | next unclaimed chunk; a claim is a CAS
	// that only succeeds within the generation the worker woke for. claim and finished
	// are written by every chunk: each has its own cache line, so their writes do not
	// evict the loop fields above (read by every chunk) or each other.
	_        [64]byte
	claim    atomic.Uint64
	_        [56]byte
	finished atomic.Int64 // chunks of the current loop completed
	_        [56]byte
	stop     atomic.Bool
	workers  []poolWorker

	callerSleeping atomic.Bool
	callerWake     chan struct{}

	// Scratch reused by MatVec/MatMul while mu is held.
	mul     mulJob
	act     q8Act
	scratch [][]float32 // per-worker dequantisation buffers
	bytes   [][]byte    // per-worker byte buffers (GEMM weight tiles)
	outs    []gemmOut   // per-worker GEMM outputs
	sj      scratchJob  // RunScratch's job
	sw      swigluJob   // SwiGLU's job
	mj      multiJob    // MatMulMulti's and MatVecSwiGLU's job
}

// poolWorker is the parking state of one worker goroutine.
type poolWorker struct {
	sleeping atomic.Bool
	wake     chan struct{}
	_        [48]byte // keep workers' flags on separate cache lines
}

// spinWait is how long an idle worker (or the caller waiting for the last chunks)
// polls before parking.
const spinWait = 200 * time.Microsecond

// job is a loop body: run handles indices [lo, hi) on worker w (0 is the caller).
type job interface{ run(lo, hi, w int) }

type funcJob func(lo, hi int)

func (f funcJob) run(lo, hi, _ int) { f(lo, hi) }

// NewPool returns a pool of the given number of threads; threads <= 0 means one per CPU.
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.NumCPU()
	}
	p := &Pool{threads: threads, callerWake: make(chan struct{}, 1)}
	p.scratch = make([][]float32, threads)
	p.bytes = make([][]byte, threads)
	p.outs = make([]gemmOut, threads)
	p.workers = make([]poolWorker, threads)
	for i := 1; i < threads; i++ {
		p.workers[i].wake = make(chan struct{}, 1)
		p.wg.Add(1)
		go p.worker(i)
	}
	return p
}

// worker is the loop of worker goroutine w: wait for a new generation, claim and run
// chunks of it until none is left, repeat.
func (p *Pool) worker(w int) {
	defer p.wg.Done()
	var seen uint32
	for {
		seen = p.waitGen(w, seen)
		if p.stop.Load() {
			return
		}
		p.claimLoop(seen, w)
	}
}

// waitGen returns the first generation different from seen, spinning for spinWait
// and then parking on the worker's wake channel.
func (p *Pool) waitGen(w int, seen uint32) uint32 {
	if g := uint32(p.claim.Load() >> 32); g != seen {
		return g
	}
	start := time.Now()
	for i := 1; ; i++ {
		if g := uint32(p.claim.Load() >> 32); g != seen {
			return g
		}
		if i%1024 == 0 {
			if time.Since(start) > spinWait {
				break
			}
			runtime.Gosched()
		}
	}
	pw := &p.workers[w]
	for {
		// Park: announce, re-check, sleep. Whoever clears sleeping (the dispatcher after
		// publishing, or this worker on seeing the new generation) decides whether a
		// wake token is in flight.
		pw.sleeping.Store(true)
		if g := uint32(p.claim.Load() >> 32); g != seen {
			if !pw.sleeping.Swap(false) {
				<-pw.wake
			}
			return g
		}
		<-pw.wake
		if g := uint32(p.claim.Load() >> 32); g != seen {
			return g
		}
	}
}

// claimLoop runs chunks of generation gen until every chunk is claimed or the
// generation has moved on.
func (p *Pool) claimLoop(gen uint32, w int) {
	for {
		c := p.claim.Load()
		if uint32(c>>32) != gen || uint16(c) >= uint16(c>>16) {
			return
		}
		if !p.claim.CompareAndSwap(c, c+1) {
			continue
		}
		// The claim succeeded within gen, so the caller is still waiting for this chunk
		// and the loop fields are those of gen.
		lo := int(uint16(c)) * p.chunk
		p.cur.run(lo, min(lo+p.chunk, p.n), w)
		if p.finished.Add(1) == int64(uint16(c>>16)) && p.callerSleeping.Swap(false) {
			p.callerWake <- struct{}{}
		}
	}
}

// Threads returns the number of threads the pool runs loops on.
func (p *Pool) Threads() int {
	if p == nil {
		return 1
	}
	return p.threads
}

// Run calls fn over [0, n) split into contiguous chunks spread over the threads (a
// few per thread, see Pool), and returns when all have finished; chunks may run
// concurrently in any order. Chunks are multiples of grain (except the last) so callers
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
	if p.threads <= 1 || units <= 1 {
		j.run(0, n, 0)
		return
	}
	per := chunkUnits(units, p.threads)
	p.cur, p.n, p.chunk = j, n, per*grain
	p.chunks = (units + per - 1) / per
	p.finished.Store(0)
	gen := uint32(p.claim.Load()>>32) + 1
	p.claim.Store(uint64(gen)<<32 | uint64(p.chunks)<<16) // publishes the loop fields above
	for i := 1; i < p.threads; i++ {
		if w := &p.workers[i]; w.sleeping.Load() && w.sleeping.Swap(false) {
			w.wake <- struct{}{}
		}
	}
	p.claimLoop(gen, 0)
	p.waitFinished()
	p.cur = nil
}

// chunkUnits returns how many grain units one chunk holds: about four chunks per
// thread, so a late or slowed thread costs at most a quarter of its share (and the
// chunk count fits the claim word's 16 bits).
func chunkUnits(units, threads int) int {
	return max(1, units/(4*threads), (units+maxChunks-1)/maxChunks)
}

// maxChunks bounds the chunks of one loop (16 bits of the claim word).
const maxChunks = 1<<16 - 1

// waitFinished returns when every chunk of the current loop has completed.
func (p *Pool) waitFinished() {
	want := int64(p.chunks)
	if p.finished.Load() == want {
		return
	}
	start := time.Now()
	for i := 1; ; i++ {
		if p.finished.Load() == want {
			return
		}
		if i%1024 == 0 {
			if time.Since(start) > spinWait {
				break
			}
			runtime.Gosched()
		}
	}
	p.callerSleeping.Store(true)
	if p.finished.Load() == want {
		if !p.callerSleeping.Swap(false) {
			<-p.callerWake
		}
		return
	}
	<-p.callerWake
}

// buf returns worker w's scratch buffer of at least n floats.
func (p *Pool) buf(w, n int) []float32 {
	if cap(p.scratch[w]) < n {
		// Grow geometrically: attention asks for one more float per generated token.
		p.scratch[w] = make([]float32, n, max(n, 2*cap(p.scratch[w])))
	}
	return p.scratch[w][:n]
}

// SwiGLU is the package function SwiGLU with the elements spread over the pool (the
// same element-wise results); it does not allocate. A nil Pool runs it on the caller.
func (p *Pool) SwiGLU(gate, up []float32) {
	if p == nil {
		SwiGLU(gate, up)
		return
	}
	up = up[:len(gate)]
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sw = swigluJob{gate, up}
	p.run(len(gate), 512, &p.sw)
	p.sw = swigluJob{}
}

type swigluJob struct{ gate, up []float32 }

func (j *swigluJob) run(lo, hi, _ int) { SwiGLU(j.gate[lo:hi], j.up[lo:hi]) }

// bbuf returns worker w's byte buffer of at least n bytes.
func (p *Pool) bbuf(w, n int) []byte {
	if cap(p.bytes[w]) < n {
		p.bytes[w] = make([]byte, n)
	}
	return p.bytes[w][:n]
}

// Close stops the worker goroutines. The pool must not be used afterwards.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.stop.Store(true)
	p.claim.Store(uint64(uint32(p.claim.Load()>>32)+1) << 32) // no chunks: nothing to claim
	for i := 1; i < p.threads; i++ {
		if w := &p.workers[i]; w.sleeping.Swap(false) {
			w.wake <- struct{}{}
		}
	}
	p.wg.Wait()
}
