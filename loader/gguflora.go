package loader

import (
	"math"
	"strings"

	"github.com/edgerun/edgerun/int4"
)

// openGGUFAdapter reads a GGUF LoRA adapter file (formats.md §4.8).
func openGGUFAdapter(path string) (*Adapter, error) {
	data, unmap, err := mapFile(path, false)
	if err != nil {
		return nil, err
	}
	defer unmap() // the factors are copied out as float32
	if len(data) < 4 || string(data[:4]) != ggufMagic {
		return nil, errorf(path, ErrBadMagic, "not a LoRA adapter: neither a PEFT directory nor a GGUF file")
	}
	c, err := parseGGUFContainer(path, data)
	if err != nil {
		return nil, err
	}
	return ggufAdapter(c)
}

// ggufAdapter interprets a parsed GGUF container as a LoRA adapter.
func ggufAdapter(c *Checkpoint) (*Adapter, error) {
	path := c.Path
	typ, _, err := c.metaString("general.type")
	if err != nil {
		return nil, err
	}
	if typ != "adapter" {
		return nil, errorf(path, ErrUnsupported, "general.type is %q, want \"adapter\" (is this a model rather than a LoRA adapter?)", typ)
	}
	atype, _, err := c.metaString("adapter.type")
	if err != nil {
		return nil, err
	}
	if atype != "lora" {
		return nil, errorf(path, ErrUnsupported, "adapter.type is %q, want \"lora\"", atype)
	}
	arch, _, err := c.metaString("general.architecture")
	if err != nil {
		return nil, err
	}
	alpha, ok, err := c.metaFloat("adapter.lora.alpha")
	if err != nil {
		return nil, err
	}
	if !ok {
		if alpha, _, err = c.metaFloat("training.lora.alpha"); err != nil {
			return nil, err
		}
	}
	if math.IsNaN(alpha) || math.IsInf(alpha, 0) {
		return nil, errorf(path, ErrCorrupt, "adapter.lora.alpha %v is not finite", alpha)
	}
	a := &Adapter{Path: path, Format: "gguf", Arch: arch, NeoxQK: neoxArchs[arch],
		Config: &AdapterConfig{PeftType: "LORA", Alpha: alpha}}
	byTarget := map[string]*LoraModule{}
	var order []string
	for _, name := range c.Order {
		t := c.Tensors[name]
		var target string
		var isA bool
		switch {
		case strings.HasSuffix(name, ".lora_a"):
			target, isA = strings.TrimSuffix(name, ".lora_a"), true
		case strings.HasSuffix(name, ".lora_b"):
			target = strings.TrimSuffix(name, ".lora_b")
		case strings.HasSuffix(name, "_norm.weight"):
			continue
		default:
			return nil, errorf(path, ErrCorrupt, "tensor %q: unexpected suffix (a GGUF LoRA adapter holds only .lora_a/.lora_b tensors)", name)
		}
		if len(t.Shape) != 2 {
			return nil, errorf(path, ErrCorrupt, "tensor %q has shape %v, want 2 dimensions", name, t.Shape)
		}
		f := make([]float32, t.Elems())
		if err := int4.DequantizeRow(t.Type, t.Data, f); err != nil {
			return nil, wrapf(path, ErrUnsupported, err, "tensor %q", name)
		}
		m := byTarget[target]
		if m == nil {
			m = &LoraModule{Target: target, Key: target}
			byTarget[target] = m
			order = append(order, target)
		}
		m.Embedding = target == "token_embd.weight"
		if isA { // GGUF [n_in, r] = outermost-first [r, in]
			if m.A != nil {
				return nil, errorf(path, ErrCorrupt, "tensor %q appears twice", name)
			}
			m.A, m.Rank, m.In = f, t.Shape[0], t.Shape[1]
			if m.Embedding {
				// The converter transposes lora_embedding_A: outermost-first [vocab, r].
				m.A, m.Rank, m.In = transposeF32(f, t.Shape[0], t.Shape[1]), t.Shape[1], t.Shape[0]
			}
		} else { // GGUF [r, n_out] = [out, r]
			if m.B != nil {
				return nil, errorf(path, ErrCorrupt, "tensor %q appears twice", name)
			}
			m.B, m.Out = f, t.Shape[0]
			if m.Rank == 0 {
				m.Rank = t.Shape[1]
			} else if m.Rank != t.Shape[1] {
				return nil, errorf(path, ErrCorrupt, "tensor %q has shape %v: rank %d differs from lora_a's %d", name, t.Shape, t.Shape[1], m.Rank)
			}
		}
	}
	for _, target := range order {
		m := byTarget[target]
		switch {
		case m.A == nil:
			return nil, errorf(path, ErrCorrupt, "%q has lora_b but no lora_a", target)
		case m.B == nil:
			return nil, errorf(path, ErrCorrupt, "%q has lora_a but no lora_b", target)
		case m.Rank <= 0 || m.In <= 0 || m.Out <= 0:
			return nil, errorf(path, ErrCorrupt, "%q: empty factors (rank %d, %d inputs, %d outputs)", target, m.Rank, m.In, m.Out)
		case len(m.A) != m.Rank*m.In || len(m.B) != m.Out*m.Rank:
			return nil, errorf(path, ErrCorrupt, "%q: the ranks of lora_a [%d %d] and lora_b (%d values) disagree", target, m.Rank, m.In, len(m.B))
		}
		m.Alpha = alpha
		m.Scale = 1
		if alpha != 0 {
			m.Scale = float32(alpha / float64(m.Rank))
		}
		a.Modules = append(a.Modules, m)
	}
	if len(a.Modules) == 0 {
		return nil, errorf(path, ErrCorrupt, "the adapter holds no LoRA tensors")
	}
	sortModules(a.Modules)
	return a, nil
}

// WriteGGUFAdapter writes a as a GGUF LoRA adapter for a base of architecture arch
// whose q/k rows follow ropeNeox (false for GGUF llama: the adapter's lora_b rows are
// permuted as convert_lora_to_gguf.py does). When every module shares the scaling
// alpha/r, alpha is written as is; otherwise (rsLoRA, rank/alpha patterns) each
// module's scaling is folded into lora_b and alpha is written as 0, which llama.cpp
// reads as "scale = user scale". DoRA and lora_bias adapters cannot be expressed.
func WriteGGUFAdapter(path string, a *Adapter, arch string, cfg Config) error {
	if len(a.Replacements) > 0 {
		r := a.Replacements[0]
		return errorf(path, ErrUnsupported, "tensor %q is a modules_to_save weight (replaces %s): GGUF LoRA files hold only lora_a/lora_b pairs, and llama.cpp's convert_lora_to_gguf.py refuses such adapters too; apply the PEFT directory directly (edgerun run --adapter) or bake it in with edgerun merge", r.Key, r.Target)
	}
	for _, m := range a.Modules {
		if m.Magnitude != nil || m.Bias != nil {
			return errorf(path, ErrUnsupported, "module %q: DoRA magnitudes and lora_B biases have no GGUF LoRA encoding", m.Key)
		}
	}
	cp := *a
	cp.Modules = make([]*LoraModule, len(a.Modules))
	for i, m := range a.Modules {
		mm := *m
		cp.Modules[i] = &mm
	}
	cfg.Arch = arch
	cp.MatchRopeLayout(cfg)
	alpha := 0.0
	if len(cp.Modules) > 0 {
		alpha = cp.Modules[0].Alpha
	}
	uniform := alpha != 0
	for _, m := range cp.Modules {
		if m.Scale != float32(alpha/float64(m.Rank)) {
			uniform = false
		}
	}
	meta := []KV{
		{"general.architecture", arch},
		{"general.type", "adapter"},
		{"adapter.type", "lora"},
	}
	if uniform {
		meta = append(meta, KV{"adapter.lora.alpha", float32(alpha)})
	} else {
		meta = append(meta, KV{"adapter.lora.alpha", float32(0)})
	}
	var tensors []*Tensor
	for _, m := range cp.Modules {
		b := m.B
		if !uniform {
			b = make([]float32, len(m.B))
			for i, v := range m.B {
				b[i] = v * m.Scale
			}
		}
		la := &Tensor{Name: m.Target + ".lora_a", Type: int4.F32, Shape: []int{m.Rank, m.In}, Data: f32Bytes(m.A)}
		if m.Embedding {
			// llama.cpp gathers token rows of lora_a: the converter transposes it to
			// [vocab, r] (formats.md §4.8).
			la.Shape, la.Data = []int{m.In, m.Rank}, f32Bytes(transposeF32(m.A, m.Rank, m.In))
		}
		tensors = append(tensors, la,
			&Tensor{Name: m.Target + ".lora_b", Type: int4.F32, Shape: []int{m.Out, m.Rank}, Data: f32Bytes(b)})
	}
	return WriteGGUF(path, meta, tensors)
}

// transposeF32 returns the transpose of the row-major rows×cols matrix v.
func transposeF32(v []float32, rows, cols int) []float32 {
	out := make([]float32, len(v))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = v[r*cols+c]
		}
	}
	return out
}

// f32Bytes encodes v as little-endian float32.
func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		u := math.Float32bits(f)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return b
}

// GGUFRopeNeox reports whether llama.cpp runs GGUF models of architecture arch with
// rotate-half RoPE (so their q/k rows are not permuted).
func GGUFRopeNeox(arch string) bool { return neoxArchs[arch] }
