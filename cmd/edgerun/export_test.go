package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/internal/testadapter"
	"github.com/edgerun/edgerun/internal/testmodels"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/onnx"
)

func countOps(m *onnx.Model) map[string]int {
	c := map[string]int{}
	for _, n := range m.Graph.Nodes {
		c[n.OpType]++
	}
	return c
}

func TestExportCommand(t *testing.T) {
	model := filepath.Join(testmodels.Dir(t), "stories260K", "stories260K.gguf")
	dir := t.TempDir()
	ad := filepath.Join(dir, "adapter")
	ckpt, err := loader.Open(model)
	if err != nil {
		t.Fatal(err)
	}
	cfg := ckpt.Config
	ckpt.Close()
	if err := testadapter.WritePEFT(cfg, ad, 3); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args  []string
		op    string
		count int
		extra string
	}{
		{[]string{"--quantize", "nf4"}, "MatMulBnb4", 30, "MatMulBnb4   from NF4"},
		{[]string{"--quantize", "nf4", "--int4", "nbits", "--block-size", "64", "--zero-points"}, "MatMulNBits", 30, "requantized"},
		{[]string{"--quantize", "q4_0", "--lora-inputs"}, "MatMulNBits", 30, "exact"},
		{[]string{"--quantize", "nf4", "--adapter", ad, "--external-data"}, "MatMulBnb4", 30, "weights in"},
	} {
		out := filepath.Join(dir, "m.onnx")
		var stdout, stderr bytes.Buffer
		args := append([]string{"export", "-m", model, "-o", out}, tc.args...)
		if code := mainErr(args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), tc.extra) {
			t.Fatalf("%v: output lacks %q:\n%s", tc.args, tc.extra, stdout.String())
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		m, err := onnx.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if n := countOps(m)[tc.op]; n != tc.count {
			t.Fatalf("%v: %d %s nodes, want %d", tc.args, n, tc.op, tc.count)
		}
		lora := 0
		for _, in := range m.Graph.Inputs {
			if strings.HasSuffix(in.Name, ".lora_a") {
				lora++
			}
		}
		if want := map[bool]int{true: 35}[strings.Contains(strings.Join(tc.args, " "), "--lora-inputs")]; lora != want {
			t.Fatalf("%v: %d LoRA inputs, want %d", tc.args, lora, want)
		}
	}
	if code := mainErr([]string{"export", "-m", model, "-o", filepath.Join(dir, "x.onnx"), "--int4", "bnb4", "--quantize", "q4_0"}, new(bytes.Buffer), new(bytes.Buffer)); code != 1 {
		t.Fatalf("bnb4 export of Q4_0 weights: exit %d, want 1", code)
	}
}
