package runtime

import (
	"fmt"
	"math"

	"github.com/edgerun/edgerun/kernels"
)

// KVCache holds the keys and values of every past position, per layer, as float32.
// It grows on demand up to its context size, so a short conversation does not pay
// for the whole context up front.
type KVCache struct {
	ctx   int
	kvDim int
	k, v  [][]float32 // per layer, positions × kvDim
}

// NewKVCache returns an empty cache for up to ctx positions.
func NewKVCache(m *Model, ctx int) *KVCache {
	return &KVCache{ctx: ctx, kvDim: m.KVDim(), k: make([][]float32, m.Config.Layers), v: make([][]float32, m.Config.Layers)}
}

// Context returns the number of positions the cache can hold.
func (c *KVCache) Context() int { return c.ctx }

// Bytes returns the memory the cache currently holds.
func (c *KVCache) Bytes() int64 {
	var n int64
	for i := range c.k {
		n += int64(cap(c.k[i])+cap(c.v[i])) * 4
	}
	return n
}

// reserve makes room for positions [0, n).
func (c *KVCache) reserve(n int) {
	need := n * c.kvDim
	for i := range c.k {
		if len(c.k[i]) >= need {
			continue
		}
		size := max(need, min(2*len(c.k[i]), c.ctx*c.kvDim), 64*c.kvDim)
		size = min(size, c.ctx*c.kvDim)
		k := make([]float32, size)
		v := make([]float32, size)
		copy(k, c.k[i])
		copy(v, c.v[i])
		c.k[i], c.v[i] = k, v
	}
}

// scratch holds the activations of one forward call; it is reused across calls.
type scratch struct {
	n                   int
	x, xb, q, k, v, att []float32
	gate, up            []float32
	lora                loraScratch
}

func (s *scratch) ensure(m *Model, n int) {
	if s.n >= n {
		return
	}
	c := m.Config
	qDim := c.Heads * c.HeadDim
	kvDim := m.KVDim()
	s.n = n
	s.x = make([]float32, n*c.Dim)
	s.xb = make([]float32, n*max(c.Dim, qDim))
	s.q = make([]float32, n*qDim)
	s.k = make([]float32, n*kvDim)
	s.v = make([]float32, n*kvDim)
	s.att = make([]float32, n*qDim)
	s.gate = make([]float32, n*c.FFN)
	s.up = make([]float32, n*c.FFN)
}

// maxBatch bounds how many prompt positions one forward call processes, which bounds
// the activation memory of prefill.
const maxBatch = 128

// forward runs tokens at positions pos, pos+1, ... through the model, appending their
// keys and values to kv. If logits is non-nil it receives the logits of the last
// token (len vocab), or of every token when all is true (len(tokens) × vocab).
// active are the LoRA adapters applied unmerged (nil: none).
func (m *Model) forward(p *kernels.Pool, kv *KVCache, s *scratch, active []activeLora, tokens []int, pos int, logits []float32, all bool) error {
	c := m.Config
	if pos+len(tokens) > kv.ctx {
		return fmt.Errorf("runtime: context full: %d positions + %d new tokens exceed the context size %d", pos, len(tokens), kv.ctx)
	}
	for _, t := range tokens {
		if t < 0 || t >= c.Vocab {
			return fmt.Errorf("runtime: token id %d out of range [0, %d)", t, c.Vocab)
		}
	}
	kv.reserve(pos + len(tokens))
	m = m.withReplacements(active) // modules_to_save weights of the active adapters
	for start := 0; start < len(tokens); start += maxBatch {
		end := min(start+maxBatch, len(tokens))
		var out []float32
		switch {
		case logits == nil:
		case all:
			out = logits[start*c.Vocab : end*c.Vocab]
		case end == len(tokens):
			out = logits
		}
		m.forwardBatch(p, kv, s, active, tokens[start:end], pos+start, out, all)
	}
	return nil
}

func (m *Model) forwardBatch(p *kernels.Pool, kv *KVCache, s *scratch, active []activeLora, tokens []int, pos int, logits []float32, all bool) {
	c := m.Config
	n := len(tokens)
	s.ensure(m, n)
	dim, hd := c.Dim, c.HeadDim
	qDim, kvDim := c.Heads*hd, m.KVDim()
	x := s.x[:n*dim]
	for i, t := range tokens {
		m.embed.DequantizeRow(t, x[i*dim:(i+1)*dim])
	}
	if len(active) > 0 {
		applyEmbedLora(&s.lora, active, tokens, x, dim)
	}
	xb := s.xb[:n*dim]
	q, k, v := s.q[:n*qDim], s.k[:n*kvDim], s.v[:n*kvDim]
	att := s.att[:n*qDim]
	gate, up := s.gate[:n*c.FFN], s.up[:n*c.FFN]
	for li := range m.layers {
		l := &m.layers[li]
		for i := 0; i < n; i++ {
			kernels.RMSNorm(xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], l.attnNorm, c.RMSEps)
		}
		p.MatMul(l.wq, xb, n, q)
		p.MatMul(l.wk, xb, n, k)
		p.MatMul(l.wv, xb, n, v)
		if len(active) > 0 {
			m.lora(p, s, active, li, 0, xb, n, [][]float32{q, k, v})
		}
		for i := 0; i < n; i++ {
			qi, ki, vi := q[i*qDim:(i+1)*qDim], k[i*kvDim:(i+1)*kvDim], v[i*kvDim:(i+1)*kvDim]
			if l.bq != nil {
				kernels.Add(qi, l.bq)
			}
			if l.bk != nil {
				kernels.Add(ki, l.bk)
			}
			if l.bv != nil {
				kernels.Add(vi, l.bv)
			}
			m.rope.Apply(qi, c.Heads, hd, pos+i)
			m.rope.Apply(ki, c.KVHeads, hd, pos+i)
			copy(kv.k[li][(pos+i)*kvDim:], ki)
			copy(kv.v[li][(pos+i)*kvDim:], vi)
		}
		m.attention(p, kv, li, q, att, n, pos)
		p.MatMul(l.wo, att, n, xb)
		if len(active) > 0 {
			m.lora(p, s, active, li, 1, att, n, [][]float32{xb})
		}
		kernels.Add(x, xb)
		for i := 0; i < n; i++ {
			kernels.RMSNorm(xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], l.ffnNorm, c.RMSEps)
		}
		p.MatMul(l.wgate, xb, n, gate)
		p.MatMul(l.wup, xb, n, up)
		if len(active) > 0 {
			m.lora(p, s, active, li, 2, xb, n, [][]float32{gate, up})
		}
		kernels.SwiGLU(gate, up)
		p.MatMul(l.wdown, gate, n, xb)
		if len(active) > 0 {
			m.lora(p, s, active, li, 3, gate, n, [][]float32{xb})
		}
		kernels.Add(x, xb)
	}
	if logits == nil {
		return
	}
	first := n - 1
	if all {
		first = 0
	}
	rows := n - first
	for i := first; i < n; i++ {
		kernels.RMSNorm(xb[(i-first)*dim:(i-first+1)*dim], x[i*dim:(i+1)*dim], m.outNorm, c.RMSEps)
	}
	p.MatMul(m.output, xb[:rows*dim], rows, logits[:rows*c.Vocab])
	if len(active) > 0 {
		applyLora(p, &s.lora, active, func(ad *Adapter) *loraGroup { return ad.output }, xb[:rows*dim], rows,
			func(int) []float32 { return logits[:rows*c.Vocab] })
	}
}

// lora applies the active adapters of input group gi (loraGroups) of layer li; outs
// are the outputs of the group's projections in loraGroups order.
func (m *Model) lora(p *kernels.Pool, s *scratch, active []activeLora, li, gi int, x []float32, n int, outs [][]float32) {
	group := loraGroups[gi]
	applyLora(p, &s.lora, active, func(ad *Adapter) *loraGroup { return ad.layers[li][gi] }, x, n, func(proj int) []float32 {
		for k, pi := range group {
			if pi == proj {
				return outs[k]
			}
		}
		panic("runtime: projection outside its LoRA group")
	})
}

// attention computes, for each of the n new tokens and each query head, softmax-weighted
// sums over the cached values of all positions up to and including the token's own.
func (m *Model) attention(p *kernels.Pool, kv *KVCache, li int, q, out []float32, n, pos int) {
	c := m.Config
	hd, kvDim := c.HeadDim, m.KVDim()
	group := c.Heads / c.KVHeads
	scale := float32(1 / math.Sqrt(float64(hd)))
	keys, vals := kv.k[li], kv.v[li]
	p.Run(n*c.Heads, 1, func(lo, hi int) {
		scores := make([]float32, pos+n)
		for u := lo; u < hi; u++ {
			i, h := u/c.Heads, u%c.Heads
			qh := q[(i*c.Heads+h)*hd:][:hd]
			kvOff := (h / group) * hd
			npos := pos + i + 1
			sc := scores[:npos]
			for t := 0; t < npos; t++ {
				sc[t] = kernels.DotF32(qh, keys[t*kvDim+kvOff:][:hd]) * scale
			}
			kernels.Softmax(sc)
			o := out[(i*c.Heads+h)*hd:][:hd]
			clear(o)
			for t := 0; t < npos; t++ {
				kernels.Axpy(o, sc[t], vals[t*kvDim+kvOff:][:hd])
			}
		}
	})
}
