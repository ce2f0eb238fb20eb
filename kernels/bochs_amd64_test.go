//go:build !purego

package kernels

// The AVX-512 kernels cannot run on a CPU without AVX-512, and QEMU does not emulate
// it. Bochs does (CPU model tigerlake), but as a whole PC, not per process. So a test
// queues calls of Go assembly functions on a bochsVM, and Run boots Bochs from a disk
// image holding a small boot program (testdata/bochs/boot.S), this test binary's
// segments at their link addresses, and the test's memory; the boot program calls
// the functions in order and prints the output regions as hex on port 0xE9.

import (
	"bytes"
	"context"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// bochsEnv must be 1 for the Bochs tests to run (make test-avx512 sets it after
// installing Bochs); without it they skip with a message.
const bochsEnv = "EDGERUN_BOCHS"

const (
	bochsGuard     = 64   // guard bytes on each side of an output region
	bochsGuardByte = 0xA5 // the value of guard and fresh output bytes
	bochsSector    = 512
	bochsTimeout   = 3 * time.Minute
)

// bochsExe is what every vm needs from this test binary: its loadable segments and
// its functions' entry addresses by name (without the package path).
type bochsExe struct {
	segs []bochsSeg
	syms map[string]uint64
	end  uint64 // the first address after every segment
	err  error
}

type bochsSeg struct {
	addr uint64
	data []byte
}

var (
	bochsExeOnce sync.Once
	bochsExeVal  bochsExe
)

func loadBochsExe() *bochsExe {
	bochsExeOnce.Do(func() {
		e := &bochsExeVal
		path, err := os.Executable()
		if err != nil {
			e.err = err
			return
		}
		f, err := elf.Open(path)
		if err != nil {
			e.err = err
			return
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type != elf.PT_LOAD {
				continue
			}
			data := make([]byte, p.Filesz)
			if _, err := p.ReadAt(data, 0); err != nil {
				e.err = fmt.Errorf("%s: segment at %#x: %v", path, p.Vaddr, err)
				return
			}
			e.segs = append(e.segs, bochsSeg{p.Vaddr, data})
			e.end = max(e.end, p.Vaddr+p.Memsz)
		}
		// go test strips the symbol table; the Go function table (.gopclntab) stays.
		sec, text := f.Section(".gopclntab"), f.Section(".text")
		if sec == nil || text == nil {
			e.err = fmt.Errorf("%s has no .gopclntab or .text section", path)
			return
		}
		pcln, err := sec.Data()
		if err != nil {
			e.err = fmt.Errorf("%s: %v", path, err)
			return
		}
		tab, err := gosym.NewTable(nil, gosym.NewLineTable(pcln, text.Addr))
		if err != nil {
			e.err = fmt.Errorf("%s: Go function table: %v", path, err)
			return
		}
		code := func(fn *gosym.Func) []byte {
			for _, s := range e.segs {
				if fn.Entry >= s.addr && fn.End <= s.addr+uint64(len(s.data)) {
					return s.data[fn.Entry-s.addr : fn.End-s.addr]
				}
			}
			return nil
		}
		e.syms = map[string]uint64{}
		const pkg = "github.com/edgerun/edgerun/kernels."
		byName := map[string][]*gosym.Func{}
		for k := range tab.Funcs {
			fn := &tab.Funcs[k]
			if name, ok := strings.CutPrefix(fn.Name, pkg); ok {
				byName[name] = append(byName[name], fn)
			}
		}
		for name, fns := range byName {
			// An assembly function whose value Go code takes also has a compiler-made
			// wrapper of the same name (Go's register ABI to ABI0), which calls it:
			// keep the function the others call.
			e.syms[name] = fns[0].Entry
			for _, w := range fns {
				c := code(w)
				for i := 0; i+5 <= len(c); i++ {
					if c[i] != 0xE8 {
						continue
					}
					to := w.Entry + uint64(i+5) + uint64(int64(int32(binary.LittleEndian.Uint32(c[i+1:]))))
					for _, a := range fns {
						if a != w && a.Entry == to {
							e.syms[name] = to
						}
					}
				}
			}
		}
	})
	return &bochsExeVal
}

// bochsVM is one emulator run: memory the test fills (In) or reads back (Out), and
// the calls to make, in order.
type bochsVM struct {
	t      testing.TB
	exe    *bochsExe
	base   uint64 // emulated address of mem[0]
	mem    []byte
	outs   []bochsRegion // read back by Run: output regions and call frames
	expect []bochsExpect
	calls  []byte
	names  []string // of the calls, for messages
	got    map[uint64][]byte
}

// bochsRegion is memory Run reads back: size bytes at addr, of which the first and last
// bochsGuard must be unchanged guard bytes when guarded.
type bochsRegion struct {
	addr, size uint64
	guarded    bool
}

// newBochsVM returns an empty vm, or skips t when EDGERUN_BOCHS is not 1.
func newBochsVM(t testing.TB) *bochsVM {
	t.Helper()
	if os.Getenv(bochsEnv) != "1" {
		t.Skipf("the AVX-512 kernels are tested under Bochs only with %s=1 (make test-avx512 installs Bochs and sets it)", bochsEnv)
	}
	if _, err := exec.LookPath("bochs"); err != nil {
		t.Fatalf("bochs: %v (make test-avx512 installs it)", err)
	}
	exe := loadBochsExe()
	if exe.err != nil {
		t.Fatal(exe.err)
	}
	const mb = 1 << 20
	return &bochsVM{t: t, exe: exe, base: (exe.end + 2*mb - 1) &^ (mb - 1)}
}

// alloc reserves n bytes, 64-byte aligned, and returns their emulated address.
func (vm *bochsVM) alloc(n int) uint64 {
	off := (len(vm.mem) + 63) &^ 63
	vm.mem = append(vm.mem, make([]byte, off+n-len(vm.mem))...)
	return vm.base + uint64(off)
}

// In copies b into the emulated memory and returns its address there.
func (vm *bochsVM) In(b []byte) uint64 {
	a := vm.alloc(len(b))
	copy(vm.mem[a-vm.base:], b)
	return a
}

// Out reserves n bytes of output, filled with 0xA5 and guarded on both sides, and
// returns their address.
func (vm *bochsVM) Out(n int) uint64 {
	a := vm.alloc(n + 2*bochsGuard)
	for i := range n + 2*bochsGuard {
		vm.mem[a-vm.base+uint64(i)] = bochsGuardByte
	}
	vm.outs = append(vm.outs, bochsRegion{a, uint64(n + 2*bochsGuard), true})
	return a + bochsGuard
}

// bochsIn copies s into vm's memory and returns its address.
func bochsIn[T any](vm *bochsVM, s []T) uint64 {
	if len(s) == 0 {
		return vm.alloc(0)
	}
	return vm.In(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), len(s)*int(unsafe.Sizeof(s[0]))))
}

// bochsRead returns n values of type T at address a of an output region (after Run).
func bochsRead[T any](vm *bochsVM, a uint64, n int) []T {
	s := make([]T, n)
	if n > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&s[0])), n*int(unsafe.Sizeof(s[0]))), vm.Bytes(a, n*int(unsafe.Sizeof(s[0]))))
	}
	return s
}

// bochsResults is the room Call leaves for results after the arguments.
const bochsResults = 16

// Call queues a call of the assembly function kernels.<fn> with args laid out as
// ABI0 reads them: 8-byte ints and addresses, 4-byte int32/uint32/float32, 1-byte
// int8/uint8/bool, each aligned to its size. It returns the address of the results
// (up to 16 bytes; ABI0 puts them after the arguments, at the next multiple of 8),
// which Run reads back: bochsRead[float32](vm, ret, 1) after Run is a float32 result.
func (vm *bochsVM) Call(fn string, args ...any) uint64 {
	vm.t.Helper()
	addr, ok := vm.exe.syms[fn]
	if !ok {
		vm.t.Fatalf("bochs: no assembly function kernels.%s in this test binary", fn)
	}
	var frame []byte
	put := func(size int, v uint64) {
		for len(frame)%size != 0 {
			frame = append(frame, 0)
		}
		frame = binary.LittleEndian.AppendUint64(frame, v)[:len(frame)+size]
	}
	for i, a := range args {
		switch v := a.(type) {
		case uint64:
			put(8, v)
		case int:
			put(8, uint64(v))
		case int64:
			put(8, uint64(v))
		case uintptr:
			put(8, uint64(v))
		case int32:
			put(4, uint64(uint32(v)))
		case uint32:
			put(4, uint64(v))
		case float32:
			put(4, uint64(math.Float32bits(v)))
		case int8:
			put(1, uint64(uint8(v)))
		case uint8:
			put(1, uint64(v))
		case bool:
			b := uint64(0)
			if v {
				b = 1
			}
			put(1, b)
		default:
			vm.t.Fatalf("bochs: %s argument %d has type %T, which Call does not lay out", fn, i, a)
		}
	}
	for len(frame)%8 != 0 {
		frame = append(frame, 0)
	}
	ret := len(frame)
	frame = append(frame, make([]byte, bochsResults)...)
	at := vm.In(frame)
	vm.outs = append(vm.outs, bochsRegion{at, uint64(len(frame)), false})
	vm.calls = binary.LittleEndian.AppendUint64(vm.calls, addr)
	vm.calls = binary.LittleEndian.AppendUint64(vm.calls, uint64(len(frame)))
	vm.calls = binary.LittleEndian.AppendUint64(vm.calls, at)
	vm.names = append(vm.names, fn)
	return at + uint64(ret)
}

// bochsExpect is what an output region must hold after Run.
type bochsExpect struct {
	name string
	addr uint64
	want []byte
}

// Expect makes Run check that the len(want) bytes at address a (in an output region or
// a call's results) equal want, and report them as name if not.
func (vm *bochsVM) Expect(name string, a uint64, want []byte) {
	vm.expect = append(vm.expect, bochsExpect{name, a, want})
}

// needAVX2 skips t when the AVX2 kernels, the AVX-512 kernels' expected results, cannot
// run natively.
func needAVX2(t *testing.T) {
	t.Helper()
	if !(cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C) {
		t.Skip("the AVX-512 kernels are compared with the AVX2 ones run natively")
	}
}

// Bytes returns n bytes at address a of an output region, after Run.
func (vm *bochsVM) Bytes(a uint64, n int) []byte {
	vm.t.Helper()
	for start, b := range vm.got {
		if a >= start && a+uint64(n) <= start+uint64(len(b)) {
			return b[a-start : a-start+uint64(n)]
		}
	}
	vm.t.Fatalf("bochs: [%#x, +%d) is not inside an output region read back by Run", a, n)
	return nil
}

// Run boots Bochs, makes the queued calls and reads the output regions back. It
// fails the test on a CPU fault, a timeout or a changed guard byte.
func (vm *bochsVM) Run() {
	t := vm.t
	t.Helper()
	dir := t.TempDir()
	boot := bochsBoot(t, dir)

	// The call and dump tables go at the end of the test's memory.
	vm.calls = binary.LittleEndian.AppendUint64(vm.calls, 0)
	callsAt := vm.In(vm.calls)
	var dumps []byte
	for _, o := range vm.outs {
		dumps = binary.LittleEndian.AppendUint64(dumps, o.addr)
		dumps = binary.LittleEndian.AppendUint64(dumps, o.size)
	}
	dumps = append(dumps, make([]byte, 16)...)
	dumpsAt := vm.In(dumps)

	// Disk: the boot program, then each segment and the memory, sector-aligned.
	img := bytes.NewBuffer(boot)
	var loads []byte
	add := func(addr uint64, data []byte) {
		lba := uint64(img.Len() / bochsSector)
		img.Write(data)
		img.Write(make([]byte, (bochsSector-len(data)%bochsSector)%bochsSector))
		loads = binary.LittleEndian.AppendUint64(loads, lba)
		loads = binary.LittleEndian.AppendUint64(loads, uint64(len(data)+bochsSector-1)/bochsSector)
		loads = binary.LittleEndian.AppendUint64(loads, addr)
	}
	for _, s := range vm.exe.segs {
		add(s.addr, s.data)
	}
	add(vm.base, vm.mem)
	loads = append(loads, make([]byte, 24)...)
	params := img.Bytes()[bochsSector:]
	binary.LittleEndian.PutUint64(params[0:], callsAt)
	binary.LittleEndian.PutUint64(params[8:], dumpsAt)
	if 32+len(loads) > bochsSector {
		t.Fatalf("bochs: %d loads do not fit the parameter sector", len(loads)/24)
	}
	copy(params[32:], loads)
	const cyl = 16 * 63 * bochsSector
	cyls := (img.Len() + cyl - 1) / cyl
	img.Write(make([]byte, cyls*cyl-img.Len()))
	if err := os.WriteFile(filepath.Join(dir, "disk.img"), img.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	megs := (vm.base+uint64(len(vm.mem)))>>20 + 2
	rc := fmt.Sprintf(`megs: %d
cpu: model=tigerlake, count=1, reset_on_triple_fault=0
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
display_library: rfb, options="timeout=0"
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=disk, path=disk.img, mode=flat, cylinders=%d, heads=16, spt=63
boot: disk
port_e9_hack: enabled=1
log: bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
clock: sync=none
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
`, megs, cyls)
	if err := os.WriteFile(filepath.Join(dir, "bochsrc"), []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	// Bochs is built with its debugger here: "c" continues past its prompt.
	if err := os.WriteFile(filepath.Join(dir, "cont"), []byte("c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bochsTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bochs", "-q", "-f", "bochsrc", "-rc", "cont")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	runErr := cmd.Run() // Bochs exits 1 after the shutdown request: judge by the output
	s := out.String()
	fail := func(why string) {
		logTail, _ := os.ReadFile(filepath.Join(dir, "bochs.log"))
		t.Fatalf("bochs: %s after %v (calls: %s; exit: %v)\noutput tail:\n%s\nlog tail:\n%s", why, time.Since(start).Round(time.Millisecond),
			strings.Join(vm.names, ", "), runErr, bochsTail(vm.symbolize(s), 2000), bochsTail(vm.symbolize(string(logTail)), 2000))
	}
	if ctx.Err() != nil {
		fail("timed out")
	}
	i := strings.Index(s, "BXRUN-BEGIN\n")
	j := strings.Index(s, "BXRUN-END\n")
	if i < 0 || j < i {
		fail("no complete output")
	}
	lines := strings.Split(strings.TrimSuffix(s[i+len("BXRUN-BEGIN\n"):j], "\n"), "\n")
	if len(vm.outs) == 0 {
		lines = nil
	}
	if len(lines) != len(vm.outs) {
		fail(fmt.Sprintf("%d memory regions printed, want %d", len(lines), len(vm.outs)))
	}
	vm.got = map[uint64][]byte{}
	for k, o := range vm.outs {
		b, err := hex.DecodeString(lines[k])
		if err != nil || uint64(len(b)) != o.size {
			fail(fmt.Sprintf("memory region %d unreadable", k))
		}
		if !o.guarded {
			vm.got[o.addr] = b
			continue
		}
		for g := range bochsGuard {
			if b[g] != bochsGuardByte || b[len(b)-1-g] != bochsGuardByte {
				t.Errorf("bochs: a guard byte of output region %d (%d bytes at %#x) changed", k, len(b)-2*bochsGuard, o.addr+bochsGuard)
				break
			}
		}
		vm.got[o.addr+bochsGuard] = b[bochsGuard : len(b)-bochsGuard]
	}
	bad := 0
	for _, e := range vm.expect {
		got := vm.Bytes(e.addr, len(e.want))
		if bytes.Equal(got, e.want) {
			continue
		}
		if bad++; bad <= 10 {
			i := 0
			for got[i] == e.want[i] {
				i++
			}
			msg := fmt.Sprintf("%s: bytes differ from byte %d on (of %d)", e.name, i, len(got))
			if len(got)%4 == 0 {
				k := i / 4 * 4
				msg += fmt.Sprintf(": float32 %d is %v, want %v", i/4, math.Float32frombits(binary.LittleEndian.Uint32(got[k:])),
					math.Float32frombits(binary.LittleEndian.Uint32(e.want[k:])))
			}
			t.Error(msg)
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d outputs differ", bad, len(vm.expect))
	}
}

// symbolize drops Bochs' start-up lines from s and names the function of this binary
// after each instruction address "[0x…]" Bochs prints (a faulting instruction's).
func (vm *bochsVM) symbolize(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		if strings.HasPrefix(line, "00000000000i[") || strings.TrimSpace(line) == "" {
			continue
		}
		b.WriteString(line)
		if k := strings.Index(line, "[0x"); k >= 0 {
			var pc uint64
			if _, err := fmt.Sscanf(line[k+3:], "%x]", &pc); err == nil {
				best, bestAt := "", uint64(0)
				for name, a := range vm.exe.syms {
					if a <= pc && a > bestAt {
						best, bestAt = name, a
					}
				}
				if best != "" && pc-bestAt < 1<<16 {
					fmt.Fprintf(&b, "  [kernels.%s+%#x]", best, pc-bestAt)
				}
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func bochsTail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// bochsBoot assembles testdata/bochs/boot.S (with binutils' as and ld) into dir and
// returns its 8192 bytes.
func bochsBoot(t testing.TB, dir string) []byte {
	t.Helper()
	src, err := filepath.Abs("testdata/bochs/boot.S")
	if err != nil {
		t.Fatal(err)
	}
	obj, bin := filepath.Join(dir, "boot.o"), filepath.Join(dir, "boot.bin")
	for _, c := range [][]string{{"as", "--64", "-o", obj, src}, {"ld", "-Ttext=0x7C00", "--oformat", "binary", "-o", bin, obj}} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("bochs: %s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 16*bochsSector {
		t.Fatalf("bochs: %s is %d bytes, want %d", bin, len(b), 16*bochsSector)
	}
	return b
}
