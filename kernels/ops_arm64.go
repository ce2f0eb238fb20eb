//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

func init() {
	if cpu.ARM64.HasASIMD {
		// Named after the float32 implementation whose Axpy the mix kernel matches.
		registerOps(&opsImpl{name: "neon", expSub: expSubNEONGo, swiglu: swigluNEONGo, mix: mixNEONGo,
			sumSq: sumSqNEONGo, scaleMul: scaleMulNEONGo, add: addNEONGo})
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

func swigluNEONGo(gate, up []float32) {
	n := len(gate) &^ 7
	if n > 0 {
		up = up[:len(gate)]
		swigluNEON(&gate[0], &up[0], n)
	}
	swigluGeneric(gate[n:], up[n:])
}

func expSubNEONGo(x []float32, m float32) {
	n := len(x) &^ 7
	if n > 0 {
		expSubNEON(&x[0], n, m)
	}
	expSubGeneric(x[n:], m)
}

func mixNEONGo(o, w, v []float32, stride int) {
	if len(o) == 0 {
		return
	}
	if len(w) == 0 {
		clear(o)
		return
	}
	_ = v[(len(w)-1)*stride+len(o)-1]
	mixNEON(&o[0], &w[0], &v[0], len(o), len(w), stride)
}

func sumSqNEONGo(x []float32) float64 {
	n := len(x) &^ 7
	if n == 0 {
		return sumSqGeneric(x)
	}
	s := sumSqNEON(&x[0], n)
	for _, v := range x[n:] {
		f := float64(v)
		s += f * f
	}
	return s
}

func scaleMulNEONGo(dst, x, w []float32, s float32) {
	n := len(dst) &^ 7
	if n > 0 {
		x, w = x[:len(dst)], w[:len(dst)]
		scaleMulNEON(&dst[0], &x[0], &w[0], n, s)
	}
	scaleMulGeneric(dst[n:], x[n:], w[n:], s)
}

func addNEONGo(dst, x []float32) {
	n := len(dst) &^ 7
	if n > 0 {
		x = x[:len(dst)]
		addNEON(&dst[0], &x[0], n)
	}
	addGeneric(dst[n:], x[n:])
}
