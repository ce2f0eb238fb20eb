//go:build ort

package runtime

import (
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

// TestORTSpeedInterleaved measures prefill (pp) and decode (tg) tokens/s of the native
// and ort backends on the model named by EDGERUN_ORT_SPEED_MODEL (skipped when unset),
// alternating A and B repetition by repetition so both see the same machine, and logs
// the median ratio ort/native. EDGERUN_ORT_SPEED_ACC sets MatMulNBits' accuracy_level.
func TestORTSpeedInterleaved(t *testing.T) {
	path := os.Getenv("EDGERUN_ORT_SPEED_MODEL")
	if path == "" {
		t.Skip("EDGERUN_ORT_SPEED_MODEL not set")
	}
	requireORT(t)
	acc, _ := strconv.Atoi(os.Getenv("EDGERUN_ORT_SPEED_ACC"))
	const threads, pp, tg, reps = 2, 64, 16, 5
	n, err := Open(path, WithThreads(threads), WithContext(pp+tg+1))
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	t0 := time.Now()
	o, err := Open(path, WithThreads(threads), WithContext(pp+tg+1), WithBackend(BackendORT),
		WithORT(ORTOptions{AccuracyLevel: acc, NoLoRA: os.Getenv("EDGERUN_ORT_SPEED_NOLORA") != "", Contrib: os.Getenv("EDGERUN_ORT_SPEED_CONTRIB") != "", GQA: os.Getenv("EDGERUN_ORT_SPEED_GQA") != ""}))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	t.Logf("ort open (export + session) %v; %s", time.Since(t0), o.Backend())
	r := rand.New(rand.NewPCG(1, 2))
	prompt := make([]int, pp)
	for i := range prompt {
		prompt[i] = 1 + r.IntN(n.Model.Config.Vocab-1)
	}
	run := func(e *Engine) (ppTS, tgTS float64) {
		s := e.NewSession()
		t0 := time.Now()
		l, err := s.Eval(prompt)
		if err != nil {
			t.Fatal(err)
		}
		ppTS = float64(pp) / time.Since(t0).Seconds()
		t1 := time.Now()
		for i := 0; i < tg; i++ {
			if l, err = s.Eval([]int{argmax(l)}); err != nil {
				t.Fatal(err)
			}
		}
		return ppTS, float64(tg) / time.Since(t1).Seconds()
	}
	run(n) // warm-up
	run(o)
	var ppR, tgR, nPP, nTG, oPP, oTG []float64
	for i := 0; i < reps; i++ {
		var a1, a2, b1, b2 float64
		if i%2 == 0 {
			a1, a2 = run(n)
			b1, b2 = run(o)
		} else {
			b1, b2 = run(o)
			a1, a2 = run(n)
		}
		nPP, nTG, oPP, oTG = append(nPP, a1), append(nTG, a2), append(oPP, b1), append(oTG, b2)
		ppR, tgR = append(ppR, b1/a1), append(tgR, b2/a2)
	}
	med := func(v []float64) float64 { v = slices.Clone(v); slices.Sort(v); return v[len(v)/2] }
	t.Logf("pp%d t/s: native %.2f, ort %.2f, median ratio ort/native %.2f %v", pp, med(nPP), med(oPP), med(ppR), ppR)
	t.Logf("tg%d t/s: native %.2f, ort %.2f, median ratio ort/native %.2f %v", tg, med(nTG), med(oTG), med(tgR), tgR)
}
