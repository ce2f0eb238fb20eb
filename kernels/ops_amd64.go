//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		registerOps(opsOf("avx2", vecOps{expSub: expSubAVX2, swiglu: swigluAVX2, mix: mixAVX2,
			sumSq: sumSqAVX2, scaleMul: scaleMulAVX2, add: addAVX2}))
	}
}

// swigluAVX2 computes, for i < n (a multiple of 8), eight lanes at a time with the
// operations of ExpF32:
//
//	gate[i] = gate[i] / (1 + ExpF32(-gate[i])) * up[i]
//
//go:noescape
func swigluAVX2(gate, up *float32, n int)

// expSubAVX2 computes x[i] = ExpF32(x[i] - m) for i < n (a multiple of 8), eight lanes at
// a time.
//
//go:noescape
func expSubAVX2(x *float32, n int, m float32)

// mixAVX2 sets o[j] = Σ_{t<nt} w[t]·v[t·stride+j] for j < hd (stride in elements) as
// fused multiply-adds from 0 in t order, which is what clearing o and running
// axpyF32AVX2(o, v + t·stride, hd, w[t]) for each t gives: columns in blocks of 32 (four
// accumulators), then 8, then one at a time.
//
//go:noescape
func mixAVX2(o, w, v *float32, hd, nt, stride int)

// sumSqAVX2 returns the eight-lane part of sumSqGeneric over x[0:n] (n a multiple of 8):
// lanes 0-3 and 4-7 in two float64 accumulators, combined in sumSqGeneric's order.
//
//go:noescape
func sumSqAVX2(x *float32, n int) float64

// scaleMulAVX2 writes dst[i] = (x[i]·s)·w[i] for i < n (a multiple of 8).
//
//go:noescape
func scaleMulAVX2(dst, x, w *float32, n int, s float32)

// addAVX2 writes dst[i] += x[i] for i < n (a multiple of 8).
//
//go:noescape
func addAVX2(dst, x *float32, n int)
