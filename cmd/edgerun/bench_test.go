package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
)

// TestBenchQuickStories260K is the CI smoke of `edgerun bench --quick`.
func TestBenchQuickStories260K(t *testing.T) {
	path := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	svg := filepath.Join(t.TempDir(), "bench.svg")
	out, errOut, code := runCLI(t, "bench", "-m", path, "--quick", "-t", "1", "--pg", "8,4", "-o", "json", "--bandwidth-mib", "8", "--svg", svg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr is not a terminal, yet bench wrote to it: %q", errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("stdout is not a JSON array: %v\n%s", err, out)
	}
	var tests []string
	for _, r := range rows {
		tests = append(tests, r["test"].(string))
		if r["model_filename"] != path || r["n_threads"] != 1.0 || r["avg_ts"].(float64) <= 0 {
			t.Errorf("row %v", r)
		}
	}
	if strings.Join(tests, " ") != "pp16 tg16 pp8+tg4" {
		t.Errorf("tests %v, want pp16 tg16 pp8+tg4", tests)
	}
	if b, err := os.ReadFile(svg); err != nil || !strings.HasPrefix(string(b), "<svg") {
		t.Errorf("svg: %v %.40q", err, b)
	}

	out, errOut, code = runCLI(t, "bench", "-m", path, "--quick", "-t", "1", "-p", "0", "-n", "4", "-r", "1", "--bandwidth-mib", "-1")
	if code != 0 || !strings.HasPrefix(out, "| model") || !strings.Contains(out, " tg4 |") || strings.Contains(out, "pp16") {
		t.Errorf("-p 0 -n 4: exit %d\n%s%s", code, out, errOut)
	}
}

func TestBenchFlagErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"bench"}, 2, "-m MODEL is required"},
		{[]string{"bench", "-m", "x.gguf", "--backend", "ort"}, 1, "not built yet"},
		{[]string{"bench", "-m", "x.gguf", "-o", "xml"}, 2, "want one of"},
		{[]string{"bench", "-m", "x.gguf", "-t", "two"}, 2, "not a count"},
		{[]string{"bench", "-m", "x.gguf", "--pg", "512"}, 2, "pairs"},
		{[]string{"bench", "-m", filepath.Join(t.TempDir(), "none.gguf"), "--quick", "--bandwidth-mib", "-1"}, 1, "none.gguf"},
	} {
		_, errOut, code := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}
