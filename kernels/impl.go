package kernels

import (
	"encoding/binary"
	"math"

	"github.com/edgerun/edgerun/int4"
)

// Quantized-activation kernels.
//
// For Q4_0 and Q8_0 weights, MatVec and MatMul first quantize each activation row once
// to 8-bit blocks of 32 (q8Act: scale d = max|x|/127 kept as float32, q = round(x/d)),
// the way llama.cpp quantizes activations to Q8_0 for its integer dot products, and then
// compute every output as
//
//	y[r] = Σ_b dw(r,b)·dx(b)·Σ_j w(r,b,j)·q(b,j)
//
// where the inner sum is exact integer arithmetic. The only difference from the float
// product of the dequantized weights with x is the activation rounding (|x - d·q| <= d/2
// per element, i.e. at most 1/254 of the block's largest magnitude); TestQ8ActError
// measures it (relative RMS error of y ≈ 0.5% on Gaussian data, the error llama.cpp
// accepts on every CPU backend). Implementations differ only in the float32 summation
// order of the per-block terms.

// qBlock is the number of activation elements per 8-bit block.
const qBlock = 32

// q8Act is n activation rows of cols elements quantized to 8-bit blocks.
type q8Act struct {
	cols int
	q    []int8    // n·cols quantized values
	d    []float32 // n·cols/32 block scales
	c    []int32   // n·cols/32·8: c[b·8+j] = 8·Σ q[b·32+4j : b·32+4j+4] (Q4_0's -8 offset)
	g    []byte    // groups of 4 rows interleaved per block (see pack4), for rows4Kernel
	gq   []byte    // groups of 4 rows for the GEMM kernels (see packGQ)

	// prep holds, per layout, rows prepared for the kernels that read them so (see
	// actPrep and prepare); quantize invalidates them.
	prep []prepSlot
}

// prepSlot is one layout's prepared copy of the rows [from, to) of a q8Act.
type prepSlot struct {
	kind     *actPrep
	buf      []byte
	from, to int
}

// prepare makes rows [from, to) of a, prepared by k, available to prepped. Each
// layout has its own buffer, reused across calls; rows already prepared for the
// current quantization are not prepared again (the fused products' matrices of one
// type share them).
func (a *q8Act) prepare(k *actPrep, from, to int) {
	var s *prepSlot
	for i := range a.prep {
		if a.prep[i].kind == k {
			s = &a.prep[i]
			break
		}
	}
	if s == nil {
		a.prep = append(a.prep, prepSlot{kind: k})
		s = &a.prep[len(a.prep)-1]
	}
	if s.from <= from && to <= s.to {
		return
	}
	size := (to - from) * a.cols / qBlock * prepBlockBytes
	if cap(s.buf) < size {
		s.buf = make([]byte, size)
	}
	s.buf = s.buf[:size]
	k.fill(a.q[from*a.cols:to*a.cols], s.buf)
	s.from, s.to = from, to
}

// prepped returns the blocks of row i prepared by k, or nil when they are not.
func (a *q8Act) prepped(k *actPrep, i int) []byte {
	for _, s := range a.prep {
		if s.kind == k && s.from <= i && i < s.to {
			n := a.cols / qBlock * prepBlockBytes
			return s.buf[(i-s.from)*n : (i-s.from+1)*n]
		}
	}
	return nil
}

// g4BlockBytes is the size of one block of a 4-row group: for t < 4, row t's 32 int8
// values at 32t, its 8 lane offsets c (int32) at 128+32t, and its scale d (float32)
// replicated 8 times at 256+32t.
const g4BlockBytes = 384

// pack4 interleaves rows 0 .. 4·groups-1 of a into a.g, four rows at a time.
func (a *q8Act) pack4(groups int) {
	nb := a.cols / qBlock
	size := groups * nb * g4BlockBytes
	if cap(a.g) < size {
		a.g = make([]byte, size)
	}
	a.g = a.g[:size]
	for gi := 0; gi < groups; gi++ {
		for t := 0; t < 4; t++ {
			q, d, c := a.row(4*gi + t)
			for b := 0; b < nb; b++ {
				blk := a.g[(gi*nb+b)*g4BlockBytes : (gi*nb+b+1)*g4BlockBytes : (gi*nb+b+1)*g4BlockBytes]
				for k := 0; k < qBlock; k++ {
					blk[32*t+k] = byte(q[b*qBlock+k])
				}
				for k := 0; k < 8; k++ {
					binary.LittleEndian.PutUint32(blk[128+32*t+4*k:], uint32(c[b*8+k]))
					binary.LittleEndian.PutUint32(blk[256+32*t+4*k:], math.Float32bits(d[b]))
				}
			}
		}
	}
}

// group returns the packed blocks of group gi (rows 4gi .. 4gi+3).
func (a *q8Act) group(gi int) []byte {
	n := a.cols / qBlock * g4BlockBytes
	return a.g[gi*n : (gi+1)*n]
}

// quantize fills a with the n rows of cols elements in x (cols a multiple of 32),
// reusing its buffers.
func (a *q8Act) quantize(x []float32, n, cols int) {
	nb := n * cols / qBlock
	a.cols = cols
	if cap(a.q) < n*cols {
		a.q = make([]int8, n*cols)
	}
	if cap(a.d) < nb {
		a.d = make([]float32, nb)
		a.c = make([]int32, nb*8)
	}
	a.q, a.d, a.c = a.q[:n*cols], a.d[:nb], a.c[:nb*8]
	active.q8Quant(x[:n*cols], a.q, a.d, a.c)
	for i := range a.prep {
		a.prep[i].from, a.prep[i].to = 0, 0
	}
}

// q8QuantGeneric is the specification of the activation quantizer: for each block b of
// 32 values xs = x[32b:32b+32],
//
//	amax = max |xs[j]|,  d[b] = amax/127,  id = 1/d[b] (0 when that is not finite),
//	q[32b+j] = int8(t+0.5) if t >= 0 else int8(t-0.5), where t = xs[j]·id,
//	c[8b+l] = 8·(q[32b+4l] + … + q[32b+4l+3]),
//
// in float32 arithmetic (llama.cpp's Q8_0 activation rounding: half away from zero). The
// infinite-reciprocal case (amax below ~4e-37, or 0) gives an all-zero block instead of
// the platform's conversion of ±Inf. x must be finite; len(x) = 32·len(d).
func q8QuantGeneric(x []float32, q []int8, d []float32, c []int32) {
	for b := range d {
		xs := x[b*qBlock : (b+1)*qBlock : (b+1)*qBlock]
		qs := q[b*qBlock : (b+1)*qBlock : (b+1)*qBlock]
		var amax float32
		for _, v := range xs {
			amax = max(amax, math.Float32frombits(math.Float32bits(v)&^(1<<31)))
		}
		db := amax / 127
		id := 1 / db
		if !(id <= math.MaxFloat32) {
			id = 0
		}
		d[b] = db
		for j, v := range xs {
			t := float32(v * id) // rounded: no fused multiply-add with the ±0.5 (arm64 fuses)
			if t >= 0 {
				qs[j] = int8(t + 0.5)
			} else {
				qs[j] = int8(t - 0.5)
			}
		}
		q8LaneSums(qs, c[b*8:b*8+8:b*8+8])
	}
}

// q8LaneSums sets c[j] = 8·(q[4j]+q[4j+1]+q[4j+2]+q[4j+3]) for j < len(c): per block of
// quantized activations, the lane sums behind Q4_0's -8 nibble offset (q8Act's c).
func q8LaneSums(q []int8, c []int32) {
	for j := range c {
		c[j] = 8 * (int32(q[4*j]) + int32(q[4*j+1]) + int32(q[4*j+2]) + int32(q[4*j+3]))
	}
}

// row returns the quantized blocks of activation row i.
func (a *q8Act) row(i int) (q []int8, d []float32, c []int32) {
	nb := a.cols / qBlock
	return a.q[i*a.cols : (i+1)*a.cols], a.d[i*nb : (i+1)*nb], a.c[i*nb*8 : (i+1)*nb*8]
}

// rowsKernel computes, for r in [0, len(y)), y[r] = the dot product of weight row r
// (w[r·rowBytes:(r+1)·rowBytes]) with the quantized activation row (q, d, c) of
// len(d) blocks.
type rowsKernel func(w []byte, rowBytes int, q []int8, d []float32, c []int32, y []float32)

// rows4Kernel computes, for r < rows and t < 4, y[t·ystride + r] = what rowsKernel gives
// for weight row r and row t of the 4-row group g (see q8Act.pack4) of nb blocks, bit
// for bit: prefill reuses each decoded weight block for four tokens.
type rows4Kernel func(w []byte, rowBytes, rows int, g []byte, nb int, y []float32, ystride int)

// impl is one implementation of the quantized-activation kernels. The rows4 kernels
// are optional (nil: MatMul calls the one-row kernel per token).
type impl struct {
	name   string
	q4_0   rowsKernel
	q8_0   rowsKernel
	q4_0x4 rows4Kernel
	q8_0x4 rows4Kernel

	// q4_0x8x4 is the prefill GEMM kernel (see gemm.go); nil: the rows4 kernels.
	// q4_0x8il builds its tiles (interleaveQ4_0x8 or a faster equal version).
	q4_0x8x4 gemmKernel
	q4_0x8il func(w []byte, rowBytes, rows, nb int, dst []byte)

	// q8_0gemm is Q8_0's prefill GEMM (kern nil: none; then q8_0x4 if set).
	q8_0gemm gemmSpec

	// q8Quant quantizes activations (see q8QuantGeneric, the specification; every
	// implementation is bit-identical to it). nil: inherited like the float32 kernels.
	q8Quant func(x []float32, q []int8, d []float32, c []int32)

	// float32 kernels (see f32.go); an implementation that leaves them nil inherits
	// those of the one registered before it.
	dotF32  func(a, b []float32) float32
	axpyF32 func(dst []float32, a float32, x []float32)
	f32Rows f32RowsKernel

	// kernels of IQ4_NL, NF4, FP4 and Q4_K (see iq4nl.go); register fills the missing ones.
	kt ktKernels

	// LoRA f16 factor kernels (see lora.go); nil inherits like the float32 ones.
	f16 *f16Kernels
}

// impls lists the implementations usable on this CPU, generic first; architecture files
// append theirs from init when the CPU has the features. active is the one MatVec uses
// (the last registered).
var (
	genericImpl = &impl{name: "generic", q4_0: q4_0RowsGeneric, q8_0: q8_0RowsGeneric,
		q8Quant: q8QuantGeneric, dotF32: dotF32Generic, axpyF32: axpyF32Generic, f32Rows: f32RowsGeneric, kt: genericKT,
		f16: f16Generic}
	impls  = []*impl{genericImpl}
	active = genericImpl
)

func register(i *impl) {
	if i.q8Quant == nil {
		i.q8Quant = active.q8Quant
	}
	if i.dotF32 == nil {
		i.dotF32, i.axpyF32, i.f32Rows = active.dotF32, active.axpyF32, active.f32Rows
	}
	registerKT(i, active)
	if i.f16 == nil {
		i.f16 = active.f16
	}
	impls = append(impls, i)
	active = i
}

// Implementation returns the name of the kernel implementation in use (e.g. "avx2").
func Implementation() string { return active.name }

// kernel4For returns the 4-row kernel for t, or nil.
func kernel4For(t int4.Type) rows4Kernel {
	switch t {
	case int4.Q4_0:
		return active.q4_0x4
	case int4.Q8_0:
		return active.q8_0x4
	}
	return active.kt.rows4(t)
}

// kernelFor returns the quantized-activation kernel for t, or nil when t uses the float path.
func kernelFor(t int4.Type) rowsKernel { return rowsFnFor(t).kern }

// rowsFn is what MatMul and the fused products run over weight rows for one token: the
// type's one-row kernel, or, when it has one, its kernel on the activation blocks
// prepared by prep (see ktPair).
type rowsFn struct {
	kern  rowsKernel // nil: the float path
	kernP rowsPKernel
	prep  *actPrep
}

// rowsFnFor returns the active implementation's rowsFn for t.
func rowsFnFor(t int4.Type) rowsFn {
	switch t {
	case int4.Q4_0:
		return rowsFn{kern: active.q4_0}
	case int4.Q8_0:
		return rowsFn{kern: active.q8_0}
	}
	p := active.kt.q[t]
	return rowsFn{kern: p.rows, kernP: p.rowsP, prep: p.prep}
}

// run computes y over the weight rows w with activation row i of a, whose prepared
// blocks (a.prepare) it reads when f has a kernel for them: they may be missing only
// where that kernel does not read them (fewer than 8 rows on AVX2).
func (f *rowsFn) run(a *q8Act, i int, w []byte, rowBytes int, y []float32) {
	q, d, c := a.row(i)
	if f.kernP != nil {
		f.kernP(w, rowBytes, q, d, c, a.prepped(f.prep, i), y)
		return
	}
	f.kern(w, rowBytes, q, d, c, y)
}

// q4_0RowsGeneric is the specification of the Q4_0 × q8 kernel: per block,
// s = Σ_{j<16} (lo(w_j)-8)·q_j + (hi(w_j)-8)·q_{j+16} exactly in int32, and
// y[r] += (dw·d[b])·float32(s) in block order.
func q4_0RowsGeneric(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	nibbleRowsGeneric(&q4_0Values, w, rowBytes, q, d, y)
}

// q4_0Values is what a Q4_0 nibble stands for before the block scale: nibble − 8.
var q4_0Values = [16]int8{-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7}

// nibbleRowsGeneric is the kernel of the 18-byte blocks with an f16 scale and 16 bytes
// of nibbles (elements 0..15 low, 16..31 high) whose nibbles stand for the integers
// val[nibble] (Q4_0, IQ4_NL): per block, s = Σ_{j<16} val[lo(w_j)]·q_j +
// val[hi(w_j)]·q_{j+16} exactly in int32, and y[r] += (dw·d[b])·float32(s) in block order.
func nibbleRowsGeneric(val *[16]int8, w []byte, rowBytes int, q []int8, d []float32, y []float32) {
	nb := len(d)
	for r := range y {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var sum float32
		for b := 0; b < nb; b++ {
			blk := row[b*18 : b*18+18 : b*18+18]
			xq := q[b*qBlock : (b+1)*qBlock : (b+1)*qBlock]
			var s int32
			for j := 0; j < 16; j++ {
				s += int32(val[blk[2+j]&15]) * int32(xq[j])
				s += int32(val[blk[2+j]>>4]) * int32(xq[j+16])
			}
			sum += int4.F16ToF32(uint16(blk[0])|uint16(blk[1])<<8) * d[b] * float32(s)
		}
		y[r] = sum
	}
}

// q8_0RowsGeneric is the specification of the Q8_0 × q8 kernel: per block,
// s = Σ_j w_j·q_j exactly in int32, and y[r] += (dw·d[b])·float32(s) in block order.
func q8_0RowsGeneric(w []byte, rowBytes int, q []int8, d []float32, _ []int32, y []float32) {
	nb := len(d)
	for r := range y {
		row := w[r*rowBytes : (r+1)*rowBytes]
		var sum float32
		for b := 0; b < nb; b++ {
			blk := row[b*34 : b*34+34 : b*34+34]
			xq := q[b*qBlock : (b+1)*qBlock : (b+1)*qBlock]
			var s int32
			for j := 0; j < 32; j++ {
				s += int32(int8(blk[2+j])) * int32(xq[j])
			}
			sum += int4.F16ToF32(uint16(blk[0])|uint16(blk[1])<<8) * d[b] * float32(s)
		}
		y[r] = sum
	}
}
