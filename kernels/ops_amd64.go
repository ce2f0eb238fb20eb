//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

func init() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		registerOps(&opsImpl{name: "avx2", expSub: expSubAVX2Go, swiglu: swigluAVX2Go, mix: mixAVX2Go})
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
