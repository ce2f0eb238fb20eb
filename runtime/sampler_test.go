package runtime

import (
	"math"
	"testing"
)

func TestSamplerGreedyAndPenalty(t *testing.T) {
	s := NewSampler(SamplerConfig{})
	if got := s.Sample([]float32{0.1, 3, 2, -1}, nil); got != 1 {
		t.Fatalf("greedy picked %d, want 1", got)
	}
	// A penalty of 2 halves the positive logit of a recent token: 3 → 1.5 < 2.
	s = NewSampler(SamplerConfig{RepeatPenalty: 2})
	if got := s.Sample([]float32{0.1, 3, 2, -1}, []int{1}); got != 2 {
		t.Fatalf("with a repeat penalty on token 1, greedy picked %d, want 2", got)
	}
	// Negative logits are multiplied, so a penalised token falls further.
	l := []float32{-1, -0.5}
	NewSampler(SamplerConfig{RepeatPenalty: 3}).Sample(l, []int{1})
	if l[1] != -1.5 {
		t.Fatalf("penalised negative logit = %g, want -1.5", l[1])
	}
}

// draw returns how often each token is drawn over n samples.
func draw(cfg SamplerConfig, logits []float32, n int) []int {
	s := NewSampler(cfg)
	counts := make([]int, len(logits))
	buf := make([]float32, len(logits))
	for i := 0; i < n; i++ {
		copy(buf, logits)
		counts[s.Sample(buf, nil)]++
	}
	return counts
}

func TestSamplerFilters(t *testing.T) {
	// probabilities at temperature 1: softmax(log p) = p
	p := []float64{0.5, 0.25, 0.15, 0.07, 0.03}
	logits := make([]float32, len(p))
	for i, v := range p {
		logits[i] = float32(math.Log(v))
	}
	const n = 20000
	cases := []struct {
		name    string
		cfg     SamplerConfig
		allowed int // tokens 0..allowed-1 may be drawn
	}{
		{"top-k 2", SamplerConfig{Temperature: 1, TopK: 2, Seed: 1}, 2},
		{"top-p 0.8", SamplerConfig{Temperature: 1, TopP: 0.8, Seed: 2}, 3}, // 0.5+0.25 < 0.8 ≤ 0.9
		{"min-p 0.2", SamplerConfig{Temperature: 1, MinP: 0.2, Seed: 3}, 3}, // keeps p ≥ 0.1
		{"none", SamplerConfig{Temperature: 1, Seed: 4}, 5},
	}
	for _, c := range cases {
		counts := draw(c.cfg, logits, n)
		var kept float64
		for i := 0; i < c.allowed; i++ {
			kept += p[i]
		}
		for i, k := range counts {
			if i >= c.allowed && k > 0 {
				t.Errorf("%s: token %d drawn %d times, want never", c.name, i, k)
			}
			if i < c.allowed {
				want := p[i] / kept
				if got := float64(k) / n; math.Abs(got-want) > 0.02 {
					t.Errorf("%s: token %d frequency %.3f, want %.3f", c.name, i, got, want)
				}
			}
		}
	}
	// Low temperature sharpens: token 0 dominates far more than its 0.5.
	if c := draw(SamplerConfig{Temperature: 0.2, Seed: 5}, logits, n); float64(c[0])/n < 0.95 {
		t.Errorf("temperature 0.2: token 0 drawn %.3f of the time, want > 0.95", float64(c[0])/n)
	}
}

func TestSamplerSeeded(t *testing.T) {
	logits := []float32{1, 1.1, 0.9, 1.05, 0.95, 1}
	a := draw(SamplerConfig{Temperature: 1, Seed: 42}, logits, 200)
	b := draw(SamplerConfig{Temperature: 1, Seed: 42}, logits, 200)
	c := draw(SamplerConfig{Temperature: 1, Seed: 43}, logits, 200)
	same := func(x, y []int) bool {
		for i := range x {
			if x[i] != y[i] {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Fatal("the same seed drew different tokens")
	}
	if same(a, c) {
		t.Fatal("different seeds drew identical counts")
	}
}
