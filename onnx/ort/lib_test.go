package ort

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindLibraryNamesEverySearchedPath(t *testing.T) {
	t.Setenv(EnvLibrary, "/nonexistent/env/libonnxruntime.so.1")
	t.Setenv(envLibraryAlt, "")
	t.Setenv("LD_LIBRARY_PATH", "/nonexistent/ld")
	t.Chdir(t.TempDir())
	c := Candidates("")
	if c[0] != "/nonexistent/env/libonnxruntime.so.1" {
		t.Fatalf("first candidate %q, want the environment's", c[0])
	}
	_, err := FindLibrary("/nonexistent/flag/lib.so")
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "/nonexistent/flag/lib.so") {
		t.Fatalf("explicit path: %v", err)
	}
	lib, err := FindLibrary("")
	if err != nil {
		for _, p := range c {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error does not name %s:\n%v", p, err)
			}
		}
		if !strings.Contains(err.Error(), filepath.Join(SetupDir, "libonnxruntime.so.1")) && !strings.Contains(err.Error(), "onnxruntime.dll") && !strings.Contains(err.Error(), "dylib") {
			t.Fatalf("error does not mention the ort-setup folder:\n%v", err)
		}
		return
	}
	t.Logf("found %s (a system library)", lib)
}
