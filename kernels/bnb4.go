package kernels

import (
	"math"

	"github.com/edgerun/edgerun/int4"
)

// NF4 and FP4 (bitsandbytes codes, int4's row layout: blocks of 32 elements, 20 bytes =
// float32 absmax + 16 code bytes, element 2i in the high nibble of byte i and 2i+1 in
// the low nibble), and NF4_64/FP4_64 (blocks of 64 elements, 36 bytes = float32 absmax
// + 32 code bytes in the same order), computed per 32-element half exactly as NF4/FP4
// with the absmax repeated.
//
// The code tables T are not integers, so the kernels use one int8 table per type,
// W[c] = round(T[c]·s), with the scale s ≤ 127 chosen to minimise the RMS rounding
// error over the 16 codes, and fold 1/s into the result:
//
//	s_b = Σ_e W[c_e]·q_e   (exact int32)
//	y   = (Σ_b (absmax_b·d_b)·float32(s_b)) · float32(1/s)
//
// NF4: s = 112.03, RMS |W/s - T| = 0.0017 (at most 0.0039) of the block's absmax per
// weight; FP4 (values k/12 and k/192): s = 120, RMS 0.0011 (at most 0.0032). This
// table rounding changes the weights slightly: it is about 1/20 of NF4's own
// quantization error against the original weights (≈0.036·absmax RMS on Gaussian
// weights), and on Gaussian data it raises the whole error of y against the float
// product of the dequantized weights from the activation rounding's ≈0.5% (Q4_0's,
// the error llama.cpp accepts for every quantized-activation kernel) to ≈0.6-0.8%
// relative RMS (TestBnb4ActError measures it: NF4 0.76%, FP4 0.60%, Q4_0 0.51% on its
// data). In exchange each weight is one byte-shuffle lookup and one 8-bit
// multiply-add, as for IQ4_NL, and all three types share one 8-row decode kernel and
// one GEMM (gemm.go, nib8_amd64.s).

// bnb4Table is a type's int8 code table (16 entries, repeated for both 128-bit lanes of
// a byte shuffle) and the factor post = float32(1/s) applied to every result.
type bnb4Table struct {
	w    [32]int8
	post float32
}

// newBnb4Table returns round(tab·s) and 1/s.
func newBnb4Table(tab *[16]float32, s float64) *bnb4Table {
	var t bnb4Table
	for c, v := range tab {
		w := int8(math.RoundToEven(float64(v) * s))
		t.w[c], t.w[16+c] = w, w
	}
	t.post = float32(1 / s)
	return &t
}

var (
	nf4Tab = newBnb4Table(&int4.NF4Table, 112.03)
	fp4Tab = newBnb4Table(&int4.FP4Table, 120)
)

// bnb4Split is a bnb4Table as the two int8 byte-shuffle tables hi (at [0:32]) and lo (at
// [32:64]) of W = 128·hi + lo that the arm64 kernels take (hi is zero: W fits in int8).
type bnb4Split [64]int8

// newBnb4Split returns t as a bnb4Split.
func newBnb4Split(t *bnb4Table) *bnb4Split {
	var s bnb4Split
	copy(s[32:], t.w[:])
	return &s
}

var (
	nf4Split = newBnb4Split(nf4Tab)
	fp4Split = newBnb4Split(fp4Tab)
)

func nf4RowsGeneric(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	bnb4RowsGeneric(nf4Tab, 1, w, rowBytes, q, d, y)
}

func fp4RowsGeneric(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	bnb4RowsGeneric(fp4Tab, 1, w, rowBytes, q, d, y)
}

func nf4_64RowsGeneric(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	bnb4RowsGeneric(nf4Tab, 2, w, rowBytes, q, d, y)
}

func fp4_64RowsGeneric(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	bnb4RowsGeneric(fp4Tab, 2, w, rowBytes, q, d, y)
}

// bnb4RowsGeneric is the specification of the NF4/FP4 × q8 kernels (halves = 1) and of
// the NF4_64/FP4_64 ones (halves = 2: blocks of 64 elements, 36 bytes = float32 absmax +
// 32 code bytes). Per 32-element activation block h (half h%halves of weight block
// h/halves), s = Σ_{i<16} W[hi(w_i)]·q_{2i} + W[lo(w_i)]·q_{2i+1} exactly in int32 over
// that half's 16 code bytes, sum += (absmax·d[h])·float32(s) in block order, and
// y[r] = sum·post. A 64-element row thus gives bit for bit the result of the same row
// in the 32-element layout with each absmax repeated for both halves.
func bnb4RowsGeneric(tab *bnb4Table, halves int, w []byte, rowBytes int, q []int8, d []float32, y []float32) {
	nb := len(d)
	bb := 4 + 16*halves
	for r := range y {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var sum float32
		for h := 0; h < nb; h++ {
			blk := row[h/halves*bb : h/halves*bb+bb : h/halves*bb+bb]
			codes := blk[4+16*(h%halves) : 20+16*(h%halves) : 20+16*(h%halves)]
			xq := q[h*qBlock : (h+1)*qBlock : (h+1)*qBlock]
			var s int32
			for i := 0; i < 16; i++ {
				s += int32(tab.w[codes[i]>>4]) * int32(xq[2*i])
				s += int32(tab.w[codes[i]&15]) * int32(xq[2*i+1])
			}
			sum += f32At(blk) * d[h] * float32(s)
		}
		y[r] = sum * tab.post
	}
}

// permBlocks is actPrep's definition for the NF4/FP4 kernels: per block b, the block
// permuted by permuteBnb4 (xp) at dst[64b:64b+32] and its magnitudes |xp| at
// dst[64b+32:64b+64].
func permBlocks(q []int8, dst []byte) {
	eachPrepBlock(q, dst, func(o []byte, x []int8) {
		permuteBnb4(o, x)
		for j := 0; j < 32; j++ {
			o[32+j] = absI8(int8(o[j]))
		}
	})
}

// permuteBnb4 writes the activation block x (32 values) in the order the NF4/FP4 GEMM
// kernels pair with the code bytes (low nibbles first): p[j] = x[2j+1], p[16+j] = x[2j].
func permuteBnb4(p []byte, x []int8) {
	for j := 0; j < 16; j++ {
		p[j] = byte(x[2*j+1])
		p[16+j] = byte(x[2*j])
	}
}
