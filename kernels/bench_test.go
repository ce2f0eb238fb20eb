package kernels

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgerun/edgerun/int4"
)

// tinyLlamaShapes are the rows×cols of TinyLlama-1.1B's matrices: wq/wo, wk/wv, w1/w3
// (gate, up), w2 (down), output.
var tinyLlamaShapes = [][2]int{{2048, 2048}, {256, 2048}, {5632, 2048}, {2048, 5632}, {32000, 2048}}

// BenchmarkMatVecShapes reports decode speed (MB/s = weight bytes read per second) on
// the TinyLlama-1.1B matrix shapes, on a 2-thread pool, for every weight type that some
// registered implementation has a quantized-activation kernel for (plus F32), and every
// implementation that has one: types and implementations registered later appear
// without edits. Each result also shows the measured 2-thread memory read bandwidth
// (bw-GB/s, once per run, the way `edgerun bench` measures its roofline) and the
// kernel's weight bytes per second as a fraction of it (of-bw; above 1 means the matrix
// is served from cache).
func BenchmarkMatVecShapes(b *testing.B) {
	r := rand.New(rand.NewPCG(15, 16))
	p := NewPool(2)
	defer p.Close()
	bw := readBandwidth()
	for _, typ := range benchTypes() {
		for _, sh := range tinyLlamaShapes {
			rows, cols := sh[0], sh[1]
			data := benchRows(r, typ, rows, cols)
			if data == nil {
				continue
			}
			m, _ := NewMatrix(typ, rows, cols, data)
			x := randVec(r, cols)
			y := make([]float32, rows)
			for _, im := range impls {
				if !hasKernel(im, typ) || im == genericImpl && rows*cols > 2048*2048 && len(impls) > 1 {
					continue // the generic kernels are ~30× slower; the small shapes suffice
				}
				b.Run(fmt.Sprintf("%v/%dx%d/%s", typ, rows, cols, im.name), func(b *testing.B) {
					withImpl(im, func() {
						b.SetBytes(int64(len(data)))
						for b.Loop() {
							p.MatVec(m, x, y)
						}
						perSec := float64(len(data)) * float64(b.N) / b.Elapsed().Seconds()
						b.ReportMetric(bw/1e9, "bw-GB/s")
						b.ReportMetric(perSec/bw, "of-bw")
					})
				})
			}
		}
	}
}

// benchTypes returns every supported weight type with a quantized-activation kernel in
// some registered implementation, and F32.
func benchTypes() []int4.Type {
	ts := []int4.Type{int4.F32}
	for t := int4.Type(1); t < 1100; t++ { // ggml ids; bitsandbytes types from 1000
		if !t.Supported() {
			continue
		}
		for _, im := range impls {
			if hasKernel(im, t) {
				ts = append(ts, t)
				break
			}
		}
	}
	return ts
}

// hasKernel reports whether im has a quantized-activation kernel for t (or t is F32,
// which every implementation runs with its float32 kernels).
func hasKernel(im *impl, t int4.Type) bool {
	if t == int4.F32 {
		return true
	}
	ok := false
	withImpl(im, func() { ok = kernelFor(t) != nil })
	return ok
}

// benchRows returns rows×cols weights of t: 64 quantized Gaussian rows repeated (the
// kernels' speed does not depend on the values), or nil when t cannot quantize.
func benchRows(r *rand.Rand, t int4.Type, rows, cols int) []byte {
	rb, err := int4.RowBytes(t, cols)
	if err != nil {
		return nil
	}
	data := make([]byte, rows*rb)
	for i := 0; i < min(rows, 64); i++ {
		if int4.QuantizeRow(t, randVec(r, cols), data[i*rb:(i+1)*rb]) != nil {
			return nil
		}
	}
	for i := 64; i < rows; i++ {
		copy(data[i*rb:(i+1)*rb], data[(i%64)*rb:])
	}
	return data
}

var (
	bwOnce  sync.Once
	bwBytes float64
)

// readBandwidth measures, once per process, the 2-thread memory read bandwidth in
// bytes/s like bench.MeasureBandwidth (which this package cannot import): two
// goroutines sum halves of a buffer of 8× the last-level cache (at least 256 MiB) with
// eight independent accumulators, best of three passes.
func readBandwidth() float64 {
	bwOnce.Do(func() {
		size := 256 << 20
		if llc := llcBytes(); 8*llc > size {
			size = min(8*llc, 1<<30)
		}
		buf := make([]uint64, size/8)
		for i := range buf {
			buf[i] = uint64(i)
		}
		var best time.Duration
		var sink [2]uint64
		for range 3 {
			var wg sync.WaitGroup
			half := len(buf) / 2
			start := time.Now()
			for t := range 2 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					sink[t] += sum8(buf[t*half : (t+1)*half])
				}()
			}
			wg.Wait()
			if d := time.Since(start); best == 0 || d < best {
				best = d
			}
		}
		bwBytes = float64(size) / best.Seconds()
		benchSink = sink[0] + sink[1]
	})
	return bwBytes
}

var benchSink uint64

// sum8 adds x up with eight independent accumulators (one cache line per iteration).
func sum8(x []uint64) uint64 {
	var s [8]uint64
	for i := 0; i+8 <= len(x); i += 8 {
		l := (*[8]uint64)(x[i : i+8])
		s[0] += l[0]
		s[1] += l[1]
		s[2] += l[2]
		s[3] += l[3]
		s[4] += l[4]
		s[5] += l[5]
		s[6] += l[6]
		s[7] += l[7]
	}
	return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7]
}

// llcBytes returns the size of CPU 0's largest cache from sysfs (0 when unknown).
func llcBytes() int {
	best := 0
	for i := range 8 {
		b, err := os.ReadFile(fmt.Sprintf("/sys/devices/system/cpu/cpu0/cache/index%d/size", i))
		if err != nil {
			break
		}
		s := strings.TrimSpace(string(b))
		mult := 1
		if strings.HasSuffix(s, "K") {
			mult, s = 1<<10, strings.TrimSuffix(s, "K")
		} else if strings.HasSuffix(s, "M") {
			mult, s = 1<<20, strings.TrimSuffix(s, "M")
		}
		if v, err := strconv.Atoi(s); err == nil && v*mult > best {
			best = v * mult
		}
	}
	return best
}

// BenchmarkMatMulPrefill reports prefill speed (64 tokens) in weight MB/s per token
// batch on the 2048×2048 and 5632×2048 shapes, for every type with a
// quantized-activation kernel (as BenchmarkMatVecShapes).
func BenchmarkMatMulPrefill(b *testing.B) {
	r := rand.New(rand.NewPCG(17, 18))
	p := NewPool(2)
	defer p.Close()
	const n = 64
	for _, typ := range benchTypes() {
		if typ == int4.F32 {
			continue
		}
		for _, sh := range [][2]int{{2048, 2048}, {5632, 2048}} {
			rows, cols := sh[0], sh[1]
			data := benchRows(r, typ, rows, cols)
			if data == nil {
				continue
			}
			m, _ := NewMatrix(typ, rows, cols, data)
			x := randVec(r, n*cols)
			y := make([]float32, n*rows)
			for _, im := range impls {
				if !hasKernel(im, typ) || im == genericImpl && rows > 2048 && len(impls) > 1 {
					continue
				}
				b.Run(fmt.Sprintf("%v/%dx%d/n%d/%s", typ, rows, cols, n, im.name), func(b *testing.B) {
					withImpl(im, func() {
						b.SetBytes(int64(len(data)))
						for b.Loop() {
							p.MatMul(m, x, n, y)
						}
					})
				})
			}
		}
	}
}
