//go:build ort

package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/internal/testmodels"
)

// TestORTRunAndBench: `run --backend ort` prints the native greedy text on NF4 weights,
// and `bench --backend native,ort` prints both backends side by side with a ratio.
func TestORTRunAndBench(t *testing.T) {
	model := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	var texts []string
	for _, backend := range []string{"native", "ort"} {
		var stdout, stderr bytes.Buffer
		if code := mainErr([]string{"run", "-m", model, "-p", "Once upon a time", "-n", "24", "--temp", "0", "--quantize", "nf4", "-t", "1", "--backend", backend}, &stdout, &stderr); code != 0 {
			t.Fatalf("%s: exit %d: %s", backend, code, stderr.String())
		}
		texts = append(texts, stdout.String())
	}
	if texts[0] != texts[1] {
		t.Fatalf("native %q, ort %q", texts[0], texts[1])
	}
	var stdout, stderr bytes.Buffer
	if code := mainErr([]string{"bench", "-m", model, "--quick", "-t", "1", "--backend", "native,ort", "--bandwidth-mib", "-1"}, &stdout, &stderr); code != 0 {
		t.Fatalf("bench: exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, "CPU (native)") || !strings.Contains(out, "CPU (ort)") || !strings.Contains(out, "onnxruntime") {
		t.Fatalf("bench output lacks a backend:\n%s", out)
	}
	t.Logf("\n%s", out)
}
