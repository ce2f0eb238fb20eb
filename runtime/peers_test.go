package runtime_test

// Agreement with llama.cpp on the same GGUF files: the random tiny LLaMA models that
// ../shared/tools/anchors/setup-llamacpp.sh writes (F32 and Q4_0), and the same F32
// model re-quantized by edgerun's own quantizer to Q8_0, Q4_K, Q6_K and IQ4_NL — which
// llama.cpp must read as edgerun does, proving the block layouts are llama.cpp's.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgerun/edgerun/int4"
	"github.com/edgerun/edgerun/loader"
	"github.com/edgerun/edgerun/runtime"
)

// llamaCpp describes the llama.cpp install made by `make peers`.
type llamaCpp struct {
	nlcDir    string // node-llama-cpp install (the AVX-512 variant where there is one)
	modelsDir string
	script    string
}

// findLlamaCpp locates the llama.cpp install; it skips the test when absent, unless
// EDGERUN_REQUIRE_PEERS=1 (as in CI), where absence is a failure.
func findLlamaCpp(t *testing.T) *llamaCpp {
	t.Helper()
	dir := os.Getenv("ANCHORS_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "anchors")
	}
	env := map[string]string{}
	f, err := os.Open(filepath.Join(dir, "llamacpp.env"))
	if err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
				env[k] = v
			}
		}
		f.Close()
	}
	nlc := env["NLC_DIR_AVX512"]
	if _, err := os.Stat(filepath.Join(nlc, "node_modules")); err != nil {
		nlc = env["NLC_DIR"]
	}
	if _, err := os.Stat(filepath.Join(nlc, "node_modules")); nlc == "" || err != nil {
		msg := fmt.Sprintf("llama.cpp is not installed under %s (run `make peers`)", dir)
		if os.Getenv("EDGERUN_REQUIRE_PEERS") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	src, err := os.ReadFile(filepath.Join("..", "tools", "peers", "llamacpp-dump.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	// ES modules resolve packages from the script's folder, so the script goes beside
	// node-llama-cpp's node_modules.
	script := filepath.Join(nlc, "edgerun-llamacpp-dump.mjs")
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return &llamaCpp{nlcDir: nlc, modelsDir: filepath.Join(dir, "models"), script: script}
}

type peerRun struct {
	Release string         `json:"release"`
	Tokens  []int          `json:"tokens"`
	Top     [][][2]float64 `json:"top"`
}

func (l *llamaCpp) run(t *testing.T, model string, prompt []int, nGen int) *peerRun {
	t.Helper()
	return l.runScript(t, l.script, model, prompt, nGen)
}

// runScript runs a llamacpp-*-dump.mjs script on model from prompt for nGen greedy
// tokens (top-5 logits per step); extra arguments follow the prompt ids.
func (l *llamaCpp) runScript(t *testing.T, script, model string, prompt []int, nGen int, extra ...string) *peerRun {
	t.Helper()
	ids := make([]string, len(prompt))
	for i, id := range prompt {
		ids[i] = fmt.Sprint(id)
	}
	args := append([]string{script, model, "2", fmt.Sprint(nGen), "5", strings.Join(ids, ",")}, extra...)
	cmd := exec.Command("node", args...)
	cmd.Dir = l.nlcDir
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("llama.cpp on %s: %v\n%s", model, err, stderr)
	}
	var r peerRun
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("llama.cpp output: %v\n%s", err, out)
	}
	return &r
}

// followPeer decodes greedily in s from prompt while edgerun's tokens equal peer's, and
// returns edgerun's tokens (ending at the first disagreement) and the largest logit
// difference over llama.cpp's top-5 at each step.
func followPeer(t *testing.T, s *runtime.Session, prompt []int, peer *peerRun) (ours []int, worst float64) {
	t.Helper()
	logits, err := s.Eval(prompt)
	if err != nil {
		t.Fatal(err)
	}
	for step := range peer.Tokens {
		for _, tl := range peer.Top[step] {
			worst = max(worst, math.Abs(float64(logits[int(tl[0])])-tl[1]))
		}
		next := argmax(logits)
		ours = append(ours, next)
		if next != peer.Tokens[step] {
			break
		}
		if logits, err = s.Eval([]int{next}); err != nil {
			t.Fatal(err)
		}
	}
	return ours, worst
}

// requantize writes src's 2-D weights as typ (norms stay F32) to dst.
func requantize(t *testing.T, src, dst string, typ int4.Type) {
	t.Helper()
	ck, err := loader.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	var tensors []*loader.Tensor
	for _, name := range ck.Order {
		in := ck.Tensors[name]
		out := *in
		if len(in.Shape) == 2 && in.Type == int4.F32 {
			rb, err := int4.RowBytes(typ, in.Cols())
			if err != nil {
				t.Fatal(err)
			}
			out.Type = typ
			out.Data = make([]byte, in.Rows()*rb)
			row := make([]float32, in.Cols())
			for r := 0; r < in.Rows(); r++ {
				if err := int4.DequantizeRow(in.Type, in.Data[r*in.Cols()*4:(r+1)*in.Cols()*4], row); err != nil {
					t.Fatal(err)
				}
				if err := int4.QuantizeRow(typ, row, out.Data[r*rb:(r+1)*rb]); err != nil {
					t.Fatal(err)
				}
			}
		}
		tensors = append(tensors, &out)
	}
	var meta []loader.KV
	for _, kv := range ck.MetaKVs() {
		if kv.Key != "general.file_type" && kv.Key != "general.quantization_version" {
			meta = append(meta, kv)
		}
	}
	meta = append(meta, loader.KV{Key: "general.quantization_version", Value: uint32(2)})
	if err := loader.WriteGGUF(dst, meta, tensors); err != nil {
		t.Fatal(err)
	}
}

func TestAgreesWithLlamaCpp(t *testing.T) {
	l := findLlamaCpp(t)
	f32 := filepath.Join(l.modelsDir, "tiny-f32.gguf")
	type tcase struct {
		name, path string
		tol        float64 // max |logit difference| allowed over the top-5; 0 = report only
	}
	cases := []tcase{
		{"F32", f32, 1e-3},
		{"Q4_0", filepath.Join(l.modelsDir, "tiny-q4_0.gguf"), 0},
	}
	tmp := t.TempDir()
	for _, typ := range []int4.Type{int4.Q8_0, int4.Q4_K, int4.Q6_K, int4.IQ4_NL, int4.Q4_0} {
		p := filepath.Join(tmp, "tiny-edgerun-"+strings.ToLower(typ.String())+".gguf")
		requantize(t, f32, p, typ)
		cases = append(cases, tcase{"edgerun-quantized " + typ.String(), p, 0})
	}
	// Our Q4_0 quantizer must write exactly the blocks llama.cpp's reference quantizer
	// wrote into tiny-q4_0.gguf from the same F32 weights.
	t.Run("Q4_0 bytes equal llama.cpp's", func(t *testing.T) {
		ours, err := loader.Open(filepath.Join(tmp, "tiny-edgerun-q4_0.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		defer ours.Close()
		theirs, err := loader.Open(filepath.Join(l.modelsDir, "tiny-q4_0.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		defer theirs.Close()
		for _, name := range theirs.Order {
			a, b := ours.Tensors[name], theirs.Tensors[name]
			if a == nil || a.Type != b.Type || !bytes.Equal(a.Data, b.Data) {
				t.Errorf("tensor %s: our Q4_0 bytes differ from llama.cpp's (types %v / %v)", name, a.Type, b.Type)
			}
		}
	})
	prompt := []int{1, 347, 267, 264, 344, 280, 268, 262, 270, 483, 274, 282}
	const nGen = 32
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			peer := l.run(t, c.path, prompt, nGen)
			e, err := runtime.Open(c.path, runtime.WithThreads(2))
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			ours, worst := followPeer(t, e.NewSession(), prompt, peer)
			t.Logf("%s: llama.cpp %s, greedy tokens agree for %d/%d steps, max |Δlogit| over llama.cpp's top-5: %.3g",
				c.name, peer.Release, len(ours)-boolInt(len(ours) > 0 && ours[len(ours)-1] != peer.Tokens[len(ours)-1]), nGen, worst)
			if !slices.Equal(ours, peer.Tokens) {
				t.Errorf("greedy tokens diverge from llama.cpp at step %d:\n ours  %v\n llama %v", len(ours)-1, ours, peer.Tokens[:len(ours)])
			}
			if c.tol > 0 && worst > c.tol {
				t.Errorf("top-5 logits differ from llama.cpp by up to %g (> %g)", worst, c.tol)
			}
		})
	}
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
