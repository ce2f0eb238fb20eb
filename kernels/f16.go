package kernels

import "github.com/edgerun/edgerun/int4"

// F16 weights: float kernels on the unquantized float32 activations (no activation
// rounding); the SIMD versions convert eight halves at a time (VCVTPH2PS, FCVTL) and
// differ from the generic one only in the order of the float32 sums.

// f16RowsKernel sets y[r] = Σ_{i<len(x)} f16(w[r·rowBytes+2i:]) · x[i] for r < len(y).
type f16RowsKernel func(w []byte, rowBytes int, x, y []float32)

// f16RowsGeneric is the specification of f16RowsKernel: int4.DotRow's F16 product per
// row (four float32 lanes, table conversion), the path F16 weights took before.
func f16RowsGeneric(w []byte, rowBytes int, x, y []float32) {
	n := len(x)
	for r := range y {
		y[r] = int4.DotRow(int4.F16, w[r*rowBytes:r*rowBytes+2*n], x)
	}
}
