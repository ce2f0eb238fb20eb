package runtime

import (
	"slices"
	"testing"

	"github.com/edgerun/edgerun/internal/testadapter"
	"github.com/edgerun/edgerun/loader"
)

// TestLoadAdapterKeepsOneCopy checks that an adapter read by LoadAdapter is held once,
// in the engine's f16 form: the float32 factors read from the file are released, and
// the live and merged paths give what an adapter registered with its float32 factors
// kept (AddAdapter) gives.
func TestLoadAdapterKeepsOneCopy(t *testing.T) {
	e, err := NewEngine(DemoCheckpoint(), WithThreads(2))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	dir := t.TempDir()
	if err := testadapter.WritePEFT(e.Model.Config, dir, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := e.LoadAdapter("loaded", dir); err != nil {
		t.Fatal(err)
	}
	kept, err := loader.OpenAdapter(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.AddAdapter("kept", kept); err != nil {
		t.Fatal(err)
	}
	for _, m := range e.adapters["loaded"].src.Modules {
		if m.A != nil || m.B != nil {
			t.Fatalf("module %s: LoadAdapter kept the float32 factors", m.Target)
		}
	}
	prompt := []int{1, 30, 31, 32, 33}
	eval := func(name string) []float32 {
		s := e.NewSession()
		defer s.Close()
		if name != "" {
			if err := s.SetAdapters([]AdapterScale{{Name: name, Scale: 0.8}}); err != nil {
				t.Fatal(err)
			}
		}
		out, err := s.EvalAll(prompt)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if got, want := eval("loaded"), eval("kept"); !slices.Equal(got, want) {
		t.Fatal("live logits of the LoadAdapter adapter differ from the same adapter kept in float32")
	}
	if slices.Equal(eval("loaded"), eval("")) {
		t.Fatal("the adapter does not change the logits: the comparison proves nothing")
	}
	if _, err := e.Merge([]AdapterScale{{Name: "loaded", Scale: 0.8}}, MergeOptions{Type: "f32"}); err != nil {
		t.Fatal(err)
	}
	merged := eval("")
	e.Unmerge()
	if _, err := e.Merge([]AdapterScale{{Name: "kept", Scale: 0.8}}, MergeOptions{Type: "f32"}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(eval(""), merged) {
		t.Fatal("merging the LoadAdapter adapter differs from merging it kept in float32")
	}
}
