//go:build !purego

package kernels

import "github.com/edgerun/edgerun/int4"

// f16RowsNEON computes, for r < rows, with row = w[r·rowBytes:] and m = n &^ 3, four
// float32 lanes per row into acc[4r:4r+4]:
//
//	var a [4][4]float32
//	for i := 0; i+16 <= m; i += 16 { // then blocks of 4 into a[0]
//		for k := 0; k < 4; k++ {
//			for l := 0; l < 4; l++ {
//				a[k][l] += f16(row[2(i+4k+l):])·x[i+4k+l] // fused multiply-add
//			}
//		}
//	}
//	acc[4r+l] = (a[0][l]+a[1][l]) + (a[2][l]+a[3][l])
//
// rows ≥ 1; elements m..n-1 are left to the caller.
//
//go:noescape
func f16RowsNEON(w *byte, rowBytes, rows int, x *float32, n int, acc *float32)

// f16RowsNEONGo calls f16RowsNEON on 16 rows at a time, reduces each row's lanes as
// (a0+a1)+(a2+a3) and adds the last n%4 products one by one.
func f16RowsNEONGo(w []byte, rowBytes int, x, y []float32) {
	n := len(x)
	if len(y) == 0 {
		return
	}
	if n == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+2*n-1]
	m := n &^ 3
	var acc [4 * 16]float32
	for r0 := 0; r0 < len(y); r0 += 16 {
		k := min(16, len(y)-r0)
		if m > 0 {
			f16RowsNEON(&w[r0*rowBytes], rowBytes, k, &x[0], m, &acc[0])
		}
		for i := 0; i < k; i++ {
			s := (acc[4*i] + acc[4*i+1]) + (acc[4*i+2] + acc[4*i+3])
			if m == 0 {
				s = 0
			}
			row := w[(r0+i)*rowBytes:]
			for e := m; e < n; e++ {
				s += int4.F16ToF32(uint16(row[2*e])|uint16(row[2*e+1])<<8) * x[e]
			}
			y[r0+i] = s
		}
	}
}
