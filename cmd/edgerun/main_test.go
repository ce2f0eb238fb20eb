package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var o, e bytes.Buffer
	code = mainErr(args, &o, &e)
	return o.String(), e.String(), code
}

func TestRunJSONGreedyStories260K(t *testing.T) {
	dir := filepath.Join(testmodels.Dir(t), "stories260K")
	for _, args := range [][]string{
		{"-m", filepath.Join(dir, "stories260K.gguf")},
		{"-m", filepath.Join(dir, "stories260K.bin"), "--tokenizer", filepath.Join(dir, "tok512.bin")},
		{"-m", filepath.Join(dir, "stories260K.bin")}, // tok512.bin found beside the model
	} {
		out, errOut, code := runCLI(t, append([]string{"run", "-p", "Once upon a time", "-n", "60", "--temp", "0", "--json", "-t", "2"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		var res struct {
			PromptTokens []int              `json:"prompt_tokens"`
			Tokens       []int              `json:"tokens"`
			Text         string             `json:"text"`
			Timings      map[string]float64 `json:"timings"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%v: output is not one JSON object: %v\n%s", args, err, out)
		}
		if !slices.Equal(res.PromptTokens, []int{1, 403, 407, 261, 378}) || len(res.Tokens) != 60 {
			t.Fatalf("%v: prompt %v, %d tokens", args, res.PromptTokens, len(res.Tokens))
		}
		if !strings.HasPrefix(res.Text, ", there was a little girl named Lily.") {
			t.Errorf("%v: text %q", args, res.Text)
		}
		for _, k := range []string{"load_ms", "prefill_tokens_per_s", "decode_tokens_per_s"} {
			if _, ok := res.Timings[k]; !ok {
				t.Errorf("%v: timings lack %q", args, k)
			}
		}
	}
}

func TestRunDemoDefaultIsDeterministic(t *testing.T) {
	a, errOut, code := runCLI(t, "run", "-p", "once upon a time", "-n", "16", "--seed", "7")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	b, _, _ := runCLI(t, "run", "-p", "once upon a time", "-n", "16", "--seed", "7")
	if a != b || !strings.HasPrefix(a, "once upon a time") || len(a) <= len("once upon a time\n") {
		t.Fatalf("demo runs differ or are empty:\n%q\n%q", a, b)
	}
	if !strings.Contains(errOut, "demo model") {
		t.Errorf("stderr does not say the demo model is used: %q", errOut)
	}
}

func TestInspect(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	out, errOut, code := runCLI(t, "inspect", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"architecture:  llama", "dim 64, ffn 172, layers 5, heads 8, kv heads 4", "blk.4.ffn_down.weight", "SentencePiece", "weight bytes"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runCLI(t, "inspect", "--json", path)
	var info struct {
		Config      struct{ Dim, Layers int }
		Tensors     []tensorInfo `json:"tensors"`
		WeightBytes int64        `json:"weight_bytes"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info.Config.Dim != 64 || len(info.Tensors) == 0 || info.WeightBytes == 0 {
		t.Fatalf("inspect --json: exit %d, %+v\n%s", code, info, out)
	}
}

func TestBadInputIsAClearError(t *testing.T) {
	dir := t.TempDir()
	junk := filepath.Join(dir, "junk.gguf")
	os.WriteFile(junk, []byte("GGUF\x03\x00\x00\x00garbage"), 0o644)
	for _, c := range []struct {
		file string
		args []string
	}{
		{"missing.gguf", []string{"run", "-m", filepath.Join(dir, "missing.gguf"), "-p", "x"}},
		{"junk.gguf", []string{"run", "-m", junk, "-p", "x"}},
		{"junk.gguf", []string{"inspect", junk}},
	} {
		_, errOut, code := runCLI(t, c.args...)
		if code != 1 || !strings.Contains(errOut, c.file) {
			t.Errorf("%v: exit %d, stderr %q: want exit 1 and an error naming %s", c.args, code, errOut, c.file)
		}
	}
	if _, _, code := runCLI(t, "run", "--no-such-flag"); code != 2 {
		t.Errorf("bad flag: exit %d, want 2", code)
	}
	if _, _, code := runCLI(t, "frobnicate"); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
}
