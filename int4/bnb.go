package int4

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
)

// bitsandbytes blockwise 4-bit quantization (formats.md §1.2–1.4), as its reference
// ("default" PyTorch) backend computes it:
//
//   - the input is flattened row-major and cut into blocks of blocksize elements (the last
//     one may be short);
//   - absmax_b = max |x| over the block (float32);
//   - x' = clamp(x * (1/absmax_b), -1, 1) in float32;
//   - code = argmin_i |x' - table[i]| (the first, lowest index on ties; a NaN x', from an
//     all-zero block, gives code 0 as torch.argmin does);
//   - if the element count is odd a 0.0 is appended after scaling, and codes are packed two
//     per byte, element 2i in the HIGH nibble.
//
// Double quantization: offset = mean(absmax) (accumulated in float64, rounded to
// float32), then absmax-offset is quantized blockwise (nested blocksize 256) to 8 bits
// with the signed dynamic map, by the same argmin rule.

// ErrBnb is the kind of every error about an inconsistent bitsandbytes quant state.
var ErrBnb = errors.New("int4: bad bitsandbytes quant state")

// NestedBlocksize is the blocksize bitsandbytes uses to quantize the absmax statistics
// when double quantization is on.
const NestedBlocksize = 256

// Bnb4 is one tensor quantized with bitsandbytes' 4-bit blockwise scheme: the fields of
// a serialized QuantState plus the packed codes.
type Bnb4 struct {
	Type      Type // NF4 or FP4
	Blocksize int
	N         int    // element count (product of the original shape)
	Packed    []byte // ceil(N/2) bytes, element 2i in the high nibble of byte i
	// QuantMap is the 16-entry code table used (NF4Table or FP4Table when written by
	// bitsandbytes).
	QuantMap [16]float32
	// Absmax holds one float32 scale per block when not double-quantized.
	Absmax []float32
	// Double quantization (Nested is true): AbsmaxQ holds one 8-bit code per block,
	// decoded as NestedMap[AbsmaxQ[b]] * NestedAbsmax[b/NestedBlock] + Offset.
	Nested       bool
	AbsmaxQ      []byte
	NestedAbsmax []float32
	NestedMap    []float32 // 256 entries
	NestedBlock  int
	Offset       float32
}

// Blocks returns the number of blocks, ceil(N/Blocksize).
func (q *Bnb4) Blocks() int {
	if q.Blocksize <= 0 {
		return 0
	}
	return (q.N + q.Blocksize - 1) / q.Blocksize
}

// Validate checks that the sizes of q's buffers agree with N, Blocksize and Nested, and
// that no scale is NaN or infinite.
func (q *Bnb4) Validate() error {
	if q.Type != NF4 && q.Type != FP4 {
		return fmt.Errorf("%w: type %v is not NF4 or FP4", ErrBnb, q.Type)
	}
	if q.Blocksize <= 0 || q.N < 0 {
		return fmt.Errorf("%w: blocksize %d, %d elements", ErrBnb, q.Blocksize, q.N)
	}
	if want := (q.N + 1) / 2; len(q.Packed) != want {
		return fmt.Errorf("%w: %d packed bytes, want %d for %d elements", ErrBnb, len(q.Packed), want, q.N)
	}
	nb := q.Blocks()
	if !q.Nested {
		if len(q.Absmax) != nb {
			return fmt.Errorf("%w: %d absmax values, want %d (%d elements, blocksize %d)", ErrBnb, len(q.Absmax), nb, q.N, q.Blocksize)
		}
		for i, a := range q.Absmax {
			if !finite(a) {
				return fmt.Errorf("%w: absmax[%d] is %v", ErrBnb, i, a)
			}
		}
		return nil
	}
	if len(q.AbsmaxQ) != nb {
		return fmt.Errorf("%w: %d quantized absmax codes, want %d (%d elements, blocksize %d)", ErrBnb, len(q.AbsmaxQ), nb, q.N, q.Blocksize)
	}
	if q.NestedBlock <= 0 {
		return fmt.Errorf("%w: nested blocksize %d", ErrBnb, q.NestedBlock)
	}
	if want := (nb + q.NestedBlock - 1) / q.NestedBlock; len(q.NestedAbsmax) != want {
		return fmt.Errorf("%w: %d nested absmax values, want %d", ErrBnb, len(q.NestedAbsmax), want)
	}
	if len(q.NestedMap) != 256 {
		return fmt.Errorf("%w: nested quant map has %d entries, want 256", ErrBnb, len(q.NestedMap))
	}
	for i, a := range q.NestedAbsmax {
		if !finite(a) {
			return fmt.Errorf("%w: nested absmax[%d] is %v", ErrBnb, i, a)
		}
	}
	for i, a := range q.NestedMap {
		if !finite(a) {
			return fmt.Errorf("%w: nested quant map[%d] is %v", ErrBnb, i, a)
		}
	}
	if !finite(q.Offset) {
		return fmt.Errorf("%w: nested offset is %v", ErrBnb, q.Offset)
	}
	return nil
}

func finite(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }

// BlockAbsmax returns the float32 scale of every block. With double quantization it is
// computed as bitsandbytes does, in float32: the 8-bit blockwise dequantization
// NestedMap[code] * NestedAbsmax[b/NestedBlock], rounded, then + Offset.
func (q *Bnb4) BlockAbsmax() []float32 {
	if !q.Nested {
		return q.Absmax
	}
	out := make([]float32, len(q.AbsmaxQ))
	for b, c := range q.AbsmaxQ {
		v := float32(q.NestedMap[c] * q.NestedAbsmax[b/q.NestedBlock])
		out[b] = float32(v + q.Offset)
	}
	return out
}

// Dequantize writes the N float32 values of q into dst (len(dst) == N):
// QuantMap[code] * absmax_block, one float32 multiply per element.
func (q *Bnb4) Dequantize(dst []float32) error {
	if err := q.Validate(); err != nil {
		return err
	}
	if len(dst) != q.N {
		return fmt.Errorf("%w: dst has %d elements, want %d", ErrBadLength, len(dst), q.N)
	}
	am := q.BlockAbsmax()
	for e := range dst {
		c := q.Packed[e>>1]
		if e&1 == 0 {
			c >>= 4
		} else {
			c &= 15
		}
		dst[e] = q.QuantMap[c] * am[e/q.Blocksize]
	}
	return nil
}

// CanRepack reports whether a [rows, cols] tensor quantized with this state converts
// losslessly to the 32-element row layout of q.Type (NF4 or FP4): cols and Blocksize are
// multiples of 32 and the code table is bitsandbytes' standard one for the type.
func (q *Bnb4) CanRepack(cols int) bool { return q.CanRepackAs(q.Type, cols) }

// CanRepackAs reports whether a [rows, cols] tensor quantized with this state converts
// losslessly to rows of type t, a row type of q.Type's code family (NF4 or NF4_64 for
// NF4, FP4 or FP4_64 for FP4): cols and Blocksize are multiples of t's block size (32 or
// 64) and the code table is bitsandbytes' standard one for the type.
func (q *Bnb4) CanRepackAs(t Type, cols int) bool {
	tab := Bnb4Table(t)
	if tab == nil || Bnb4Base(t) != q.Type || q.Type != Bnb4Base(q.Type) {
		return false
	}
	be, _ := bnb4Shape(t)
	if cols <= 0 || cols%be != 0 || q.Blocksize%be != 0 {
		return false
	}
	for i := range tab {
		if math.Float32bits(tab[i]) != math.Float32bits(q.QuantMap[i]) {
			return false
		}
	}
	return true
}

// RowType returns the row type a [rows, cols] tensor quantized with this state is
// loaded as: the 64-element type (NF4_64, FP4_64) when the tensor repacks into it
// losslessly, else the 32-element one (NF4, FP4) when it repacks into that, else 0
// (the tensor must be dequantized).
func (q *Bnb4) RowType(cols int) Type {
	if t, _ := Bnb4RowType(q.Type, blockBnb4_64Elem); q.CanRepackAs(t, cols) {
		return t
	}
	if q.CanRepack(cols) {
		return q.Type
	}
	return 0
}

// Repack converts q, the quantization of a row-major [rows, cols] tensor, to rows of
// type q.Type (NF4 or FP4 row layout of 32-element blocks); RepackAs(q.Type, rows, cols).
func (q *Bnb4) Repack(rows, cols int) ([]byte, error) { return q.RepackAs(q.Type, rows, cols) }

// RepackAs converts q, the quantization of a row-major [rows, cols] tensor, to rows of
// type t (NF4, FP4, NF4_64 or FP4_64 of q.Type's family) without changing any code or
// scale: each block of t takes the (de-nested, float32) absmax of the bitsandbytes block
// it lies in and its code bytes unchanged. It fails with ErrBadLength unless
// CanRepackAs(t, cols) and rows*cols == N.
func (q *Bnb4) RepackAs(t Type, rows, cols int) ([]byte, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if rows <= 0 || rows*cols != q.N || !q.CanRepackAs(t, cols) {
		return nil, fmt.Errorf("%w: cannot repack %v blocksize %d as %d x %d rows of %v", ErrBadLength, q.Type, q.Blocksize, rows, cols, t)
	}
	be, bb := bnb4Shape(t)
	am := q.BlockAbsmax()
	nblk := q.N / be
	out := make([]byte, nblk*bb)
	for i := 0; i < nblk; i++ {
		b := out[i*bb : (i+1)*bb]
		binary.LittleEndian.PutUint32(b, math.Float32bits(am[i*be/q.Blocksize]))
		copy(b[4:], q.Packed[i*be/2:(i+1)*be/2])
	}
	return out, nil
}

// absMax returns max |x| (float32), NaN if any element is NaN (as torch.max).
func absMax(x []float32) float32 {
	var m float32
	for _, v := range x {
		a := absf(v)
		if a != a {
			return a
		}
		if a > m {
			m = a
		}
	}
	return m
}

// nearestCode4 is argmin_i |clamp(x,-1,1) - tab[i]| with the first index winning ties
// and NaN giving 0.
func nearestCode4(tab *[16]float32, x float32) byte {
	if x != x {
		return 0
	}
	x = clamp1(x)
	best, bd := 0, absf(x-tab[0])
	for i := 1; i < 16; i++ {
		if d := absf(x - tab[i]); d < bd {
			best, bd = i, d
		}
	}
	return byte(best)
}

func clamp1(x float32) float32 {
	if x < -1 {
		return -1
	}
	if x > 1 {
		return 1
	}
	return x
}

// QuantizeBnb4 quantizes x (a tensor flattened row-major) with bitsandbytes' 4-bit
// blockwise algorithm for t (NF4 or FP4) and blocksize (bitsandbytes accepts 32, 64,
// ..., 4096; any positive size works here). With doubleQuant the absmax statistics are
// quantized again (offset = their mean, 8-bit dynamic map, nested blocksize 256), as
// bitsandbytes' compress_statistics does.
func QuantizeBnb4(t Type, x []float32, blocksize int, doubleQuant bool) (*Bnb4, error) {
	tab := Bnb4Table(t)
	if tab == nil {
		return nil, fmt.Errorf("%w: %v is not NF4 or FP4", ErrUnsupportedType, t)
	}
	if blocksize <= 0 {
		return nil, fmt.Errorf("%w: blocksize %d", ErrBadLength, blocksize)
	}
	n := len(x)
	q := &Bnb4{Type: t, Blocksize: blocksize, N: n, QuantMap: *tab, Packed: make([]byte, (n+1)/2)}
	nb := (n + blocksize - 1) / blocksize
	absmax := make([]float32, nb)
	code := func(e int, inv float32) byte { return nearestCode4(tab, x[e]*inv) }
	for b := 0; b < nb; b++ {
		lo, hi := b*blocksize, min((b+1)*blocksize, n)
		a := absMax(x[lo:hi])
		absmax[b] = a
		inv := float32(1) / a
		for e := lo; e < hi; e++ {
			c := code(e, inv)
			if e&1 == 0 {
				q.Packed[e>>1] = c << 4
			} else {
				q.Packed[e>>1] |= c
			}
		}
	}
	if n&1 == 1 { // the appended 0.0 (after scaling) fills the last low nibble
		q.Packed[n>>1] |= nearestCode4(tab, 0)
	}
	if !doubleQuant {
		q.Absmax = absmax
		return q, nil
	}
	var sum float64
	for _, a := range absmax {
		sum += float64(a)
	}
	var off float32
	if nb > 0 {
		off = float32(sum / float64(nb))
	}
	centered := make([]float32, nb)
	for i, a := range absmax {
		centered[i] = a - off
	}
	dm := DynamicMap()
	q.Nested = true
	q.Offset = off
	q.NestedBlock = NestedBlocksize
	q.NestedMap = dm[:]
	q.AbsmaxQ, q.NestedAbsmax = QuantizeBlockwise8(centered, dm, NestedBlocksize)
	return q, nil
}

// QuantizeBlockwise8 is bitsandbytes' 8-bit blockwise quantization with a sorted
// 256-entry code (reference backend): per block absmax = max |x|, x' = clamp(x*(1/absmax),
// -1, 1), code = index of the nearest entry (lower index on ties, 0 for NaN).
func QuantizeBlockwise8(x []float32, code *[256]float32, blocksize int) (q []byte, absmax []float32) {
	n := len(x)
	nb := (n + blocksize - 1) / blocksize
	q = make([]byte, n)
	absmax = make([]float32, nb)
	for b := 0; b < nb; b++ {
		lo, hi := b*blocksize, min((b+1)*blocksize, n)
		a := absMax(x[lo:hi])
		absmax[b] = a
		inv := float32(1) / a
		for e := lo; e < hi; e++ {
			q[e] = nearestCode8(code, x[e]*inv)
		}
	}
	return q, absmax
}

// nearestCode8 finds argmin_i |x - code[i]| over a sorted code (first index on ties).
func nearestCode8(code *[256]float32, x float32) byte {
	if x != x {
		return 0
	}
	x = clamp1(x)
	lo, hi := 0, 256 // first index with code[i] > x
	for lo < hi {
		m := (lo + hi) / 2
		if code[m] <= x {
			lo = m + 1
		} else {
			hi = m
		}
	}
	j := lo
	switch {
	case j == 0:
		return 0
	case j == 256:
		return 255
	}
	// Equal values earlier in the code would tie; walk back to the first of them.
	i := j - 1
	for i > 0 && code[i-1] == code[i] {
		i--
	}
	if absf(code[j]-x) < absf(x-code[i]) {
		return byte(j)
	}
	return byte(i)
}

// DynamicMap returns bitsandbytes' signed 8-bit dynamic quantization map
// (create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)): for i = 0..6 the
// 2^i midpoints of linspace(0.1, 1, 2^i+1) scaled by ±10^(i-6), plus 0 and 1, sorted
// ascending (256 float32 values). The linspace follows PyTorch's CPU kernel in float32
// (start + step*k for the first half, end - step*(steps-1-k) for the second).
var DynamicMap = sync.OnceValue(func() *[256]float32 {
	pow10 := [7]float64{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1}
	var data []float32
	for i := 0; i < 7; i++ {
		steps := 1<<i + 1
		start, end := float32(0.1), float32(1)
		step := float32(end-start) / float32(steps-1)
		bnd := make([]float32, steps)
		half := steps / 2
		for k := range bnd {
			if k < half {
				bnd[k] = start + float32(step*float32(k))
			} else {
				bnd[k] = end - float32(step*float32(steps-1-k))
			}
		}
		scale := float32(pow10[i])
		for k := 0; k+1 < steps; k++ {
			mean := float32(bnd[k]+bnd[k+1]) / 2
			data = append(data, scale*mean, -(scale * mean))
		}
	}
	data = append(data, 0, 1)
	var out [256]float32
	copy(out[:], data)
	sortFloat32(out[:])
	return &out
})

func sortFloat32(a []float32) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
