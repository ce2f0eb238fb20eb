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
		{"n_depth", row.NDepth},
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
		// Adapter figures (zero and empty for a configuration without adapter).
		{"adapter", c.Adapter.Path},
		{"adapter_scale", float64(c.Adapter.Scale)},
		{"adapter_rank", c.Adapter.Rank},
		{"adapter_modules", c.Adapter.Modules},
		{"adapter_bytes", c.Adapter.Bytes},
		{"adapter_load_ms", msf(c.Adapter.Load)},
		{"adapter_switch_p50_ns", c.Adapter.SwitchP50.Nanoseconds()},
		{"adapter_switch_p99_ns", c.Adapter.SwitchP99.Nanoseconds()},
		{"adapter_switch_n", c.Adapter.SwitchN},
		{"merge_ms", msf(row.Merge)},
		{"merge_rel_err", row.MergeRelErr},
		{"merge_error", c.Adapter.MergeError},
		{"live_avg_ts", row.LiveTS},
		{"live_stddev_ts", row.LiveStddevTS},
		{"merged_avg_ts", row.MergedTS},
		{"merged_stddev_ts", row.MergedStddevTS},
		{"live_vs_merged", row.LiveVsMerged},
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
		width[i] = max(len([]rune(h)), 3)
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

// hasAdapters reports whether some configuration has an adapter.
func (r *Report) hasAdapters() bool {
	for _, c := range r.Configs {
		if c.Adapter.Path != "" {
			return true
		}
	}
	return false
}

// adapterLabel names a configuration's adapter as FILE:SCALE ("-" for none).
func adapterLabel(c ConfigResult) string {
	if c.Adapter.Path == "" {
		return "-"
	}
	return fmt.Sprintf("%s:%g", filepath.Base(c.Adapter.Path), c.Adapter.Scale)
}

// label names a configuration: the model file, and the adapter's when there is one.
func label(c ConfigResult) string {
	if c.Adapter.Path == "" {
		return filepath.Base(c.Model)
	}
	return filepath.Base(c.Model) + " +" + adapterLabel(c)
}

func (r *Report) writeMarkdown(w io.Writer) error {
	multi := len(r.Configs) > 1
	adapters := r.hasAdapters()
	// llama-bench puts the parameters that vary between threads and test.
	head := []string{"model", "size", "params", "backend", "threads"}
	right := []bool{false, true, true, false, true}
	if adapters {
		head = append(head, "adapter")
		right = append(right, false)
	}
	head = append(head, "test", "t/s")
	right = append(right, true, true)
	if multi {
		head = append(head, "ratio")
		right = append(right, true)
	}
	var rows [][]string
	for _, row := range r.Rows {
		c := r.Configs[row.Config]
		cells := []string{c.ModelType, humanSize(c.ModelSize), humanParams(c.Params), "CPU (" + c.Backend + ")",
			strconv.Itoa(row.Threads)}
		if adapters {
			cells = append(cells, adapterLabel(c))
		}
		cells = append(cells, row.Test, fmt.Sprintf("%.2f ± %.2f", row.AvgTS, row.StddevTS))
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
		rows = append(rows, []string{strconv.Itoa(c.Index), label(c), c.Kernel,
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
	if adapters {
		if err := r.writeAdapterTables(w); err != nil {
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

// writeAdapterTables writes the adapter figures: one line per configuration with an
// adapter, then live against merged tokens/s per tg row.
func (r *Report) writeAdapterTables(w io.Writer) error {
	fmt.Fprintln(w)
	head := []string{"#", "adapter", "format", "rank", "modules", "MiB", "load ms", "switch p50 µs", "switch p99 µs", "switches"}
	right := []bool{true, false, false, true, true, true, true, true, true, true}
	var rows [][]string
	var errs []string
	for _, c := range r.Configs {
		a := c.Adapter
		if a.Path == "" {
			continue
		}
		rows = append(rows, []string{strconv.Itoa(c.Index), adapterLabel(c), a.Format, strconv.Itoa(a.Rank), strconv.Itoa(a.Modules),
			mib(uint64(a.Bytes)), fmt.Sprintf("%.1f", msf(a.Load)),
			fmt.Sprintf("%.2f", float64(a.SwitchP50.Nanoseconds())/1e3), fmt.Sprintf("%.2f", float64(a.SwitchP99.Nanoseconds())/1e3), strconv.Itoa(a.SwitchN)})
		if a.MergeError != "" {
			errs = append(errs, fmt.Sprintf("#%d: merge refused: %s", c.Index, a.MergeError))
		}
	}
	if err := table(w, head, right, rows); err != nil {
		return err
	}
	rows = rows[:0]
	// tg rows; a configuration and thread count without one still shows its merge time.
	hasTG := map[[2]int]bool{}
	for _, row := range r.Rows {
		if row.NPrompt == 0 && row.NGen > 0 {
			hasTG[[2]int{row.Config, row.Threads}] = true
		}
	}
	for _, row := range r.Rows {
		key := [2]int{row.Config, row.Threads}
		if r.Configs[row.Config].Adapter.Path == "" || row.Merge == 0 && row.MergedTS == 0 {
			continue
		}
		test := row.Test
		if row.NPrompt > 0 || row.NGen == 0 {
			if hasTG[key] {
				continue
			}
			hasTG[key], test = true, "-"
		}
		live, merged, ratio := "-", "-", "-"
		if row.MergedTS > 0 {
			live = fmt.Sprintf("%.2f ± %.2f", row.LiveTS, row.LiveStddevTS)
			merged = fmt.Sprintf("%.2f ± %.2f", row.MergedTS, row.MergedStddevTS)
			ratio = fmt.Sprintf("%.3f", row.LiveVsMerged)
		}
		rows = append(rows, []string{strconv.Itoa(row.Config), strconv.Itoa(row.Threads), test,
			fmt.Sprintf("%.1f", msf(row.Merge)), fmt.Sprintf("%.2g", row.MergeRelErr), live, merged, ratio})
	}
	if len(rows) > 0 {
		fmt.Fprintln(w)
		head = []string{"#", "threads", "test", "merge ms", "merge rel err", "live t/s", "merged t/s", "live/merged"}
		right = []bool{true, true, true, true, true, true, true, true}
		if err := table(w, head, right, rows); err != nil {
			return err
		}
	}
	for _, e := range errs {
		if _, err := fmt.Fprintf(w, "\n%s\n", e); err != nil {
			return err
		}
	}
	return nil
}
