//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		registerOps(&opsImpl{name: "avx2", expSub: expSubAVX2Go, swiglu: swigluAVX2Go, mix: mixAVX2Go,
			sumSq: sumSqAVX2Go, scaleMul: scaleMulAVX2Go, add: addAVX2Go})
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

func swigluAVX2Go(gate, up []float32) {
	n := len(gate) &^ 7
	if n > 0 {
		up = up[:len(gate)]
		swigluAVX2(&gate[0], &up[0], n)
	}
	swigluGeneric(gate[n:], up[n:])
}

func expSubAVX2Go(x []float32, m float32) {
	n := len(x) &^ 7
	if n > 0 {
		expSubAVX2(&x[0], n, m)
	}
	expSubGeneric(x[n:], m)
}

// mixAVX2 sets o[j] = Σ_{t<nt} w[t]·v[t·stride+j] for j < hd (stride in elements) as
// fused multiply-adds from 0 in t order, which is what clearing o and running
// axpyF32AVX2(o, v + t·stride, hd, w[t]) for each t gives: columns in blocks of 32 (four
// accumulators), then 8, then one at a time.
//
//go:noescape
func mixAVX2(o, w, v *float32, hd, nt, stride int)

func mixAVX2Go(o, w, v []float32, stride int) {
	if len(o) == 0 {
		return
	}
	if len(w) == 0 {
		clear(o)
		return
	}
	_ = v[(len(w)-1)*stride+len(o)-1]
	mixAVX2(&o[0], &w[0], &v[0], len(o), len(w), stride)
}

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

func sumSqAVX2Go(x []float32) float64 {
	n := len(x) &^ 7
	if n == 0 {
		return sumSqGeneric(x)
	}
	s := sumSqAVX2(&x[0], n)
	for _, v := range x[n:] {
		f := float64(v)
		s += f * f
	}
	return s
}

func scaleMulAVX2Go(dst, x, w []float32, s float32) {
	n := len(dst) &^ 7
	if n > 0 {
		x, w = x[:len(dst)], w[:len(dst)]
		scaleMulAVX2(&dst[0], &x[0], &w[0], n, s)
	}
	scaleMulGeneric(dst[n:], x[n:], w[n:], s)
}

func addAVX2Go(dst, x []float32) {
	n := len(dst) &^ 7
	if n > 0 {
		x = x[:len(dst)]
		addAVX2(&dst[0], &x[0], n)
	}
	addGeneric(dst[n:], x[n:])
}
