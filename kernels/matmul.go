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

// rowGrain is the number of rows a worker takes at least, so chunks stay cache-friendly.
const rowGrain = 4

// MatVec computes y = m · x (y[r] = Σ_c m[r,c]·x[c]) with len(x) == m.Cols and
// len(y) == m.Rows, spreading rows over the pool.
func (p *Pool) MatVec(m *Matrix, x, y []float32) {
	x = x[:m.Cols]
	y = y[:m.Rows]
	p.Run(m.Rows, rowGrain, func(lo, hi int) { matVecRows(m, x, y, lo, hi) })
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

// MatMul computes, for n input rows x[i*Cols:(i+1)*Cols], the outputs
// y[i*Rows:(i+1)*Rows] = m · x_i. Each weight row is decoded once and applied to all
// n inputs, so the weights are read once per call (the prompt-prefill path).
func (p *Pool) MatMul(m *Matrix, x []float32, n int, y []float32) {
	if n == 1 {
		p.MatVec(m, x, y)
		return
	}
	x = x[:n*m.Cols]
	y = y[:n*m.Rows]
	p.Run(m.Rows, rowGrain, func(lo, hi int) {
		var buf []float32
		if m.Type != int4.F32 {
			buf = make([]float32, m.Cols)
		}
		for r := lo; r < hi; r++ {
			var w []float32
			if m.Type == int4.F32 {
				w = f32View(m.Row(r))
			} else {
				m.DequantizeRow(r, buf)
				w = buf
			}
			for i := 0; i < n; i++ {
				y[i*m.Rows+r] = DotF32(w, x[i*m.Cols:(i+1)*m.Cols])
			}
		}
	})
}
