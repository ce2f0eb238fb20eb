package int4

// Q4_K super-block (144 bytes, 256 elements = 8 sub-blocks of 32):
// d fp16 | dmin fp16 | scales u8[12] (8 packed 6-bit scales and 8 6-bit mins) | qs u8[128].
// Chunk c (64 elements) uses qs[32c:32c+32]: low nibbles are sub-block 2c, high nibbles
// sub-block 2c+1; y = d*sc*q - dmin*m.
const (
	blockQ4_KElems = 256
	blockQ4_KBytes = 144
)

// scaleMinK4 is ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j.
func scaleMinK4(j int, s []byte) (sc, m uint8) {
	s = s[:12:12]
	if j < 4 {
		return s[j] & 63, s[j+4] & 63
	}
	return s[j+4]&0xf | (s[j-4]>>6)<<4, s[j+4]>>4 | (s[j]>>6)<<4
}

func dequantQ4_K(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/blockQ4_KElems; ib++ {
		b := src[ib*blockQ4_KBytes : (ib+1)*blockQ4_KBytes : (ib+1)*blockQ4_KBytes]
		y := dst[ib*blockQ4_KElems : (ib+1)*blockQ4_KElems : (ib+1)*blockQ4_KElems]
		d := F16ToF32(le16(b))
		min := F16ToF32(le16(b[2:]))
		scales := b[4:16:16]
		for c := 0; c < 4; c++ {
			sc, m := scaleMinK4(2*c, scales)
			d1, m1 := d*float32(sc), min*float32(m)
			sc, m = scaleMinK4(2*c+1, scales)
			d2, m2 := d*float32(sc), min*float32(m)
			q := b[16+32*c : 16+32*c+32 : 16+32*c+32]
			y1 := y[64*c : 64*c+32 : 64*c+32]
			y2 := y[64*c+32 : 64*c+64 : 64*c+64]
			for l := 0; l < 32; l++ {
				y1[l] = float32(d1*float32(q[l]&0xf)) - m1
				y2[l] = float32(d2*float32(q[l]>>4)) - m2
			}
		}
	}
}

// quantQ4_K is ggml's quantize_row_q4_K_ref: per sub-block make_qkx2_quants(nmax 15,
// weights av_x+|x|, rmin -1, rdelta 0.1, 20 steps); scales and mins quantized to 6 bits
// against their maxima (d = max_scale/63, dmin = max_min/63); then every element is
// re-quantized with the fp16-rounded d*sc and dmin*m.
func quantQ4_K(src []float32, dst []byte) {
	var L [256]uint8
	var Laux [32]uint8
	var weights [32]float32
	var mins, scales [8]float32
	for ib := 0; ib < len(src)/blockQ4_KElems; ib++ {
		x := src[ib*blockQ4_KElems : (ib+1)*blockQ4_KElems : (ib+1)*blockQ4_KElems]
		b := dst[ib*blockQ4_KBytes : (ib+1)*blockQ4_KBytes : (ib+1)*blockQ4_KBytes]
		var maxScale, maxMin float32
		for j := 0; j < 8; j++ {
			xs := x[32*j : 32*j+32 : 32*j+32]
			var sumX2 float32
			for _, v := range xs {
				sumX2 += float32(v * v)
			}
			avX := sqrtf(sumX2 / 32)
			for l, v := range xs {
				weights[l] = avX + absf(v)
			}
			scales[j], mins[j] = makeQKX2Quants(15, xs, weights[:], L[32*j:32*j+32], Laux[:], -1, 0.1, 20)
			if scales[j] > maxScale {
				maxScale = scales[j]
			}
			if mins[j] > maxMin {
				maxMin = mins[j]
			}
		}
		var invScale, invMin float32
		if maxScale > 0 {
			invScale = 63 / maxScale
		}
		if maxMin > 0 {
			invMin = 63 / maxMin
		}
		s := b[4:16:16]
		for j := 0; j < 8; j++ {
			ls := uint8(nearestInt(float32(invScale * scales[j])))
			lm := uint8(nearestInt(float32(invMin * mins[j])))
			ls = min(63, ls)
			lm = min(63, lm)
			if j < 4 {
				s[j] = ls
				s[j+4] = lm
			} else {
				s[j+4] = ls&0xf | (lm&0xf)<<4
				s[j-4] |= (ls >> 4) << 6
				s[j] |= (lm >> 4) << 6
			}
		}
		dh, mh := F32ToF16(maxScale/63), F32ToF16(maxMin/63)
		put16(b, dh)
		put16(b[2:], mh)
		df, mf := F16ToF32(dh), F16ToF32(mh)
		for j := 0; j < 8; j++ {
			sc, m := scaleMinK4(j, s)
			d := df * float32(sc)
			if d == 0 {
				continue
			}
			dm := mf * float32(m)
			xs := x[32*j : 32*j+32 : 32*j+32]
			Lj := L[32*j : 32*j+32 : 32*j+32]
			for i, v := range xs {
				Lj[i] = uint8(max(0, min(15, nearestInt((v+dm)/d))))
			}
		}
		q := b[16:144:144]
		for c := 0; c < 4; c++ {
			for l := 0; l < 32; l++ {
				q[32*c+l] = L[64*c+l] | L[64*c+l+32]<<4
			}
		}
	}
}

// dotQ4_K: per sub-block k (32 elements) sq_k = Σ q*x and sx_k = Σ x, each the sum of
// two partial sums over its halves of 16 elements (first + second, each in element
// order); the super-block value is Σ_k (d*sc_k*sq_k - dmin*m_k*sx_k), added in k order.
func dotQ4_K(row []byte, x []float32) float32 {
	var sum float32
	for ib := 0; ib < len(x)/blockQ4_KElems; ib++ {
		b := row[ib*blockQ4_KBytes : (ib+1)*blockQ4_KBytes : (ib+1)*blockQ4_KBytes]
		xb := x[ib*blockQ4_KElems : (ib+1)*blockQ4_KElems : (ib+1)*blockQ4_KElems]
		d := F16ToF32(le16(b))
		min := F16ToF32(le16(b[2:]))
		scales := b[4:16:16]
		var bsum float32
		for c := 0; c < 4; c++ {
			q := b[16+32*c : 16+32*c+32 : 16+32*c+32]
			x1 := xb[64*c : 64*c+32 : 64*c+32]
			x2 := xb[64*c+32 : 64*c+64 : 64*c+64]
			qa, qb := q[0:16:16], q[16:32:32]
			x1a, x1b, x2a, x2b := x1[0:16:16], x1[16:32:32], x2[0:16:16], x2[16:32:32]
			var sq1a, sq1b, sx1a, sx1b, sq2a, sq2b, sx2a, sx2b float32
			for l := 0; l < 16; l++ {
				a, c := qa[l], qb[l]
				sq1a += nibbleValues[a&15] * x1a[l]
				sq1b += nibbleValues[c&15] * x1b[l]
				sx1a += x1a[l]
				sx1b += x1b[l]
				sq2a += nibbleValues[a>>4] * x2a[l]
				sq2b += nibbleValues[c>>4] * x2b[l]
				sx2a += x2a[l]
				sx2b += x2b[l]
			}
			sq1, sx1, sq2, sx2 := sq1a+sq1b, sx1a+sx1b, sq2a+sq2b, sx2a+sx2b
			sc, m := scaleMinK4(2*c, scales)
			bsum += d*float32(sc)*sq1 - min*float32(m)*sx1
			sc, m = scaleMinK4(2*c+1, scales)
			bsum += d*float32(sc)*sq2 - min*float32(m)*sx2
		}
		sum += bsum
	}
	return sum
}
