package bench

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrFormat is returned by Write for an unknown output format.
var ErrFormat = errors.New("bench: unknown output format")

// Formats lists the output formats Write accepts.
var Formats = []string{"md", "csv", "json", "jsonl"}

// Write prints the report in format: "md" (llama-bench's markdown table, then the
// memory and latency figures), "csv" (a header and one line per row), "json" (an
// array of row objects) or "jsonl" (one row object per line). Rows use llama-bench's
// field names where one exists; edgerun's figures are extra fields.
func (r *Report) Write(w io.Writer, format string) error {
	switch format {
	case "md", "":
		return r.writeMarkdown(w)
	case "csv":
		return r.writeCSV(w)
	case "json":
		return r.writeJSON(w, false)
	case "jsonl":
		return r.writeJSON(w, true)
	}
	return fmt.Errorf("%w %q (want one of %s)", ErrFormat, format, strings.Join(Formats, ", "))
}

type field struct {
	name  string
	value any
}

func msf(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// fields returns a row's fields in output order.
func (r *Report) fields(row Row) []field {
	c := r.Configs[row.Config]
	samplesNS := row.SamplesNS
	if samplesNS == nil {
		samplesNS = []int64{}
	}
	samplesTS := row.SamplesTS
	if samplesTS == nil {
		samplesTS = []float64{}
	}
	return []field{
		// llama-bench's fields.
		{"build_commit", r.BuildCommit},
		{"cpu_info", r.CPU},
		{"backends", "CPU"},
		{"model_filename", c.Model},
		{"model_type", c.ModelType},
		{"model_size", c.ModelSize},
		{"model_n_params", c.Params},
		{"n_batch", max(row.NPrompt, 1)},
		{"n_ubatch", max(row.NPrompt, 1)},
		{"n_threads", row.Threads},
		{"type_k", "f32"},
		{"type_v", "f32"},
		{"use_mmap", true},
		{"n_prompt", row.NPrompt},
		{"n_gen", row.NGen},
		{"n_depth", 0},
		{"test_time", row.TestTime.Format(time.RFC3339)},
		{"avg_ns", int64(row.AvgNS)},
		{"stddev_ns", int64(row.StddevNS)},
		{"avg_ts", row.AvgTS},
		{"stddev_ts", row.StddevTS},
		{"samples_ns", samplesNS},
		{"samples_ts", samplesTS},
		// edgerun's.
		{"test", row.Test},
		{"backend", c.Backend},
		{"kernel", c.Kernel},
		{"config", row.Config},
		{"ratio", row.Ratio},
		{"file_size", c.FileSize},
		{"load_cold_ms", msf(c.LoadCold)},
		{"load_warm_ms", msf(c.LoadWarm)},
		{"ttft_cold_ms", msf(c.TTFTCold)},
		{"ttft_cold_n_prompt", c.TTFTPrompt},
		{"ttft_ms", msf(row.TTFT)},
		{"token_p50_ms", msf(row.LatencyP50)},
		{"token_p90_ms", msf(row.LatencyP90)},
		{"token_p99_ms", msf(row.LatencyP99)},
		{"peak_rss_bytes", c.PeakRSS},
		{"peak_rss_method", c.PeakMethod},
		{"rss_bytes", c.Memory.RSS},
		{"rss_file_bytes", c.Memory.RSSFile},
		{"rss_anon_bytes", c.Memory.RSSAnon},
		{"pss_file_bytes", c.Memory.PSSFile},
		{"pss_anon_bytes", c.Memory.PSSAnon},
		{"go_heap_bytes", c.Memory.GoHeap},
		{"go_mapped_bytes", c.Memory.GoMapped},
		{"kv_cache_bytes", row.KVBytes},
		{"bandwidth_bytes_per_s", r.Bandwidth.BytesPerSecond},
		{"bytes_per_token", row.BytesPerToken},
		{"roofline_ts", row.RooflineTS},
		{"roofline_fraction", row.RooflineFraction},
	}
}

func (r *Report) writeJSON(w io.Writer, lines bool) error {
	var b strings.Builder
	if !lines {
		b.WriteString("[\n")
	}
	for i, row := range r.Rows {
		if !lines {
			b.WriteString("  ")
		}
		b.WriteByte('{')
		for j, f := range r.fields(row) {
			if j > 0 {
				b.WriteString(", ")
			}
			k, _ := json.Marshal(f.name)
			v, err := json.Marshal(jsonValue(f.value))
			if err != nil {
				return fmt.Errorf("bench: field %s: %w", f.name, err)
			}
			b.Write(k)
			b.WriteString(": ")
			b.Write(v)
		}
		b.WriteByte('}')
		if !lines && i < len(r.Rows)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	if !lines {
		b.WriteString("]\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonValue replaces non-finite floats (which JSON cannot hold) by 0.
func jsonValue(v any) any {
	switch x := v.(type) {
	case float64:
		if x != x || x > 1e308 || x < -1e308 {
			return 0
		}
	case []float64:
		out := make([]float64, len(x))
		for i, f := range x {
			if f == f && f <= 1e308 && f >= -1e308 {
				out[i] = f
			}
		}
		return out
	}
	return v
}

func (r *Report) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	var header []string
	if len(r.Rows) > 0 {
		for _, f := range r.fields(r.Rows[0]) {
			header = append(header, f.name)
		}
	} else {
		for _, f := range (&Report{Configs: []ConfigResult{{}}}).fields(Row{}) {
			header = append(header, f.name)
		}
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for _, row := range r.Rows {
		var rec []string
		for _, f := range r.fields(row) {
			rec = append(rec, csvValue(f.value))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvValue(v any) string {
	switch x := v.(type) {
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []int64:
		s := make([]string, len(x))
		for i, n := range x {
			s[i] = strconv.FormatInt(n, 10)
		}
		return strings.Join(s, ";")
	case []float64:
		s := make([]string, len(x))
		for i, f := range x {
			s[i] = strconv.FormatFloat(f, 'f', -1, 64)
		}
		return strings.Join(s, ";")
	}
	return fmt.Sprint(v)
}

// humanSize prints a byte count like llama-bench's size column.
func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f KiB", float64(n)/(1<<10))
}

// humanParams prints a parameter count like llama-bench's params column.
func humanParams(n int64) string {
	f := float64(n)
	switch {
	case f >= 1e9:
		return fmt.Sprintf("%.2f B", f/1e9)
	case f >= 1e6:
		return fmt.Sprintf("%.2f M", f/1e6)
	}
	return fmt.Sprintf("%.2f K", f/1e3)
}

func mib(n uint64) string { return fmt.Sprintf("%.1f", float64(n)/(1<<20)) }

// table writes a markdown table with right-aligned columns where right[i].
func table(w io.Writer, head []string, right []bool, rows [][]string) error {
	width := make([]int, len(head))
	for i, h := range head {
		width[i] = max(len(h), 3)
	}
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		b.WriteString("|")
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if right[i] {
				b.WriteString(" " + pad + c + " |")
			} else {
				b.WriteString(" " + c + pad + " |")
			}
		}
		b.WriteString("\n")
	}
	line(head)
	b.WriteString("|")
	for i := range head {
		if right[i] {
			b.WriteString(" " + strings.Repeat("-", width[i]-1) + ": |")
		} else {
			b.WriteString(" " + strings.Repeat("-", width[i]) + " |")
		}
	}
	b.WriteString("\n")
	for _, row := range rows {
		line(row)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Report) writeMarkdown(w io.Writer) error {
	multi := len(r.Configs) > 1
	head := []string{"model", "size", "params", "backend", "threads", "test", "t/s"}
	right := []bool{false, true, true, false, true, true, true}
	if multi {
		head = append(head, "ratio")
		right = append(right, true)
	}
	var rows [][]string
	for _, row := range r.Rows {
		c := r.Configs[row.Config]
		cells := []string{c.ModelType, humanSize(c.ModelSize), humanParams(c.Params), "CPU (" + c.Backend + ")",
			strconv.Itoa(row.Threads), row.Test, fmt.Sprintf("%.2f ± %.2f", row.AvgTS, row.StddevTS)}
		if multi {
			ratio := "-"
			if row.Ratio > 0 {
				ratio = fmt.Sprintf("%.2f", row.Ratio)
			}
			cells = append(cells, ratio)
		}
		rows = append(rows, cells)
	}
	if err := table(w, head, right, rows); err != nil {
		return err
	}

	// Memory and load figures, one line per configuration.
	fmt.Fprintln(w)
	head = []string{"#", "model", "kernel", "load cold ms", "load warm ms", "ttft cold ms", "peak RSS MiB", "RSS file MiB", "RSS anon MiB", "Go heap MiB", "KV MiB", "file MiB"}
	right = []bool{true, false, false, true, true, true, true, true, true, true, true, true}
	rows = rows[:0]
	for _, c := range r.Configs {
		file, anon := "-", "-"
		if c.Memory.Split {
			file, anon = mib(c.Memory.RSSFile), mib(c.Memory.RSSAnon)
		}
		rows = append(rows, []string{strconv.Itoa(c.Index), filepath.Base(c.Model), c.Kernel,
			fmt.Sprintf("%.1f", msf(c.LoadCold)), fmt.Sprintf("%.1f", msf(c.LoadWarm)),
			fmt.Sprintf("%.1f (pp%d)", msf(c.TTFTCold), c.TTFTPrompt),
			mib(c.PeakRSS), file, anon, mib(c.Memory.GoHeap), mib(uint64(c.KVBytes)), mib(uint64(c.FileSize))})
	}
	if err := table(w, head, right, rows); err != nil {
		return err
	}

	// Latency and roofline, per row that has them.
	rows = rows[:0]
	for _, row := range r.Rows {
		if row.NGen == 0 && row.TTFT == 0 {
			continue
		}
		ttft, p50, p90, p99, roof := "-", "-", "-", "-", "-"
		if row.TTFT > 0 {
			ttft = fmt.Sprintf("%.2f", msf(row.TTFT))
		}
		if row.LatencyP50 > 0 {
			p50, p90, p99 = fmt.Sprintf("%.2f", msf(row.LatencyP50)), fmt.Sprintf("%.2f", msf(row.LatencyP90)), fmt.Sprintf("%.2f", msf(row.LatencyP99))
		}
		if row.RooflineTS > 0 {
			roof = fmt.Sprintf("%.1f%% of %.1f t/s", 100*row.RooflineFraction, row.RooflineTS)
		}
		rows = append(rows, []string{strconv.Itoa(row.Config), strconv.Itoa(row.Threads), row.Test, ttft, p50, p90, p99, roof})
	}
	if len(rows) > 0 {
		fmt.Fprintln(w)
		head = []string{"#", "threads", "test", "ttft ms", "token p50 ms", "p90 ms", "p99 ms", "bandwidth roofline"}
		right = []bool{true, true, true, true, true, true, true, true}
		if err := table(w, head, right, rows); err != nil {
			return err
		}
	}
	if r.Bandwidth.BytesPerSecond > 0 {
		_, err := fmt.Fprintf(w, "\nmemory read bandwidth %.2f GB/s (%d threads, %d MiB buffer); roofline = bandwidth ÷ (weight bytes + KV bytes read per token)\n",
			r.Bandwidth.BytesPerSecond/1e9, r.Bandwidth.Threads, r.Bandwidth.BufferBytes>>20)
		return err
	}
	return nil
}
