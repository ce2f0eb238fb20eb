package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
)

// hfDirWithGenConfig copies stories260K's HF directory into a temporary directory and
// writes genConfig as its generation_config.json.
func hfDirWithGenConfig(t *testing.T, genConfig string) string {
	t.Helper()
	src := filepath.Join(testmodels.Dir(t), "stories260K", "hf")
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dst, "generation_config.json"), []byte(genConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

func runTokens(t *testing.T, args ...string) []int {
	t.Helper()
	out, errOut, code := runCLI(t, append([]string{"run", "-p", "Once upon a time", "-n", "40", "--json", "-t", "2", "--seed", "7"}, args...)...)
	if code != 0 {
		t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	var res struct {
		Tokens []int `json:"tokens"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return res.Tokens
}

func TestRunGenerationConfigDefaults(t *testing.T) {
	greedyDir := hfDirWithGenConfig(t, `{"bos_token_id": 1, "eos_token_id": 2, "do_sample": false, "temperature": 1.5, "top_k": 0, "top_p": 1.0}`)
	greedy := runTokens(t, "-m", greedyDir, "--temp", "0")
	if len(greedy) == 0 {
		t.Fatal("no tokens generated")
	}
	// do_sample false: the run is greedy without --temp.
	if got := runTokens(t, "-m", greedyDir); !slices.Equal(got, greedy) {
		t.Errorf("do_sample false without --temp: %v, want the greedy %v", got, greedy)
	}
	// An explicit --temp wins over generation_config.json.
	if got := runTokens(t, "-m", greedyDir, "--temp", "1.5", "--top-k", "0", "--top-p", "1", "--min-p", "0"); slices.Equal(got, greedy) {
		t.Errorf("--temp 1.5 over do_sample false gave the greedy tokens %v", got)
	}
	// do_sample true with the model's temperature/top_k/top_p: the same tokens as those
	// flags given explicitly, and not greedy.
	sampleDir := hfDirWithGenConfig(t, `{"bos_token_id": 1, "eos_token_id": 2, "do_sample": true, "temperature": 1.5, "top_k": 0, "top_p": 1.0}`)
	explicit := runTokens(t, "-m", greedyDir, "--temp", "1.5", "--top-k", "0", "--top-p", "1", "--min-p", "0")
	if got := runTokens(t, "-m", sampleDir, "--min-p", "0"); !slices.Equal(got, explicit) || slices.Equal(got, greedy) {
		t.Errorf("do_sample true, temperature 1.5: %v, want %v (explicit flags), greedy %v", got, explicit, greedy)
	}

	// repetition_penalty and min_p are taken too: the same tokens as the flags given.
	repDir := hfDirWithGenConfig(t, `{"bos_token_id": 1, "eos_token_id": 2, "do_sample": false, "repetition_penalty": 1.8, "min_p": 0.2}`)
	withRep := runTokens(t, "-m", greedyDir, "--temp", "0", "--repeat-penalty", "1.8", "--min-p", "0.2")
	if slices.Equal(withRep, greedy) {
		t.Fatalf("--repeat-penalty 1.8 left the greedy tokens unchanged (%v): the check below would prove nothing", greedy)
	}
	if got := runTokens(t, "-m", repDir); !slices.Equal(got, withRep) {
		t.Errorf("repetition_penalty 1.8 from generation_config.json: %v, want %v (explicit flags)", got, withRep)
	}
}
