package runtime_test

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/runtime"
)

// TestStories260KHFMatchesGGUF runs the Hugging Face directory of stories260K (rotate-half
// Q/K layout, tied embeddings, tokenizer.json) against the GGUF (interleaved layout):
// the same prompt tokens, the same 64 greedy tokens and logits within 1e-4 at every
// position.
func TestStories260KHFMatchesGGUF(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "stories260K")
	hf, err := runtime.Open(filepath.Join(dir, "hf"), runtime.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer hf.Close()
	gg, err := runtime.Open(filepath.Join(dir, "stories260K.gguf"), runtime.WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer gg.Close()
	if !hf.Model.Config.RopeNeox || gg.Model.Config.RopeNeox {
		t.Fatalf("RoPE pairing: hf neox=%v, gguf neox=%v", hf.Model.Config.RopeNeox, gg.Model.Config.RopeNeox)
	}
	const prompt = "Once upon a time"
	ids := hf.Tokenizer.Encode(prompt, true)
	if want := gg.Tokenizer.Encode(prompt, true); !slices.Equal(ids, want) {
		t.Fatalf("prompt tokens: hf %v, gguf %v", ids, want)
	}
	opts := runtime.GenerateOptions{MaxTokens: 64, IgnoreEOS: true}
	rh, err := hf.NewSession().GenerateTokens(context.Background(), ids, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	rg, err := gg.NewSession().GenerateTokens(context.Background(), ids, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rh.Tokens) != 64 || !slices.Equal(rh.Tokens, rg.Tokens) {
		t.Fatalf("greedy tokens\n hf   %v\n gguf %v", rh.Tokens, rg.Tokens)
	}
	if hf.Tokenizer.Decode(rh.Tokens) != gg.Tokenizer.Decode(rg.Tokens) {
		t.Fatalf("decoded text differs")
	}
	// Logits at every position of prompt + continuation, in one batched pass each.
	all := append(slices.Clone(ids), rh.Tokens...)
	lh, err := hf.NewSession().EvalAll(all)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := gg.NewSession().EvalAll(all)
	if err != nil {
		t.Fatal(err)
	}
	var worst float64
	for i := range lh {
		worst = max(worst, math.Abs(float64(lh[i]-lg[i])))
	}
	t.Logf("%d positions: max |logit hf - logit gguf| = %.3g; text %q", len(all), worst, prompt+hf.Tokenizer.Decode(rh.Tokens))
	if worst > 1e-4 {
		t.Fatalf("logits differ by up to %g (> 1e-4)", worst)
	}
}
