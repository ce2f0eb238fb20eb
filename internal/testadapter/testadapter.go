// Package testadapter writes deterministic LoRA adapters for tests, examples and the C
// ABI test: rank-4 updates of every projection of every layer, drawn from a seed, large
// enough to change a small model's greedy output.
package testadapter

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"github.com/edgerun/edgerun/loader"
)

// WritePEFT writes a PEFT adapter directory at dir for a model with configuration cfg.
func WritePEFT(cfg loader.Config, dir string, seed uint64) error {
	const r, alpha = 4, 8.0
	rng := rand.New(rand.NewPCG(seed, 11))
	ac := &loader.AdapterConfig{PeftType: "LORA", R: r, Alpha: alpha}
	a := &loader.Adapter{Format: "peft", Config: ac, NeoxQK: true}
	for li := 0; li < cfg.Layers; li++ {
		for _, proj := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
			target := fmt.Sprintf("blk.%d.%s.weight", li, proj)
			out, in, ok := loader.TargetShape(cfg, target)
			if !ok {
				return fmt.Errorf("testadapter: no shape for %s", target)
			}
			key, _ := loader.GGUFToHFModule(target)
			m := &loader.LoraModule{Target: target, Key: key, Rank: r, In: in, Out: out, Alpha: alpha, Scale: ac.Scaling(r, alpha)}
			m.A = make([]float32, r*in)
			for i := range m.A {
				m.A[i] = float32(rng.NormFloat64() / math.Sqrt(float64(in)))
			}
			m.B = make([]float32, out*r)
			for i := range m.B {
				m.B[i] = float32(rng.NormFloat64() * 0.3 / math.Sqrt(float64(r)) / float64(m.Scale))
			}
			a.Modules = append(a.Modules, m)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return loader.WritePEFTAdapter(dir, a)
}
