// Package testmodels locates the shared model fixtures (../shared/models beside the
// repository) for tests, skipping the test when they are absent.
package testmodels

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the directory holding the shared model fixtures. It honours the
// EDGERUN_MODELS environment variable first, then walks up from the working directory
// looking for a folder shared/models; when none is found it skips the test — or fails
// it when the CI environment variable is set, so CI never skips silently.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("EDGERUN_MODELS"); d != "" {
		if isDir(d) {
			return d
		}
		t.Skipf("EDGERUN_MODELS=%s is not a directory; skipping test that needs the model fixtures", d)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Skipf("cannot find the model fixtures: %v", err)
	}
	for dir := wd; ; {
		if d := filepath.Join(dir, "shared", "models"); isDir(d) {
			return d
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	msg := fmt.Sprintf("model fixtures not found: no shared/models folder above %s (clone the shared folder beside the repository or set EDGERUN_MODELS)", wd)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
