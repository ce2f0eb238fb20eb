//go:build !purego

package kernels

import "github.com/edgerun/edgerun/int4"

// archKT sets the NEON F16, IQ4_NL, NF4, FP4, NF4_64, FP4_64, Q4_K and Q6_K kernels on the "neon"
// implementation (neon-dotprod inherits the F16 one) and the dot-product kernels on
// "neon-dotprod" (registered only when the CPU has the dot-product extension and fp16
// conversions). The K-quants' kernels are in kquant_arm64.go.
func archKT(i *impl) {
	if i.name == "neon" {
		i.kt.f16 = f16RowsNEONGo
		i.kt.set(int4.IQ4_NL, iq4nlRowsNEON8Go, iq4nlRows4NEON4Go)
		i.kt.set(int4.NF4, nf4RowsNEON8Go, nf4Rows4NEON4Go)
		i.kt.set(int4.FP4, fp4RowsNEON8Go, fp4Rows4NEON4Go)
		i.kt.set(int4.NF4_64, nf4_64RowsNEON8Go, nf4_64Rows4NEON4Go)
		i.kt.set(int4.FP4_64, fp4_64RowsNEON8Go, fp4_64Rows4NEON4Go)
		i.kt.set(int4.Q4_K, q4kRowsNEON8Go, q4kRows4NEON8Go)
		i.kt.set(int4.Q6_K, q6kRowsNEON8Go, q6kRows4NEON8Go)
	}
	if i.name != "neon-dotprod" {
		return
	}
	i.kt.set(int4.IQ4_NL, iq4nlRowsSDOT8Go, iq4nlRows4SDOT8Go)
	i.kt.set(int4.NF4, nf4RowsSDOT8Go, nf4Rows4SDOT8Go)
	i.kt.set(int4.FP4, fp4RowsSDOT8Go, fp4Rows4SDOT8Go)
	i.kt.set(int4.NF4_64, nf4_64RowsSDOT8Go, nf4_64Rows4SDOT8Go)
	i.kt.set(int4.FP4_64, fp4_64RowsSDOT8Go, fp4_64Rows4SDOT8Go)
	i.kt.set(int4.Q4_K, q4kRowsSDOT8Go, q4kRows4SDOT8Go)
	i.kt.set(int4.Q6_K, q6kRowsSDOT8Go, q6kRows4SDOT8Go)
}

// iq4nlRowsSDOT computes, for r < rows, with row = w[r·rowBytes:], nb IQ4_NL blocks of
// 18 bytes and tab = kvaluesIQ4NL, four float32 lanes per row into acc[4r:4r+4]:
//
//	for b := 0; b < nb; b++ {
//		blk := row[18·b:]
//		for l := 0; l < 4; l++ { // SDOT lane l: elements 4l..4l+3 and 16+4l..16+4l+3
//			s := Σ_{e=4l}^{4l+3} int32(tab[blk[2+e]&15])·int32(xq[32b+e]) + int32(tab[blk[2+e]>>4])·int32(xq[32b+16+e])
//			acc[4r+l] += (f16(blk[0:2])·xd[b]) · float32(s) // fused multiply-add
//		}
//	}
//
// rows ≥ 1 and nb ≥ 1.
//
//go:noescape
func iq4nlRowsSDOT(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, acc *float32, tab *int8)

// bnb4RowsSDOT is iq4nlRowsSDOT for NF4/FP4 blocks of 20 bytes with tab a bnb4Split:
// SDOT lane l covers elements 4l..4l+3 and 16+4l..16+4l+3 (codes c_e: the high nibble
// of blk[4+e/2] for even e, the low one for odd e), s = 128·Σ hi[c_e]·xq + Σ lo[c_e]·xq,
// and acc[4r+l] += (f32(blk[0:4])·xd[b]) · float32(s).
//
//go:noescape
func bnb4RowsSDOT(w *byte, rowBytes, rows int, xq *int8, xd *float32, nb int, acc *float32, tab *int8)

// ktSDOTRows is the row count the wrappers hand to the assembly at once.
const ktSDOTRows = 16

// ktSDOTKind selects the kernel in ktSDOTGo.
type ktSDOTKind int

const (
	kindIQ4NL ktSDOTKind = iota
	kindNF4
	kindFP4
	kindQ4_0Tab // Q4_0 through the IQ4_NL kernels with q4_0Values as the table
)

// ktSDOTGo calls the kernel of kind on ktSDOTRows rows at a time and adds each row's
// four lanes as (a0+a1)+(a2+a3) (times the table's 1/s for NF4/FP4, bnb4.go).
func ktSDOTGo(kind ktSDOTKind, w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32) {
	nb := len(d)
	used := nb * 18
	scale := float32(1)
	switch kind {
	case kindNF4, kindFP4:
		used, scale = nb*20, fp4Tab.post
		if kind == kindNF4 {
			scale = nf4Tab.post
		}
	}
	if len(y) == 0 || nb == 0 {
		clear(y)
		return
	}
	_ = w[(len(y)-1)*rowBytes+used-1]
	_ = q[nb*qBlock-1]
	_ = c[nb*8-1]
	var acc [4 * ktSDOTRows]float32
	for r0 := 0; r0 < len(y); r0 += ktSDOTRows {
		n := min(ktSDOTRows, len(y)-r0)
		switch kind {
		case kindIQ4NL:
			iq4nlRowsSDOT(&w[r0*rowBytes], rowBytes, n, &q[0], &d[0], nb, &acc[0], &iq4nlTab[0])
		case kindNF4:
			bnb4RowsSDOT(&w[r0*rowBytes], rowBytes, n, &q[0], &d[0], nb, &acc[0], &nf4Split[0])
		case kindFP4:
			bnb4RowsSDOT(&w[r0*rowBytes], rowBytes, n, &q[0], &d[0], nb, &acc[0], &fp4Split[0])
		}
		for i := 0; i < n; i++ {
			y[r0+i] = ((acc[4*i] + acc[4*i+1]) + (acc[4*i+2] + acc[4*i+3])) * scale
		}
	}
}

// iq4nlRows4SDOT is iq4nlRowsSDOT for the four activation rows of a group
// (q8Act.pack4), with the same per-token arithmetic: for r < rows and t < 4,
// acc[16r+4t : 16r+4t+4] = the four lanes iq4nlRowsSDOT gives for weight row r and
// group row t. rows ≥ 1 and nb ≥ 1.
//
//go:noescape
func iq4nlRows4SDOT(w *byte, rowBytes, rows int, xg *byte, nb int, acc *float32, tab *int8)

// bnb4Rows4SDOT is bnb4RowsSDOT for the four activation rows of a group, as
// iq4nlRows4SDOT is for iq4nlRowsSDOT.
//
//go:noescape
func bnb4Rows4SDOT(w *byte, rowBytes, rows int, xg *byte, nb int, acc *float32, tab *int8)

// ktRows4SDOTGo calls the 4-token kernel of kind on ktSDOTRows rows at a time and
// reduces each row's and token's lanes exactly as ktSDOTGo does.
func ktRows4SDOTGo(kind ktSDOTKind, w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int) {
	if rows <= 0 || nb <= 0 {
		for t := 0; t < 4 && rows > 0; t++ {
			clear(y[t*ystride : t*ystride+rows])
		}
		return
	}
	used, scale := nb*18, float32(1)
	switch kind {
	case kindNF4, kindFP4:
		used, scale = nb*20, fp4Tab.post
		if kind == kindNF4 {
			scale = nf4Tab.post
		}
	}
	_ = w[(rows-1)*rowBytes+used-1]
	_ = g[nb*g4BlockBytes-1]
	_ = y[3*ystride+rows-1]
	var acc [16 * ktSDOTRows]float32
	for r0 := 0; r0 < rows; r0 += ktSDOTRows {
		n := min(ktSDOTRows, rows-r0)
		switch kind {
		case kindIQ4NL:
			iq4nlRows4SDOT(&w[r0*rowBytes], rowBytes, n, &g[0], nb, &acc[0], &iq4nlTab[0])
		case kindQ4_0Tab:
			iq4nlRows4SDOT(&w[r0*rowBytes], rowBytes, n, &g[0], nb, &acc[0], &q4_0Values[0])
		case kindNF4:
			bnb4Rows4SDOT(&w[r0*rowBytes], rowBytes, n, &g[0], nb, &acc[0], &nf4Split[0])
		case kindFP4:
			bnb4Rows4SDOT(&w[r0*rowBytes], rowBytes, n, &g[0], nb, &acc[0], &fp4Split[0])
		}
		for i := 0; i < n; i++ {
			for t := 0; t < 4; t++ {
				a := acc[16*i+4*t : 16*i+4*t+4 : 16*i+4*t+4]
				y[t*ystride+r0+i] = ((a[0] + a[1]) + (a[2] + a[3])) * scale
			}
		}
	}
}
