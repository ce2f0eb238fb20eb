//go:build ort

package runtime

import (
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/kernels"
	"github.com/edgerun/edgerun/onnx"
	"github.com/edgerun/edgerun/onnx/ort"
)

func init() { newORTEngine = openORT }

// ortEngine is an engine's model exported to ONNX and loaded into one ONNX Runtime
// session, shared by all the engine's sessions (ONNX Runtime runs concurrent calls).
type ortEngine struct {
	e       *Engine
	sess    *ort.Session
	lib     string
	report  *onnx.ExportReport
	lora    bool
	inputs  []string
	outputs []string
	opts    ORTOptions
}

// ORTExportReport returns how the ort backend exported the model's linear weights (nil
// for the native backend).
func (e *Engine) ORTExportReport() *onnx.ExportReport {
	if oe, ok := e.alt.(*ortEngine); ok {
		return oe.report
	}
	return nil
}

func openORT(e *Engine, o ORTOptions) (backendEngine, error) {
	lib, err := ort.Init(o.Library)
	if err != nil {
		return nil, fmt.Errorf("runtime: ort backend: %w", err)
	}
	m, rep, err := e.ExportONNX(onnx.ExportOptions{Int4: o.Int4, BlockSize: o.BlockSize, ZeroPoints: o.ZeroPoints, LoRA: !o.NoLoRA, Contrib: o.Contrib, GQA: o.GQA, AccuracyLevel: o.AccuracyLevel})
	if err != nil {
		return nil, err
	}
	data, err := m.Marshal()
	if err != nil {
		return nil, fmt.Errorf("runtime: %s: %w", e.Model.Ckpt.Path, err)
	}
	if o.SaveModel != "" {
		if err := os.WriteFile(o.SaveModel, data, 0o644); err != nil {
			return nil, fmt.Errorf("runtime: ort backend: %w", err)
		}
	}
	oe := &ortEngine{e: e, lib: lib, opts: o}
	if err := oe.load(m, rep, data); err != nil {
		return nil, err
	}
	// ONNX Runtime keeps its own copy of the weights: the exported graph and its
	// encoding (about twice the model) are garbage now; hand them back to the OS.
	m, data = nil, nil
	debug.FreeOSMemory()
	return oe, nil
}

// load creates the session for the exported model m (encoded as data).
func (oe *ortEngine) load(m *onnx.Model, rep *onnx.ExportReport, data []byte) error {
	var ins, outs []string
	for _, v := range m.Graph.Inputs {
		ins = append(ins, v.Name)
	}
	for _, v := range m.Graph.Outputs {
		outs = append(outs, v.Name)
	}
	sess, err := ort.NewSession(data, ins, outs, ort.Options{Threads: oe.e.pool.Threads()})
	if err != nil {
		return fmt.Errorf("runtime: %s: %w", oe.e.Model.Ckpt.Path, err)
	}
	if oe.sess != nil {
		oe.sess.Close()
	}
	oe.sess, oe.inputs, oe.outputs, oe.report, oe.lora = sess, ins, outs, rep, !oe.opts.NoLoRA
	return nil
}

// reload re-exports the engine's current weights into a new session (Merge, Unmerge).
func (oe *ortEngine) reload() error {
	o := oe.opts
	m, rep, err := oe.e.ExportONNX(onnx.ExportOptions{Int4: o.Int4, BlockSize: o.BlockSize, ZeroPoints: o.ZeroPoints, LoRA: !o.NoLoRA, Contrib: o.Contrib, GQA: o.GQA, AccuracyLevel: o.AccuracyLevel})
	if err != nil {
		return err
	}
	data, err := m.Marshal()
	if err != nil {
		return err
	}
	return oe.load(m, rep, data)
}

func (oe *ortEngine) close() error { return oe.sess.Close() }

func (oe *ortEngine) describe() string {
	var ops []string
	for _, l := range oe.report.Linears {
		if !slices.Contains(ops, l.Op) {
			ops = append(ops, l.Op)
		}
	}
	return fmt.Sprintf("ort (ONNX Runtime %s, %s; %s)", ort.Version(), oe.lib, strings.Join(ops, "+"))
}

func (oe *ortEngine) newSession(ctx int) backendSession {
	return &ortSession{oe: oe, ctx: ctx}
}

// ortSession holds one session's KV cache as Go buffers bound to ONNX Runtime without
// copies: the past of layer li is read from one buffer and the present (past + new
// positions, [1, kv_heads, positions, head_dim]) written into the other, which then
// becomes the past.
type ortSession struct {
	oe    *ortEngine
	ctx   int
	kv    [2][][]float32 // [past/present buffer][2*layer + key/value]
	cur   int            // kv[cur] holds the past
	ids   []int64
	pos   []int64
	out   []float32
	loraK string      // identity of the bound adapter set
	lora  [][]float32 // per LoRA input, its data (kept alive while bound)
	shape [][]int64   // per LoRA input, its shape
}

func (ss *ortSession) eval(s *Session, ids []int, out []float32, all bool) error {
	oe := ss.oe
	oe.e.mu.RLock() // Merge and Unmerge swap the session under the write lock
	defer oe.e.mu.RUnlock()
	if oe.e.backendErr != nil {
		return oe.e.backendErr
	}
	c := oe.e.Model.Config
	pos, n := len(s.tokens), len(ids)
	if pos+n > ss.ctx {
		return fmt.Errorf("runtime: context full: %d positions + %d new tokens exceed the context size %d", pos, n, ss.ctx)
	}
	ss.ids, ss.pos = ss.ids[:0], ss.pos[:0]
	for i, t := range ids {
		if t < 0 || t >= c.Vocab {
			return fmt.Errorf("runtime: token id %d out of range [0, %d)", t, c.Vocab)
		}
		ss.ids = append(ss.ids, int64(t))
		ss.pos = append(ss.pos, int64(pos+i))
	}
	if err := ss.bindLora(s.active); err != nil {
		return err
	}
	if ss.kv[0] == nil {
		ss.kv[0], ss.kv[1] = make([][]float32, 2*c.Layers), make([][]float32, 2*c.Layers)
	}
	row := int64(c.KVHeads * c.HeadDim)
	past, next := ss.kv[ss.cur], ss.kv[1-ss.cur]
	for j := range next {
		if need := int(row) * (pos + n); cap(next[j]) < need {
			next[j] = make([]float32, need, max(need, 2*cap(next[j])))
		}
	}
	if need := n * c.Vocab; cap(ss.out) < need {
		ss.out = make([]float32, need)
	}
	var vals []ort.Value
	defer func() {
		for _, v := range vals {
			v.Destroy()
		}
	}()
	tensor := func(shape []int64, data []float32) (ort.Value, error) {
		v, err := ort.Float32(shape, data)
		if err == nil {
			vals = append(vals, v)
		}
		return v, err
	}
	ins := make([]ort.Value, 0, len(oe.inputs))
	idv, err := ort.Int64([]int64{1, int64(n)}, ss.ids)
	if err != nil {
		return err
	}
	vals = append(vals, idv)
	posv, err := ort.Int64([]int64{1, int64(n)}, ss.pos)
	if err != nil {
		return err
	}
	vals = append(vals, posv)
	ins = append(ins, idv, posv)
	kvShape := func(t int) []int64 { return []int64{1, int64(c.KVHeads), int64(t), int64(c.HeadDim)} }
	for j := 0; j < 2*c.Layers; j++ {
		v, err := tensor(kvShape(pos), past[j][:int(row)*pos])
		if err != nil {
			return err
		}
		ins = append(ins, v)
	}
	for k := range ss.lora {
		v, err := tensor(ss.shape[k], ss.lora[k])
		if err != nil {
			return err
		}
		ins = append(ins, v)
	}
	outs := make([]ort.Value, 0, len(oe.outputs))
	lv, err := tensor([]int64{1, int64(n), int64(c.Vocab)}, ss.out[:n*c.Vocab])
	if err != nil {
		return err
	}
	outs = append(outs, lv)
	for j := 0; j < 2*c.Layers; j++ {
		v, err := tensor(kvShape(pos+n), next[j][:int(row)*(pos+n)])
		if err != nil {
			return err
		}
		outs = append(outs, v)
	}
	if err := oe.sess.Run(ins, outs); err != nil {
		return fmt.Errorf("runtime: %s: %w", oe.e.Model.Ckpt.Path, err)
	}
	ss.cur = 1 - ss.cur
	if all {
		copy(out, ss.out[:n*c.Vocab])
	} else {
		copy(out, ss.out[(n-1)*c.Vocab:n*c.Vocab])
	}
	return nil
}

// bindLora prepares the LoRA inputs for the active set: per projection, A [in, R] and
// B [R, out] with R the ranks of all active adapters stacked and each adapter's scales
// folded into its rows of B; zero-rank tensors where no adapter touches a projection.
// It rebuilds them only when the set changes.
func (ss *ortSession) bindLora(active []activeLora) error {
	oe := ss.oe
	if !oe.lora {
		if len(active) > 0 {
			return fmt.Errorf("runtime: the ort backend was opened without LoRA inputs (ORTOptions.NoLoRA); adapters need them")
		}
		return nil
	}
	var key strings.Builder
	for _, al := range active {
		fmt.Fprintf(&key, "%p:%v;", al.ad, al.scale)
	}
	if ss.lora != nil && key.String() == ss.loraK {
		return nil
	}
	c := oe.e.Model.Config
	for _, al := range active {
		ad := al.ad
		switch {
		case ad.embed != nil:
			return fmt.Errorf("runtime: adapter %s: embedding LoRA is not supported on the ort backend", ad.info.Name)
		case ad.output != nil:
			return fmt.Errorf("runtime: adapter %s: lm_head LoRA is not supported on the ort backend", ad.info.Name)
		case len(ad.repls) > 0:
			return fmt.Errorf("runtime: adapter %s: modules_to_save weights are not supported on the ort backend", ad.info.Name)
		}
	}
	dims := func(proj int) (in, out int) {
		qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
		switch proj {
		case projQ:
			return c.Dim, qDim
		case projK, projV:
			return c.Dim, kvDim
		case projO:
			return qDim, c.Dim
		case projGate, projUp:
			return c.Dim, c.FFN
		}
		return c.FFN, c.Dim
	}
	var lora [][]float32
	var shape [][]int64
	for li := 0; li < c.Layers; li++ {
		for proj := 0; proj < numLayerProj; proj++ {
			in, out := dims(proj)
			type part struct {
				lp *loraProj
				s  float32
			}
			var parts []part
			R := 0
			for _, al := range active {
				if al.scale == 0 {
					continue
				}
				for gi, g := range loraGroups {
					grp := al.ad.layers[li][gi]
					if grp == nil || !slices.Contains(g, proj) {
						continue
					}
					for k, lp := range grp.mods {
						if grp.projs[k] != proj {
							continue
						}
						if lp.bias != nil || lp.mag != nil {
							return fmt.Errorf("runtime: adapter %s: LoRA bias and DoRA are not supported on the ort backend", al.ad.info.Name)
						}
						parts = append(parts, part{lp, al.scale * lp.scale})
						R += lp.rank
					}
				}
			}
			a, b := make([]float32, in*R), make([]float32, R*out)
			off := 0
			for _, p := range parts {
				// The f16 factors the native path uses, times their power-of-two
				// multipliers: exactly the values it computes with.
				lp := p.lp
				for r := 0; r < lp.rank; r++ {
					for i := 0; i < in; i++ {
						a[i*R+off+r] = int4.F16ToF32(lp.aRows[r*in+i]) * lp.aMul
					}
					for j := 0; j < out; j++ {
						b[(off+r)*out+j] = p.s * lp.bMul * kernels.LoraBAt(lp.bp, lp.rank, j, r)
					}
				}
				off += p.lp.rank
			}
			lora = append(lora, a, b)
			shape = append(shape, []int64{int64(in), int64(R)}, []int64{int64(R), int64(out)})
		}
	}
	ss.lora, ss.shape, ss.loraK = lora, shape, key.String()
	return nil
}
