package kernels

import (
	"math"
	"sync"

	"github.com/edgerun/edgerun/int4"
)

// LoRA factor kernels.
//
// A live LoRA adapter's factors are kept as IEEE half floats (f16), half the bytes of
// float32, because at decode every factor is read once per token and the read is what
// costs. Each factor is stored multiplied by a factor chosen from its largest
// magnitude (ToF16Scaled), so f16's narrow exponent range never flushes small adapter
// weights: only the mantissa is rounded (to 11 significant bits, a relative error of at
// most 2⁻¹¹).
//
// A = [rank, in] is stored row-major: A·x is DotRowsF16 (one dot product per rank row).
// B = [out, rank] is stored in panels of PanelRows output rows (PackLoraB): panel q holds
// B[8q+j, k] at element q·8·rank + 8k + j, so B·u is one sequential pass that adds, for
// each panel, rank scaled 8-wide vectors — no horizontal sums over the short rank-long
// rows (LoraPanelsF16).
//
// The generic versions below are the specification; SIMD versions (F16C/FMA on amd64,
// NEON on arm64) agree within float32 rounding (they fuse multiply-adds and sum in their
// own lane order).

// PanelRows is the number of output rows per panel of a packed B factor.
const PanelRows = 8

// f16Kernels are one implementation's LoRA factor kernels.
type f16Kernels struct {
	// dotRows sets y[r] = Σ_{i<len(x)} f16(w[r·stride+i])·x[i] for r < len(y).
	dotRows func(w []uint16, stride int, x, y []float32)
	// axpy adds a·f16(x[i]) to dst[i].
	axpy func(dst []float32, a float32, x []uint16)
	// panels adds B·u to y (len(y) rows of the packed B p, rank len(u)).
	panels func(p []uint16, u, y []float32)
}

var f16Generic = &f16Kernels{dotRows: dotRowsF16Generic, axpy: axpyF16Generic, panels: panelsF16Generic}

// f16ToF32 converts a half to float32 without branches: its exponent and mantissa bits
// moved into a float32 (a denormal one for subnormal halves) and multiplied by 2^112,
// which rebiases the exponent exactly; an all-ones half exponent (infinity, NaN) gets an
// all-ones float32 exponent. It equals int4.F16ToF32 except that NaNs keep their payload
// unquieted.
func f16ToF32(h uint16) float32 {
	v := math.Float32bits(math.Float32frombits(uint32(h&0x7fff)<<13) * 0x1p112)
	special := (uint32(h&0x7c00) + 0x400) >> 15 // 1 when the exponent is all ones
	return math.Float32frombits(v | special*0x7f800000 | uint32(h&0x8000)<<16)
}

// f16Table returns the float32 value of every half (f16ToF32), built on first use: a
// lookup is about twice as fast as the conversion in the generic kernels, and builds
// with SIMD kernels never pay its 256 KiB.
func f16Table() *[1 << 16]float32 {
	f16TabOnce.Do(func() {
		f16Tab = new([1 << 16]float32)
		for h := range f16Tab {
			f16Tab[h] = f16ToF32(uint16(h))
		}
	})
	return f16Tab
}

var (
	f16TabOnce sync.Once
	f16Tab     *[1 << 16]float32
)

// dotRowsF16Generic is the specification of DotRowsF16: eight float32 lanes (element i
// into lane i%8), reduced pairwise.
func dotRowsF16Generic(w []uint16, stride int, x, y []float32) {
	tab := f16Table()
	n := len(x)
	for r := range y {
		row := w[r*stride : r*stride+n : r*stride+n]
		var s0, s1, s2, s3, s4, s5, s6, s7 float32
		i := 0
		for ; i+8 <= n; i += 8 {
			ws, xs := row[i:i+8:i+8], x[i:i+8:i+8]
			s0 += tab[ws[0]] * xs[0]
			s1 += tab[ws[1]] * xs[1]
			s2 += tab[ws[2]] * xs[2]
			s3 += tab[ws[3]] * xs[3]
			s4 += tab[ws[4]] * xs[4]
			s5 += tab[ws[5]] * xs[5]
			s6 += tab[ws[6]] * xs[6]
			s7 += tab[ws[7]] * xs[7]
		}
		s := [8]float32{s0, s1, s2, s3, s4, s5, s6, s7}
		for ; i < n; i++ {
			s[i%8] += tab[row[i]] * x[i]
		}
		y[r] = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
	}
}

// axpyF16Generic is the specification of AxpyF16.
func axpyF16Generic(dst []float32, a float32, x []uint16) {
	tab := f16Table()
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += a * tab[x[i]]
	}
}

// panelsF16Generic is the specification of LoraPanelsF16: for each row o,
// t = Σ_k f16(B[o,k])·u[k] summed in k order, then y[o] += t.
func panelsF16Generic(p []uint16, u, y []float32) {
	tab := f16Table()
	rank := len(u)
	full := len(y) / PanelRows
	for q := 0; q < full; q++ {
		pan := p[q*PanelRows*rank : (q+1)*PanelRows*rank]
		var t0, t1, t2, t3, t4, t5, t6, t7 float32
		for k, uk := range u {
			ws := pan[k*PanelRows : k*PanelRows+8 : k*PanelRows+8]
			t0 += tab[ws[0]] * uk
			t1 += tab[ws[1]] * uk
			t2 += tab[ws[2]] * uk
			t3 += tab[ws[3]] * uk
			t4 += tab[ws[4]] * uk
			t5 += tab[ws[5]] * uk
			t6 += tab[ws[6]] * uk
			t7 += tab[ws[7]] * uk
		}
		ys := y[q*PanelRows : q*PanelRows+8 : q*PanelRows+8]
		ys[0] += t0
		ys[1] += t1
		ys[2] += t2
		ys[3] += t3
		ys[4] += t4
		ys[5] += t5
		ys[6] += t6
		ys[7] += t7
	}
	for o := full * PanelRows; o < len(y); o++ {
		pan := p[full*PanelRows*rank:]
		var t float32
		for k, uk := range u {
			t += tab[pan[k*PanelRows+o%PanelRows]] * uk
		}
		y[o] += t
	}
}

// DotRowsF16 sets y[r] = Σ_{i<len(x)} f16(w[r·stride+i])·x[i] for r < len(y): A·x for a
// row-major f16 A factor.
func DotRowsF16(w []uint16, stride int, x, y []float32) {
	if len(y) == 0 {
		return
	}
	if len(x) > 0 {
		_ = w[(len(y)-1)*stride+len(x)-1]
	}
	active.f16.dotRows(w, stride, x, y)
}

// AxpyF16 adds a·f16(x[i]) to dst[i] for i < len(dst) (x at least as long).
func AxpyF16(dst []float32, a float32, x []uint16) {
	if len(dst) == 0 {
		return
	}
	_ = x[len(dst)-1]
	active.f16.axpy(dst, a, x)
}

// LoraPanelsF16 adds B·u to y: y[o] += Σ_k B[o,k]·u[k] for o < len(y), where p is B
// packed by PackLoraB (rank len(u), at least len(y) rows).
func LoraPanelsF16(p []uint16, u, y []float32) {
	if len(y) == 0 || len(u) == 0 {
		return
	}
	_ = p[PanelLen(len(y), len(u))-1]
	active.f16.panels(p, u, y)
}

// PanelLen returns the number of f16 elements PackLoraB uses for rows×rank: rows
// rounded up to whole panels.
func PanelLen(rows, rank int) int {
	return (rows + PanelRows - 1) / PanelRows * PanelRows * rank
}

// f16Top is where ToF16Scaled puts a factor's largest magnitude: 2¹⁴, so no value can
// round past the f16 maximum (65504) and values down to 2⁻²⁸ of the largest stay normal.
const f16Top = 1 << 14

// f16Factor returns the multiplier f that takes v's largest magnitude to f16Top and
// mul = amax/f16Top (exact), or 1, 1 when v is all zeros or holds a NaN or infinity.
// Scaling by the largest magnitude (not by a power of two) makes the f16 values of a
// factor independent of any constant it was multiplied by before (a GGUF LoRA file
// folds the scale into B): the same adapter gives the same f16 factors either way,
// except for the rare value within a float32 rounding of an f16 rounding boundary.
func f16Factor(v []float32) (f, mul float32) {
	var amax float32
	for _, x := range v {
		a := float32(math.Abs(float64(x)))
		if a != a || a > math.MaxFloat32 {
			return 1, 1
		}
		amax = max(amax, a)
	}
	if amax == 0 || amax < 0x1p-100 || amax > 0x1p100 {
		return 1, 1
	}
	return f16Top / amax, amax / f16Top
}

// ToF16Scaled returns v scaled so that its largest magnitude is 2¹⁴, as f16 (round to
// nearest even), and the multiplier mul that scales it back: v[i] ≈ mul·f16(h[i]) with a
// relative error of at most 2⁻¹¹ (plus a float32 rounding).
func ToF16Scaled(v []float32) (h []uint16, mul float32) {
	f, mul := f16Factor(v)
	h = make([]uint16, len(v))
	for i, x := range v {
		h[i] = int4.F32ToF16(x * f)
	}
	return h, mul
}

// PackLoraB packs b, a row-major [rows, rank] float32 B factor, into f16 panels (see
// the LoRA factor kernels above) scaled like ToF16Scaled: B[o,k] ≈ mul·f16(p[…]). The
// rows of the last panel beyond rows are zero.
func PackLoraB(b []float32, rows, rank int) (p []uint16, mul float32) {
	b = b[:rows*rank]
	f, mul := f16Factor(b)
	p = make([]uint16, PanelLen(rows, rank))
	for o := 0; o < rows; o++ {
		q, j := o/PanelRows, o%PanelRows
		for k := 0; k < rank; k++ {
			p[q*PanelRows*rank+k*PanelRows+j] = int4.F32ToF16(b[o*rank+k] * f)
		}
	}
	return p, mul
}

// LoraBAt returns B[o, k] of a packed B factor, unscaled (times mul it is the value).
func LoraBAt(p []uint16, rank, o, k int) float32 {
	return int4.F16ToF32(p[o/PanelRows*PanelRows*rank+k*PanelRows+o%PanelRows])
}
