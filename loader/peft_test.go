package loader

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/internal/testmodels"
)

// smolLM135M is SmolLM-135M(-Instruct)'s configuration (its config.json), against which
// the real adapter fixture is validated; the base weights are not in the fixtures.
var smolLM135M = Config{Arch: "llama", Dim: 576, Layers: 30, Heads: 9, KVHeads: 3, HeadDim: 64, FFN: 1536, Vocab: 49152, RopeNeox: true}

func TestPEFTSmolLMAdapter(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "peft-smollm135m-lora")
	a, err := OpenAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Format != "peft" || !a.NeoxQK {
		t.Fatalf("format %q neox %v", a.Format, a.NeoxQK)
	}
	if len(a.Modules) != 60 {
		t.Fatalf("%d modules, want 60", len(a.Modules))
	}
	seen := map[string]bool{}
	for i, m := range a.Modules {
		if m.Scale != 2.0 || m.Rank != 16 || m.Alpha != 32 {
			t.Fatalf("%s: scale %v rank %d alpha %v, want 2, 16, 32", m.Target, m.Scale, m.Rank, m.Alpha)
		}
		layer, proj := i/2, []string{"attn_q", "attn_v"}[i%2]
		want := "blk." + itoa(layer) + "." + proj + ".weight"
		if m.Target != want {
			t.Fatalf("module %d is %s, want %s (base order)", i, m.Target, want)
		}
		seen[m.Target] = true
		nonzero := slices.ContainsFunc(m.B, func(f float32) bool { return f != 0 })
		if !nonzero {
			t.Fatalf("%s: lora_B is all zero; the fixture is trained", m.Target)
		}
		if m.Magnitude != nil || m.Bias != nil {
			t.Fatalf("%s: unexpected DoRA/bias", m.Target)
		}
	}
	q, v := a.Module("blk.0.attn_q.weight"), a.Module("blk.0.attn_v.weight")
	if q.In != 576 || q.Out != 576 || v.In != 576 || v.Out != 192 {
		t.Fatalf("q [%d %d] v [%d %d]", q.Out, q.In, v.Out, v.In)
	}
	if err := a.Validate(smolLM135M); err != nil {
		t.Fatal(err)
	}
	if a.Bytes() != 30*4*(16*576*2+16*576+192*16) {
		t.Fatalf("bytes %d", a.Bytes())
	}
	// The same adapter against a model with a different KV width is refused, naming
	// the first mismatching tensor.
	bad := smolLM135M
	bad.KVHeads = 9
	err = a.Validate(bad)
	wantErr(t, err, ErrCorrupt, dir, "model.layers.0.self_attn.v_proj", "out features")
	bad = smolLM135M
	bad.Layers = 12
	wantErr(t, a.Validate(bad), ErrCorrupt, dir, "blk.12.attn_q.weight")
}

func itoa(i int) string { return strconv.Itoa(i) }

// stEntry is one tensor of a hand-built safetensors file.
type stEntry struct {
	name  string
	dtype string
	shape []int
	data  []float32
}

// writeST writes a safetensors file whose F32 (or F16 via raw) tensors are entries.
func writeST(t testing.TB, path string, entries []stEntry) {
	t.Helper()
	header := map[string]any{"__metadata__": map[string]string{"format": "pt"}}
	var body []byte
	for _, e := range entries {
		start := len(body)
		dt := e.dtype
		if dt == "" {
			dt = "F32"
		}
		switch dt {
		case "F32":
			body = append(body, f32Bytes(e.data)...)
		case "BF16":
			for _, f := range e.data {
				body = binary.LittleEndian.AppendUint16(body, uint16(math.Float32bits(f)>>16))
			}
		}
		header[e.name] = map[string]any{"dtype": dt, "shape": e.shape, "data_offsets": []int{start, len(body)}}
	}
	hj, _ := json.Marshal(header)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hj)))
	out = append(append(out, hj...), body...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randF32(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// tinyCfg is a small llama configuration for synthetic adapters.
var tinyCfg = Config{Arch: "llama", Dim: 16, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 4, FFN: 24, Vocab: 32}

func writeAdapterDir(t *testing.T, config string, entries []stEntry) string {
	t.Helper()
	dir := t.TempDir()
	if config != "" {
		if err := os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(config), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if entries != nil {
		writeST(t, filepath.Join(dir, "adapter_model.safetensors"), entries)
	}
	return dir
}

func TestPEFTKeyForms(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	A, B := randF32(rng, 4*16), randF32(rng, 16*4)
	mag := randF32(rng, 16)
	for _, prefix := range []string{"base_model.model.", ""} {
		for _, infix := range []string{"", "default.", "my_adapter."} {
			name := prefix + "model.layers.1.self_attn.q_proj."
			dir := writeAdapterDir(t, `{"peft_type":"LORA","r":4,"lora_alpha":8,"use_dora":true,"target_modules":["q_proj"]}`, []stEntry{
				{name: name + "lora_A." + infix + "weight", shape: []int{4, 16}, data: A},
				{name: name + "lora_B." + infix + "weight", dtype: "BF16", shape: []int{16, 4}, data: B},
				{name: name + "lora_magnitude_vector" + strings.TrimSuffix("."+infix, "."), shape: []int{16}, data: mag},
			})
			a, err := OpenAdapter(dir)
			if err != nil {
				t.Fatalf("prefix %q infix %q: %v", prefix, infix, err)
			}
			m := a.Module("blk.1.attn_q.weight")
			if len(a.Modules) != 1 || m == nil || m.Scale != 2 || !slices.Equal(m.A, A) || !slices.Equal(m.Magnitude, mag) {
				t.Fatalf("prefix %q infix %q: got %+v", prefix, infix, a.Modules[0])
			}
			for i := range B { // BF16 truncation
				if math.Abs(float64(m.B[i]-B[i])) > 1e-2*math.Abs(float64(B[i]))+1e-6 {
					t.Fatalf("B[%d] = %v, want ≈ %v", i, m.B[i], B[i])
				}
			}
			if err := a.Validate(tinyCfg); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestPEFTPatternsAndTargets(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var entries []stEntry
	for l := 0; l < 2; l++ {
		for _, p := range []struct {
			mod     string
			r       int
			in, out int
		}{{"self_attn.q_proj", 2, 16, 16}, {"self_attn.v_proj", 8, 16, 8}, {"mlp.down_proj", 8, 24, 16}} {
			r := p.r
			if l == 1 && p.mod == "mlp.down_proj" {
				r = 3
			}
			n := "base_model.model.model.layers." + itoa(l) + "." + p.mod + "."
			entries = append(entries, stEntry{name: n + "lora_A.weight", shape: []int{r, p.in}, data: randF32(rng, r*p.in)},
				stEntry{name: n + "lora_B.weight", shape: []int{p.out, r}, data: randF32(rng, p.out*r)})
		}
	}
	cfg := `{"r":8,"lora_alpha":16,"use_rslora":true,"target_modules":"model\\.layers\\.\\d+\\.(self_attn\\.(q|v)_proj|mlp\\.down_proj)",
		"rank_pattern":{"q_proj":2,"layers.1.mlp.down_proj":3},"alpha_pattern":{"v_proj":4}}`
	a, err := OpenAdapter(writeAdapterDir(t, cfg, entries))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float32{
		"blk.0.attn_q.weight": float32(16 / math.Sqrt(2)), "blk.0.attn_v.weight": float32(4 / math.Sqrt(8)),
		"blk.1.ffn_down.weight": float32(16 / math.Sqrt(3)),
	}
	for target, s := range want {
		if m := a.Module(target); m == nil || m.Scale != s {
			t.Fatalf("%s: %+v, want scale %v", target, m, s)
		}
	}
	if err := a.Validate(tinyCfg); err != nil {
		t.Fatal(err)
	}
	// Layer 0's down_proj has rank 8, but the pattern "down_proj" says 5: refused;
	// with rank 5 accepted, and layer 1 keeps 3 (the first matching pattern wins).
	cfg = strings.Replace(cfg, `:3}`, `:3,"down_proj":5}`, 1)
	wantErr(t, nilAdapter(OpenAdapter(writeAdapterDir(t, cfg, entries))), ErrCorrupt, "adapter_model.safetensors", "model.layers.0.mlp.down_proj", "says 5")
	entries[4].shape, entries[5].shape = []int{5, 24}, []int{16, 5}
	entries[4].data, entries[5].data = entries[4].data[:5*24], entries[5].data[:16*5]
	if _, err := OpenAdapter(writeAdapterDir(t, cfg, entries)); err != nil {
		t.Fatal(err)
	}
	// all-linear and list targets.
	cfg2 := `{"r":2,"lora_alpha":2,"target_modules":"all-linear"}`
	e2 := []stEntry{{name: "model.layers.0.mlp.up_proj.lora_A.weight", shape: []int{2, 16}, data: randF32(rng, 32)},
		{name: "model.layers.0.mlp.up_proj.lora_B.weight", shape: []int{24, 2}, data: randF32(rng, 48)}}
	if _, err := OpenAdapter(writeAdapterDir(t, cfg2, e2)); err != nil {
		t.Fatal(err)
	}
	dir := writeAdapterDir(t, `{"r":2,"lora_alpha":2,"target_modules":["q_proj","v_proj"]}`, e2)
	wantErr(t, nilAdapter(OpenAdapter(dir)), ErrCorrupt, "adapter_model.safetensors", "not among target_modules")
}

func nilAdapter(_ *Adapter, err error) error { return err }

func TestPEFTErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	good := func() []stEntry {
		return []stEntry{{name: "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight", shape: []int{4, 16}, data: randF32(rng, 64)},
			{name: "base_model.model.model.layers.0.self_attn.k_proj.lora_B.weight", shape: []int{8, 4}, data: randF32(rng, 32)}}
	}
	cfg := `{"peft_type":"LORA","r":4,"lora_alpha":8}`
	dir := t.TempDir()
	wantErr(t, nilAdapter(OpenAdapter(dir)), ErrNotFound, dir, "adapter_config.json is missing")
	wantErr(t, nilAdapter(OpenAdapter(filepath.Join(dir, "nope"))), ErrNotFound, "nope")

	dir = writeAdapterDir(t, cfg, nil)
	os.WriteFile(filepath.Join(dir, "adapter_model.bin"), []byte("PK"), 0o644)
	wantErr(t, nilAdapter(OpenAdapter(dir)), ErrUnsupported, dir, "pickle", "safetensors")

	e := good()
	e = append(e, stEntry{name: "base_model.model.model.layers.0.mlp.gate_proj.weight", shape: []int{2}, data: []float32{1, 2}})
	wantErr(t, nilAdapter(OpenAdapter(writeAdapterDir(t, cfg, e))), ErrUnsupported, "adapter_model.safetensors", "gate_proj.weight", "modules_to_save")

	e = good()
	e = append(e, stEntry{name: "base_model.model.model.embed_tokens.weight", shape: []int{2}, data: []float32{1, 2}})
	if a, err := OpenAdapter(writeAdapterDir(t, cfg, e)); err != nil {
		t.Fatal(err)
	} else {
		wantErr(t, a.Validate(tinyCfg), ErrCorrupt, "embed_tokens.weight", "shape [2]", "token_embd.weight")
	}

	e = good()
	e[1].shape, e[1].data = []int{8, 3}, e[1].data[:24]
	wantErr(t, nilAdapter(OpenAdapter(writeAdapterDir(t, cfg, e))), ErrCorrupt, "adapter_model.safetensors", "k_proj.lora_B.weight", "rank 3")

	e = good()
	wantErr(t, nilAdapter(OpenAdapter(writeAdapterDir(t, `{"r":2,"lora_alpha":8}`, e))), ErrCorrupt, "adapter_model.safetensors", "k_proj", "says 2")
	wantErr(t, nilAdapter(OpenAdapter(writeAdapterDir(t, `{"r":4,"lora_alpha":8,"use_dora":true}`, e))), ErrCorrupt, "adapter_model.safetensors", "lora_magnitude_vector")
	wantErr(t, nilAdapter(OpenAdapter(writeAdapterDir(t, `{"r":4,`, e))), ErrCorrupt, "adapter_config.json")
	wantErr(t, nilAdapter(OpenAdapter(writeAdapterDir(t, `{"peft_type":"IA3"}`, e))), ErrUnsupported, "adapter_config.json", "IA3")

	e = good()[:1]
	wantErr(t, nilAdapter(OpenAdapter(writeAdapterDir(t, cfg, e))), ErrCorrupt, "adapter_model.safetensors", "no lora_B")

	// Shapes against the base: k_proj out is 8 in tinyCfg; make the base disagree.
	a, err := OpenAdapter(writeAdapterDir(t, cfg, good()))
	if err != nil {
		t.Fatal(err)
	}
	bad := tinyCfg
	bad.Dim = 12
	wantErr(t, a.Validate(bad), ErrCorrupt, a.Path, "k_proj", "in features 16")
	a.Modules[0].B[3] = float32(math.NaN())
	wantErr(t, a.Validate(tinyCfg), ErrCorrupt, a.Path, "non-finite")

	// Truncated and inconsistent safetensors.
	dir = writeAdapterDir(t, cfg, good())
	st := filepath.Join(dir, "adapter_model.safetensors")
	full, _ := os.ReadFile(st)
	for _, cut := range []int{0, 5, 20, len(full) - 1} {
		os.WriteFile(st, full[:cut], 0o644)
		if _, err := OpenAdapter(dir); err == nil {
			t.Fatalf("truncated to %d bytes: no error", cut)
		} else if !strings.Contains(err.Error(), "adapter_model.safetensors") {
			t.Fatalf("error %q does not name the file", err)
		}
	}
}

func TestPermuteQKRows(t *testing.T) {
	// 2 heads of head_dim 4, 1 column: HF rows (per head) [a0 a1 b0 b1] → adjacent [a0 b0 a1 b1].
	w := []float32{0, 1, 2, 3, 10, 11, 12, 13}
	got := PermuteQKRows(w, 2, 4, 1, true)
	if want := []float32{0, 2, 1, 3, 10, 12, 11, 13}; !slices.Equal(got, want) {
		t.Fatalf("permute = %v, want %v", got, want)
	}
	if back := PermuteQKRows(got, 2, 4, 1, false); !slices.Equal(back, w) {
		t.Fatalf("inverse = %v", back)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	w = randF32(rng, 3*8*5)
	if back := PermuteQKRows(PermuteQKRows(w, 3, 8, 5, true), 3, 8, 5, false); !slices.Equal(back, w) {
		t.Fatal("round trip with 5 columns differs")
	}
}

// TestMatchRopeLayout checks the classic silent bug: an HF-layout adapter on a GGUF
// llama base (adjacent-pair RoPE) needs its q/k lora_B rows permuted, and only those;
// on a rotate-half base nothing changes.
func TestMatchRopeLayout(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	mk := func() *Adapter {
		a := &Adapter{NeoxQK: true}
		for _, p := range []struct {
			t       string
			in, out int
		}{{"blk.0.attn_q.weight", 16, 16}, {"blk.0.attn_k.weight", 16, 8}, {"blk.0.attn_v.weight", 16, 8}, {"blk.0.attn_output.weight", 16, 16}} {
			a.Modules = append(a.Modules, &LoraModule{Target: p.t, Rank: 2, In: p.in, Out: p.out, A: randF32(rng, 2*p.in), B: randF32(rng, p.out*2), Magnitude: randF32(rng, p.out)})
		}
		return a
	}
	hf := tinyCfg
	hf.RopeNeox = true
	a := mk()
	orig := cloneAdapter(a)
	a.MatchRopeLayout(hf)
	for i := range a.Modules {
		if !slices.Equal(a.Modules[i].B, orig.Modules[i].B) {
			t.Fatalf("%s changed on a rotate-half base", a.Modules[i].Target)
		}
	}
	a.MatchRopeLayout(tinyCfg) // GGUF llama: adjacent pairs
	if a.NeoxQK {
		t.Fatal("layout flag not updated")
	}
	for i, m := range a.Modules {
		o := orig.Modules[i]
		heads := map[string]int{"blk.0.attn_q.weight": 4, "blk.0.attn_k.weight": 2}[m.Target]
		if heads == 0 {
			if !slices.Equal(m.B, o.B) || !slices.Equal(m.Magnitude, o.Magnitude) {
				t.Fatalf("%s must not be permuted", m.Target)
			}
			continue
		}
		if !slices.Equal(m.A, o.A) {
			t.Fatalf("%s: lora_A must not be permuted", m.Target)
		}
		if slices.Equal(m.B, o.B) {
			t.Fatalf("%s: lora_B rows not permuted", m.Target)
		}
		// Row 1 of head 0 in adjacent order is HF row headDim/2 = 2.
		if !slices.Equal(m.B[1*2:2*2], o.B[2*2:3*2]) || m.Magnitude[1] != o.Magnitude[2] {
			t.Fatalf("%s: adjacent row 1 is not HF row 2", m.Target)
		}
	}
	a.MatchRopeLayout(hf)
	for i := range a.Modules {
		if !slices.Equal(a.Modules[i].B, orig.Modules[i].B) {
			t.Fatalf("%s: back to HF layout differs", a.Modules[i].Target)
		}
	}
}

func cloneAdapter(a *Adapter) *Adapter {
	c := *a
	c.Modules = nil
	for _, m := range a.Modules {
		mm := *m
		mm.A, mm.B, mm.Magnitude, mm.Bias = slices.Clone(m.A), slices.Clone(m.B), slices.Clone(m.Magnitude), slices.Clone(m.Bias)
		c.Modules = append(c.Modules, &mm)
	}
	return &c
}

func TestGGUFAdapterRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, rs := range []bool{false, true} {
		a := &Adapter{Format: "peft", NeoxQK: true, Config: &AdapterConfig{R: 4, Alpha: 8, UseRSLoRA: rs}}
		for _, p := range []struct {
			t       string
			in, out int
		}{{"blk.0.attn_q.weight", 16, 16}, {"blk.1.attn_k.weight", 16, 8}, {"blk.1.ffn_down.weight", 24, 16}} {
			a.Modules = append(a.Modules, &LoraModule{Target: p.t, Rank: 4, In: p.in, Out: p.out, Alpha: 8, Scale: a.Config.Scaling(4, 8), A: randF32(rng, 4*p.in), B: randF32(rng, p.out*4)})
		}
		// Embedding LoRA: A [r, vocab], B [dim, r].
		a.Modules = append(a.Modules, &LoraModule{Target: "token_embd.weight", Embedding: true, Rank: 4, In: tinyCfg.Vocab, Out: tinyCfg.Dim, Alpha: 8, Scale: a.Config.Scaling(4, 8), A: randF32(rng, 4*tinyCfg.Vocab), B: randF32(rng, tinyCfg.Dim*4)})
		// Through PEFT files first (names, config).
		dir := t.TempDir()
		if err := WritePEFTAdapter(dir, a); err != nil {
			t.Fatal(err)
		}
		p, err := OpenAdapter(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Modules) != 4 || !p.Modules[3].Embedding || p.Modules[2].Key != "model.layers.1.mlp.down_proj" || p.Modules[0].Scale != a.Modules[0].Scale {
			t.Fatalf("PEFT round trip: %+v", p.Modules[0])
		}
		path := filepath.Join(t.TempDir(), "a.gguf")
		if err := WriteGGUFAdapter(path, p, "llama", tinyCfg); err != nil {
			t.Fatal(err)
		}
		// llama.cpp's layout: token_embd.lora_a is transposed ([vocab, r] outermost
		// first, ne = [r, vocab]), so base.ne1 == a.ne1 (formats.md §4.8).
		raw, _ := os.ReadFile(path)
		gc, err := parseGGUFContainer(path, raw)
		if err != nil {
			t.Fatal(err)
		}
		if la, lb := gc.Tensors["token_embd.weight.lora_a"], gc.Tensors["token_embd.weight.lora_b"]; la == nil || lb == nil ||
			!slices.Equal(la.Shape, []int{tinyCfg.Vocab, 4}) || !slices.Equal(lb.Shape, []int{tinyCfg.Dim, 4}) {
			t.Fatalf("token_embd lora tensors: %+v %+v", la, lb)
		} else {
			at := make([]float32, la.Elems())
			if err := int4.DequantizeRow(la.Type, la.Data, at); err != nil {
				t.Fatal(err)
			}
			emb := a.Modules[3]
			if at[5*4+2] != emb.A[2*emb.In+5] { // lora_a[t=5][k=2] = A[2, 5]
				t.Fatal("token_embd.lora_a is not A transposed")
			}
		}
		g, err := OpenAdapter(path)
		if err != nil {
			t.Fatal(err)
		}
		if g.Format != "gguf" || g.Arch != "llama" || g.NeoxQK || !g.Modules[3].Embedding {
			t.Fatalf("gguf adapter: %+v", g)
		}
		if err := g.Validate(tinyCfg); err != nil {
			t.Fatal(err)
		}
		hf := tinyCfg
		hf.RopeNeox = true
		g.MatchRopeLayout(hf)
		for i, m := range g.Modules {
			o := a.Modules[i]
			if m.Target != o.Target || !slices.Equal(m.A, o.A) {
				t.Fatalf("%s: A differs", m.Target)
			}
			for j := range m.B { // scale·B must agree
				if d := m.Scale*m.B[j] - o.Scale*o.B[j]; math.Abs(float64(d)) > 1e-5 {
					t.Fatalf("rslora %v %s: scale·B[%d] differs by %v", rs, m.Target, j, d)
				}
			}
		}
		wrong := tinyCfg
		wrong.Arch = "qwen2"
		wantErr(t, g.Validate(wrong), ErrUnsupported, path, "qwen2")
	}
	// A model file is not an adapter.
	c := smallTensors()
	path := filepath.Join(t.TempDir(), "model.gguf")
	if err := WriteGGUF(path, []KV{{"general.architecture", "llama"}}, c); err != nil {
		t.Fatal(err)
	}
	wantErr(t, nilAdapter(OpenAdapter(path)), ErrUnsupported, path, "general.type")
}

// FuzzAdapterConfig checks that adapter_config.json parsing never panics and that an
// accepted config has a positive rank and finite alpha and scaling.
func FuzzAdapterConfig(f *testing.F) {
	for _, s := range []string{
		`{"peft_type":"LORA","r":16,"lora_alpha":32,"target_modules":["q_proj","v_proj"]}`,
		`{"r":8,"lora_alpha":16,"use_rslora":true,"target_modules":"all-linear","use_dora":true}`,
		`{"r":8,"target_modules":".*\\.(q|v)_proj","rank_pattern":{"q_proj":4},"alpha_pattern":{"v_proj":2}}`,
		`{"r":0}`, `{"rank_pattern":{"(":1}}`, `[]`, `{"target_modules":7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseAdapterConfig("fuzz.json", data)
		if err != nil {
			checkParseError(t, err, "fuzz.json")
			return
		}
		if c.R <= 0 {
			t.Fatalf("accepted rank %d", c.R)
		}
		for _, key := range []string{"model.layers.0.self_attn.q_proj", "model.layers.3.mlp.down_proj"} {
			r, alpha := c.resolve(key)
			s := c.Scaling(r, alpha)
			if r <= 0 || math.IsNaN(float64(s)) {
				t.Fatalf("%s: rank %d scaling %v", key, r, s)
			}
			c.targets(key)
		}
	})
}

// FuzzAdapterSafetensors checks the adapter's safetensors reader on arbitrary bytes.
func FuzzAdapterSafetensors(f *testing.F) {
	dir := f.TempDir()
	p := filepath.Join(dir, "s.safetensors")
	writeST(f, p, []stEntry{{name: "a", shape: []int{2, 2}, data: []float32{1, 2, 3, 4}}, {name: "b", dtype: "BF16", shape: []int{3}, data: []float32{1, 2, 3}}})
	seed, _ := os.ReadFile(p)
	f.Add(seed)
	f.Add(seed[:20])
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := readSafetensorsF32("fuzz.safetensors", data)
		if err != nil {
			checkParseError(t, err, "fuzz.safetensors")
			return
		}
		for _, x := range ts {
			n := 1
			for _, d := range x.shape {
				n *= d
			}
			if n != len(x.data) {
				t.Fatalf("%s: shape %v but %d values", x.name, x.shape, len(x.data))
			}
		}
	})
}

// FuzzGGUFAdapter checks the GGUF LoRA interpretation on arbitrary files.
func FuzzGGUFAdapter(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := &Adapter{NeoxQK: false, Modules: []*LoraModule{{Target: "blk.0.attn_q.weight", Rank: 2, In: 4, Out: 4, Alpha: 4, Scale: 2, A: randF32(rng, 8), B: randF32(rng, 8)},
		{Target: "token_embd.weight", Embedding: true, Rank: 2, In: 6, Out: 4, Alpha: 4, Scale: 2, A: randF32(rng, 12), B: randF32(rng, 8)}}}
	p := filepath.Join(f.TempDir(), "a.gguf")
	if err := WriteGGUFAdapter(p, a, "llama", Config{Arch: "llama", Dim: 4, Heads: 1, KVHeads: 1, HeadDim: 4, Layers: 1}); err != nil {
		f.Fatal(err)
	}
	seed, _ := os.ReadFile(p)
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseGGUFContainer("fuzz.gguf", data)
		if err != nil {
			return // FuzzGGUF covers the container
		}
		ad, err := ggufAdapter(c)
		if err != nil {
			checkParseError(t, err, "fuzz.gguf")
			return
		}
		for _, m := range ad.Modules {
			if len(m.A) != m.Rank*m.In || len(m.B) != m.Out*m.Rank || m.Rank <= 0 {
				t.Fatalf("%s: inconsistent module %d×%d rank %d", m.Target, m.Out, m.In, m.Rank)
			}
		}
	})
}

// TestPEFTEmbeddingAndModulesToSave reads embedding LoRA factors (bare parameters,
// with and without an adapter-name suffix), modules_to_save replacements under their
// plain module path, and a fan_in_fan_out config (which PEFT resets to false for
// nn.Linear targets, so the factors read the same).
func TestPEFTEmbeddingAndModulesToSave(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	c := tinyCfg
	entries := []stEntry{
		{name: "base_model.model.model.embed_tokens.lora_embedding_A", shape: []int{4, c.Vocab}, data: randF32(rng, 4*c.Vocab)},
		{name: "base_model.model.model.embed_tokens.lora_embedding_B", shape: []int{c.Dim, 4}, data: randF32(rng, 4*c.Dim)},
		{name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", shape: []int{4, 16}, data: randF32(rng, 64)},
		{name: "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", shape: []int{16, 4}, data: randF32(rng, 64)},
		{name: "base_model.model.lm_head.weight", shape: []int{c.Vocab, c.Dim}, data: randF32(rng, c.Vocab*c.Dim)},
		{name: "base_model.model.model.norm.weight", shape: []int{c.Dim}, data: randF32(rng, c.Dim)},
		{name: "model.layers.1.post_attention_layernorm.weight", shape: []int{c.Dim}, data: randF32(rng, c.Dim)},
	}
	for _, ffo := range []string{"false", "true"} {
		cfg := `{"peft_type":"LORA","r":4,"lora_alpha":8,"fan_in_fan_out":` + ffo + `,"target_modules":["q_proj","embed_tokens"],"modules_to_save":["lm_head","norm"]}`
		a, err := OpenAdapter(writeAdapterDir(t, cfg, entries))
		if err != nil {
			t.Fatalf("fan_in_fan_out %s: %v", ffo, err)
		}
		if err := a.Validate(c); err != nil {
			t.Fatal(err)
		}
		emb := a.Module("token_embd.weight")
		if emb == nil || !emb.Embedding || emb.Rank != 4 || emb.In != c.Vocab || emb.Out != c.Dim || emb.Scale != 2 || emb.Key != "model.embed_tokens" {
			t.Fatalf("embedding module %+v", emb)
		}
		if !slices.Equal(emb.A, entries[0].data) || !slices.Equal(emb.B, entries[1].data) {
			t.Fatal("embedding factors differ from the file")
		}
		if q := a.Module("blk.0.attn_q.weight"); q == nil || q.Embedding || !slices.Equal(q.A, entries[2].data) {
			t.Fatalf("q module %+v", q)
		}
		var got []string
		for _, r := range a.Replacements {
			got = append(got, r.Target)
		}
		if !slices.Equal(got, []string{"blk.1.ffn_norm.weight", "output.weight", "output_norm.weight"}) {
			t.Fatalf("replacements %v", got)
		}
		if r := a.Replacement("output.weight"); !slices.Equal(r.Data, entries[4].data) || !slices.Equal(r.Shape, []int{c.Vocab, c.Dim}) {
			t.Fatal("lm_head replacement differs from the file")
		}
		// Round trip through the writer.
		dir := t.TempDir()
		if err := WritePEFTAdapter(dir, a); err != nil {
			t.Fatal(err)
		}
		b, err := OpenAdapter(dir)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Modules) != 2 || len(b.Replacements) != 3 || !slices.Equal(b.Module("token_embd.weight").A, emb.A) || !slices.Equal(b.Replacement("blk.1.ffn_norm.weight").Data, entries[6].data) {
			t.Fatalf("round trip: %d modules, %d replacements", len(b.Modules), len(b.Replacements))
		}
	}
	// The in-memory key forms (adapter-name suffix, modules_to_save infix) read the same.
	alt := slices.Clone(entries)
	alt[0].name += ".default"
	alt[4].name = "base_model.model.lm_head.modules_to_save.default.weight"
	a, err := OpenAdapter(writeAdapterDir(t, `{"r":4,"lora_alpha":8}`, alt))
	if err != nil {
		t.Fatal(err)
	}
	if a.Module("token_embd.weight") == nil || a.Replacement("output.weight") == nil {
		t.Fatal("adapter-name forms not recognised")
	}

	// Mismatches name the tensor.
	bad := tinyCfg
	bad.Vocab = 40
	wantErr(t, a.Validate(bad), ErrCorrupt, "embed_tokens", "num_embeddings 32")
	bad = tinyCfg
	bad.Layers = 1
	b, _ := OpenAdapter(writeAdapterDir(t, `{"r":4,"lora_alpha":8}`, entries))
	wantErr(t, b.Validate(bad), ErrCorrupt, "post_attention_layernorm", "blk.1.ffn_norm.weight")
	e := slices.Clone(entries)
	e = append(e, stEntry{name: "base_model.model.model.layers.0.self_attn.q_proj.lora_embedding_A", shape: []int{4, 16}, data: randF32(rng, 64)})
	wantErr(t, nilAdapter(OpenAdapter(writeAdapterDir(t, `{"r":4,"lora_alpha":8}`, e))), ErrUnsupported, "q_proj.lora_embedding_A", "token embedding")
	e = slices.Clone(entries)
	e[1].shape = []int{c.Dim, 3}
	e[1].data = e[1].data[:3*c.Dim]
	wantErr(t, nilAdapter(OpenAdapter(writeAdapterDir(t, `{"r":4,"lora_alpha":8}`, e))), ErrCorrupt, "lora_embedding_B", "rank 3")
	e = slices.Clone(entries)
	e = append(e, stEntry{name: "base_model.model.model.embed_tokens.lora_magnitude_vector", shape: []int{c.Dim}, data: randF32(rng, c.Dim)})
	wantErr(t, nilAdapter(OpenAdapter(writeAdapterDir(t, `{"r":4,"lora_alpha":8}`, e))), ErrUnsupported, "embed_tokens.lora_magnitude_vector")
}

// TestGGUFAdapterRefusesModulesToSave: a GGUF LoRA file has no encoding for full
// replacement weights, so the writer (edgerun convert-lora) refuses them as llama.cpp's
// converter does, naming the tensor.
func TestGGUFAdapterRefusesModulesToSave(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	entries := []stEntry{
		{name: "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", shape: []int{4, 16}, data: randF32(rng, 64)},
		{name: "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", shape: []int{16, 4}, data: randF32(rng, 64)},
		{name: "base_model.model.lm_head.weight", shape: []int{tinyCfg.Vocab, tinyCfg.Dim}, data: randF32(rng, tinyCfg.Vocab*tinyCfg.Dim)},
	}
	a, err := OpenAdapter(writeAdapterDir(t, `{"r":4,"lora_alpha":8,"modules_to_save":["lm_head"]}`, entries))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "a.gguf")
	wantErr(t, WriteGGUFAdapter(out, a, "llama", tinyCfg), ErrUnsupported, out, "base_model.model.lm_head.weight", "modules_to_save", "convert_lora_to_gguf.py")
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a refused conversion left a file behind")
	}
}

// FuzzPEFTAdapter fuzzes the grouping of a PEFT safetensors file into modules and
// replacements (key forms, embedding LoRA, modules_to_save) and the validation
// against a small base.
func FuzzPEFTAdapter(f *testing.F) {
	rng := rand.New(rand.NewPCG(9, 9))
	p := filepath.Join(f.TempDir(), "s.safetensors")
	c := tinyCfg
	writeST(f, p, []stEntry{
		{name: "base_model.model.model.embed_tokens.lora_embedding_A", shape: []int{2, c.Vocab}, data: randF32(rng, 2*c.Vocab)},
		{name: "base_model.model.model.embed_tokens.lora_embedding_B", shape: []int{c.Dim, 2}, data: randF32(rng, 2*c.Dim)},
		{name: "base_model.model.model.layers.1.mlp.up_proj.lora_A.default.weight", shape: []int{2, 16}, data: randF32(rng, 32)},
		{name: "base_model.model.model.layers.1.mlp.up_proj.lora_B.default.weight", shape: []int{24, 2}, data: randF32(rng, 48)},
		{name: "base_model.model.model.layers.1.mlp.up_proj.lora_magnitude_vector", shape: []int{24}, data: randF32(rng, 24)},
		{name: "base_model.model.model.norm.weight", shape: []int{c.Dim}, data: randF32(rng, c.Dim)},
		{name: "lm_head.modules_to_save.default.weight", shape: []int{c.Vocab, c.Dim}, data: randF32(rng, c.Vocab*c.Dim)},
		{name: "model.layers.0.input_layernorm.weight", shape: []int{c.Dim}, data: randF32(rng, c.Dim)},
	})
	seed, _ := os.ReadFile(p)
	f.Add(seed)
	f.Add(seed[:len(seed)/3])
	cfg := &AdapterConfig{R: 2, Alpha: 4}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := readSafetensorsF32("fuzz.safetensors", data)
		if err != nil {
			return // FuzzAdapterSafetensors covers the file
		}
		a, err := buildPEFTAdapter("fuzz", "fuzz.safetensors", cfg, ts)
		if err != nil {
			checkParseError(t, err, "fuzz.safetensors")
			return
		}
		for _, m := range a.Modules {
			if len(m.A) != m.Rank*m.In || len(m.B) != m.Out*m.Rank || m.Rank <= 0 {
				t.Fatalf("%s: inconsistent module %d×%d rank %d", m.Target, m.Out, m.In, m.Rank)
			}
		}
		if err := a.Validate(c); err == nil {
			for _, r := range a.Replacements {
				if want, _ := ReplacementShape(c, r.Target); len(r.Data) != shapeElems(want) {
					t.Fatalf("%s: %d values accepted for shape %v", r.Key, len(r.Data), want)
				}
			}
		}
	})
}
