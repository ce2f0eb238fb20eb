package int4

// Q6_K super-block (210 bytes, 256 elements = 16 sub-blocks of 16):
// ql u8[128] (low 4 bits) | qh u8[64] (high 2 bits) | scales int8[16] | d fp16 (last).
// Half h (128 elements) uses ql[64h:], qh[32h:], scales[8h:]; for l in 0..31 with
// is = l/16 the four 6-bit values of qh[l]'s bit pairs go to y[l], y[l+32], y[l+64],
// y[l+96] with scales is, is+2, is+4, is+6; y = d*sc*(q-32).
const (
	blockQ6_KElems = 256
	blockQ6_KBytes = 210
)

func dequantQ6_K(src []byte, dst []float32) {
	for ib := 0; ib < len(dst)/blockQ6_KElems; ib++ {
		b := src[ib*blockQ6_KBytes : (ib+1)*blockQ6_KBytes : (ib+1)*blockQ6_KBytes]
		y := dst[ib*blockQ6_KElems : (ib+1)*blockQ6_KElems : (ib+1)*blockQ6_KElems]
		d := F16ToF32(le16(b[208:]))
		for h := 0; h < 2; h++ {
			ql := b[64*h : 64*h+64 : 64*h+64]
			qh := b[128+32*h : 128+32*h+32 : 128+32*h+32]
			sc := b[192+8*h : 192+8*h+8 : 192+8*h+8]
			yh := y[128*h : 128*h+128 : 128*h+128]
			for l := 0; l < 32; l++ {
				is := l / 16
				q1 := int32(ql[l]&0xf|(qh[l]>>0&3)<<4) - 32
				q2 := int32(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
				q3 := int32(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|(qh[l]>>6&3)<<4) - 32
				yh[l] = d * float32(int8(sc[is])) * float32(q1)
				yh[l+32] = d * float32(int8(sc[is+2])) * float32(q2)
				yh[l+64] = d * float32(int8(sc[is+4])) * float32(q3)
				yh[l+96] = d * float32(int8(sc[is+6])) * float32(q4)
			}
		}
	}
}

// quantQ6_K is ggml's quantize_row_q6_K_ref: per 16-element sub-block make_qx_quants
// (nmax 32, rmse_type 1); the sub-block scales are quantized to int8 against the one of
// largest magnitude (d = max_scale/-128); then every element is re-quantized with the
// fp16-rounded d*sc, clamped to [-32, 31].
func quantQ6_K(src []float32, dst []byte) {
	var L [256]int8
	var scales [16]float32
	for ib := 0; ib < len(src)/blockQ6_KElems; ib++ {
		x := src[ib*blockQ6_KElems : (ib+1)*blockQ6_KElems : (ib+1)*blockQ6_KElems]
		b := dst[ib*blockQ6_KBytes : (ib+1)*blockQ6_KBytes : (ib+1)*blockQ6_KBytes]
		var maxScale, maxAbsScale float32
		for j := 0; j < 16; j++ {
			scale := makeQXQuants(32, x[16*j:16*j+16], L[16*j:16*j+16])
			scales[j] = scale
			if a := absf(scale); a > maxAbsScale {
				maxAbsScale, maxScale = a, scale
			}
		}
		if maxAbsScale < groupMaxEps {
			clear(b)
			continue
		}
		iscale := -128 / maxScale
		dh := F32ToF16(1 / iscale)
		put16(b[208:], dh)
		sc := b[192:208:208]
		for j := 0; j < 16; j++ {
			sc[j] = byte(int8(min(127, nearestInt(float32(iscale*scales[j])))))
		}
		df := F16ToF32(dh)
		for j := 0; j < 16; j++ {
			d := df * float32(int8(sc[j]))
			if d == 0 {
				continue
			}
			for i := 16 * j; i < 16*j+16; i++ {
				L[i] = int8(max(-32, min(31, nearestInt(x[i]/d))) + 32)
			}
		}
		for h := 0; h < 2; h++ {
			ql := b[64*h : 64*h+64 : 64*h+64]
			qh := b[128+32*h : 128+32*h+32 : 128+32*h+32]
			Lh := L[128*h : 128*h+128 : 128*h+128]
			for l := 0; l < 32; l++ {
				l1, l2, l3, l4 := uint8(Lh[l]), uint8(Lh[l+32]), uint8(Lh[l+64]), uint8(Lh[l+96])
				ql[l] = l1&0xf | (l3&0xf)<<4
				ql[l+32] = l2&0xf | (l4&0xf)<<4
				qh[l] = l1>>4 | (l2>>4)<<2 | (l3>>4)<<4 | (l4>>4)<<6
			}
		}
	}
}

// dotQ6_K: per 16-element sub-block k, s_k = Σ (q-32)*x in element order; the
// super-block value is Σ_k d*sc_k*s_k, added in the order h, is, then sub-blocks
// is, is+2, is+4, is+6 (i.e. k = 8h+is, 8h+is+2, 8h+is+4, 8h+is+6).
func dotQ6_K(row []byte, x []float32) float32 {
	var sum float32
	for ib := 0; ib < len(x)/blockQ6_KElems; ib++ {
		b := row[ib*blockQ6_KBytes : (ib+1)*blockQ6_KBytes : (ib+1)*blockQ6_KBytes]
		xb := x[ib*blockQ6_KElems : (ib+1)*blockQ6_KElems : (ib+1)*blockQ6_KElems]
		d := F16ToF32(le16(b[208:]))
		var bsum float32
		for h := 0; h < 2; h++ {
			sc := b[192+8*h : 192+8*h+8 : 192+8*h+8]
			for is := 0; is < 2; is++ {
				ql := b[64*h+16*is : 64*h+16*is+48 : 64*h+16*is+48]
				qh := b[128+32*h+16*is : 128+32*h+16*is+16 : 128+32*h+16*is+16]
				xs := xb[128*h+16*is : 128*h+16*is+112 : 128*h+16*is+112]
				var s1, s2, s3, s4 float32
				for l := 0; l < 16; l++ {
					a, c, hb := ql[l], ql[l+32], qh[l]
					s1 += float32(int32(a&0xf|(hb&3)<<4)-32) * xs[l]
					s2 += float32(int32(c&0xf|(hb>>2&3)<<4)-32) * xs[l+32]
					s3 += float32(int32(a>>4|(hb>>4&3)<<4)-32) * xs[l+64]
					s4 += float32(int32(c>>4|(hb>>6&3)<<4)-32) * xs[l+96]
				}
				bsum += d * float32(int8(sc[is])) * s1
				bsum += d * float32(int8(sc[is+2])) * s2
				bsum += d * float32(int8(sc[is+4])) * s3
				bsum += d * float32(int8(sc[is+6])) * s4
			}
		}
		sum += bsum
	}
	return sum
}
