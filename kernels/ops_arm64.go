//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

func init() {
	if cpu.ARM64.HasASIMD {
		// Named after the float32 implementation whose Axpy the mix kernel matches.
		registerOps(opsOf("neon", vecOps{expSub: expSubNEON, swiglu: swigluNEON, mix: mixNEON,
			sumSq: sumSqNEON, scaleMul: scaleMulNEON, add: addNEON}))
	}
}

// swigluNEON computes, for i < n (a multiple of 8), four lanes at a time with the
// operations of ExpF32 (two vectors interleaved, 35 instructions per four elements):
//
//	gate[i] = gate[i] / (1 + ExpF32(-gate[i])) * up[i]
//
//go:noescape
func swigluNEON(gate, up *float32, n int)

// expSubNEON computes x[i] = ExpF32(x[i] - m) for i < n (a multiple of 8), four lanes
// at a time (30 instructions per four elements).
//
//go:noescape
func expSubNEON(x *float32, n int, m float32)

// mixNEON sets o[j] = Σ_{t<nt} w[t]·v[t·stride+j] for j < hd (stride in elements) as
// clearing o and running axpyF32NEON(o, v + t·stride, hd, w[t]) for each t gives: fused
// multiply-adds from 0 in t order for the first hd - hd%4 columns (in blocks of 16, four
// accumulators, then 4), the rounded product added for the last hd%4.
//
//go:noescape
func mixNEON(o, w, v *float32, hd, nt, stride int)

// sumSqNEON returns the eight-lane part of sumSqGeneric over x[0:n] (n a multiple of
// 8): lanes 0-1, 2-3, 4-5 and 6-7 in four float64x2 accumulators, combined in
// sumSqGeneric's order.
//
//go:noescape
func sumSqNEON(x *float32, n int) float64

// scaleMulNEON writes dst[i] = (x[i]·s)·w[i] for i < n (a multiple of 8).
//
//go:noescape
func scaleMulNEON(dst, x, w *float32, n int, s float32)

// addNEON writes dst[i] += x[i] for i < n (a multiple of 8).
//
//go:noescape
func addNEON(dst, x *float32, n int)
