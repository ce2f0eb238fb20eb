//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

func init() {
	if cpu.X86.HasAVX2 {
		registerOps(&opsImpl{name: "avx2", expSub: expSubAVX2Go, swiglu: swigluAVX2Go})
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
