//go:build !purego

package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/edgerun/edgerun/int4"
)

// BenchmarkQ4KAB is a same-process interleaved A/B of the Q4_K kernels on TinyLlama
// shapes with a 2-thread pool: each iteration runs, on identical buffers, the active
// implementation's Q4_K path (new), the same implementation with only the one-row Q4_K
// kernel and no GEMM (row1: the decode before the 8-row kernel, the per-token prefill)
// and Q4_0 on the same shape (q4_0), and reports the time ratios of the summed times
// (noise from other processes hits all three alike). n is the number of tokens (1:
// MatVec, 64: prefill).
func BenchmarkQ4KAB(b *testing.B) {
	if active.kt.rows(int4.Q4_K) == nil {
		b.Skip("no Q4_K kernel")
	}
	r := rand.New(rand.NewPCG(47, 48))
	p := NewPool(2)
	defer p.Close()
	row1 := *active
	row1.name, row1.kt = "row1", ktKernels{f16: active.kt.f16}
	for t, pr := range active.kt.q {
		row1.kt.set(t, pr.rows, pr.rows4)
		row1.kt.setGemm(t, pr.gemm)
	}
	row1.kt.set(int4.Q4_K, q4kRowsAVX2Go, nil)
	for _, n := range []int{1, 64} {
		for _, sh := range [][2]int{{2048, 5632}, {5632, 2048}, {32000, 2048}} {
			rows, cols := sh[0], sh[1]
			if n > 1 && rows == 32000 {
				continue
			}
			mk := benchRows(r, int4.Q4_K, rows, cols)
			m0 := benchRows(r, int4.Q4_0, rows, cols)
			k, _ := NewMatrix(int4.Q4_K, rows, cols, mk)
			z, _ := NewMatrix(int4.Q4_0, rows, cols, m0)
			x := randVec(r, n*cols)
			y := make([]float32, n*rows)
			b.Run(fmt.Sprintf("%dx%d/n%d", rows, cols, n), func(b *testing.B) {
				var tNew, tOld, tQ0 time.Duration
				for b.Loop() {
					t0 := time.Now()
					p.MatMul(k, x, n, y)
					t1 := time.Now()
					withImpl(&row1, func() { p.MatMul(k, x, n, y) })
					t2 := time.Now()
					p.MatMul(z, x, n, y)
					t3 := time.Now()
					tNew, tOld, tQ0 = tNew+t1.Sub(t0), tOld+t2.Sub(t1), tQ0+t3.Sub(t2)
				}
				b.ReportMetric(float64(tNew)/float64(tOld), "new/row1")
				b.ReportMetric(float64(tNew)/float64(tQ0), "new/q4_0")
				b.ReportMetric(float64(len(mk))*float64(b.N)/tNew.Seconds()/1e6, "new-MB/s")
			})
		}
	}
}

// q4kRowsAVX2Go runs the one-row kernel on every row: the decode before the 8-row
// kernel, which BenchmarkQ4KAB compares with it (q4kAsm.rows8Go runs it on the last
// rows%8 only).
func q4kRowsAVX2Go(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
	nb := len(d) &^ 7
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+nb/8*144-1]
	_ = q[nb*qBlock-1]
	_ = c[nb*8-1]
	q4kRowsAVX2(&w[0], rowBytes, len(y), &q[0], &d[0], &c[0], nb, &y[0])
}
