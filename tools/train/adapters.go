package main

import (
	"encoding/json"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/edgerun/edgerun/bench"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/tools/oracle"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// adapterDirs maps each adapter to its training register.
var adapterDirs = []struct{ Dir, Register string }{{"adapter-fairy", "fairy"}, {"adapter-log", "log"}}

// nf4Base reads the committed bitsandbytes checkpoint (model.safetensors) as the
// frozen base: the projections stay 4-bit (packed codes, 8-bit absmax codes, nested
// absmax) and are dequantized inside the graph at every step; embeddings and norms
// are float32.
func (t *trainer) nf4Base() *frozenBase {
	f, err := loader.OpenSafetensors(filepath.Join(t.out, "model.safetensors"))
	if err != nil {
		log.Fatal(err)
	}
	fb := &frozenBase{}
	type q4 struct {
		idx                    [3]int // packed, absmax codes, nested absmax
		offset                 float32
		block, nested, out, in int
	}
	quant := map[string]q4{}
	addT := func(name string, t *tensors.Tensor, bytes int) int {
		fb.names = append(fb.names, name)
		fb.tensors = append(fb.tensors, t)
		fb.shapes = append(fb.shapes, t.Shape())
		fb.bytes += int64(bytes)
		return len(fb.names) - 1
	}
	var qmap, nmap []float32
	for _, st := range f.Tensors {
		if strings.Contains(st.Name, ".weight.") { // quant-state pieces, read with their weight
			continue
		}
		name, ok := loader.HFTensorName(st.Name)
		if !ok {
			log.Fatalf("%s: unexpected tensor %q", f.Path, st.Name)
		}
		if st.DType == "F32" {
			addT(name, tensors.FromFlatDataAndDimensions(bytesF32(st.Data), st.Shape...), len(st.Data))
			continue
		}
		get := func(suffix string) *loader.SafeTensor {
			x, ok := f.Tensor(st.Name + suffix)
			if !ok {
				log.Fatalf("%s: %s%s missing", f.Path, st.Name, suffix)
			}
			return x
		}
		var js struct {
			Blocksize int     `json:"blocksize"`
			Shape     []int   `json:"shape"`
			NBlock    int     `json:"nested_blocksize"`
			Offset    float64 `json:"nested_offset"`
			QuantType string  `json:"quant_type"`
		}
		if err := json.Unmarshal(get(".quant_state.bitsandbytes__nf4").Data, &js); err != nil {
			log.Fatalf("%s: %s quant state: %v", f.Path, st.Name, err)
		}
		qmap = bytesF32(get(".quant_map").Data)
		nmap = bytesF32(get(".nested_quant_map").Data)
		absQ, nabs := get(".absmax"), get(".nested_absmax")
		var e q4
		e.idx[0] = addT(name+"#packed", tensors.FromFlatDataAndDimensions(append([]uint8(nil), st.Data...), len(st.Data)), len(st.Data))
		e.idx[1] = addT(name+"#absmax", tensors.FromFlatDataAndDimensions(append([]uint8(nil), absQ.Data...), len(absQ.Data)), len(absQ.Data))
		e.idx[2] = addT(name+"#nested", tensors.FromFlatDataAndDimensions(bytesF32(nabs.Data), len(nabs.Data)/4), len(nabs.Data))
		e.offset, e.block, e.nested, e.out, e.in = float32(js.Offset), js.Blocksize, js.NBlock, js.Shape[0], js.Shape[1]
		quant[name] = e
	}
	f.Close()
	fb.build = func(in []*Node) oracle.Weights {
		g := in[0].Graph()
		qm := Const(g, qmap)
		nm := Const(g, nmap)
		cache := map[string]*Node{}
		for i, n := range fb.names {
			if !strings.Contains(n, "#") {
				cache[n] = in[i]
			}
		}
		for name, e := range quant {
			cache[name] = oracle.DequantNF4(in[e.idx[0]], in[e.idx[1]], in[e.idx[2]], qm, nm, e.offset, e.block, e.nested, e.out, e.in)
		}
		return func(n string) *Node { return cache[n] }
	}
	return fb
}

// f32Base is the float32 base (before quantization) as the frozen base: plain LoRA.
func (t *trainer) f32Base() *frozenBase {
	f, err := loader.OpenSafetensors(filepath.Join(t.work, "base-f32.safetensors"))
	if err != nil {
		log.Fatal(err)
	}
	fb := &frozenBase{}
	for _, st := range f.Tensors {
		x := tensors.FromFlatDataAndDimensions(bytesF32(st.Data), st.Shape...)
		fb.names = append(fb.names, st.Name)
		fb.tensors = append(fb.tensors, x)
		fb.shapes = append(fb.shapes, x.Shape())
		fb.bytes += int64(len(st.Data))
	}
	f.Close()
	fb.build = func(in []*Node) oracle.Weights {
		m := map[string]*Node{}
		for i, n := range fb.names {
			m[n] = in[i]
		}
		return func(n string) *Node { return m[n] }
	}
	return fb
}

func bytesF32(b []byte) []float32 {
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
	}
	return x
}

// loraParams initialises A (PEFT's default: Kaiming-uniform with a=sqrt(5), i.e.
// U(-1/sqrt(in), 1/sqrt(in))) and B = 0 for every projection.
func (t *trainer) loraParams(seed uint64) []*param {
	cfg := t.cfg()
	r := rand.New(rand.NewPCG(seed, 5))
	var ps []*param
	for _, name := range projections(cfg) {
		out, in := projShape(cfg, name)
		a := newParam(name+".lora_A", []int{t.s.Rank, in})
		bound := 1 / math.Sqrt(float64(in))
		for i := range a.Data {
			a.Data[i] = float32((2*r.Float64() - 1) * bound)
		}
		ps = append(ps, a, newParam(name+".lora_B", []int{out, t.s.Rank}))
	}
	return ps
}

func projShape(cfg oracle.Config, name string) (out, in int) {
	D, q, kv := cfg.Dim, cfg.Heads*cfg.HeadDim, cfg.KVHeads*cfg.HeadDim
	switch {
	case strings.Contains(name, "attn_q"):
		return q, D
	case strings.Contains(name, "attn_k"), strings.Contains(name, "attn_v"):
		return kv, D
	case strings.Contains(name, "attn_output"):
		return D, q
	case strings.Contains(name, "ffn_down"):
		return D, cfg.FFN
	}
	return cfg.FFN, D
}

// trainLoRA trains LoRA factors on register reg over the frozen base fb for steps
// steps; it returns the factors and the phase report (evaluation included when eval).
func (t *trainer) trainLoRA(fb *frozenBase, reg string, steps int, eval bool) ([]*param, phaseReport) {
	s, cfg := t.s, t.cfg()
	ps := t.loraParams(s.Seed + 100)
	scale := float32(s.Alpha / float64(s.Rank))
	pr := phaseReport{Steps: steps, TrainTokens: steps * s.Batch * s.SeqLen}
	var ev *Exec
	evalNow := func() map[string]float64 {
		if ev == nil {
			ev = loraStep(t.be, cfg, fb, ps, scale, false)
		}
		fixed := append([]*tensors.Tensor(nil), fb.tensors...)
		for _, p := range ps {
			fixed = append(fixed, p.tensor())
		}
		return t.evalLoss(ev, fixed)
	}
	if eval {
		pr.EvalBefore = evalNow()
	}
	step := loraStep(t.be, cfg, fb, ps, scale, true)
	bt := &batcher{stream: t.streams[reg], r: rand.New(rand.NewPCG(s.Seed+200, 3)), B: s.Batch, T: s.SeqLen}
	opt := &adam{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Clip: 1}
	start := time.Now()
	var acc float64
	for i := 0; i < steps; i++ {
		x, y := bt.next()
		args := make([]any, 0, len(fb.tensors)+len(ps)+2)
		for _, f := range fb.tensors {
			args = append(args, f)
		}
		var own []*tensors.Tensor
		for _, p := range ps {
			pt := p.tensor()
			own = append(own, pt)
			args = append(args, pt)
		}
		args = append(args, x, y)
		res, err := step.Exec(args...)
		if err != nil {
			log.Fatal(err)
		}
		for _, o := range append(own, x, y) {
			o.MustFinalizeAll()
		}
		loss := scalar(res[0])
		grads := make([][]float32, len(ps))
		for j := range ps {
			grads[j] = flat(res[j+1])
		}
		opt.update(ps, grads, schedule(i, steps, 10, s.AdapterLR))
		acc += loss
		if (i+1)%10 == 0 {
			pr.Losses = append(pr.Losses, round4(acc/10))
			log.Printf("%s step %d/%d loss %.4f (%.2f s/step)", reg, i+1, steps, acc/10, time.Since(start).Seconds()/float64(i+1))
			acc = 0
		}
		pr.FinalTrain = round4(loss)
	}
	pr.SecPerStep = math.Round(time.Since(start).Seconds()/float64(steps)*1000) / 1000
	if eval {
		pr.Eval = evalNow()
	}
	return ps, pr
}

func (t *trainer) trainAdapters() {
	fb := t.nf4Base()
	t.rep.Adapters = map[string]phaseReport{}
	for _, a := range adapterDirs {
		ps, pr := t.trainLoRA(fb, a.Register, t.s.AdapterSteps, true)
		log.Printf("%s: held-out loss before %v after %v", a.Dir, pr.EvalBefore, pr.Eval)
		t.rep.Adapters[a.Dir] = pr
		t.writeAdapter(filepath.Join(t.out, a.Dir), ps)
	}
}

// writeAdapter writes the factors as a PEFT LoRA directory with edgerun's writer (dir,
// git-ignored: PEFT files belong to ../shared/models) and, converted from it, the GGUF
// LoRA file dir+".gguf" that models/demo commits and `make demo` loads.
func (t *trainer) writeAdapter(dir string, ps []*param) {
	cfg := t.cfg()
	ad := &loader.Adapter{Format: "peft", NeoxQK: true, Config: &loader.AdapterConfig{PeftType: "LORA",
		BaseModel: "edgerun/demo", R: t.s.Rank, Alpha: t.s.Alpha}}
	for i := 0; i < len(ps); i += 2 {
		target := loraTarget(ps[i].Name)
		key, ok := loader.GGUFToHFModule(target)
		if !ok {
			log.Fatalf("no HF module for %s", target)
		}
		out, in := projShape(cfg, target)
		ad.Modules = append(ad.Modules, &loader.LoraModule{Target: target, Key: key, Rank: t.s.Rank, In: in, Out: out,
			Alpha: t.s.Alpha, Scale: float32(t.s.Alpha / float64(t.s.Rank)), A: ps[i].Data, B: ps[i+1].Data})
	}
	if err := loader.WritePEFTAdapter(dir, ad); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s", dir)
	// The GGUF file is what `edgerun convert-lora DIR -m OUT` writes: the adapter read
	// back from the PEFT directory, with the base's GGUF-style configuration.
	base, err := loader.Open(t.out)
	if err != nil {
		log.Fatal(err)
	}
	defer base.Close()
	back, err := loader.OpenAdapter(dir)
	if err != nil {
		log.Fatal(err)
	}
	gcfg := base.Config
	gcfg.RopeNeox = loader.GGUFRopeNeox(gcfg.Arch) // the layout a GGUF base of this architecture has
	if err := loader.WriteGGUFAdapter(dir+".gguf", back, gcfg.Arch, gcfg); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s.gguf", dir)
}

// compare runs the same adapter training (fairy register, same seeds) once on the
// float32 base (LoRA) and once on the NF4 base (QLoRA), each in a fresh process so
// peak RSS is comparable, interleaved f32, nf4, f32, nf4; it keeps the faster run of
// each for time per step and the larger peak RSS.
func (t *trainer) compare() {
	t.rep.Comparison = map[string]compareReport{}
	for round := 0; round < 2; round++ {
		for _, b := range []string{"f32", "nf4"} {
			out, err := selfRun("-phase", "compare-one", "-base", b, "-out", t.out, "-work", t.work,
				"-compare-steps", strconv.Itoa(t.s.CompareSteps), "-batch", strconv.Itoa(t.s.Batch))
			if err != nil {
				log.Fatalf("compare %s: %v", b, err)
			}
			var c compareReport
			if err := json.Unmarshal(out, &c); err != nil {
				log.Fatalf("compare %s: %v (%q)", b, err, out)
			}
			if prev, ok := t.rep.Comparison[b]; ok {
				c.SecPerStep = math.Min(c.SecPerStep, prev.SecPerStep)
				c.PeakRSSMiB = math.Max(c.PeakRSSMiB, prev.PeakRSSMiB)
			}
			t.rep.Comparison[b] = c
			log.Printf("compare %s: %+v", b, c)
		}
	}
}

func (t *trainer) compareOne(base string) {
	// Peak RSS from here on: the kernel's high-water mark is reset after the corpus
	// is built, so both runs count the frozen base, the graph and its buffers only.
	runtime.GC()
	peak := bench.StartPeak()
	var fb *frozenBase
	name := "LoRA (float32 base)"
	if base == "nf4" {
		fb = t.nf4Base()
		name = "QLoRA (NF4 base, double quant, dequantized in the graph)"
	} else {
		fb = t.f32Base()
	}
	_, pr := t.trainLoRA(fb, "fairy", t.s.CompareSteps, false)
	rss, how := peak.Stop()
	if how != "VmHWM" {
		log.Printf("peak RSS %s", how)
	}
	c := compareReport{Base: name, Steps: t.s.CompareSteps, SecPerStep: pr.SecPerStep, PeakRSSMiB: math.Round(float64(rss)/(1<<20)*10) / 10,
		FrozenBytes: fb.bytes, FinalLoss: pr.FinalTrain}
	b, _ := json.Marshal(c)
	fmt.Println(string(b))
}

var _ = dtypes.Float32
