package int4

import "math"

// Helpers shared by the k-quant encoders, transcribed operation by operation from ggml's
// ggml-quants.c so the results are bit-identical. Every product that feeds an addition is
// wrapped in an explicit float32 conversion, which the Go spec defines as a rounding
// point: the compiler may then not fuse it into an FMA (ggml's reference build does not).

// groupMaxEps is ggml's GROUP_MAX_EPS: groups whose largest magnitude is below it are zero.
const groupMaxEps = float32(1e-15)

// nearestInt is ggml's nearest_int: round to nearest, ties to even, via the 1.5*2^23
// magic-number trick (valid for |f| <= 4194303; other inputs give garbage, never a panic).
func nearestInt(f float32) int {
	val := f + 12582912
	i := int32(math.Float32bits(val))
	return int((i & 0x007fffff) - 0x00400000)
}

func sqrtf(f float32) float32 { return float32(math.Sqrt(float64(f))) }

// makeQXQuants is ggml's make_qx_quants with rmse_type 1 and no quant weights (w = x²):
// symmetric levels L in [0, 2*nmax) (L-nmax is the signed level), searching 19 candidate
// scales around -nmax/max for the best weighted least-squares fit. It returns the scale.
func makeQXQuants(nmax int, x []float32, L []int8) float32 {
	L = L[:len(x)]
	var max, amax float32
	for _, v := range x {
		if ax := absf(v); ax > amax {
			amax, max = ax, v
		}
	}
	if amax < groupMaxEps {
		for i := range L {
			L[i] = 0
		}
		return 0
	}
	clamp := func(l int) int {
		if l > nmax-1 {
			l = nmax - 1
		}
		if l < -nmax {
			l = -nmax
		}
		return l
	}
	iscale := float32(-nmax) / max
	var sumlx, suml2 float32
	for i, v := range x {
		l := clamp(nearestInt(float32(iscale * v)))
		L[i] = int8(l + nmax)
		w := float32(v * v)
		fl := float32(l)
		sumlx += float32(w * v * fl)
		suml2 += float32(w * fl * fl)
	}
	var scale float32
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(float32(nmax) + float32(0.1*float32(is))) / max
		sumlx, suml2 = 0, 0
		for _, v := range x {
			fl := float32(clamp(nearestInt(float32(iscale * v))))
			w := float32(v * v)
			sumlx += float32(w * v * fl)
			suml2 += float32(w * fl * fl)
		}
		if suml2 > 0 && sumlx*sumlx > best*suml2 {
			for i, v := range x {
				L[i] = int8(nmax + clamp(nearestInt(float32(iscale*v))))
			}
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

// makeQKX2Quants is ggml's make_qkx2_quants with use_mad = false: asymmetric levels L in
// [0, nmax] with x ≈ scale*L - theMin, starting from the min/max fit and trying nstep+1
// inverse scales (rmin + rdelta*is + nmax)/(max-min), each refit by weighted least
// squares, keeping the lowest weighted squared error. It returns scale and theMin (>= 0).
func makeQKX2Quants(nmax int, x, weights []float32, L, Laux []uint8, rmin, rdelta float32, nstep int) (scale, theMin float32) {
	n := len(x)
	weights = weights[:n]
	L = L[:n]
	Laux = Laux[:n]
	min, max := x[0], x[0]
	sumW := weights[0]
	sumX := float32(sumW * x[0])
	for i := 1; i < n; i++ {
		if x[i] < min {
			min = x[i]
		}
		if x[i] > max {
			max = x[i]
		}
		w := weights[i]
		sumW += w
		sumX += float32(w * x[i])
	}
	if min > 0 {
		min = 0
	}
	if max == min {
		for i := range L {
			L[i] = 0
		}
		return 0, -min
	}
	clamp := func(l int) int {
		if l > nmax {
			l = nmax
		}
		if l < 0 {
			l = 0
		}
		return l
	}
	iscale := float32(nmax) / (max - min)
	scale = 1 / iscale
	var bestError float32
	for i, v := range x {
		l := clamp(nearestInt(float32(iscale * (v - min))))
		L[i] = uint8(l)
		diff := float32(float32(scale*float32(l))+min) - v
		diff = float32(diff * diff)
		bestError += float32(weights[i] * diff)
	}
	if nstep < 1 {
		return scale, -min
	}
	for is := 0; is <= nstep; is++ {
		iscale = (float32(rmin+float32(rdelta*float32(is))) + float32(nmax)) / (max - min)
		var sumL, sumL2, sumXL float32
		for i, v := range x {
			l := clamp(nearestInt(float32(iscale * (v - min))))
			Laux[i] = uint8(l)
			w := weights[i]
			fl := float32(l)
			sumL += float32(w * fl)
			sumL2 += float32(w * fl * fl)
			sumXL += float32(w * fl * v)
		}
		D := float32(sumW*sumL2) - float32(sumL*sumL)
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - float32(sumX*sumL)) / D
			thisMin := (float32(sumL2*sumX) - float32(sumL*sumXL)) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			var curError float32
			for i, v := range x {
				diff := float32(float32(thisScale*float32(Laux[i]))+thisMin) - v
				diff = float32(diff * diff)
				curError += float32(weights[i] * diff)
			}
			if curError < bestError {
				copy(L, Laux)
				bestError = curError
				scale = thisScale
				min = thisMin
			}
		}
	}
	return scale, -min
}
