package runtime_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
)

// TestLoraAgreesWithLlamaCpp converts a synthetic PEFT adapter (all seven projections,
// rsLoRA, so both the q/k permutation of lora_b and the scaling must survive the
// conversion) to a GGUF LoRA file, runs it in llama.cpp with the stories260K GGUF, and
// compares greedy tokens and top-5 logits with edgerun applying the PEFT original
// unmerged.
func TestLoraAgreesWithLlamaCpp(t *testing.T) {
	l := findLlamaCpp(t)
	src, err := os.ReadFile(filepath.Join("..", "tools", "peers", "llamacpp-lora-dump.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(l.nlcDir, "edgerun-llamacpp-lora-dump.mjs")
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	// The second case adds embedding LoRA, whose lora_a the GGUF file holds
	// transposed ([vocab, r], formats.md §4.8).
	for _, withEmb := range []bool{false, true} {
		name := "rslora-7proj"
		if withEmb {
			name = "embedding"
		}
		t.Run(name, func(t *testing.T) {
			e := ggufEngine(t)
			a := synthAdapter(t, e, 2024, 8, true, false)
			if withEmb {
				withEmbeddingAndSaved(t, e, a, 2025, 8)
				a.Replacements = nil // no GGUF encoding (TestConvertRefusesModulesToSave)
			}
			loraAgreement(t, l, script, model, e, writeAdapter(t, a))
		})
	}
}

func loraAgreement(t *testing.T, l *llamaCpp, script, model string, e *runtime.Engine, dir string) {
	peft, err := loader.OpenAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	lora := filepath.Join(t.TempDir(), "lora.gguf")
	if err := loader.WriteGGUFAdapter(lora, peft, "llama", e.Model.Config); err != nil {
		t.Fatal(err)
	}
	if _, err := e.LoadAdapter("peft", dir); err != nil {
		t.Fatal(err)
	}
	prompt := loraPrompt
	const nGen = 32
	const scale = 0.8
	peer := l.runScript(t, script, model, prompt, nGen, fmt.Sprintf("%s:%g", lora, scale))
	baseRes, err := e.NewSession().GenerateTokens(context.Background(), prompt, runtime.GenerateOptions{MaxTokens: nGen, IgnoreEOS: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(baseRes.Tokens, peer.Tokens) {
		t.Fatalf("llama.cpp's tokens with the adapter equal edgerun's without: the adapter was not applied")
	}
	s := e.NewSession()
	defer s.Close()
	if err := s.SetAdapters([]runtime.AdapterScale{{Name: "peft", Scale: scale}}); err != nil {
		t.Fatal(err)
	}
	ours, worst := followPeer(t, s, prompt, peer)
	t.Logf("llama.cpp %s --lora vs edgerun unmerged PEFT: %d/%d greedy tokens agree, max |Δlogit| over llama.cpp's top-5: %.3g", peer.Release, len(ours), nGen, worst)
	if !slices.Equal(ours, peer.Tokens) {
		t.Errorf("greedy tokens diverge from llama.cpp at step %d:\n ours  %v\n llama %v", len(ours)-1, ours, peer.Tokens[:len(ours)])
	}
	// Without an adapter llama.cpp and edgerun already differ by ~3.4e-3 on this model
	// (llama.cpp keeps its KV cache in F16); the adapter's larger logits scale that.
	if worst > 3e-2 {
		t.Errorf("top-5 logits differ from llama.cpp by up to %g (> 3e-2)", worst)
	}
}
