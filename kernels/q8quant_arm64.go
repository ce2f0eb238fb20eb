//go:build !purego

package kernels

// q8QuantNEON is q8QuantGeneric for nb ≥ 1 blocks (x: 32·nb floats, q: 32·nb, d: nb,
// c: 8·nb), bit for bit: per block the same float32 operations (maximum of |x|,
// d = amax/127, id = 1/d or 0 when that is not finite, t = x·id rounded, then t ± 0.5 by
// the sign of t, truncated), and the lane sums times 8 from the int32 values before
// narrowing. 87 instructions per block of 32 (the Go version runs on the caller's
// thread before every quantized MatMul, prefill included).
//
//go:noescape
func q8QuantNEON(x *float32, q *int8, d *float32, c *int32, nb int)

func q8QuantNEONGo(x []float32, q []int8, d []float32, c []int32) {
	nb := len(d)
	if nb == 0 {
		return
	}
	_ = x[nb*qBlock-1]
	_ = q[nb*qBlock-1]
	_ = c[nb*8-1]
	q8QuantNEON(&x[0], &q[0], &d[0], &c[0], nb)
}
