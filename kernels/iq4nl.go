package kernels

import (
	"encoding/binary"
	"math"

	"github.com/edgerun/edgerun/int4"
)

// Quantized-activation kernels for the other 4-bit weight types (IQ4_NL, NF4, FP4,
// Q4_K, Q6_K). They share q8Act (activation blocks of 32 elements) with the Q4_0/Q8_0
// kernels; the generic versions in iq4nl.go, bnb4.go, q4k.go and q6k.go are the
// specification of the per-architecture ones in *_amd64.s and *_arm64.s. F16 weights
// (f16.go) have float kernels registered here too.

// ktKernels holds one implementation's kernels for the types of this file group; a nil
// kernel means "inherit" (register copies the previous implementation's) and, for the
// rows4 kernels, "call the one-row kernel per token".
type ktKernels struct {
	iq4nl, nf4, fp4, q4k, q6k    rowsKernel
	iq4nlx4, nf4x4, fp4x4, q4kx4 rows4Kernel
	q6kx4                        rows4Kernel
	f16                          f16RowsKernel // F16 weights, float activations (f16.go)
}

// ktSpec are the specification kernels the SIMD ones are tested against.
var ktSpec = ktKernels{iq4nl: iq4nlRowsGeneric, nf4: nf4RowsGeneric, fp4: fp4RowsGeneric, q4k: q4kRowsGeneric, q6k: q6kRowsGeneric, f16: f16RowsGeneric}

// genericKT are genericImpl's kernels: only F16's. In plain Go the quantized-activation
// kernels are about 2× slower than the float path (int4.DotRow on the float32
// activations, which is also exact), so without SIMD kernels (purego, 32-bit ARM, arm64
// without the dot-product extension) MatMul keeps taking the float path for these types.
var genericKT = ktKernels{f16: f16RowsGeneric}

// rows returns the one-row kernel for t, or nil when t is not one of these types.
func (k *ktKernels) rows(t int4.Type) rowsKernel {
	switch t {
	case int4.IQ4_NL:
		return k.iq4nl
	case int4.NF4:
		return k.nf4
	case int4.FP4:
		return k.fp4
	case int4.Q4_K:
		return k.q4k
	case int4.Q6_K:
		return k.q6k
	}
	return nil
}

// rows4 returns the 4-token kernel for t, or nil.
func (k *ktKernels) rows4(t int4.Type) rows4Kernel {
	switch t {
	case int4.IQ4_NL:
		return k.iq4nlx4
	case int4.NF4:
		return k.nf4x4
	case int4.FP4:
		return k.fp4x4
	case int4.Q4_K:
		return k.q4kx4
	case int4.Q6_K:
		return k.q6kx4
	}
	return nil
}

// registerKT fills i.kt: the architecture's kernels for i (archKT, chosen by the
// implementation's name, which fixes its CPU features), and for each kernel it lacks
// the one of prev. A 4-token kernel is only inherited along with its one-row kernel,
// since the two must agree bit for bit.
func registerKT(i, prev *impl) {
	archKT(i)
	k, p := &i.kt, &prev.kt
	if k.iq4nl == nil {
		k.iq4nl, k.iq4nlx4 = p.iq4nl, p.iq4nlx4
	}
	if k.nf4 == nil {
		k.nf4, k.nf4x4 = p.nf4, p.nf4x4
	}
	if k.fp4 == nil {
		k.fp4, k.fp4x4 = p.fp4, p.fp4x4
	}
	if k.q4k == nil {
		k.q4k, k.q4kx4 = p.q4k, p.q4kx4
	}
	if k.q6k == nil {
		k.q6k, k.q6kx4 = p.q6k, p.q6kx4
	}
	if k.f16 == nil {
		k.f16 = p.f16
	}
}

// kvaluesIQ4NL is ggml's IQ4_NL codebook: a nibble decodes to d·kvaluesIQ4NL[nibble].
var kvaluesIQ4NL = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// iq4nlTab is kvaluesIQ4NL twice (both 128-bit lanes of a byte-shuffle table).
var iq4nlTab = func() (t [32]int8) {
	copy(t[:16], kvaluesIQ4NL[:])
	copy(t[16:], kvaluesIQ4NL[:])
	return
}()

// iq4nlRowsGeneric is the specification of the IQ4_NL × q8 kernel (blocks of 18 bytes:
// fp16 d, 16 bytes of nibbles, elements 0..15 in the low nibbles and 16..31 in the high
// ones): per block, s = Σ_{j<16} kv[lo(w_j)]·q_j + kv[hi(w_j)]·q_{j+16} exactly in
// int32, and y[r] += (dw·d[b])·float32(s) in block order. The weights are exact small
// integers, so the only error against the float product is the activation rounding (as
// for Q4_0; llama.cpp's iq4_nl·q8_0 computes the same integer sums).
func iq4nlRowsGeneric(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	nb := len(d)
	for r := range y {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var sum float32
		for b := 0; b < nb; b++ {
			blk := row[b*18 : b*18+18 : b*18+18]
			xq := q[b*qBlock : (b+1)*qBlock : (b+1)*qBlock]
			var s int32
			for j := 0; j < 16; j++ {
				s += int32(kvaluesIQ4NL[blk[2+j]&15]) * int32(xq[j])
				s += int32(kvaluesIQ4NL[blk[2+j]>>4]) * int32(xq[j+16])
			}
			sum += int4.F16ToF32(uint16(blk[0])|uint16(blk[1])<<8) * d[b] * float32(s)
		}
		y[r] = sum
	}
}

// f32At reads the little-endian float32 at b[0:4].
func f32At(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }
