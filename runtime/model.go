// Package runtime runs LLaMA-family models: the Model (weights bound from a
// loader.Checkpoint), the forward pass with its KV cache, the sampler, and the
// Engine/Session API that apps embed. An Engine owns the immutable base weights
// (memory-mapped, shared by all sessions); a Session owns its KV cache.
package runtime

import (
	"errors"
	"fmt"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/kernels"
	"github.com/edgerun/edgerun/loader"
)

// ErrBadModel is returned when a checkpoint cannot be run: a missing tensor, a shape
// that does not match the configuration, an unsupported architecture.
var ErrBadModel = errors.New("runtime: model cannot be run")

// Model is a LLaMA-family decoder bound to the tensors of a checkpoint. It is safe for
// concurrent use by many sessions; its weights change only through Engine.Merge and
// Engine.Unmerge, which swap weight buffers under the engine's lock. LoRA adapters
// applied unmerged (Session.SetAdapters) never touch it.
type Model struct {
	Config loader.Config
	Ckpt   *loader.Checkpoint

	embed   *kernels.Matrix // [vocab, dim]
	layers  []layer
	outNorm []float32
	output  *kernels.Matrix // [vocab, dim]
	rope    *kernels.RopeTable
}

type layer struct {
	attnNorm, ffnNorm []float32
	wq, wk, wv, wo    *kernels.Matrix
	bq, bk, bv        []float32 // optional biases (qwen2)
	wgate, wup, wdown *kernels.Matrix
}

// supportedArchs are the GGUF architectures whose tensors and forward pass match ours.
var supportedArchs = map[string]bool{"llama": true, "mistral": true, "qwen2": true}

// NewModel binds the tensors of ckpt and checks every shape against its configuration.
func NewModel(ckpt *loader.Checkpoint) (*Model, error) {
	c := ckpt.Config
	fail := func(format string, args ...any) error {
		return fmt.Errorf("runtime: %s: %s: %w", ckpt.Path, fmt.Sprintf(format, args...), ErrBadModel)
	}
	if !supportedArchs[c.Arch] {
		return nil, fail("architecture %q is not supported (supported: llama, mistral, qwen2)", c.Arch)
	}
	if c.Dim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.FFN <= 0 || c.Vocab <= 0 {
		return nil, fail("incomplete configuration %+v", c)
	}
	if c.HeadDim == 0 {
		c.HeadDim = c.Dim / c.Heads
	}
	if c.RopeDim == 0 {
		c.RopeDim = c.HeadDim
	}
	if c.Heads%c.KVHeads != 0 || c.RopeDim > c.HeadDim || c.RopeDim%2 != 0 {
		return nil, fail("heads %d, kv heads %d, head dim %d, rope dim %d do not fit together", c.Heads, c.KVHeads, c.HeadDim, c.RopeDim)
	}
	if c.RMSEps == 0 {
		c.RMSEps = 1e-5
	}
	if c.RopeBase == 0 {
		c.RopeBase = 10000
	}
	m := &Model{Config: c, Ckpt: ckpt}
	matrix := func(name string, rows, cols int) (*kernels.Matrix, error) {
		t, err := ckpt.Tensor(name)
		if err != nil {
			return nil, err
		}
		if t.Rows() != rows || t.Cols() != cols || len(t.Shape) != 2 {
			return nil, fail("tensor %q has shape %v, want [%d %d]", name, t.Shape, rows, cols)
		}
		mat, err := kernels.NewMatrix(t.Type, rows, cols, t.Data)
		if err != nil {
			return nil, fail("tensor %q: %v", name, err)
		}
		return mat, nil
	}
	vector := func(name string, n int, optional bool) ([]float32, error) {
		t, ok := ckpt.Tensors[name]
		if !ok {
			if optional {
				return nil, nil
			}
			_, err := ckpt.Tensor(name)
			return nil, err
		}
		if t.Elems() != n {
			return nil, fail("tensor %q has shape %v, want [%d]", name, t.Shape, n)
		}
		out := make([]float32, n)
		if err := int4.DequantizeRow(t.Type, t.Data, out); err != nil {
			return nil, fail("tensor %q: %v", name, err)
		}
		return out, nil
	}
	var err error
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	if m.embed, err = matrix("token_embd.weight", c.Vocab, c.Dim); err != nil {
		return nil, err
	}
	if m.outNorm, err = vector("output_norm.weight", c.Dim, false); err != nil {
		return nil, err
	}
	if _, ok := ckpt.Tensors["output.weight"]; ok {
		if m.output, err = matrix("output.weight", c.Vocab, c.Dim); err != nil {
			return nil, err
		}
	} else {
		m.output = m.embed
	}
	m.layers = make([]layer, c.Layers)
	for i := range m.layers {
		l := &m.layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		steps := []struct {
			dst        **kernels.Matrix
			name       string
			rows, cols int
		}{
			{&l.wq, "attn_q.weight", qDim, c.Dim},
			{&l.wk, "attn_k.weight", kvDim, c.Dim},
			{&l.wv, "attn_v.weight", kvDim, c.Dim},
			{&l.wo, "attn_output.weight", c.Dim, qDim},
			{&l.wgate, "ffn_gate.weight", c.FFN, c.Dim},
			{&l.wup, "ffn_up.weight", c.FFN, c.Dim},
			{&l.wdown, "ffn_down.weight", c.Dim, c.FFN},
		}
		for _, s := range steps {
			if *s.dst, err = matrix(p+s.name, s.rows, s.cols); err != nil {
				return nil, err
			}
		}
		if l.attnNorm, err = vector(p+"attn_norm.weight", c.Dim, false); err != nil {
			return nil, err
		}
		if l.ffnNorm, err = vector(p+"ffn_norm.weight", c.Dim, false); err != nil {
			return nil, err
		}
		if l.bq, err = vector(p+"attn_q.bias", qDim, true); err != nil {
			return nil, err
		}
		if l.bk, err = vector(p+"attn_k.bias", kvDim, true); err != nil {
			return nil, err
		}
		if l.bv, err = vector(p+"attn_v.bias", kvDim, true); err != nil {
			return nil, err
		}
	}
	var factors []float32
	if t, ok := ckpt.Tensors["rope_freqs.weight"]; ok {
		if factors, err = vector("rope_freqs.weight", t.Elems(), false); err != nil {
			return nil, err
		}
		if len(factors) != c.RopeDim/2 {
			return nil, fail("rope_freqs.weight has %d factors, want %d", len(factors), c.RopeDim/2)
		}
	}
	scale := float32(1)
	if c.RopeScale > 0 {
		scale = 1 / c.RopeScale
	}
	m.rope = kernels.NewRopeTable(c.RopeDim, c.RopeBase, c.RopeNeox, scale, factors)
	return m, nil
}

// KVDim returns the width of one position's keys (and values) in one layer.
func (m *Model) KVDim() int { return m.Config.KVHeads * m.Config.HeadDim }

// ParamCount returns the number of weight elements.
func (m *Model) ParamCount() int64 {
	var n int64
	for _, t := range m.Ckpt.Tensors {
		n += int64(t.Elems())
	}
	return n
}
