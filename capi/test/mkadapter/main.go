// Command mkadapter writes the LoRA adapter the C ABI test (capi/test/capi_test.c)
// switches to: a PEFT directory for stories260K with rank-4 updates of every projection
// of every layer, drawn from a fixed seed, large enough to change greedy output.
//
//	go run ./capi/test/mkadapter ../shared/models/stories260K/stories260K.gguf OUTDIR
package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"

	"github.com/edgerun/edgerun/loader"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: mkadapter MODEL OUTDIR")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "mkadapter:", err)
		os.Exit(1)
	}
}

func run(model, dir string) error {
	ckpt, err := loader.Open(model)
	if err != nil {
		return err
	}
	cfg := ckpt.Config
	ckpt.Close()
	const r, alpha = 4, 8.0
	rng := rand.New(rand.NewPCG(2026, 11))
	ac := &loader.AdapterConfig{PeftType: "LORA", R: r, Alpha: alpha}
	a := &loader.Adapter{Format: "peft", Config: ac, NeoxQK: true}
	for li := 0; li < cfg.Layers; li++ {
		for _, proj := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
			target := fmt.Sprintf("blk.%d.%s.weight", li, proj)
			out, in, ok := loader.TargetShape(cfg, target)
			if !ok {
				return fmt.Errorf("%s: no shape for %s", model, target)
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
