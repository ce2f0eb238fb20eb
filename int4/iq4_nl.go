package int4

// IQ4_NL block (18 bytes, 32 elements): d fp16 | qs u8[16], nibbles index the
// non-linear table kvaluesIQ4NL; low nibbles are elements 0..15, high nibbles 16..31:
// y[j] = d*T[qs[j]&15], y[j+16] = d*T[qs[j]>>4].
const (
	blockIQ4_NLElems = 32
	blockIQ4_NLBytes = 18
)

// kvaluesIQ4NL is ggml's kvalues_iq4nl table (sorted ascending).
var kvaluesIQ4NL = [16]int8{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

// iq4nlValues is kvaluesIQ4NL as float32.
var iq4nlValues = [16]float32{-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113}

func dequantIQ4_NL(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/blockIQ4_NLElems; ib++ {
		b := src[ib*blockIQ4_NLBytes : (ib+1)*blockIQ4_NLBytes : (ib+1)*blockIQ4_NLBytes]
		y := dst[ib*blockIQ4_NLElems : (ib+1)*blockIQ4_NLElems : (ib+1)*blockIQ4_NLElems]
		d := F16ToF32(le16(b))
		qs := b[2:18:18]
		lo, hi := y[:16:16], y[16:32:32]
		for j := 0; j < 16; j++ {
			lo[j] = d * iq4nlValues[qs[j]&15]
			hi[j] = d * iq4nlValues[qs[j]>>4]
		}
	}
}

// bestIndexIQ4NL is ggml's best_index_int8 over kvaluesIQ4NL: the index of the nearest
// table value (binary search; on an exact midpoint the upper index wins).
func bestIndexIQ4NL(x float32) int {
	val := &iq4nlValues
	if x <= val[0] {
		return 0
	}
	if x >= val[15] {
		return 15
	}
	ml, mu := 0, 15
	for mu-ml > 1 {
		mav := (ml + mu) / 2
		if x < val[mav] {
			mu = mav
		} else {
			ml = mav
		}
	}
	if x-val[mu-1] < val[mu]-x {
		return mu - 1
	}
	return mu
}

// quantIQ4_NL is ggml's quantize_iq4_nl without importance matrix, i.e.
// quantize_row_iq4_nl_impl(super_block_size = block_size = 32, ntry = 7) with weights
// w = x²: a first scale from the largest-magnitude element, a weighted least-squares
// refit, a search over 15 candidate inverse scales (itry-127)/max keeping the best
// weighted fit, then every element re-indexed with the final float scale.
func quantIQ4_NL(src []float32, dst []byte) {
	const ntry = 7
	var weight [32]float32
	var L [32]uint8
	for ib := 0; ib < len(src)/blockIQ4_NLElems; ib++ {
		x := src[ib*blockIQ4_NLElems : (ib+1)*blockIQ4_NLElems : (ib+1)*blockIQ4_NLElems]
		b := dst[ib*blockIQ4_NLBytes : (ib+1)*blockIQ4_NLBytes : (ib+1)*blockIQ4_NLBytes]
		for j, v := range x {
			weight[j] = v * v
		}
		var amax, max float32
		for _, v := range x {
			if a := absf(v); a > amax {
				amax, max = a, v
			}
		}
		var scale float32
		if !(amax < groupMaxEps) {
			d := -max / float32(kvaluesIQ4NL[0])
			id := 1 / d
			var sumqx, sumq2 float32
			for j, v := range x {
				l := bestIndexIQ4NL(float32(id * v))
				L[j] = uint8(l)
				q := iq4nlValues[l]
				w := weight[j]
				sumqx += float32(w * q * v)
				sumq2 += float32(w * q * q)
			}
			d = 0
			if sumq2 > 0 {
				d = sumqx / sumq2
			}
			best := d * sumqx
			for itry := -ntry; itry <= ntry; itry++ {
				id = float32(itry+int(kvaluesIQ4NL[0])) / max
				sumqx, sumq2 = 0, 0
				for j, v := range x {
					q := iq4nlValues[bestIndexIQ4NL(float32(id*v))]
					w := weight[j]
					sumqx += float32(w * q * v)
					sumq2 += float32(w * q * q)
				}
				if sumq2 > 0 && sumqx*sumqx > best*sumq2 {
					d = sumqx / sumq2
					best = d * sumqx
				}
			}
			scale = d
		}
		put16(b, F32ToF16(scale))
		var id float32
		if scale != 0 {
			id = 1 / scale
		}
		for j, v := range x {
			L[j] = uint8(bestIndexIQ4NL(float32(id * v)))
		}
		qs := b[2:18:18]
		for j := 0; j < 16; j++ {
			qs[j] = L[j] | L[j+16]<<4
		}
	}
}

// dotIQ4_NL: per block, four partial sums over the quarter-blocks of 8 elements
// (s0: elements 0-7, s1: 8-15, s2: 16-23, s3: 24-31, each in element order), block value
// d*((s0+s1)+(s2+s3)).
func dotIQ4_NL(row []byte, x []float32) float32 {
	var sum float32
	for ib := 0; ib < len(x)/blockIQ4_NLElems; ib++ {
		b := row[ib*blockIQ4_NLBytes : (ib+1)*blockIQ4_NLBytes : (ib+1)*blockIQ4_NLBytes]
		xs := x[ib*blockIQ4_NLElems : (ib+1)*blockIQ4_NLElems : (ib+1)*blockIQ4_NLElems]
		d := F16ToF32(le16(b))
		qs := b[2:18:18]
		x0, x1, x2, x3 := xs[0:8:8], xs[8:16:16], xs[16:24:24], xs[24:32:32]
		q0, q1 := qs[0:8:8], qs[8:16:16]
		var s0, s1, s2, s3 float32
		for j := 0; j < 8; j++ {
			a, c := q0[j], q1[j]
			s0 += iq4nlValues[a&15] * x0[j]
			s1 += iq4nlValues[c&15] * x1[j]
			s2 += iq4nlValues[a>>4] * x2[j]
			s3 += iq4nlValues[c>>4] * x3[j]
		}
		sum += d * ((s0 + s1) + (s2 + s3))
	}
	return sum
}
