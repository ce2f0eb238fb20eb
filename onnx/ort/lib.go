// Package ort runs ONNX models through ONNX Runtime (github.com/yalue/onnxruntime_go,
// cgo, build tag ort): finding and loading the shared library once per process, and a
// session wrapper that binds Go slices as tensors without copies.
//
// Library discovery (FindLibrary) is pure Go and available in every build, so a build
// without the ort tag can still say where it would look.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// EnvLibrary is the environment variable naming the ONNX Runtime shared library.
const EnvLibrary = "ONNXRUNTIME_LIB"

// envLibraryAlt is the variable onnxruntime_go's own tests and ../shared/tools/anchors use.
const envLibraryAlt = "ONNXRUNTIME_SHARED_LIBRARY_PATH"

// SetupDir is the repository folder `make ort-setup` installs ONNX Runtime into.
const SetupDir = ".ort"

// ErrNotFound is returned when no ONNX Runtime shared library is found.
var ErrNotFound = errors.New("ort: ONNX Runtime shared library not found")

// ErrNotBuilt is returned by every operation that needs ONNX Runtime in a build
// without the ort tag.
var ErrNotBuilt = errors.New("ort: edgerun was built without the ONNX Runtime backend (rebuild with CGO_ENABLED=1 -tags ort)")

// libNames are the file names of the shared library on this OS.
func libNames() []string {
	switch runtime.GOOS {
	case "darwin":
		return []string{"libonnxruntime.dylib", "libonnxruntime.1.dylib"}
	case "windows":
		return []string{"onnxruntime.dll"}
	}
	return []string{"libonnxruntime.so.1", "libonnxruntime.so"}
}

// npmArch is onnxruntime-node's folder name for this OS/architecture.
func npmDir() string {
	arch := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	osName := map[string]string{"linux": "linux", "darwin": "darwin", "windows": "win32"}[runtime.GOOS]
	if arch == "" || osName == "" {
		return ""
	}
	return filepath.Join("node_modules", "onnxruntime-node", "bin", "napi-v6", osName, arch)
}

// Candidates returns, in search order, every path FindLibrary tries: explicit (the
// --ort-lib flag) when set, $ONNXRUNTIME_LIB, $ONNXRUNTIME_SHARED_LIBRARY_PATH, the
// `make ort-setup` folder .ort in the working directory or any parent (and beside the
// executable), the directories of $LD_LIBRARY_PATH, then the usual system paths.
func Candidates(explicit string) []string {
	var out []string
	if explicit != "" {
		return []string{explicit} // an explicit choice is not second-guessed
	}
	for _, env := range []string{EnvLibrary, envLibraryAlt} {
		if v := os.Getenv(env); v != "" {
			out = append(out, v)
		}
	}
	var roots []string
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			roots = append(roots, d)
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	if exe, err := os.Executable(); err == nil {
		roots = append(roots, filepath.Dir(exe), filepath.Dir(filepath.Dir(exe)))
	}
	for _, r := range roots {
		for _, n := range libNames() {
			out = append(out, filepath.Join(r, SetupDir, n))
		}
		if nd := npmDir(); nd != "" {
			out = append(out, filepath.Join(r, SetupDir, nd, libNames()[0]))
		}
	}
	var dirs []string
	if v := os.Getenv("LD_LIBRARY_PATH"); v != "" {
		dirs = append(dirs, filepath.SplitList(v)...)
	}
	switch runtime.GOOS {
	case "darwin":
		dirs = append(dirs, "/opt/homebrew/lib", "/usr/local/lib")
	case "windows":
	default:
		dirs = append(dirs, "/usr/local/lib", "/usr/lib", "/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/opt/onnxruntime/lib")
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		for _, n := range libNames() {
			out = append(out, filepath.Join(d, n))
		}
	}
	return out
}

// FindLibrary returns the first existing file among Candidates(explicit), or an error
// wrapping ErrNotFound that names every path searched.
func FindLibrary(explicit string) (string, error) {
	c := Candidates(explicit)
	for _, p := range c {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	hint := "run `make ort-setup`, pass --ort-lib, or set " + EnvLibrary
	if explicit != "" {
		return "", fmt.Errorf("%w: %s does not exist (--ort-lib)", ErrNotFound, explicit)
	}
	return "", fmt.Errorf("%w (%s); searched:\n  %s", ErrNotFound, hint, strings.Join(c, "\n  "))
}
