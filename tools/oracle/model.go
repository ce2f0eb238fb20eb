package oracle

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/loader"
	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Tensor is a float32 weight, outermost dimension first.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Bnb4 is a bitsandbytes 4-bit weight as stored on disk: the packed codes, the
// per-block absmax (8-bit codes with double quantization, else float32), and the
// quant-state constants. It is dequantized inside the graph.
type Bnb4 struct {
	Out, In      int
	Packed       []uint8
	AbsmaxQ      []uint8   // double quantization: one code per block
	Absmax       []float32 // without double quantization
	NestedAbsmax []float32
	QuantMap     []float32 // 16
	NestedMap    []float32 // 256
	Offset       float32
	Blocksize    int
	NestedBlock  int
}

// Model is a LLaMA model for the oracle: its configuration and its weights by GGUF name.
type Model struct {
	Config Config
	F32    map[string]Tensor
	Q4     map[string]Bnb4
}

// Module is one LoRA (or, with Magnitude, DoRA) update of a projection: the output
// becomes y + Scale·(x·Aᵀ)·Bᵀ (DoRA: rescaled per row, see DoRA).
type Module struct {
	Target    string // GGUF name of the weight ("blk.0.attn_q.weight")
	Rank      int
	In, Out   int
	Scale     float32
	A, B      []float32 // [Rank, In], [Out, Rank]
	Magnitude []float32 // DoRA only: [Out]
}

// ConfigOf converts a loader configuration (it must have RopeDim == HeadDim and no
// RoPE scaling).
func ConfigOf(c loader.Config) (Config, error) {
	if c.RopeDim != 0 && c.RopeDim != c.HeadDim || c.RopeScale != 0 && c.RopeScale != 1 {
		return Config{}, fmt.Errorf("oracle: partial or scaled RoPE not supported (rope dim %d, scale %g)", c.RopeDim, c.RopeScale)
	}
	return Config{Vocab: c.Vocab, Dim: c.Dim, FFN: c.FFN, Layers: c.Layers, Heads: c.Heads, KVHeads: c.KVHeads,
		HeadDim: c.HeadDim, Eps: c.RMSEps, Theta: c.RopeBase, Neox: c.RopeNeox, Tied: c.Tied}, nil
}

// FromCheckpoint takes a checkpoint's float tensors (F32, F16, BF16) as they are stored.
func FromCheckpoint(ck *loader.Checkpoint) (*Model, error) {
	cfg, err := ConfigOf(ck.Config)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, F32: map[string]Tensor{}}
	for name, t := range ck.Tensors {
		var x []float32
		switch t.Type {
		case int4.F32:
			x = make([]float32, t.Elems())
			for i := range x {
				x[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
			}
		case int4.F16, int4.BF16:
			x = make([]float32, t.Elems())
			if err := int4.DequantizeRow(t.Type, t.Data, x); err != nil {
				return nil, fmt.Errorf("oracle: %s: %w", name, err)
			}
		default:
			return nil, fmt.Errorf("oracle: %s: tensor %q has type %v (float tensors only)", ck.Path, name, t.Type)
		}
		m.F32[name] = Tensor{Shape: t.Shape, Data: x}
	}
	return m, nil
}

// LoadBnbDir reads a bitsandbytes 4-bit Hugging Face directory straight from its
// model.safetensors (not through edgerun's bnb loader): float tensors as they are,
// 4-bit weights as their raw pieces. cfg is the model configuration.
func LoadBnbDir(dir string, cfg Config) (*Model, error) {
	f, err := loader.OpenSafetensors(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := &Model{Config: cfg, F32: map[string]Tensor{}, Q4: map[string]Bnb4{}}
	for _, st := range f.Tensors {
		if strings.Contains(st.Name, ".weight.") {
			continue // quant-state pieces, read with their weight
		}
		name, ok := loader.HFTensorName(st.Name)
		if !ok {
			return nil, fmt.Errorf("oracle: %s: unexpected tensor %q", f.Path, st.Name)
		}
		if st.DType == "F32" {
			m.F32[name] = Tensor{Shape: st.Shape, Data: f32s(st.Data)}
			continue
		}
		get := func(suffix string) ([]byte, error) {
			x, ok := f.Tensor(st.Name + suffix)
			if !ok {
				return nil, fmt.Errorf("oracle: %s: %s%s missing", f.Path, st.Name, suffix)
			}
			return x.Data, nil
		}
		var stateKey string
		for _, k := range []string{".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4"} {
			if _, ok := f.Tensor(st.Name + k); ok {
				stateKey = k
			}
		}
		if stateKey == "" || st.DType != "U8" {
			return nil, fmt.Errorf("oracle: %s: tensor %q (%s) is neither F32 nor uint8 bitsandbytes", f.Path, st.Name, st.DType)
		}
		js, _ := get(stateKey)
		var qs struct {
			Blocksize int      `json:"blocksize"`
			Shape     []int    `json:"shape"`
			NBlock    int      `json:"nested_blocksize"`
			Offset    *float64 `json:"nested_offset"`
		}
		if err := json.Unmarshal(js, &qs); err != nil || len(qs.Shape) != 2 {
			return nil, fmt.Errorf("oracle: %s: %s quant state %q", f.Path, st.Name, js)
		}
		q := Bnb4{Out: qs.Shape[0], In: qs.Shape[1], Packed: bytes.Clone(st.Data), Blocksize: qs.Blocksize, NestedBlock: qs.NBlock}
		qm, err := get(".quant_map")
		if err != nil {
			return nil, err
		}
		q.QuantMap = f32s(qm)
		am, err := get(".absmax")
		if err != nil {
			return nil, err
		}
		if qs.Offset != nil {
			q.Offset = float32(*qs.Offset)
			q.AbsmaxQ = bytes.Clone(am) // the file is unmapped on return
			na, err := get(".nested_absmax")
			if err != nil {
				return nil, err
			}
			nm, err := get(".nested_quant_map")
			if err != nil {
				return nil, err
			}
			q.NestedAbsmax, q.NestedMap = f32s(na), f32s(nm)
		} else {
			q.Absmax = f32s(am)
		}
		m.Q4[name] = q
	}
	return m, nil
}

func f32s(b []byte) []float32 {
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x
}

// ModulesOf converts a loader adapter's modules (PEFT in Hugging Face layout).
func ModulesOf(a *loader.Adapter, userScale float32) []Module {
	var out []Module
	for _, lm := range a.Modules {
		out = append(out, Module{Target: lm.Target, Rank: lm.Rank, In: lm.In, Out: lm.Out, Scale: lm.Scale * userScale,
			A: lm.A, B: lm.B, Magnitude: lm.Magnitude})
	}
	return out
}

// Logits runs the model over tokens (positions 0..len-1) with the modules applied and
// returns the logits of every position (len(tokens) × Vocab).
func (m *Model) Logits(be backends.Backend, mods []Module, tokens []int) (out []float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("oracle: %v", r)
		}
	}()
	ids := make([]int32, len(tokens))
	for i, t := range tokens {
		ids[i] = int32(t)
	}
	exec, err := NewExec(be, func(tok *Node) *Node {
		g := tok.Graph()
		cache := map[string]*Node{}
		w := func(name string) *Node {
			if n, ok := cache[name]; ok {
				return n
			}
			var n *Node
			if t, ok := m.F32[name]; ok {
				n = Reshape(Const(g, t.Data), t.Shape...)
			} else if q, ok := m.Q4[name]; ok {
				qm := Const(g, q.QuantMap)
				if q.AbsmaxQ != nil {
					n = DequantNF4(Const(g, q.Packed), Const(g, q.AbsmaxQ), Const(g, q.NestedAbsmax), qm, Const(g, q.NestedMap),
						q.Offset, q.Blocksize, q.NestedBlock, q.Out, q.In)
				} else {
					n = DequantBnb4Plain(Const(g, q.Packed), Const(g, q.Absmax), qm, q.Blocksize, q.Out, q.In)
				}
			} else {
				panic(fmt.Sprintf("weight %q missing", name))
			}
			cache[name] = n
			return n
		}
		byTarget := map[string]Module{}
		for _, md := range mods {
			byTarget[md.Target] = md
		}
		delta := func(name string, x, wt, y *Node) *Node {
			md, ok := byTarget[name]
			if !ok {
				return y
			}
			a := Reshape(Const(g, md.A), md.Rank, md.In)
			b := Reshape(Const(g, md.B), md.Out, md.Rank)
			if md.Magnitude != nil {
				return DoRA(x, wt, y, a, b, Const(g, md.Magnitude), md.Scale)
			}
			return LoRA(x, y, a, b, md.Scale)
		}
		return Forward(m.Config, w, delta, tok)
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(ids, 1, len(ids)))
	if err != nil {
		return nil, err
	}
	out = tensors.MustCopyFlatData[float32](res[0])
	res[0].MustFinalizeAll()
	return out, nil
}
