package kernels

// Fused decode products: several matrices that read the same input (a layer's Q, K and V
// projections; its gate and up projections) run as one pool loop over their
// concatenated rows, with the input quantized once. A decoded token then pays one
// dispatch, one activation quantization and one end-of-loop wait per group instead of
// one per matrix, and the small K/V matrices (a few hundred rows: a few microseconds of
// work each) no longer run as loops of their own whose start and end cost more than
// their rows.

// MatOut pairs a weight matrix with the output its product is written to.
type MatOut struct {
	M *Matrix
	Y []float32
}

// maxMulti bounds the matrices of one MatMulMulti loop.
const maxMulti = 4

// multiJob is the loop body of MatMulMulti and MatVecSwiGLU; one lives in each Pool.
type multiJob struct {
	p     *Pool
	k     int               // matrices
	parts [maxMulti]MatOut  // the matrices and outputs
	rows  [maxMulti]rowsFn  // their kernels
	off   [maxMulti + 1]int // part i owns loop indices [off[i], off[i]+Rows) (off[i] a multiple of rowGrain)
	glu   bool              // MatVecSwiGLU: parts 0 and 1 are gate and up over the same indices
}

// fusable reports whether n tokens of x (len cols·n) can run through the matrices in
// one quantized-activation loop: one token, and every matrix has a quantized-activation
// kernel over the same number of columns.
func fusable(n int, parts []MatOut) bool {
	if n != 1 || len(parts) == 0 || len(parts) > maxMulti {
		return false
	}
	cols := parts[0].M.Cols
	if cols <= 0 || cols%qBlock != 0 {
		return false
	}
	for _, pt := range parts {
		if pt.M.Cols != cols || kernelFor(pt.M.Type) == nil {
			return false
		}
	}
	return true
}

// MatMulMulti computes parts[i].Y = parts[i].M · x_t for each of the n input rows of x
// (as MatMul does for each part), with the same results as one MatMul per part. When
// decoding (n = 1) matrices with quantized-activation kernels over the same columns,
// it quantizes x once and runs all parts' rows as one pool loop. At most 4 parts; it
// does not allocate.
func (p *Pool) MatMulMulti(x []float32, n int, parts ...MatOut) {
	if !fusable(n, parts) {
		for _, pt := range parts {
			p.MatMul(pt.M, x, n, pt.Y)
		}
		return
	}
	cols := parts[0].M.Cols
	p.mu.Lock()
	defer p.mu.Unlock()
	j := p.bindMulti(x[:cols], parts, false)
	p.run(j.off[j.k], rowGrain, j)
	p.mj = multiJob{}
}

// MatVecSwiGLU computes g = silu(gate · x) ⊙ (up · x) for one input row x (len
// gate.Cols; g and u len gate.Rows, u receives up · x), element for element what MatMul
// of both followed by SwiGLU gives. With quantized-activation kernels it is one pool
// loop: each chunk of rows runs both products and the activation while the rows' outputs
// are in cache. gate and up must have the same shape. It does not allocate.
func (p *Pool) MatVecSwiGLU(gate, up *Matrix, x, g, u []float32) {
	parts := [2]MatOut{{gate, g}, {up, u}}
	if gate.Rows != up.Rows || !fusable(1, parts[:]) {
		p.MatMul(gate, x, 1, g)
		p.MatMul(up, x, 1, u)
		p.SwiGLU(g[:gate.Rows], u)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	j := p.bindMulti(x[:gate.Cols], parts[:], true)
	p.run(gate.Rows, rowGrain, j)
	p.mj = multiJob{}
}

// bindMulti fills the pool's multiJob for parts and quantizes (and prepares, for the
// parts' kernels that read prepared blocks) the input row x (p.mu held).
func (p *Pool) bindMulti(x []float32, parts []MatOut, glu bool) *multiJob {
	j := &p.mj
	*j = multiJob{p: p, k: len(parts), glu: glu}
	p.act.quantize(x, 1, len(x))
	for i, pt := range parts {
		j.parts[i] = MatOut{pt.M, pt.Y[:pt.M.Rows]}
		j.rows[i] = rowsFnFor(pt.M.Type)
		if pr := j.rows[i].prep; pr != nil {
			p.act.prepare(pr, 0, 1)
		}
		j.off[i+1] = j.off[i] + (pt.M.Rows+rowGrain-1)/rowGrain*rowGrain
	}
	return j
}

func (j *multiJob) run(lo, hi, _ int) {
	act := &j.p.act
	if j.glu {
		g, u := &j.parts[0], &j.parts[1]
		rb := g.M.RowBytes
		j.rows[0].run(act, 0, g.M.Data[lo*rb:hi*rb], rb, g.Y[lo:hi])
		rb = u.M.RowBytes
		j.rows[1].run(act, 0, u.M.Data[lo*rb:hi*rb], rb, u.Y[lo:hi])
		SwiGLU(g.Y[lo:hi], u.Y[lo:hi])
		return
	}
	for i := 0; i < j.k && lo < hi; i++ {
		a, b := max(lo, j.off[i]), min(hi, j.off[i+1])
		if a >= b {
			continue
		}
		pt := &j.parts[i]
		r0, r1 := a-j.off[i], min(b-j.off[i], pt.M.Rows)
		if r0 < r1 {
			rb := pt.M.RowBytes
			j.rows[i].run(act, 0, pt.M.Data[r0*rb:r1*rb], rb, pt.Y[r0:r1])
		}
	}
}
