package runtime

import (
	"math"
	"math/rand/v2"
	"slices"
)

// SamplerConfig chooses how the next token is drawn from the logits. The zero value
// is greedy decoding.
type SamplerConfig struct {
	Temperature   float32 // <= 0: greedy (argmax)
	TopK          int     // keep the K most likely tokens; <= 0: all
	TopP          float32 // keep the smallest set whose probability reaches P; 0 or >= 1: all
	MinP          float32 // drop tokens less likely than MinP × the most likely; 0: off
	RepeatPenalty float32 // divide positive (multiply negative) logits of recent tokens; 0 or 1: off
	RepeatLastN   int     // how many recent tokens the penalty looks at; <= 0: 64
	Seed          uint64  // seed of the random generator
}

// Sampler draws tokens according to a SamplerConfig. It is not safe for concurrent use;
// each session has its own.
type Sampler struct {
	cfg  SamplerConfig
	rng  *rand.Rand
	cand []candidate
	seen map[int]bool // tokens already penalised in this call, reused across calls
}

type candidate struct {
	id int
	p  float32
}

// NewSampler returns a sampler seeded with cfg.Seed.
func NewSampler(cfg SamplerConfig) *Sampler {
	return &Sampler{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
}

// Sample returns the next token for logits, given the tokens seen so far (for the
// repetition penalty). logits is modified.
func (s *Sampler) Sample(logits []float32, history []int) int {
	c := s.cfg
	if c.RepeatPenalty > 0 && c.RepeatPenalty != 1 {
		last := c.RepeatLastN
		if last <= 0 {
			last = 64
		}
		if s.seen == nil {
			s.seen = map[int]bool{}
		}
		clear(s.seen)
		seen := s.seen
		for _, t := range history[max(0, len(history)-last):] {
			if t < 0 || t >= len(logits) || seen[t] {
				continue
			}
			seen[t] = true
			if logits[t] > 0 {
				logits[t] /= c.RepeatPenalty
			} else {
				logits[t] *= c.RepeatPenalty
			}
		}
	}
	if c.Temperature <= 0 {
		return argmax(logits)
	}
	cand := s.cand[:0]
	for i, l := range logits {
		cand = append(cand, candidate{i, l / c.Temperature})
	}
	slices.SortFunc(cand, func(a, b candidate) int {
		switch {
		case a.p > b.p:
			return -1
		case a.p < b.p:
			return 1
		}
		return a.id - b.id
	})
	if c.TopK > 0 && c.TopK < len(cand) {
		cand = cand[:c.TopK]
	}
	// softmax over the (sorted) candidates
	maxL := cand[0].p
	var sum float64
	for i := range cand {
		e := float32(math.Exp(float64(cand[i].p - maxL)))
		cand[i].p = e
		sum += float64(e)
	}
	for i := range cand {
		cand[i].p = float32(float64(cand[i].p) / sum)
	}
	if c.TopP > 0 && c.TopP < 1 {
		var acc float32
		for i := range cand {
			acc += cand[i].p
			if acc >= c.TopP {
				cand = cand[:i+1]
				break
			}
		}
	}
	if c.MinP > 0 {
		floor := c.MinP * cand[0].p
		for i := range cand {
			if cand[i].p < floor {
				cand = cand[:i]
				break
			}
		}
	}
	s.cand = cand
	var total float32
	for _, cd := range cand {
		total += cd.p
	}
	r := s.rng.Float32() * total
	for _, cd := range cand {
		r -= cd.p
		if r < 0 {
			return cd.id
		}
	}
	return cand[len(cand)-1].id
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
