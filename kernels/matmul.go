package kernels

import (
	"fmt"

	"github.com/edgerun/edgerun/int4"
)

// Matrix is a row-major weight matrix of Rows × Cols elements stored in one of the
// int4 formats; row r occupies Data[r*RowBytes : (r+1)*RowBytes].
type Matrix struct {
	Type     int4.Type
	Rows     int
	Cols     int
	RowBytes int
	Data     []byte
}

// NewMatrix checks that data holds rows × cols elements of type t and returns the matrix.
func NewMatrix(t int4.Type, rows, cols int, data []byte) (*Matrix, error) {
	rb, err := int4.RowBytes(t, cols)
	if err != nil {
		return nil, fmt.Errorf("kernels: matrix %dx%d: %w", rows, cols, err)
	}
	if rows <= 0 || len(data) != rows*rb {
		return nil, fmt.Errorf("kernels: matrix %dx%d %v needs %d bytes, have %d", rows, cols, t, rows*rb, len(data))
	}
	return &Matrix{Type: t, Rows: rows, Cols: cols, RowBytes: rb, Data: data}, nil
}

// Row returns the packed bytes of row r.
func (m *Matrix) Row(r int) []byte { return m.Data[r*m.RowBytes : (r+1)*m.RowBytes] }

// DequantizeRow writes row r of m as float32 into dst (len(dst) == m.Cols).
func (m *Matrix) DequantizeRow(r int, dst []float32) {
	if err := int4.DequantizeRow(m.Type, m.Row(r), dst[:m.Cols]); err != nil {
		panic(err) // sizes are checked by NewMatrix; this is a programming error
	}
}

// rowGrain is the number of rows a worker takes at least, so chunks stay cache-friendly
// and the 8-row kernels (Q4_0 decode and GEMM) see the same aligned groups of 8 rows in
// MatVec and MatMul.
const rowGrain = 8

// tileRows is the number of weight rows MatMul applies to every token of the batch
// before moving on, so those rows stay in the L1/L2 cache and are read from memory once.
const tileRows = 16

// MatVec computes y = m · x (y[r] = Σ_c m[r,c]·x[c]) with len(x) == m.Cols and
// len(y) == m.Rows, spreading rows over the pool. Q4_0, Q8_0, IQ4_NL, NF4, FP4, Q4_K
// and Q6_K weights use the quantized-activation kernels (see impl.go, iq4nl.go), F32 and
// F16 float rows kernels; other types the generic float path.
func (p *Pool) MatVec(m *Matrix, x, y []float32) { p.MatMul(m, x, 1, y) }

// MatMul computes, for n input rows x[i*Cols:(i+1)*Cols], the outputs
// y[i*Rows:(i+1)*Rows] = m · x_i. Weight rows are applied to all n inputs while they
// are in cache, so the weights are read from memory once per call (the prompt-prefill
// path).
func (p *Pool) MatMul(m *Matrix, x []float32, n int, y []float32) {
	if n <= 0 {
		return
	}
	x = x[:n*m.Cols]
	y = y[:n*m.Rows]
	p.mu.Lock()
	defer p.mu.Unlock()
	j := &p.mul
	*j = mulJob{p: p, m: m, x: x, y: y, n: n}
	if f := rowsFnFor(m.Type); f.kern != nil && m.Cols%qBlock == 0 && m.Cols > 0 {
		p.act.quantize(x, n, m.Cols)
		j.rows = f
		first := 0 // the first token every row runs on the one-row kernel for
		if g := gemmFor(m.Type); g.kern != nil && n >= 4 {
			p.act.packGQ(n/4, g.perm)
			j.g = g
			first = n &^ 3
		} else if k4 := kernel4For(m.Type); k4 != nil && n >= 4 {
			p.act.pack4(n / 4)
			j.kern4 = k4
			first = n &^ 3
		}
		if f.prep != nil {
			p.act.prepare(f.prep, first, n)
		}
	}
	p.run(m.Rows, rowGrain, j)
	*j = mulJob{} // drop references to the caller's buffers
}

// mulJob is the loop body of MatMul; one lives in each Pool so dispatch does not allocate.
type mulJob struct {
	p     *Pool
	m     *Matrix
	x, y  []float32
	n     int
	rows  rowsFn      // rows.kern nil: float path
	kern4 rows4Kernel // nil: rows per token
	g     gemmSpec    // g.kern non-nil: gemmRows (prefill)
}

func (j *mulJob) run(lo, hi, w int) {
	m := j.m
	rb := m.RowBytes
	switch {
	case j.g.kern != nil:
		j.gemmRows(lo, hi, w)
	case j.rows.kern != nil && j.n == 1:
		j.rows.run(&j.p.act, 0, m.Data[lo*rb:hi*rb], rb, j.y[lo:hi])
	case j.rows.kern != nil:
		n4 := 0
		if j.kern4 != nil {
			n4 = j.n &^ 3
		}
		nb := m.Cols / qBlock
		for r0 := lo; r0 < hi; r0 += tileRows {
			r1 := min(r0+tileRows, hi)
			for i := 0; i < n4; i += 4 {
				j.kern4(m.Data[r0*rb:r1*rb], rb, r1-r0, j.p.act.group(i/4), nb, j.y[i*m.Rows+r0:], m.Rows)
			}
			for i := n4; i < j.n; i++ {
				j.rows.run(&j.p.act, i, m.Data[r0*rb:r1*rb], rb, j.y[i*m.Rows+r0:i*m.Rows+r1])
			}
		}
	case m.Type == int4.F32:
		// F32 weights: the rows kernel over tiles of rows, every token per tile.
		w := f32View(m.Data)
		st := rb / 4
		step := tileRows
		if j.n == 1 {
			step = hi - lo // decode: the whole chunk in one call
		}
		for r0 := lo; r0 < hi; r0 += step {
			r1 := min(r0+step, hi)
			for i := 0; i < j.n; i++ {
				active.f32Rows(w[r0*st:], st, j.x[i*m.Cols:(i+1)*m.Cols], j.y[i*m.Rows+r0:i*m.Rows+r1])
			}
		}
	case m.Type == int4.F16:
		// F16 weights: the float rows kernel (f16.go) over tiles of rows, every token per tile.
		step := tileRows
		if j.n == 1 {
			step = hi - lo
		}
		for r0 := lo; r0 < hi; r0 += step {
			r1 := min(r0+step, hi)
			for i := 0; i < j.n; i++ {
				active.kt.f16(m.Data[r0*rb:], rb, j.x[i*m.Cols:(i+1)*m.Cols], j.y[i*m.Rows+r0:i*m.Rows+r1])
			}
		}
	case j.n == 1:
		matVecRows(m, j.x, j.y, lo, hi)
	default:
		var buf []float32
		if m.Type != int4.F32 {
			buf = j.p.buf(w, m.Cols)
		}
		for r := lo; r < hi; r++ {
			var wr []float32
			if m.Type == int4.F32 {
				wr = f32View(m.Row(r))
			} else {
				m.DequantizeRow(r, buf)
				wr = buf
			}
			for i := 0; i < j.n; i++ {
				j.y[i*m.Rows+r] = DotF32(wr, j.x[i*m.Cols:(i+1)*m.Cols])
			}
		}
	}
}

func matVecRows(m *Matrix, x, y []float32, lo, hi int) {
	if m.Type == int4.F32 {
		for r := lo; r < hi; r++ {
			y[r] = DotF32(f32View(m.Row(r)), x)
		}
		return
	}
	for r := lo; r < hi; r++ {
		y[r] = int4.DotRow(m.Type, m.Row(r), x)
	}
}
