package runtime

import (
	"context"
	"slices"
	"testing"

	"github.com/edgerun/edgerun/internal/testadapter"
)

// TestGenerateKeepsLastToken checks that a conversation continues with the whole reply
// in context: the token Generate sampled last (and stopped on) is run by the next Eval,
// so the logits equal those of one session fed the same tokens in a single Eval.
func TestGenerateKeepsLastToken(t *testing.T) {
	e, err := NewEngine(DemoCheckpoint(), WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	prompt := []int{1, 10, 11, 12}
	s := e.NewSession()
	res, err := s.GenerateTokens(context.Background(), prompt, GenerateOptions{MaxTokens: 5, IgnoreEOS: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StopReason != "length" || len(res.Tokens) != 5 {
		t.Fatalf("stop %q after %d tokens, want length after 5", res.StopReason, len(res.Tokens))
	}
	want := append(slices.Clone(prompt), res.Tokens...)
	if got := s.Tokens(); !slices.Equal(got, want) {
		t.Fatalf("Tokens() = %v, want %v", got, want)
	}
	next := []int{20, 21}
	got, err := s.Eval(next)
	if err != nil {
		t.Fatal(err)
	}
	ref := e.NewSession()
	all := append(slices.Clone(want), next...)
	wantLogits, err := ref.Eval(all)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Tokens(), all) {
		t.Fatalf("after Eval, Tokens() = %v, want %v", s.Tokens(), all)
	}
	for i := range wantLogits {
		if d := got[i] - wantLogits[i]; d > 1e-4 || d < -1e-4 {
			t.Fatalf("logit %d: continued session %g, single Eval %g", i, got[i], wantLogits[i])
		}
	}
	s.Reset()
	if len(s.Tokens()) != 0 {
		t.Fatalf("Reset left %v", s.Tokens())
	}
}

// TestOpenWithoutMmapSameLogits checks that an engine whose weights were read into
// memory (WithMmap(false)) computes what the mapped one computes.
func TestOpenWithoutMmapSameLogits(t *testing.T) {
	path := stories260KPath(t, "stories260K.gguf")
	var logits [2][]float32
	for i, on := range []bool{true, false} {
		e, err := Open(path, WithMmap(on), WithThreads(2))
		if err != nil {
			t.Fatal(err)
		}
		l, err := e.NewSession().Eval([]int{1, 300, 301, 302})
		if err != nil {
			t.Fatal(err)
		}
		logits[i] = slices.Clone(l)
		e.Close()
	}
	if !slices.Equal(logits[0], logits[1]) {
		t.Fatal("logits differ between the mapped and the read-into-memory engine")
	}
}

// TestDecodeDoesNotAllocate checks that a decoding step allocates nothing once the
// session is warm (amortised growth of the token list and KV cache aside): the
// attention loop is bound once per session and the pool's scratch grows geometrically.
func TestDecodeDoesNotAllocate(t *testing.T) {
	e, err := NewEngine(DemoCheckpoint(), WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s := e.NewSession()
	if _, err := s.Eval([]int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	ids := []int{5}
	decode := func(what string) {
		if n := testing.AllocsPerRun(100, func() {
			if _, err := s.Eval(ids); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Fatalf("%s: %v allocations per decoded token, want 0", what, n)
		}
	}
	decode("base")
	// With a live adapter: the LoRA loops are bound once in the session scratch too.
	dir := t.TempDir()
	if err := testadapter.WritePEFT(e.Model.Config, dir, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := e.LoadAdapter("a", dir); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAdapters([]AdapterScale{{Name: "a", Scale: 1}}); err != nil {
		t.Fatal(err)
	}
	decode("live adapter")
}
