package runtime

import "github.com/edgerun/edgerun/kernels"

// loraScratch holds the low-rank activations of the unmerged adapter path.
type loraScratch struct {
	xa   []float32                   // n × (stacked rank) of one group
	bx   []float32                   // n × (all output rows of one group): B(A x)
	base [numLayerProj + 1][]float32 // pre-adapter outputs, for DoRA
	row  []float32                   // one embedding update

	// The pool loops of applyLora read their arguments from here: loopA, loopB and
	// loopAB are bound once (runA, runB, runAB), so dispatching them allocates nothing.
	g                 *loraGroup
	x                 []float32
	n                 int
	scale             float32     // the adapter's scale in the session
	ys                [][]float32 // outputs of g's modules
	runA, runB, runAB func(lo, hi int)
}

// applyEmbedLora adds the active adapters' embedding LoRA to the embeddings x (one row
// of dim values per token): x_i += s·Σ_k A[k, t_i]·B[:, k], computed row by row as
// Merge computes the merged embedding row, so merged and unmerged agree exactly.
func applyEmbedLora(ls *loraScratch, active []activeLora, tokens []int, x []float32, dim int) {
	for _, al := range active {
		le := al.ad.embed
		if le == nil || al.scale == 0 {
			continue
		}
		if cap(ls.row) < dim {
			ls.row = make([]float32, dim)
		}
		d := ls.row[:dim]
		for i, t := range tokens {
			le.deltaRow(t, d)
			kernels.Axpy(x[i*dim:(i+1)*dim], al.scale*le.scale, d)
		}
	}
}

// applyLora adds the active adapters' low-rank updates to the outputs of one input
// group: for every adapter, A·x is computed once for all the group's projections
// (their A factors are stacked), then each projection gets
// y += s·B(A x) (+ s·bias), or DoRA's y += (f−1)⊙Wx + f⊙s·B(A x).
// x holds n inputs; out(proj) returns the n outputs of a projection (W x, no bias).
//
// The factors are f16 (see loraProj). Each adapter costs two pool loops (A·x, then B·u
// over the output panels of all the group's projections), or, at decode on two
// threads, one loop in which each thread runs both products of its own modules; a
// loop too small to pay for waking a worker runs inline.
func applyLora(p *kernels.Pool, ls *loraScratch, active []activeLora, pick func(*Adapter) *loraGroup, x []float32, n int, out func(proj int) []float32) {
	// DoRA needs the base output of every projection it adapts; copy it before any
	// adapter changes it.
	var hasDora [numLayerProj + 1]bool
	for _, al := range active {
		if g := pick(al.ad); g != nil && !g.plain {
			for k, lp := range g.mods {
				if lp.mag != nil && !hasDora[slotIndex(g.projs[k])] {
					si := slotIndex(g.projs[k])
					hasDora[si] = true
					y := out(g.projs[k])
					if cap(ls.base[si]) < len(y) {
						ls.base[si] = make([]float32, len(y))
					}
					ls.base[si] = ls.base[si][:len(y)]
					copy(ls.base[si], y)
				}
			}
		}
	}
	if ls.runA == nil {
		ls.runA, ls.runB, ls.runAB = ls.loopA, ls.loopB, ls.loopAB
	}
	for _, al := range active {
		g := pick(al.ad)
		if g == nil || al.scale == 0 {
			continue
		}
		R := g.ranks
		if cap(ls.xa) < n*R {
			ls.xa = make([]float32, n*R)
		}
		ls.g, ls.x, ls.n, ls.scale = g, x, n, al.scale
		ls.xa = ls.xa[:n*R]
		ls.ys = ls.ys[:0]
		for k := range g.mods {
			ls.ys = append(ls.ys, out(g.projs[k]))
		}
		if g.plain && g.split > 0 && p.Threads() == 2 && n <= loraSplitTokens && n*g.cost >= 2*loraChunk {
			// Two threads, each A then B of its own modules: one pool loop, no barrier
			// between the products.
			p.Run(2, 1, ls.runAB)
			ls.g, ls.x, ls.ys = nil, nil, ls.ys[:0]
			continue
		}
		p.Run(n*R, loraGrain(n*R, g.in, p.Threads()), ls.runA)
		for _, lp := range g.mods {
			ls.scaleU(lp)
		}
		if !g.plain {
			total := 0
			for _, lp := range g.mods {
				total += lp.out
			}
			if cap(ls.bx) < n*total {
				ls.bx = make([]float32, n*total)
			}
			ls.bx = ls.bx[:n*total]
		}
		p.Run(g.panels, loraGrain(g.panels, kernels.PanelRows*g.mods[0].rank*n, p.Threads()), ls.runB)
		ls.g, ls.x, ls.ys = nil, nil, ls.ys[:0]
	}
}

// loraSplitTokens is the most tokens for which two threads run whole module sets
// (loopAB); above it, both products are split over the pool like prefill's matrices.
const loraSplitTokens = 4

// scaleU scales module lp's part of xa for every token: by the whole factor
// s·aMul·bMul for a plain module (whose B·u then goes straight into y), by aMul·bMul
// alone for a module with a bias or DoRA (its B·u is combined in loopB).
func (ls *loraScratch) scaleU(lp *loraProj) {
	f := lp.aMul * lp.bMul
	if lp.bias == nil && lp.mag == nil {
		f *= ls.scale * lp.scale
	}
	R := ls.g.ranks
	for i := 0; i < ls.n; i++ {
		u := ls.xa[i*R+lp.off : i*R+lp.off+lp.rank]
		for k := range u {
			u[k] *= f
		}
	}
}

// loopAB is the pool loop of a plain group split by module sets: unit 0 computes A·x
// and B·u of mods[:split], unit 1 those of mods[split:].
func (ls *loraScratch) loopAB(lo, hi int) {
	g, R, in := ls.g, ls.g.ranks, ls.g.in
	for unit := lo; unit < hi; unit++ {
		k0, k1 := 0, g.split
		if unit == 1 {
			k0, k1 = g.split, len(g.mods)
		}
		j0, j1 := g.mods[k0].off, g.mods[k1-1].off+g.mods[k1-1].rank
		for i := 0; i < ls.n; i++ {
			kernels.DotRowsF16(g.a[j0*in:], in, ls.x[i*in:(i+1)*in], ls.xa[i*R+j0:i*R+j1])
		}
		for k := k0; k < k1; k++ {
			lp := g.mods[k]
			ls.scaleU(lp)
			for i := 0; i < ls.n; i++ {
				kernels.LoraPanelsF16(lp.bp, ls.xa[i*R+lp.off:i*R+lp.off+lp.rank], ls.ys[k][i*lp.out:(i+1)*lp.out])
			}
		}
	}
}

// loopA is the pool loop of A·x: xa[i·R + j] = (stacked A row j) · x_i for units
// u = i·R + j in [lo, hi); each token's run of rows is one kernel call.
func (ls *loraScratch) loopA(lo, hi int) {
	g, R, in := ls.g, ls.g.ranks, ls.g.in
	for i := lo / R; i*R < hi; i++ {
		j0, j1 := max(lo-i*R, 0), min(hi-i*R, R)
		kernels.DotRowsF16(g.a[j0*in:], in, ls.x[i*in:(i+1)*in], ls.xa[i*R+j0:i*R+j1])
	}
}

// loopB is the pool loop of B·u over the panels [lo, hi) of all the group's
// projections (numbered module after module): plain modules add into their output
// directly, the others go through bx.
func (ls *loraScratch) loopB(lo, hi int) {
	g, n, R, xa := ls.g, ls.n, ls.g.ranks, ls.xa
	first, rowOff := 0, 0 // first panel and first bx row of module k
	for k, lp := range g.mods {
		np := (lp.out + kernels.PanelRows - 1) / kernels.PanelRows
		q0, q1 := max(lo-first, 0), min(hi-first, np)
		first += np
		rowOff += lp.out
		if q0 >= q1 {
			continue
		}
		r0, r1 := q0*kernels.PanelRows, min(q1*kernels.PanelRows, lp.out)
		bp := lp.bp[q0*kernels.PanelRows*lp.rank:]
		y := ls.ys[k]
		if lp.bias == nil && lp.mag == nil {
			for i := 0; i < n; i++ {
				kernels.LoraPanelsF16(bp, xa[i*R+lp.off:i*R+lp.off+lp.rank], y[i*lp.out+r0:i*lp.out+r1])
			}
			continue
		}
		total := len(ls.bx) / n
		off := rowOff - lp.out
		bx := ls.bx
		for i := 0; i < n; i++ {
			d := bx[i*total+off+r0 : i*total+off+r1]
			clear(d)
			kernels.LoraPanelsF16(bp, xa[i*R+lp.off:i*R+lp.off+lp.rank], d)
		}
		base := ls.base[slotIndex(g.projs[k])]
		sc := ls.scale * lp.scale
		for r := r0; r < r1; r++ {
			f := float32(1)
			if lp.mag != nil {
				f = lp.doraFactor(r, sc)
			}
			for i := 0; i < n; i++ {
				v := bx[i*total+off+r]
				if lp.bias != nil {
					v += lp.bias[r]
				}
				v *= sc
				if lp.mag != nil {
					y[i*lp.out+r] += (f-1)*base[i*lp.out+r] + f*v
				} else {
					y[i*lp.out+r] += v
				}
			}
		}
	}
}

// loraChunk is the least work (multiply-adds) worth handing to another thread: below
// it, waking a worker costs more than it saves, so small LoRA products run inline.
var loraChunk = 1 << 15

// loraGrain returns the pool grain that splits units of the given cost (multiply-adds)
// into as many equal chunks as threads allow without any falling under loraChunk.
func loraGrain(units, cost, threads int) int {
	parts := min(max(units*cost/loraChunk, 1), threads, units)
	return (units + parts - 1) / parts
}

// slotIndex maps a projection index (-1: output head) to a loraScratch.base slot.
func slotIndex(proj int) int {
	if proj < 0 {
		return numLayerProj
	}
	return proj
}
