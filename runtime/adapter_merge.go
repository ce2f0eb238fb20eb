package runtime

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/kernels"
)

// ErrMerged is returned by Merge when the engine already holds merged weights.
var ErrMerged = errors.New("runtime: adapters are already merged; Unmerge first")

// MergeOptions control Merge.
type MergeOptions struct {
	// Type is the format of the merged weights: "" or "base" keeps each weight's own
	// format (dequantize, add, requantize), or any int4 type name ("f32", "f16",
	// "q8_0", "q4_0", ...). A weight whose row length the format cannot hold (not a
	// multiple of its block) is kept as F32 and listed in MergeReport.Fallback.
	Type string
}

// MergeReport describes what Merge did and how far the stored weights are from the
// exact merged float weights (the requantization error; 0 for F32).
type MergeReport struct {
	Tensors   int      // weights replaced
	Bytes     int64    // bytes of the new weight buffers
	MaxAbsErr float64  // largest |stored − exact| over all merged weights
	RMSErr    float64  // root mean square of stored − exact
	RelErr    float64  // ||stored − exact|| / ||exact||
	Fallback  []string // weights kept as F32 because the format does not fit
}

// Merge bakes an adapter set into the weights: every adapted weight is dequantized, the
// scaled B·A (DoRA: the magnitude-normalised update) added in float32, and the result
// encoded in opts.Type into a new buffer. The originals (memory-mapped) are kept, so
// Unmerge restores the base exactly. Running sessions see the merged weights from their
// next Eval; sessions should not also have the merged adapters active. lora_B biases
// cannot be merged (the model has no bias on most projections).
func (e *Engine) Merge(set []AdapterScale, opts MergeOptions) (*MergeReport, error) {
	var target int4.Type
	sameAsBase := opts.Type == "" || opts.Type == "base"
	if !sameAsBase {
		t, err := int4.ParseType(opts.Type)
		if err != nil {
			return nil, fmt.Errorf("runtime: merge type %q: %w", opts.Type, err)
		}
		target = t
	}
	e.regMu.Lock()
	var active []activeLora
	for _, as := range set {
		ad, ok := e.adapters[as.Name]
		if !ok {
			e.regMu.Unlock()
			return nil, fmt.Errorf("runtime: merge: %q: %w", as.Name, ErrUnknownAdapter)
		}
		active = append(active, activeLora{ad: ad, scale: as.Scale})
	}
	e.regMu.Unlock()
	for _, al := range active {
		for _, m := range al.ad.src.Modules {
			if m.Bias != nil {
				return nil, fmt.Errorf("runtime: merge: adapter %q module %q has a lora_B bias, which cannot be merged; apply it unmerged", al.ad.info.Name, m.Target)
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.merged) > 0 {
		return nil, ErrMerged
	}
	rep := &MergeReport{}
	var sumSq, sumExact float64
	var count int64
	replaced := map[[2]int]*kernels.Matrix{}
	type job struct {
		li, proj int
		mods     []*loraProj
		scales   []float32
		embs     []*loraEmbed
		escales  []float32
	}
	var jobs []job
	jobFor := func(li, proj int) *job {
		for i := range jobs {
			if jobs[i].li == li && jobs[i].proj == proj {
				return &jobs[i]
			}
		}
		jobs = append(jobs, job{li: li, proj: proj})
		return &jobs[len(jobs)-1]
	}
	add := func(li, proj int, g *loraGroup, scale float32) {
		for k, lp := range g.mods {
			if g.projs[k] != proj {
				continue
			}
			j := jobFor(li, proj)
			j.mods = append(j.mods, lp)
			j.scales = append(j.scales, scale)
		}
	}
	// modules_to_save weights: matrices become the base their job starts from (or are
	// swapped in as they are), norms are swapped in. The last adapter in set wins.
	replMats := map[[2]int]*kernels.Matrix{}
	replNorms := map[[2]int][]float32{}
	for _, al := range active {
		for _, r := range al.ad.repls {
			switch r.kind {
			case replEmbed:
				replMats[[2]int{liEmbed, -1}] = r.mat
			case replOutput:
				replMats[[2]int{-1, -1}] = r.mat
			default:
				replNorms[normKey(r.kind, r.li)] = r.vec
			}
		}
	}
	for _, al := range active {
		for li, groups := range al.ad.layers {
			for _, g := range groups {
				if g == nil {
					continue
				}
				for _, pi := range g.projs {
					add(li, pi, g, al.scale)
				}
			}
		}
		if al.ad.output != nil {
			add(-1, -1, al.ad.output, al.scale)
		}
		if al.ad.embed != nil {
			j := jobFor(liEmbed, -1)
			j.embs = append(j.embs, al.ad.embed)
			j.escales = append(j.escales, al.scale)
		}
	}
	for _, j := range jobs {
		key := [2]int{j.li, j.proj}
		base := *e.Model.slot(j.li, j.proj)
		if m, ok := replMats[key]; ok {
			base = m
			delete(replMats, key)
		}
		rows, cols := base.Rows, base.Cols
		t := target
		if sameAsBase {
			t = base.Type
		}
		rb, err := int4.RowBytes(t, cols)
		if err != nil {
			t = int4.F32
			rb = 4 * cols
			rep.Fallback = append(rep.Fallback, weightName(j.li, j.proj))
		}
		data := make([]byte, rows*rb)
		var mu sync.Mutex
		var firstErr error
		e.pool.Run(rows, 8, func(lo, hi int) {
			row := make([]float32, cols)
			d := make([]float32, cols)
			back := make([]float32, cols)
			var maxAbs, sq, ex float64
			for r := lo; r < hi; r++ {
				base.DequantizeRow(r, row)
				for k, le := range j.embs {
					le.deltaRow(r, d)
					kernels.Axpy(row, j.escales[k]*le.scale, d)
				}
				for k, lp := range j.mods {
					lp.deltaRow(r, d)
					kernels.Axpy(row, j.scales[k]*lp.scale, d)
					if lp.mag != nil {
						var n2 float64
						for _, v := range row {
							n2 += float64(v) * float64(v)
						}
						if n2 > 0 {
							f := float32(float64(lp.mag[r]) / math.Sqrt(n2))
							for c := range row {
								row[c] *= f
							}
						}
					}
				}
				dst := data[r*rb : (r+1)*rb]
				err := int4.QuantizeRow(t, row, dst)
				if err == nil {
					err = int4.DequantizeRow(t, dst, back)
				}
				if err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
					return
				}
				for c, v := range row {
					diff := float64(back[c]) - float64(v)
					maxAbs = max(maxAbs, math.Abs(diff))
					sq += diff * diff
					ex += float64(v) * float64(v)
				}
			}
			mu.Lock()
			rep.MaxAbsErr = max(rep.MaxAbsErr, maxAbs)
			sumSq += sq
			sumExact += ex
			mu.Unlock()
		})
		if firstErr != nil {
			return nil, fmt.Errorf("runtime: merge %s as %v: %w", weightName(j.li, j.proj), t, firstErr)
		}
		count += int64(rows) * int64(cols)
		mat, err := kernels.NewMatrix(t, rows, cols, data)
		if err != nil {
			return nil, fmt.Errorf("runtime: merge %s: %w", weightName(j.li, j.proj), err)
		}
		replaced[key] = mat
		rep.Bytes += int64(len(data))
	}
	// Replacement matrices no LoRA module adapts are swapped in as they are (F32).
	for key, m := range replMats {
		replaced[key] = m
	}
	if count > 0 {
		rep.RMSErr = math.Sqrt(sumSq / float64(count))
		if sumExact > 0 {
			rep.RelErr = math.Sqrt(sumSq / sumExact)
		}
	}
	// Swap in only once every weight succeeded, so a failure leaves the base intact.
	e.merged = map[[2]int]*kernels.Matrix{}
	for key, mat := range replaced {
		slot := e.Model.slot(key[0], key[1])
		e.merged[key] = *slot
		*slot = mat
	}
	for key, vec := range replNorms {
		slot := e.Model.normSlot(key)
		orig, err := kernels.NewMatrix(int4.F32, 1, len(*slot), f32Bytes(*slot))
		if err != nil {
			return nil, fmt.Errorf("runtime: merge: keep %s: %w", normName(key), err)
		}
		e.merged[key] = orig
		*slot = vec
	}
	rep.Tensors = len(replaced) + len(replNorms)
	return rep, e.reloadBackend() // the ort backend re-exports the merged weights
}

// Merge keys of the RMSNorm weights a modules_to_save replacement swaps in: the
// projection index is beyond the real projections, so baseMatrix never sees them.
const (
	normAttn = 100 + iota
	normFFN
	normOut
)

// normKey returns the merge key of the norm a replacement of kind replaces.
func normKey(kind, li int) [2]int {
	switch kind {
	case replAttnNorm:
		return [2]int{li, normAttn}
	case replFFNNorm:
		return [2]int{li, normFFN}
	}
	return [2]int{-1, normOut}
}

// isNormKey reports whether a merge key names a norm.
func isNormKey(key [2]int) bool { return key[1] >= normAttn }

// normSlot returns where the model keeps the norm weight of a merge key.
func (m *Model) normSlot(key [2]int) *[]float32 {
	switch key[1] {
	case normAttn:
		return &m.layers[key[0]].attnNorm
	case normFFN:
		return &m.layers[key[0]].ffnNorm
	}
	return &m.outNorm
}

// normName returns the GGUF name of the norm of a merge key.
func normName(key [2]int) string {
	switch key[1] {
	case normAttn:
		return fmt.Sprintf("blk.%d.attn_norm.weight", key[0])
	case normFFN:
		return fmt.Sprintf("blk.%d.ffn_norm.weight", key[0])
	}
	return "output_norm.weight"
}

// Unmerge restores the original (memory-mapped) weights replaced by Merge. It is a
// no-op when nothing is merged.
func (e *Engine) Unmerge() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for key, orig := range e.merged {
		if isNormKey(key) {
			// The original values, bit for bit (kept as F32 bytes).
			v := make([]float32, orig.Cols)
			orig.DequantizeRow(0, v)
			*e.Model.normSlot(key) = v
			continue
		}
		*e.Model.slot(key[0], key[1]) = orig
	}
	e.merged = nil
	e.backendErr = e.reloadBackend()
}

// Merged reports whether adapters are merged into the weights.
func (e *Engine) Merged() bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.merged) > 0
}

// weightName returns the GGUF name of a projection weight.
func weightName(li, proj int) string {
	if li == liEmbed {
		return "token_embd.weight"
	}
	if li < 0 {
		return "output.weight"
	}
	return fmt.Sprintf("blk.%d.%s.weight", li, projNames[proj])
}

// WeightData returns the current bytes and format of the base tensor name (a GGUF
// name such as "blk.0.attn_q.weight", "token_embd.weight" or a norm weight): the
// merged buffer while merged, else the original (norms: an F32 copy). It is meant
// for checks and export.
func (e *Engine) WeightData(name string) (int4.Type, []byte, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	switch name {
	case "output.weight":
		return e.Model.output.Type, e.Model.output.Data, true
	case "token_embd.weight":
		return e.Model.embed.Type, e.Model.embed.Data, true
	case "output_norm.weight":
		return int4.F32, f32Bytes(e.Model.outNorm), true
	}
	for li := range e.Model.layers {
		for _, k := range []int{normAttn, normFFN} {
			if key := [2]int{li, k}; normName(key) == name {
				return int4.F32, f32Bytes(*e.Model.normSlot(key)), true
			}
		}
	}
	for li := range e.Model.layers {
		for pi := range projNames {
			if weightName(li, pi) == name {
				m := *e.Model.slot(li, pi)
				return m.Type, m.Data, true
			}
		}
	}
	return 0, nil, false
}
