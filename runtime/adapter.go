package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/kernels"
	"github.com/edgerun/edgerun/loader"
)

// Adapter errors.
var (
	// ErrAdapterInUse is returned by UnloadAdapter while a session has the adapter active.
	ErrAdapterInUse = errors.New("runtime: adapter is in use")
	// ErrUnknownAdapter is returned for a name that is not loaded.
	ErrUnknownAdapter = errors.New("runtime: unknown adapter")
	// ErrAdapterExists is returned by LoadAdapter for a name already loaded.
	ErrAdapterExists = errors.New("runtime: adapter name already loaded")
)

// Projection indices: the seven projections of a decoder layer, then the output head.
const (
	projQ = iota
	projK
	projV
	projO
	projGate
	projUp
	projDown
	numLayerProj
)

// projNames are the GGUF names of the layer projections, by index.
var projNames = [numLayerProj]string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}

// Input groups: projections that read the same activations share one pass over A.
var loraGroups = [][]int{{projQ, projK, projV}, {projO}, {projGate, projUp}, {projDown}}

// AdapterScale names a loaded adapter and the strength to apply it with.
type AdapterScale struct {
	Name  string
	Scale float32
}

// AdapterInfo describes a loaded adapter.
type AdapterInfo struct {
	Name    string
	Path    string
	Format  string   // "peft" or "gguf"
	Rank    int      // largest module rank
	Targets []string // GGUF names of the adapted base tensors
	Bytes   int64    // size of the adapter's tensors as float32
	// LiveBytes is what the engine keeps for the live (unmerged) path, the bytes an
	// active adapter reads per token at most: the low-rank factors as f16, float32
	// biases and DoRA magnitudes and norm pieces, embedding LoRA and modules_to_save
	// weights.
	LiveBytes int64
	// Replaced are the GGUF names of the base tensors its modules_to_save weights
	// replace while it is active in a session (whatever its scale, as in PEFT).
	Replaced []string
	DoRA     bool
	RSLoRA   bool
	// Sessions is the number of sessions that have the adapter active.
	Sessions int
}

// loraProj is one module bound to the model: ΔW = scale·B·A (+ scale·bias). Its
// factors are f16 times a float32 multiplier each (see kernels.ToF16Scaled): A[k,i] =
// aMul·f16(aRows[k·in+i]), B[o,k] = bMul·f16 of bp, B packed in panels
// (kernels.PackLoraB).
type loraProj struct {
	rank, in, out int
	scale         float32
	bp            []uint16  // B in kernels.PanelRows-row panels
	aMul, bMul    float32   // largest magnitude / 2¹⁴ of A and of B
	bias          []float32 // [out] or nil
	off           int       // offset of this module's rows in its group's stacked A
	// DoRA: magnitude and the pieces of ||W + s·B·A||² per row, so the norm for any
	// user scale costs O(out): ||W_r||², <W_r, (B·A)_r>, ||(B·A)_r||².
	mag            []float32
	w2, cross, ba2 []float64
	aRows          []uint16 // this module's A ([rank, in]), a view into the group's stack
}

// loraGroup is the modules of one adapter that read the same input, with their A
// factors stacked so A·x is one pass for all of them.
type loraGroup struct {
	in     int
	ranks  int      // total rows of a
	a      []uint16 // [ranks, in], f16 (each module's rows scaled by its aMul)
	mods   []*loraProj
	projs  []int // projection index per module
	panels int   // B panels of all modules, the units of the B·u loop
	plain  bool  // no module has a bias or a DoRA magnitude
	// split divides the modules into two sets of about equal cost (mods[:split] and
	// mods[split:]), one per thread when two threads each run a whole module set;
	// 0 for a group of one module.
	split int
	cost  int // multiply-adds of A·x and B·u for one token
}

// Adapter is an adapter bound to an engine's model. It is immutable once loaded.
type Adapter struct {
	info   AdapterInfo
	src    *loader.Adapter
	layers [][]*loraGroup // per layer, per input group (nil when no module)
	output *loraGroup     // lm_head
	embed  *loraEmbed     // embedding LoRA, or nil
	repls  []replacement  // modules_to_save weights swapped in while active
	refs   int            // sessions using it; guarded by Engine.regMu
}

// loraEmbed is embedding LoRA bound to the model: token t's embedding gets
// scale · Σ_k A[k, t]·B[:, k].
type loraEmbed struct {
	rank, dim int
	scale     float32
	at        []float32 // Aᵀ: [vocab, rank], so a token's coefficients are contiguous
	bt        []float32 // Bᵀ: [rank, dim]
}

// deltaRow writes row t of the (unscaled) embedding update into dst (len dim).
func (le *loraEmbed) deltaRow(t int, dst []float32) {
	clear(dst)
	for k := 0; k < le.rank; k++ {
		kernels.Axpy(dst, le.at[t*le.rank+k], le.bt[k*le.dim:(k+1)*le.dim])
	}
}

// Replacement kinds: which base tensor a modules_to_save weight replaces.
const (
	replEmbed = iota
	replOutput
	replOutNorm
	replAttnNorm
	replFFNNorm
)

// replacement is a modules_to_save weight bound to the model.
type replacement struct {
	kind, li int
	mat      *kernels.Matrix // replEmbed, replOutput (F32)
	vec      []float32       // the norms
}

// apply makes the model view v use the replacement.
func (r *replacement) apply(v *Model) {
	switch r.kind {
	case replEmbed:
		v.embed = r.mat
	case replOutput:
		v.output = r.mat
	case replOutNorm:
		v.outNorm = r.vec
	case replAttnNorm:
		v.layers[r.li].attnNorm = r.vec
	case replFFNNorm:
		v.layers[r.li].ffnNorm = r.vec
	}
}

// bindReplacement binds a loader replacement (already validated) to the model.
func bindReplacement(c loader.Config, r *loader.Replacement) (replacement, error) {
	switch r.Target {
	case "token_embd.weight", "output.weight":
		mat, err := kernels.NewMatrix(int4.F32, c.Vocab, c.Dim, f32Bytes(r.Data))
		if err != nil {
			return replacement{}, fmt.Errorf("runtime: replacement %s: %w", r.Key, err)
		}
		kind := replEmbed
		if r.Target == "output.weight" {
			kind = replOutput
		}
		return replacement{kind: kind, li: -1, mat: mat}, nil
	case "output_norm.weight":
		return replacement{kind: replOutNorm, li: -1, vec: r.Data}, nil
	}
	var li int
	var norm string
	if _, err := fmt.Sscanf(strings.ReplaceAll(r.Target, ".", " "), "blk %d %s weight", &li, &norm); err == nil && li >= 0 && li < c.Layers {
		switch norm {
		case "attn_norm":
			return replacement{kind: replAttnNorm, li: li, vec: r.Data}, nil
		case "ffn_norm":
			return replacement{kind: replFFNNorm, li: li, vec: r.Data}, nil
		}
	}
	return replacement{}, fmt.Errorf("runtime: cannot place replacement %q (%s)", r.Key, r.Target)
}

// f32Bytes encodes v as little-endian float32.
func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// withReplacements returns the model as a session with the active adapters sees it:
// m itself when none of them carries modules_to_save weights, otherwise a shallow
// copy with those weights swapped in (the last active adapter wins).
func (m *Model) withReplacements(active []activeLora) *Model {
	var v *Model
	for _, al := range active {
		if len(al.ad.repls) == 0 {
			continue
		}
		if v == nil {
			cp := *m
			cp.layers = slices.Clone(m.layers)
			v = &cp
		}
		for i := range al.ad.repls {
			al.ad.repls[i].apply(v)
		}
	}
	if v == nil {
		return m
	}
	return v
}

// activeLora is one entry of a session's active set.
type activeLora struct {
	ad    *Adapter
	scale float32
}

// bindAdapter validates a against the model, puts its q/k rows in the base's RoPE
// order and builds the per-layer groups. base returns the unmerged base weight.
func bindAdapter(m *Model, name string, a *loader.Adapter, base func(li, proj int) *kernels.Matrix) (*Adapter, error) {
	c := m.Config
	if err := a.Validate(c); err != nil {
		return nil, err
	}
	a.MatchRopeLayout(c)
	ad := &Adapter{src: a, layers: make([][]*loraGroup, c.Layers)}
	ad.info = AdapterInfo{Name: name, Path: a.Path, Format: a.Format, Rank: a.MaxRank(), Bytes: a.Bytes()}
	if a.Config != nil {
		ad.info.RSLoRA = a.Config.UseRSLoRA
	}
	byLayer := map[[2]int]*loader.LoraModule{}
	var out *loader.LoraModule
	for _, r := range a.Replacements {
		rp, err := bindReplacement(c, r)
		if err != nil {
			return nil, err
		}
		ad.repls = append(ad.repls, rp)
		ad.info.Replaced = append(ad.info.Replaced, r.Target)
	}
	for _, mod := range a.Modules {
		ad.info.Targets = append(ad.info.Targets, mod.Target)
		if mod.Magnitude != nil {
			ad.info.DoRA = true
			if a.Replacement(mod.Target) != nil {
				return nil, fmt.Errorf("runtime: adapter %s: module %q has a DoRA magnitude and a modules_to_save replacement of the same weight, which is not supported", a.Path, mod.Key)
			}
		}
		if mod.Embedding {
			le := &loraEmbed{rank: mod.Rank, dim: mod.Out, scale: mod.Scale, at: make([]float32, mod.In*mod.Rank), bt: make([]float32, mod.Rank*mod.Out)}
			for k := 0; k < mod.Rank; k++ {
				for t := 0; t < mod.In; t++ {
					le.at[t*mod.Rank+k] = mod.A[k*mod.In+t]
				}
				for j := 0; j < mod.Out; j++ {
					le.bt[k*mod.Out+j] = mod.B[j*mod.Rank+k]
				}
			}
			ad.embed = le
			continue
		}
		if mod.Target == "output.weight" {
			out = mod
			continue
		}
		var li int
		var proj string
		if _, err := fmt.Sscanf(mod.Target, "blk.%d.%s", &li, &proj); err != nil {
			return nil, fmt.Errorf("runtime: adapter %s: cannot place module %q", a.Path, mod.Target)
		}
		pi := slices.Index(projNames[:], proj[:len(proj)-len(".weight")])
		if pi < 0 {
			return nil, fmt.Errorf("runtime: adapter %s: cannot place module %q", a.Path, mod.Target)
		}
		byLayer[[2]int{li, pi}] = mod
	}
	for li := range ad.layers {
		ad.layers[li] = make([]*loraGroup, len(loraGroups))
		for gi, g := range loraGroups {
			var mods []*loader.LoraModule
			var projs []int
			for _, pi := range g {
				if mod := byLayer[[2]int{li, pi}]; mod != nil {
					mods = append(mods, mod)
					projs = append(projs, pi)
				}
			}
			if len(mods) == 0 {
				continue
			}
			grp := newLoraGroup(mods, projs)
			for k, lp := range grp.mods {
				if lp.mag != nil {
					doraPieces(lp, base(li, projs[k]))
				}
			}
			ad.layers[li][gi] = grp
		}
	}
	if out != nil {
		ad.output = newLoraGroup([]*loader.LoraModule{out}, []int{-1})
		if ad.output.mods[0].mag != nil {
			doraPieces(ad.output.mods[0], base(-1, -1))
		}
	}
	// The bound matrices hold their own copies of the replaced embedding/head; the
	// engine owns a, so the float32 originals need not stay alive.
	for _, r := range a.Replacements {
		if r.Target == "token_embd.weight" || r.Target == "output.weight" {
			r.Data = nil
		}
	}
	ad.info.LiveBytes = ad.bytes()
	return ad, nil
}

// bytes returns the memory the bound adapter holds (AdapterInfo.LiveBytes).
func (ad *Adapter) bytes() int64 {
	var n int64
	for _, groups := range ad.layers {
		for _, g := range groups {
			if g != nil {
				n += g.bytes()
			}
		}
	}
	if ad.output != nil {
		n += ad.output.bytes()
	}
	if ad.embed != nil {
		n += 4 * int64(len(ad.embed.at)+len(ad.embed.bt))
	}
	for _, r := range ad.repls {
		n += 4 * int64(len(r.vec))
		if r.mat != nil {
			n += int64(len(r.mat.Data))
		}
	}
	return n
}

// newLoraGroup binds modules (validated, same input) as one group, converting their
// factors to f16.
func newLoraGroup(mods []*loader.LoraModule, projs []int) *loraGroup {
	g := &loraGroup{in: mods[0].In, projs: projs, plain: true}
	for _, mod := range mods {
		g.ranks += mod.Rank
	}
	g.a = make([]uint16, 0, g.ranks*g.in)
	off := 0
	for _, mod := range mods {
		ah, aMul := kernels.ToF16Scaled(mod.A[:mod.Rank*mod.In])
		g.a = append(g.a, ah...)
		bp, bMul := kernels.PackLoraB(mod.B, mod.Out, mod.Rank)
		g.mods = append(g.mods, &loraProj{rank: mod.Rank, in: mod.In, out: mod.Out, scale: mod.Scale, bp: bp, aMul: aMul, bMul: bMul, bias: mod.Bias, mag: mod.Magnitude, off: off})
		off += mod.Rank
		g.panels += (mod.Out + kernels.PanelRows - 1) / kernels.PanelRows
		if mod.Bias != nil || mod.Magnitude != nil {
			g.plain = false
		}
	}
	for _, lp := range g.mods {
		lp.aRows = g.a[lp.off*g.in : (lp.off+lp.rank)*g.in]
	}
	// The split that minimises the larger half's multiply-adds (A and B).
	total, best := 0, 0
	for _, lp := range g.mods {
		total += lp.rank * (lp.in + lp.out)
	}
	g.cost = total
	for s, sum := 1, 0; s < len(g.mods); s++ {
		lp := g.mods[s-1]
		sum += lp.rank * (lp.in + lp.out)
		if c := max(sum, total-sum); g.split == 0 || c < best {
			g.split, best = s, c
		}
	}
	return g
}

// bytes returns the memory held by the group's factors, biases and magnitudes.
func (g *loraGroup) bytes() int64 {
	n := 2 * int64(len(g.a))
	for _, lp := range g.mods {
		n += 2*int64(len(lp.bp)) + 4*int64(len(lp.bias)+len(lp.mag)) + 8*int64(len(lp.w2)+len(lp.cross)+len(lp.ba2))
	}
	return n
}

// deltaRow writes row r of B·A (unscaled) into dst (len in).
func (lp *loraProj) deltaRow(r int, dst []float32) {
	clear(dst)
	for k := 0; k < lp.rank; k++ {
		b := lp.aMul * lp.bMul * kernels.LoraBAt(lp.bp, lp.rank, r, k)
		kernels.AxpyF16(dst, b, lp.aRows[k*lp.in:(k+1)*lp.in])
	}
}

// doraPieces precomputes the row-norm pieces of a DoRA module against base weight w.
func doraPieces(lp *loraProj, w *kernels.Matrix) {
	lp.w2 = make([]float64, lp.out)
	lp.cross = make([]float64, lp.out)
	lp.ba2 = make([]float64, lp.out)
	wr := make([]float32, lp.in)
	d := make([]float32, lp.in)
	for r := 0; r < lp.out; r++ {
		w.DequantizeRow(r, wr)
		lp.deltaRow(r, d)
		var w2, cr, b2 float64
		for j := range wr {
			w2 += float64(wr[j]) * float64(wr[j])
			cr += float64(wr[j]) * float64(d[j])
			b2 += float64(d[j]) * float64(d[j])
		}
		lp.w2[r], lp.cross[r], lp.ba2[r] = w2, cr, b2
	}
}

// doraFactor returns m_r / ||W_r + s·(B·A)_r|| for total scale s.
func (lp *loraProj) doraFactor(r int, s float32) float32 {
	sf := float64(s)
	n2 := lp.w2[r] + 2*sf*lp.cross[r] + sf*sf*lp.ba2[r]
	if n2 <= 0 {
		return 1
	}
	return float32(float64(lp.mag[r]) / math.Sqrt(n2))
}

// baseMatrix returns the unmerged weight of projection proj in layer li (li < 0: the
// output head).
func (e *Engine) baseMatrix(li, proj int) *kernels.Matrix {
	if orig, ok := e.merged[[2]int{li, proj}]; ok {
		return orig
	}
	return *e.Model.slot(li, proj)
}

// liEmbed is the layer index slot and Merge use for the token embedding (li = -1 is
// the output head).
const liEmbed = -2

// slot returns where the model keeps the weight of projection proj in layer li (li =
// -1: the output head; liEmbed: the token embedding).
func (m *Model) slot(li, proj int) **kernels.Matrix {
	if li == liEmbed {
		return &m.embed
	}
	if li < 0 {
		return &m.output
	}
	l := &m.layers[li]
	return [numLayerProj]**kernels.Matrix{&l.wq, &l.wk, &l.wv, &l.wo, &l.wgate, &l.wup, &l.wdown}[proj]
}

// LoadAdapter reads the adapter at path (a PEFT directory or a GGUF LoRA file),
// validates it against the model and registers it under name. The base weights are not
// touched; sessions pick adapters with SetAdapters. A bad adapter leaves the engine as
// it was.
func (e *Engine) LoadAdapter(name, path string) (AdapterInfo, error) {
	a, err := loader.OpenAdapter(path)
	if err != nil {
		return AdapterInfo{}, err
	}
	info, err := e.AddAdapter(name, a)
	if err == nil {
		// The engine keeps its own (f16) copy of the factors; nobody else holds the
		// float32 ones read from the file, so let them go.
		for _, m := range a.Modules {
			m.A, m.B = nil, nil
		}
	}
	return info, err
}

// AddAdapter registers an already read adapter under name (see LoadAdapter). The
// engine takes ownership of a (its q/k rows may be permuted in place).
func (e *Engine) AddAdapter(name string, a *loader.Adapter) (AdapterInfo, error) {
	if name == "" {
		return AdapterInfo{}, fmt.Errorf("runtime: adapter %s: empty name", a.Path)
	}
	e.regMu.Lock()
	_, dup := e.adapters[name]
	e.regMu.Unlock()
	if dup {
		return AdapterInfo{}, fmt.Errorf("runtime: %q: %w", name, ErrAdapterExists)
	}
	e.mu.RLock() // base weights must not change while DoRA norms are computed
	ad, err := bindAdapter(e.Model, name, a, e.baseMatrix)
	e.mu.RUnlock()
	if err != nil {
		return AdapterInfo{}, err
	}
	e.regMu.Lock()
	defer e.regMu.Unlock()
	if _, dup := e.adapters[name]; dup {
		return AdapterInfo{}, fmt.Errorf("runtime: %q: %w", name, ErrAdapterExists)
	}
	e.adapters[name] = ad
	return ad.info, nil
}

// UnloadAdapter forgets the adapter called name. It is refused (ErrAdapterInUse)
// while a session has it active.
func (e *Engine) UnloadAdapter(name string) error {
	e.regMu.Lock()
	defer e.regMu.Unlock()
	ad, ok := e.adapters[name]
	if !ok {
		return fmt.Errorf("runtime: %q: %w", name, ErrUnknownAdapter)
	}
	if ad.refs > 0 {
		return fmt.Errorf("runtime: %q is active in %d session(s): %w", name, ad.refs, ErrAdapterInUse)
	}
	delete(e.adapters, name)
	return nil
}

// Adapters lists the loaded adapters by name.
func (e *Engine) Adapters() []AdapterInfo {
	e.regMu.Lock()
	defer e.regMu.Unlock()
	out := make([]AdapterInfo, 0, len(e.adapters))
	for _, ad := range e.adapters {
		info := ad.info
		info.Sessions = ad.refs
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// SetAdapters replaces the session's active adapter set; the next Eval uses it. The
// cost is independent of the model size (the base weights and other sessions are not
// touched). Unknown names leave the set unchanged. The KV cache is kept: call Reset
// to start over when earlier positions should be recomputed with the new set.
func (s *Session) SetAdapters(set []AdapterScale) error {
	e := s.e
	e.regMu.Lock()
	defer e.regMu.Unlock()
	next := make([]activeLora, 0, len(set))
	for _, as := range set {
		ad, ok := e.adapters[as.Name]
		if !ok {
			return fmt.Errorf("runtime: %q: %w", as.Name, ErrUnknownAdapter)
		}
		if math.IsNaN(float64(as.Scale)) || math.IsInf(float64(as.Scale), 0) {
			return fmt.Errorf("runtime: adapter %q: scale %v is not finite", as.Name, as.Scale)
		}
		next = append(next, activeLora{ad: ad, scale: as.Scale})
	}
	for _, al := range next {
		al.ad.refs++
	}
	for _, al := range s.active {
		al.ad.refs--
	}
	s.active = next
	return nil
}

// ActiveAdapters returns the session's active set.
func (s *Session) ActiveAdapters() []AdapterScale {
	out := make([]AdapterScale, len(s.active))
	for i, al := range s.active {
		out[i] = AdapterScale{Name: al.ad.info.Name, Scale: al.scale}
	}
	return out
}

// Close releases the session's adapters (so they can be unloaded) and its cache.
func (s *Session) Close() {
	_ = s.SetAdapters(nil)
	s.kv = newSessionKV(s.e.Model, s.kv.ctx, s.kv.typ)
}
