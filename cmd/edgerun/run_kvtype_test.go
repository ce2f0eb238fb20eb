package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
)

func TestRunKVType(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	tokens := map[string][]int{}
	for _, kv := range []string{"f32", "f16"} {
		out, errOut, code := runCLI(t, "run", "-m", path, "-p", "Once upon a time", "-n", "60", "--temp", "0", "--json", "-t", "2", "--kv-type", kv)
		if code != 0 {
			t.Fatalf("--kv-type %s: exit %d: %s", kv, code, errOut)
		}
		var res struct {
			Tokens []int `json:"tokens"`
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("--kv-type %s: %v\n%s", kv, err, out)
		}
		tokens[kv] = res.Tokens
	}
	if len(tokens["f32"]) != 60 || !slices.Equal(tokens["f16"], tokens["f32"]) {
		t.Errorf("greedy tokens with an f16 KV cache %v, f32 %v", tokens["f16"], tokens["f32"])
	}
	// stories260K's heads have 8 dimensions: q8_0 is refused, naming head_dim.
	if _, errOut, code := runCLI(t, "run", "-m", path, "-n", "1", "--kv-type", "q8_0"); code == 0 || !strings.Contains(errOut, "head_dim is 8") {
		t.Errorf("--kv-type q8_0 on stories260K: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := runCLI(t, "run", "-m", path, "-n", "1", "--kv-type", "f8"); code == 0 || !strings.Contains(errOut, "choose f32, f16 or q8_0") {
		t.Errorf("--kv-type f8: exit %d, stderr %q", code, errOut)
	}
	// The demo model's heads have 32 dimensions: q8_0 runs.
	if out, errOut, code := runCLI(t, "run", "-n", "4", "--seed", "1", "--kv-type", "q8_0"); code != 0 || out == "" {
		t.Errorf("--kv-type q8_0 on the demo model: exit %d, stderr %q", code, errOut)
	}
}
