//go:build !purego

package kernels

// f16RowsAVX2 sets, for r < rows, y[r] = Σ_{i<n} f16(w[r·rowBytes+2i:])·x[i]: eight
// halves converted at a time (VCVTPH2PS) and fused-multiply-added into four
// accumulators over blocks of 32 (acc[k] for elements 32j+8k .. 32j+8k+7), then blocks
// of 8 into acc[0]; the lanes are reduced as
//
//	v := (acc[0]+acc[1]) + (acc[2]+acc[3]) // lane-wise
//	u := v[0:4] + v[4:8]
//	s := (u[0]+u[2]) + (u[1]+u[3])
//
// and the n%8 remaining elements are added to s one by one with fused multiply-adds.
// rows ≥ 1.
//
//go:noescape
func f16RowsAVX2(w *byte, rowBytes, rows int, x *float32, n int, y *float32)

// f16RowsAsm is an F16 rows assembly entry point: f16RowsAVX2, or an AVX-512 one with
// the same signature and results bit for bit (f16RowsAVX512).
type f16RowsAsm func(w *byte, rowBytes, rows int, x *float32, n int, y *float32)

// f16RowsAVX2Go is the AVX2 f16RowsKernel.
func f16RowsAVX2Go(w []byte, rowBytes int, x, y []float32) {
	f16RowsAsm(f16RowsAVX2).run(w, rowBytes, x, y)
}

// run checks the sizes and runs k over the rows (an f16RowsKernel).
func (k f16RowsAsm) run(w []byte, rowBytes int, x, y []float32) {
	n := len(x)
	if len(y) == 0 {
		return
	}
	if n == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+2*n-1]
	k(&w[0], rowBytes, len(y), &x[0], n, &y[0])
}
