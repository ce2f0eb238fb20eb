package kernels

// Float32 kernels: dot product, axpy and the rows kernel behind the F32 MatVec/MatMul
// path (F32 weights, the LoRA factors, F32 output layers). The generic versions below
// are the specification; SIMD versions change only the order of the float32 sums (and
// fuse multiply-adds), so they agree within rounding, not bit for bit.

// f32RowsKernel sets y[r] = dot(w[r·stride : r·stride+len(x)], x) for r < len(y),
// each exactly as the implementation's dotF32 computes it.
type f32RowsKernel func(w []float32, stride int, x, y []float32)

// dotF32Generic sums in four float32 lanes (element i into lane i%4, the tail into
// lane 0), then returns (s0+s1)+(s2+s3).
func dotF32Generic(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpyF32Generic writes dst[i] += a * x[i].
func axpyF32Generic(dst []float32, a float32, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += a * x[i]
	}
}

// f32RowsGeneric is the specification of f32RowsKernel.
func f32RowsGeneric(w []float32, stride int, x, y []float32) {
	for r := range y {
		y[r] = dotF32Generic(w[r*stride:r*stride+len(x)], x)
	}
}

// DotRowsF32 sets y[r] = DotF32(w[r·stride : r·stride+len(x)], x) for r < len(y), in one
// call of the active implementation's rows kernel (short rows, such as the rank-sized
// rows of a LoRA B factor, cost little more than their multiply-adds).
func DotRowsF32(w []float32, stride int, x, y []float32) {
	if len(y) == 0 {
		return
	}
	if len(x) > 0 {
		_ = w[(len(y)-1)*stride+len(x)-1]
	}
	active.f32Rows(w, stride, x, y)
}
