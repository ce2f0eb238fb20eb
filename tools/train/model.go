package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/edgerun/edgerun/tools/oracle"
	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// param is one trained tensor with its Adam state.
type param struct {
	Name  string
	Shape []int
	Data  []float32
	m, v  []float32
}

func newParam(name string, shape []int) *param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &param{Name: name, Shape: shape, Data: make([]float32, n), m: make([]float32, n), v: make([]float32, n)}
}

func (p *param) tensor() *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(p.Data, p.Shape...)
}

// baseParams returns the base model's tensors (GGUF names) initialised from seed:
// N(0, 0.02) weights, residual outputs scaled by 1/sqrt(2·layers), norms at 1.
func baseParams(cfg oracle.Config, seed uint64) []*param {
	r := rand.New(rand.NewPCG(seed, 1))
	var ps []*param
	add := func(name string, std float64, shape ...int) {
		p := newParam(name, shape)
		for i := range p.Data {
			if std == 0 {
				p.Data[i] = 1
			} else {
				p.Data[i] = float32(r.NormFloat64() * std)
			}
		}
		ps = append(ps, p)
	}
	D, hd := cfg.Dim, cfg.HeadDim
	res := 0.02 / math.Sqrt(2*float64(cfg.Layers))
	add("token_embd.weight", 0.02, cfg.Vocab, D)
	for l := 0; l < cfg.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", 0, D)
		add(p+"attn_q.weight", 0.02, cfg.Heads*hd, D)
		add(p+"attn_k.weight", 0.02, cfg.KVHeads*hd, D)
		add(p+"attn_v.weight", 0.02, cfg.KVHeads*hd, D)
		add(p+"attn_output.weight", res, D, cfg.Heads*hd)
		add(p+"ffn_norm.weight", 0, D)
		add(p+"ffn_gate.weight", 0.02, cfg.FFN, D)
		add(p+"ffn_up.weight", 0.02, cfg.FFN, D)
		add(p+"ffn_down.weight", res, D, cfg.FFN)
	}
	add("output_norm.weight", 0, D)
	return ps
}

// projections lists the LoRA targets (all linear projections of every layer).
func projections(cfg oracle.Config) []string {
	var out []string
	for l := 0; l < cfg.Layers; l++ {
		for _, p := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
			out = append(out, fmt.Sprintf("blk.%d.%s.weight", l, p))
		}
	}
	return out
}

// crossEntropy is the mean negative log-likelihood of targets [N] under logits [N, V].
func crossEntropy(logits, targets *Node) *Node {
	n, v := logits.Shape().Dimensions[0], logits.Shape().Dimensions[1]
	lp := LogSoftmax(logits, -1)
	oh := OneHot(targets, v, dtypes.Float32)
	return DivScalar(Neg(ReduceAllSum(Mul(lp, oh))), float32(n))
}

// adam holds the optimizer settings.
type adam struct {
	LR, Beta1, Beta2, Eps, Clip float64
	step                        int
}

// update applies one Adam step with learning rate lr to ps given their gradients,
// after clipping the global gradient norm to Clip. It returns the norm before clipping.
func (o *adam) update(ps []*param, grads [][]float32, lr float64) float64 {
	o.step++
	var ss float64
	for _, g := range grads {
		for _, x := range g {
			ss += float64(x) * float64(x)
		}
	}
	norm := math.Sqrt(ss)
	scale := 1.0
	if o.Clip > 0 && norm > o.Clip {
		scale = o.Clip / norm
	}
	b1c := 1 - math.Pow(o.Beta1, float64(o.step))
	b2c := 1 - math.Pow(o.Beta2, float64(o.step))
	for i, p := range ps {
		g := grads[i]
		for j := range p.Data {
			gj := float64(g[j]) * scale
			m := o.Beta1*float64(p.m[j]) + (1-o.Beta1)*gj
			v := o.Beta2*float64(p.v[j]) + (1-o.Beta2)*gj*gj
			p.m[j], p.v[j] = float32(m), float32(v)
			p.Data[j] -= float32(lr * (m / b1c) / (math.Sqrt(v/b2c) + o.Eps))
		}
	}
	return norm
}

// schedule is linear warm-up then cosine decay to 10%.
func schedule(step, total, warm int, lr float64) float64 {
	if step < warm {
		return lr * float64(step+1) / float64(warm)
	}
	p := float64(step-warm) / float64(max(1, total-warm))
	return lr * (0.1 + 0.9*0.5*(1+math.Cos(math.Pi*p)))
}

// batcher draws training windows from a token stream deterministically.
type batcher struct {
	stream []int32
	r      *rand.Rand
	B, T   int
}

func (b *batcher) next() (x, y *tensors.Tensor) {
	xs := make([]int32, b.B*b.T)
	ys := make([]int32, b.B*b.T)
	for i := 0; i < b.B; i++ {
		p := b.r.IntN(len(b.stream) - b.T - 1)
		copy(xs[i*b.T:], b.stream[p:p+b.T])
		copy(ys[i*b.T:], b.stream[p+1:p+b.T+1])
	}
	return tensors.FromFlatDataAndDimensions(xs, b.B, b.T), tensors.FromFlatDataAndDimensions(ys, b.B*b.T)
}

// fixedBatches returns n deterministic evaluation batches.
func fixedBatches(stream []int32, seed uint64, n, B, T int) [][2]*tensors.Tensor {
	bt := &batcher{stream: stream, r: rand.New(rand.NewPCG(seed, 7)), B: B, T: T}
	out := make([][2]*tensors.Tensor, n)
	for i := range out {
		x, y := bt.next()
		out[i] = [2]*tensors.Tensor{x, y}
	}
	return out
}

// flat copies a float32 tensor out and releases it.
func flat(t *tensors.Tensor) []float32 {
	d := tensors.MustCopyFlatData[float32](t)
	t.MustFinalizeAll()
	return d
}

func scalar(t *tensors.Tensor) float64 { return float64(flat(t)[0]) }

// baseStep builds the executable computing the loss and the gradients of every base
// parameter. Inputs: the parameters in order, tokens [B, T], targets [B·T].
func baseStep(be backends.Backend, cfg oracle.Config, ps []*param, withGrad bool) *Exec {
	return MustNewExecAny(be, func(in []*Node) []*Node {
		np := len(ps)
		byName := map[string]*Node{}
		for i, p := range ps {
			byName[p.Name] = in[i]
		}
		logits := oracle.Forward(cfg, func(n string) *Node { return byName[n] }, nil, in[np])
		loss := crossEntropy(logits, in[np+1])
		if !withGrad {
			return []*Node{loss}
		}
		return append([]*Node{loss}, Gradient(loss, in[:np]...)...)
	})
}

// frozenBase is the base model an adapter is trained on: either float32 weights or
// bitsandbytes NF4 (double quantized) projections dequantized inside the graph.
type frozenBase struct {
	names   []string          // input order
	tensors []*tensors.Tensor // the frozen inputs, created once
	shapes  []shapes.Shape
	// build returns the weight lookup given the graph nodes of the frozen inputs.
	build func(in []*Node) oracle.Weights
	bytes int64 // bytes of frozen weights held
}

// loraStep builds the executable computing the loss and the gradients of the LoRA
// factors (A, B per projection). Inputs: frozen base inputs, then A,B pairs, tokens,
// targets.
func loraStep(be backends.Backend, cfg oracle.Config, fb *frozenBase, lora []*param, scale float32, withGrad bool) *Exec {
	return MustNewExecAny(be, func(in []*Node) []*Node {
		nf := len(fb.names)
		w := fb.build(in[:nf])
		lin := in[nf : nf+len(lora)]
		mods := map[string][2]*Node{}
		for i := 0; i < len(lora); i += 2 {
			mods[loraTarget(lora[i].Name)] = [2]*Node{lin[i], lin[i+1]}
		}
		delta := func(name string, x, _, y *Node) *Node {
			ab, ok := mods[name]
			if !ok {
				return y
			}
			return oracle.LoRA(x, y, ab[0], ab[1], scale)
		}
		k := nf + len(lora)
		logits := oracle.Forward(cfg, w, delta, in[k])
		loss := crossEntropy(logits, in[k+1])
		if !withGrad {
			return []*Node{loss}
		}
		return append([]*Node{loss}, Gradient(loss, lin...)...)
	})
}

func loraTarget(paramName string) string { return paramName[:len(paramName)-len(".lora_A")] }
