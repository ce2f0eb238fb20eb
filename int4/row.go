package int4

import (
	"fmt"
	"math"
)

// DequantizeRow decodes len(dst) elements of type t from src into dst. len(dst) must be a
// multiple of t's block size and src must be exactly RowBytes(t, len(dst)) bytes, else
// the error wraps ErrBadLength; an unsupported t gives ErrUnsupportedType.
//
// The results are bit-identical to ggml's dequantize_row_* (and ggml_fp16_to_fp32_row,
// ggml_bf16_to_fp32_row): block scales are converted from fp16 to float32 first and the
// same float32 operations are applied in the same order, with no fused multiply-add.
func DequantizeRow(t Type, src []byte, dst []float32) error {
	if err := checkRow(t, len(dst), len(src), "src"); err != nil {
		return err
	}
	switch t {
	case F32:
		dequantF32(src, dst)
	case F16:
		dequantF16(src, dst)
	case BF16:
		dequantBF16(src, dst)
	case Q8_0:
		dequantQ8_0(src, dst)
	case Q4_0:
		dequantQ4_0(src, dst)
	case Q4_1:
		dequantQ4_1(src, dst)
	case Q4_K:
		dequantQ4_K(src, dst)
	case Q6_K:
		dequantQ6_K(src, dst)
	case IQ4_NL:
		dequantIQ4_NL(src, dst)
	case NF4, FP4, NF4_64, FP4_64:
		be, bb := bnb4Shape(t)
		dequantBnb4(Bnb4Table(t), be, bb, src, dst)
	}
	return nil
}

// QuantizeRow encodes the len(src) elements of src as type t into dst. len(src) must be a
// multiple of t's block size and dst must be exactly RowBytes(t, len(src)) bytes, else
// the error wraps ErrBadLength; an unsupported t gives ErrUnsupportedType.
//
// The encoders follow ggml's reference quantizers without an importance matrix (what
// llama-quantize does when given no imatrix), so llama.cpp reads the blocks identically:
//
//   - F32: copy. F16: round to nearest even (F32ToF16). BF16: GGML_FP32_TO_BF16 (F32ToBF16).
//   - Q8_0, Q4_0, Q4_1: quantize_row_q8_0_ref / q4_0_ref / q4_1_ref, bit-exact.
//   - Q4_K: quantize_row_q4_K_ref (make_qkx2_quants per 32-element sub-block, 6-bit
//     scales and mins), bit-exact.
//   - Q6_K: quantize_row_q6_K_ref (make_qx_quants with rmse_type 1 per 16-element
//     sub-block, int8 scales), bit-exact.
//   - IQ4_NL: quantize_iq4_nl without imatrix (quantize_row_iq4_nl_impl with ntry = 7 and
//     weights x², the path llama-quantize takes), bit-exact. Note that ggml's
//     quantize_row_iq4_nl_ref uses ntry = -1 (no scale search) and gives slightly
//     different, worse blocks.
//   - NF4, FP4, NF4_64, FP4_64: bitsandbytes' blockwise 4-bit algorithm with blocksize
//     32 (NF4, FP4) or 64 (NF4_64, FP4_64), as QuantizeBnb4 without double quantization.
//
// "Bit-exact" means the same float32 operations in the same order as ggml's C code
// compiled without FMA contraction (ggml-base on x86-64); it was checked against
// libggml-base.so (ggml_quantize_chunk) on random rows.
func QuantizeRow(t Type, src []float32, dst []byte) error {
	if err := checkRow(t, len(src), len(dst), "dst"); err != nil {
		return err
	}
	switch t {
	case F32:
		quantF32(src, dst)
	case F16:
		quantF16(src, dst)
	case BF16:
		quantBF16(src, dst)
	case Q8_0:
		quantQ8_0(src, dst)
	case Q4_0:
		quantQ4_0(src, dst)
	case Q4_1:
		quantQ4_1(src, dst)
	case Q4_K:
		quantQ4_K(src, dst)
	case Q6_K:
		quantQ6_K(src, dst)
	case IQ4_NL:
		quantIQ4_NL(src, dst)
	case NF4, FP4, NF4_64, FP4_64:
		be, bb := bnb4Shape(t)
		quantBnb4(Bnb4Table(t), be, bb, src, dst)
	}
	return nil
}

// DotRow returns the dot product of one encoded row of type t with x (len(x) elements),
// decoding block by block without materialising the row. It is the generic matrix-vector
// kernel every optimised kernel is tested against.
//
// Order of operations: each block's partial sums are accumulated in float32 (the
// per-type order is documented on the dot* functions), scaled by the block's scales,
// and the block results are added, in block order, into one float32 total. For the
// float types (F32, F16, BF16) the block is one element and elements are accumulated
// into four float32 partial sums by index mod 4, combined as (s0+s1)+(s2+s3). The result
// equals the dot product of DequantizeRow's output with x up to float32 rounding.
//
// DotRow does not allocate. If t is unsupported or len(row) != RowBytes(t, len(x)) it
// returns NaN (it never panics); validate shapes once with RowBytes beforehand.
func DotRow(t Type, row []byte, x []float32) float32 {
	if checkRow(t, len(x), len(row), "row") != nil {
		return float32(math.NaN())
	}
	switch t {
	case F32:
		return dotF32(row, x)
	case F16:
		return dotF16(row, x)
	case BF16:
		return dotBF16(row, x)
	case Q8_0:
		return dotQ8_0(row, x)
	case Q4_0:
		return dotQ4_0(row, x)
	case Q4_1:
		return dotQ4_1(row, x)
	case Q4_K:
		return dotQ4_K(row, x)
	case Q6_K:
		return dotQ6_K(row, x)
	case IQ4_NL:
		return dotIQ4_NL(row, x)
	case NF4, FP4, NF4_64, FP4_64:
		be, bb := bnb4Shape(t)
		return dotBnb4(Bnb4Table(t), be, bb, row, x)
	}
	return float32(math.NaN())
}

// blockShape returns the block size in elements and bytes of a supported type, without
// a map lookup (the hot path); ok is false for unsupported types.
func blockShape(t Type) (elems, bytes int, ok bool) {
	switch t {
	case F32:
		return 1, 4, true
	case F16, BF16:
		return 1, 2, true
	case Q8_0:
		return blockQ8_0Elems, blockQ8_0Bytes, true
	case Q4_0:
		return blockQ4_0Elems, blockQ4_0Bytes, true
	case Q4_1:
		return blockQ4_1Elems, blockQ4_1Bytes, true
	case Q4_K:
		return blockQ4_KElems, blockQ4_KBytes, true
	case Q6_K:
		return blockQ6_KElems, blockQ6_KBytes, true
	case IQ4_NL:
		return blockIQ4_NLElems, blockIQ4_NLBytes, true
	case NF4, FP4:
		return blockBnb4Elems, blockBnb4Bytes, true
	case NF4_64, FP4_64:
		return blockBnb4_64Elem, blockBnb4_64Byte, true
	}
	return 0, 0, false
}

// checkRow verifies that n elements of t fit exactly in nbytes bytes of the buffer named
// what.
func checkRow(t Type, n, nbytes int, what string) error {
	be, bb, ok := blockShape(t)
	if !ok {
		return fmt.Errorf("int4: %v: %w", t, ErrUnsupportedType)
	}
	if n%be != 0 {
		return fmt.Errorf("int4: %v: %d elements is not a multiple of the block size %d: %w", t, n, be, ErrBadLength)
	}
	if want := n / be * bb; nbytes != want {
		return fmt.Errorf("int4: %v: %s is %d bytes, want %d for %d elements: %w", t, what, nbytes, want, n, ErrBadLength)
	}
	return nil
}
