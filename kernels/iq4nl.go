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

// ktKernels holds one implementation's kernels for the types of this file group: per
// weight type a one-row kernel and, optionally, a 4-token kernel (nil: the one-row
// kernel per token). A type absent from q is inherited from the implementation
// registered before (registerKT).
type ktKernels struct {
	q   map[int4.Type]ktPair
	f16 f16RowsKernel // F16 weights, float activations (f16.go)
}

// ktPair is a type's one-row kernel, the 4-token kernel that agrees with it bit for bit,
// and the optional prefill GEMM (gemm.go) whose results agree with it bit for bit on
// aligned groups of 8 rows.
//
// A type whose kernels read the activation blocks in a prepared form (actPrep) also has
// prep and rowsP: MatMul and the fused products prepare each token row once, before
// their pool loop, and call rowsP with it; rows is then rowsP behind a preparation of
// its own per call (preparedRows), for the tests and other callers.
type ktPair struct {
	rows  rowsKernel
	rows4 rows4Kernel
	gemm  gemmSpec
	prep  *actPrep
	rowsP rowsPKernel
}

// rowsPKernel is a rowsKernel that also receives the activation row's blocks prepared
// by the type's actPrep (xp, prepBlockBytes a block).
type rowsPKernel func(w []byte, rowBytes int, q []int8, d []float32, c []int32, xp []byte, y []float32)

// prepBlockBytes is the size of one prepared activation block.
const prepBlockBytes = 64

// actPrep is a layout of prepared activation blocks (prepBlockBytes per block of 32
// values): spec is its definition in Go, fill writes the same bytes (spec itself or a
// faster equal version). fill(q, dst) prepares the len(q)/32 blocks of q into dst.
// Types sharing an actPrep share one prepared copy of the activation row.
type actPrep struct {
	spec, fill func(q []int8, dst []byte)
}

// setPrep registers weight type t's kernel rowsP on the activation blocks prepared by
// prep; its one-row kernel becomes preparedRows(prep, rowsP).
func (k *ktKernels) setPrep(t int4.Type, prep *actPrep, rowsP rowsPKernel) {
	k.set(t, preparedRows(prep, rowsP), nil)
	p := k.q[t]
	p.prep, p.rowsP = prep, rowsP
	k.q[t] = p
}

// preparedRows returns the rowsKernel that prepares the activation blocks into a buffer
// it allocates and runs k on them: the same results as MatMul's calls of k, for callers
// that do not prepare the blocks once per token row themselves (tests).
func preparedRows(prep *actPrep, k rowsPKernel) rowsKernel {
	return func(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
		xp := make([]byte, len(d)*prepBlockBytes)
		prep.fill(q[:len(d)*qBlock], xp)
		k(w, rowBytes, q, d, c, xp, y)
	}
}

// eachPrepBlock calls f with each 32-value block x of q and its prepBlockBytes slot o
// of dst: the loop of every actPrep definition.
func eachPrepBlock(q []int8, dst []byte, f func(o []byte, x []int8)) {
	for b := 0; b < len(q)/qBlock; b++ {
		f(dst[b*prepBlockBytes:(b+1)*prepBlockBytes:(b+1)*prepBlockBytes], q[b*qBlock:(b+1)*qBlock])
	}
}

// absBlocks is actPrep's definition for the codebook kernels (IQ4_NL): per block b,
// dst[64b+j] = q[32b+j] and dst[64b+32+j] = |q[32b+j]| for j < 32.
func absBlocks(q []int8, dst []byte) {
	eachPrepBlock(q, dst, func(o []byte, x []int8) {
		for j, v := range x {
			o[j], o[32+j] = byte(v), absI8(v)
		}
	})
}

// absI8 returns |v| as a byte (128 for -128).
func absI8(v int8) byte {
	if v < 0 {
		return byte(-v)
	}
	return byte(v)
}

// set registers the kernels of weight type t.
func (k *ktKernels) set(t int4.Type, rows rowsKernel, rows4 rows4Kernel) {
	if k.q == nil {
		k.q = map[int4.Type]ktPair{}
	}
	k.q[t] = ktPair{rows: rows, rows4: rows4}
}

// setGemm registers the GEMM of weight type t (after its one-row kernel, set).
func (k *ktKernels) setGemm(t int4.Type, g gemmSpec) {
	p := k.q[t]
	p.gemm = g
	k.q[t] = p
}

// ktSpec are the specification kernels the SIMD ones are tested against.
var ktSpec = ktKernels{f16: f16RowsGeneric, q: map[int4.Type]ktPair{
	int4.IQ4_NL: {rows: iq4nlRowsGeneric}, int4.NF4: {rows: nf4RowsGeneric}, int4.FP4: {rows: fp4RowsGeneric},
	int4.Q4_K: {rows: q4kRowsGeneric}, int4.Q6_K: {rows: q6kRowsGeneric},
	int4.NF4_64: {rows: nf4_64RowsGeneric}, int4.FP4_64: {rows: fp4_64RowsGeneric}}}

// genericKT are genericImpl's kernels: only F16's. In plain Go the quantized-activation
// kernels are about 2× slower than the float path (int4.DotRow on the float32
// activations, which is also exact), so where an implementation has no SIMD kernel for
// a type (purego, 32-bit ARM) MatMul keeps taking the float path for it.
var genericKT = ktKernels{f16: f16RowsGeneric}

// rows returns the one-row kernel for t, or nil when t is not one of these types.
func (k *ktKernels) rows(t int4.Type) rowsKernel { return k.q[t].rows }

// rows4 returns the 4-token kernel for t, or nil.
func (k *ktKernels) rows4(t int4.Type) rows4Kernel { return k.q[t].rows4 }

// registerKT fills i.kt: the architecture's kernels for i (archKT, chosen by the
// implementation's name, which fixes its CPU features), and for each type it lacks the
// kernels of prev (a 4-token kernel only ever comes with its one-row kernel, since the
// two must agree bit for bit).
func registerKT(i, prev *impl) {
	archKT(i)
	for t, p := range prev.kt.q {
		if _, ok := i.kt.q[t]; !ok {
			if i.kt.q == nil {
				i.kt.q = map[int4.Type]ktPair{}
			}
			i.kt.q[t] = p // with its GEMM and preparation
		}
	}
	if i.kt.f16 == nil {
		i.kt.f16 = prev.kt.f16
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
	nibbleRowsGeneric(&kvaluesIQ4NL, w, rowBytes, q, d, y)
}

// f32At reads the little-endian float32 at b[0:4].
func f32At(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }
