package int4

// Q4_0 block (18 bytes, 32 elements): d fp16 | qs u8[16]. Low nibbles hold elements
// 0..15, high nibbles elements 16..31: y[j] = ((qs[j]&15)-8)*d, y[j+16] = ((qs[j]>>4)-8)*d.
const (
	blockQ4_0Elems = 32
	blockQ4_0Bytes = 18
)

// q4_0Values maps a Q4_0 nibble to its signed level (nibble-8) as float32.
var q4_0Values = [16]float32{-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7}

func dequantQ4_0(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/blockQ4_0Elems; ib++ {
		b := src[ib*blockQ4_0Bytes : (ib+1)*blockQ4_0Bytes : (ib+1)*blockQ4_0Bytes]
		y := dst[ib*blockQ4_0Elems : (ib+1)*blockQ4_0Elems : (ib+1)*blockQ4_0Elems]
		d := F16ToF32(le16(b))
		qs := b[2:18:18]
		lo, hi := y[:16:16], y[16:32:32]
		for j := 0; j < 16; j++ {
			lo[j] = float32(int32(qs[j]&15)-8) * d
			hi[j] = float32(int32(qs[j]>>4)-8) * d
		}
	}
}

// quantQ4_0 is ggml's quantize_row_q4_0_ref: max = the element of largest magnitude
// (first one on ties), d = max/-8, q = MIN(15, (int8)(x*(1/d) + 8.5)).
func quantQ4_0(src []float32, dst []byte) {
	for ib := 0; ib < len(src)/blockQ4_0Elems; ib++ {
		x := src[ib*blockQ4_0Elems : (ib+1)*blockQ4_0Elems : (ib+1)*blockQ4_0Elems]
		b := dst[ib*blockQ4_0Bytes : (ib+1)*blockQ4_0Bytes : (ib+1)*blockQ4_0Bytes]
		var amax, max float32
		for _, v := range x {
			if a := absf(v); amax < a {
				amax, max = a, v
			}
		}
		d := max / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(b, F32ToF16(d))
		qs := b[2:18:18]
		for j := 0; j < 16; j++ {
			x0 := float32(x[j] * id)
			x1 := float32(x[j+16] * id)
			qs[j] = q4Clamp15(x0+8.5) | q4Clamp15(x1+8.5)<<4
		}
	}
}

// q4Clamp15 is C's MIN(15, (int8_t)v) stored in a uint8: truncation toward zero (via a
// 32-bit conversion, as x86 compilers do), wrap to int8, then clamp to 15.
func q4Clamp15(v float32) uint8 {
	i := int8(int32(v))
	if i > 15 {
		i = 15
	}
	return uint8(i)
}

// dotQ4_0: per block, four partial sums over the quarter-blocks of 8 elements
// (s0: elements 0-7, s1: 8-15, s2: 16-23, s3: 24-31, each in element order), block value
// d*((s0+s1)+(s2+s3)).
func dotQ4_0(row []byte, x []float32) float32 {
	var sum float32
	for ib := 0; ib < len(x)/blockQ4_0Elems; ib++ {
		b := row[ib*blockQ4_0Bytes : (ib+1)*blockQ4_0Bytes : (ib+1)*blockQ4_0Bytes]
		xs := x[ib*blockQ4_0Elems : (ib+1)*blockQ4_0Elems : (ib+1)*blockQ4_0Elems]
		d := F16ToF32(le16(b))
		qs := b[2:18:18]
		x0, x1, x2, x3 := xs[0:8:8], xs[8:16:16], xs[16:24:24], xs[24:32:32]
		q0, q1 := qs[0:8:8], qs[8:16:16]
		var s0, s1, s2, s3 float32
		for j := 0; j < 8; j++ {
			a, c := q0[j], q1[j]
			s0 += q4_0Values[a&15] * x0[j]
			s1 += q4_0Values[c&15] * x1[j]
			s2 += q4_0Values[a>>4] * x2[j]
			s3 += q4_0Values[c>>4] * x3[j]
		}
		sum += d * ((s0 + s1) + (s2 + s3))
	}
	return sum
}
