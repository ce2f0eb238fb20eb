package runtime

import (
	"fmt"

	"github.com/edgerun/edgerun/kernels"
)

// scratch holds the activations of one forward call; it is reused across calls.
type scratch struct {
	n                   int
	x, xb, q, k, v, att []float32
	gate, up            []float32
	rope                []float32 // per token: the rotation angles' cosines and sines (RopeTable.Angles)
	lora                loraScratch
	attn                attnLoop
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
	s.rope = make([]float32, n*m.rope.Dims)
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
	rd := m.rope.Dims
	for i := 0; i < n; i++ { // the angles depend on the position only: once for all layers
		m.rope.Angles(s.rope[i*rd:(i+1)*rd], pos+i)
	}
	for li := range m.layers {
		l := &m.layers[li]
		for i := 0; i < n; i++ {
			kernels.RMSNorm(xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], l.attnNorm, c.RMSEps)
		}
		// One pool loop for the three projections when decoding (kernels/multi.go).
		p.MatMulMulti(xb, n, kernels.MatOut{M: l.wq, Y: q}, kernels.MatOut{M: l.wk, Y: k}, kernels.MatOut{M: l.wv, Y: v})
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
			m.rope.ApplyAngles(qi, c.Heads, hd, s.rope[i*rd:(i+1)*rd])
			m.rope.ApplyAngles(ki, c.KVHeads, hd, s.rope[i*rd:(i+1)*rd])
			kv.store(li, pos+i, ki, vi)
		}
		m.attention(p, kv, &s.attn, li, q, att, n, pos)
		p.MatMul(l.wo, att, n, xb)
		if len(active) > 0 {
			m.lora(p, s, active, li, 1, att, n, [][]float32{xb})
		}
		kernels.Add(x, xb)
		for i := 0; i < n; i++ {
			kernels.RMSNorm(xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], l.ffnNorm, c.RMSEps)
		}
		if n == 1 && len(active) == 0 {
			// Decoding without adapters: both products and the activation in one loop.
			p.MatVecSwiGLU(l.wgate, l.wup, xb, gate, up)
		} else {
			p.MatMul(l.wgate, xb, n, gate)
			p.MatMul(l.wup, xb, n, up)
			if len(active) > 0 {
				m.lora(p, s, active, li, 2, xb, n, [][]float32{gate, up})
			}
			p.SwiGLU(gate, up)
		}
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
