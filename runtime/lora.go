package runtime

import "github.com/edgerun/edgerun/kernels"

// loraScratch holds the low-rank activations of the unmerged adapter path.
type loraScratch struct {
	xa   []float32                   // n × (stacked rank) of one group
	bx   []float32                   // n × (all output rows of one group): B(A x)
	base [numLayerProj + 1][]float32 // pre-adapter outputs, for DoRA
	row  []float32                   // one embedding update
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
func applyLora(p *kernels.Pool, ls *loraScratch, active []activeLora, pick func(*Adapter) *loraGroup, x []float32, n int, out func(proj int) []float32) {
	// DoRA needs the base output of every projection it adapts; copy it before any
	// adapter changes it.
	var hasDora [numLayerProj + 1]bool
	for _, al := range active {
		if g := pick(al.ad); g != nil {
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
	for _, al := range active {
		g := pick(al.ad)
		if g == nil || al.scale == 0 {
			continue
		}
		R, in := g.ranks, g.in
		if cap(ls.xa) < n*R {
			ls.xa = make([]float32, n*R)
		}
		xa := ls.xa[:n*R]
		p.Run(n*R, grainFor(in), func(lo, hi int) {
			for u := lo; u < hi; u++ {
				i, j := u/R, u%R
				xa[u] = kernels.DotF32(g.a[j*in:(j+1)*in], x[i*in:(i+1)*in])
			}
		})
		// One loop over the output rows of all the group's projections.
		total := 0
		for _, lp := range g.mods {
			total += lp.out
		}
		if cap(ls.bx) < n*total {
			ls.bx = make([]float32, n*total)
		}
		bx := ls.bx[:n*total]
		p.Run(total, grainFor(n*g.mods[0].rank), func(lo, hi int) {
			first := 0
			for k, lp := range g.mods {
				a, b := max(lo-first, 0), min(hi-first, lp.out)
				first += lp.out
				if a >= b {
					continue
				}
				// bx[i·total + (first-lp.out) + r] = B row r · (A x_i) for this chunk.
				off := first - lp.out
				for i := 0; i < n; i++ {
					kernels.DotRowsF32(lp.b[a*lp.rank:], lp.rank, xa[i*R+lp.off:i*R+lp.off+lp.rank], bx[i*total+off+a:i*total+off+b])
				}
				y := out(g.projs[k])
				base := ls.base[slotIndex(g.projs[k])]
				sc := al.scale * lp.scale
				for r := a; r < b; r++ {
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
		})
	}
}

// loraChunk is the least work (multiply-adds) worth handing to another thread: below
// it, waking a worker costs more than it saves, so decode-time LoRA runs inline.
const loraChunk = 1 << 15

// grainFor returns the pool grain for units of the given cost in multiply-adds.
func grainFor(cost int) int { return max(1, loraChunk/max(cost, 1)) }

// slotIndex maps a projection index (-1: output head) to a loraScratch.base slot.
func slotIndex(proj int) int {
	if proj < 0 {
		return numLayerProj
	}
	return proj
}
