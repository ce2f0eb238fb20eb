package runtime_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/runtime"
)

type goldenRun struct {
	Prompt          string      `json:"prompt"`
	PromptIDs       []int       `json:"prompt_ids"`
	ContinuationIDs []int       `json:"continuation_ids"`
	Text            string      `json:"text"`
	Logits          [][]float64 `json:"logits_first_positions"`
}

func loadGolden(t *testing.T) map[string]goldenRun {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testmodels.Dir(t), "stories260K", "golden-greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g map[string]json.RawMessage
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	out := map[string]goldenRun{}
	for k, raw := range g {
		var r goldenRun
		if json.Unmarshal(raw, &r) == nil && r.PromptIDs != nil {
			out[k] = r
		}
	}
	return out
}

// stories260K opens the model in each of its two file formats.
func stories260K(t *testing.T) map[string]*runtime.Engine {
	dir := filepath.Join(testmodels.Dir(t), "stories260K")
	engines := map[string]*runtime.Engine{}
	for name, open := range map[string]func() (*runtime.Engine, error){
		"gguf": func() (*runtime.Engine, error) {
			return runtime.Open(filepath.Join(dir, "stories260K.gguf"), runtime.WithThreads(2))
		},
		"llama2c": func() (*runtime.Engine, error) {
			return runtime.Open(filepath.Join(dir, "stories260K.bin"), runtime.WithTokenizer(filepath.Join(dir, "tok512.bin")), runtime.WithThreads(2))
		},
	} {
		e, err := open()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { e.Close() })
		engines[name] = e
	}
	return engines
}

func TestStories260KGolden(t *testing.T) {
	golden := loadGolden(t)
	for format, e := range stories260K(t) {
		t.Run(format, func(t *testing.T) {
			g := golden["once_upon_a_time"]
			ids := e.Tokenizer.Encode(g.Prompt, true)
			if !slices.Equal(ids, g.PromptIDs) {
				t.Fatalf("prompt %q encodes to %v, want %v", g.Prompt, ids, g.PromptIDs)
			}
			// Logits of the first positions, all computed in one batched prefill.
			s := e.NewSession()
			logits, err := s.EvalAll(ids)
			if err != nil {
				t.Fatal(err)
			}
			vocab := e.Model.Config.Vocab
			var worst float64
			for pos, want := range g.Logits {
				got := logits[pos*vocab : (pos+1)*vocab]
				for i := range want {
					worst = max(worst, math.Abs(float64(got[i])-want[i]))
				}
			}
			if worst > 1e-4 {
				t.Errorf("logits of the first %d positions differ from the golden ones by up to %g (> 1e-4)", len(g.Logits), worst)
			}
			t.Logf("max |logit - golden| over %d positions: %.3g", len(g.Logits), worst)

			for name, g := range golden {
				s := e.NewSession()
				res, err := s.GenerateTokens(context.Background(), g.PromptIDs, runtime.GenerateOptions{MaxTokens: len(g.ContinuationIDs)}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(res.Tokens, g.ContinuationIDs) {
					t.Errorf("%s: greedy continuation\n got %v\nwant %v", name, res.Tokens, g.ContinuationIDs)
				}
				if text := e.Tokenizer.Decode(append(slices.Clone(g.PromptIDs), res.Tokens...)); text != g.Text {
					t.Errorf("%s: text\n got %q\nwant %q", name, text, g.Text)
				}
			}
		})
	}
}

// TestPrefillEqualsDecode checks that the batched prompt pass and token-by-token
// decoding compute the same logits.
func TestPrefillEqualsDecode(t *testing.T) {
	e := stories260K(t)["gguf"]
	ids := []int{1, 403, 407, 261, 378, 432, 383, 286, 261, 376}
	batch, err := e.NewSession().EvalAll(ids)
	if err != nil {
		t.Fatal(err)
	}
	s := e.NewSession()
	vocab := e.Model.Config.Vocab
	for i, id := range ids {
		l, err := s.Eval([]int{id})
		if err != nil {
			t.Fatal(err)
		}
		for j := range vocab {
			if d := math.Abs(float64(l[j] - batch[i*vocab+j])); d > 1e-5 {
				t.Fatalf("position %d token %d: decode %g vs prefill %g", i, j, l[j], batch[i*vocab+j])
			}
		}
	}
}
