package int4

// Q4_1 block (20 bytes, 32 elements): d fp16 | m fp16 | qs u8[16];
// y[j] = (qs[j]&15)*d + m, y[j+16] = (qs[j]>>4)*d + m.
const (
	blockQ4_1Elems = 32
	blockQ4_1Bytes = 20
)

// nibbleValues maps a nibble to its value as float32.
var nibbleValues = [16]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

func dequantQ4_1(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/blockQ4_1Elems; ib++ {
		b := src[ib*blockQ4_1Bytes : (ib+1)*blockQ4_1Bytes : (ib+1)*blockQ4_1Bytes]
		y := dst[ib*blockQ4_1Elems : (ib+1)*blockQ4_1Elems : (ib+1)*blockQ4_1Elems]
		d := F16ToF32(le16(b))
		m := F16ToF32(le16(b[2:]))
		qs := b[4:20:20]
		lo, hi := y[:16:16], y[16:32:32]
		for j := 0; j < 16; j++ {
			// float32(...) rounds the product, forbidding a fused multiply-add.
			lo[j] = float32(float32(qs[j]&15)*d) + m
			hi[j] = float32(float32(qs[j]>>4)*d) + m
		}
	}
}

// quantQ4_1 is ggml's quantize_row_q4_1_ref: d = (max-min)/15, m = min,
// q = MIN(15, (int8)((x-min)*(1/d) + 0.5)).
func quantQ4_1(src []float32, dst []byte) {
	for ib := 0; ib < len(src)/blockQ4_1Elems; ib++ {
		x := src[ib*blockQ4_1Elems : (ib+1)*blockQ4_1Elems : (ib+1)*blockQ4_1Elems]
		b := dst[ib*blockQ4_1Bytes : (ib+1)*blockQ4_1Bytes : (ib+1)*blockQ4_1Bytes]
		min := float32(3.4028234663852886e38)
		max := -min
		for _, v := range x {
			if v < min {
				min = v
			}
			if v > max {
				max = v
			}
		}
		d := (max - min) / 15
		var id float32
		if d != 0 {
			id = 1 / d
		}
		put16(b, F32ToF16(d))
		put16(b[2:], F32ToF16(min))
		qs := b[4:20:20]
		for j := 0; j < 16; j++ {
			x0 := float32((x[j] - min) * id)
			x1 := float32((x[j+16] - min) * id)
			qs[j] = q4Clamp15(x0+0.5) | q4Clamp15(x1+0.5)<<4
		}
	}
}

// dotQ4_1: per block, s0..s3 = Σ q*x and t0..t3 = Σ x over the quarter-blocks of 8
// elements (0-7, 8-15, 16-23, 24-31, each in element order); block value
// d*((s0+s1)+(s2+s3)) + m*((t0+t1)+(t2+t3)).
func dotQ4_1(row []byte, x []float32) float32 {
	var sum float32
	for ib := 0; ib < len(x)/blockQ4_1Elems; ib++ {
		b := row[ib*blockQ4_1Bytes : (ib+1)*blockQ4_1Bytes : (ib+1)*blockQ4_1Bytes]
		xs := x[ib*blockQ4_1Elems : (ib+1)*blockQ4_1Elems : (ib+1)*blockQ4_1Elems]
		d := F16ToF32(le16(b))
		m := F16ToF32(le16(b[2:]))
		qs := b[4:20:20]
		x0, x1, x2, x3 := xs[0:8:8], xs[8:16:16], xs[16:24:24], xs[24:32:32]
		q0, q1 := qs[0:8:8], qs[8:16:16]
		var s0, s1, s2, s3, t0, t1, t2, t3 float32
		for j := 0; j < 8; j++ {
			a, c := q0[j], q1[j]
			s0 += nibbleValues[a&15] * x0[j]
			s1 += nibbleValues[c&15] * x1[j]
			s2 += nibbleValues[a>>4] * x2[j]
			s3 += nibbleValues[c>>4] * x3[j]
			t0 += x0[j]
			t1 += x1[j]
			t2 += x2[j]
			t3 += x3[j]
		}
		sum += d*((s0+s1)+(s2+s3)) + m*((t0+t1)+(t2+t3))
	}
	return sum
}
