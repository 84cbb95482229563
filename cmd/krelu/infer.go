package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/nn"
)

func init() {
	register(command{name: "infer", summary: "classify MNIST/Fashion-MNIST test images, optionally encrypted (CKKS)", run: runInfer})
}

type inferReport struct {
	Model        string  `json:"model"`
	Task         string  `json:"task"`
	Arch         string  `json:"arch"`
	Encrypted    bool    `json:"encrypted"`
	Images       int     `json:"images"`
	Accuracy     float64 `json:"accuracy"`
	PlainAcc     float64 `json:"plaintext_accuracy"`
	Agreement    float64 `json:"agreement_with_plaintext"`
	MaxLogitErr  float64 `json:"max_logit_error,omitempty"`
	Latency      float64 `json:"latency_seconds_single"`
	Amortized    float64 `json:"seconds_per_image_amortized"`
	ServerPerImg float64 `json:"server_seconds_per_image,omitempty"`
	Mode         string  `json:"mode,omitempty"`
	LatencyMode  string  `json:"latency_mode,omitempty"`
	Preset       string  `json:"preset,omitempty"`
	LogN         int     `json:"log_n,omitempty"`
	Depth        int     `json:"depth,omitempty"`
	PerCt        int     `json:"images_per_ciphertext,omitempty"`
	CtBytes      int64   `json:"ciphertext_bytes_per_image,omitempty"`
	InBytes      int64   `json:"input_ciphertext_bytes,omitempty"`
	OutBytes     int64   `json:"output_ciphertext_bytes,omitempty"`
	KeyBytes     int64   `json:"evaluation_key_bytes,omitempty"`
	LatKeyBytes  int64   `json:"latency_evaluation_key_bytes,omitempty"`
	SetupSeconds float64 `json:"setup_seconds,omitempty"`
}

func runInfer(args []string, stdout, stderr io.Writer) error {
	if isGraphModel(args) { // --model X.onnx|X.henn: infer_graph.go
		return inferGraph(args, stdout, stderr)
	}
	if rest, ok := sst2InferArgs(args); ok {
		return sst2Infer(rest, stdout, stderr)
	}
	fs := newFlagSet("infer", stderr)
	model := fs.String("model", "", "model checkpoint (from krelu train or krelu eval --swap ... -o)")
	task := fs.String("task", "", "dataset (default: the model's)")
	arch := fs.String("arch", "", "refuse a checkpoint of another architecture (mlp or cnn)")
	encrypted := fs.Bool("encrypted", false, "classify under CKKS encryption (activations must be polynomials of degree ≤ 2)")
	limit := fs.Int("limit", 0, "classify only the first N test images (0: all 10,000)")
	mode := fs.String("mode", "auto", "encrypted layout: packed (several images per ciphertext, rotations), slots (one ciphertext per pixel, one image per slot) or auto (slots for throughput, packed for single-image latency)")
	logN := fs.Int("logn", 0, "force the ring degree 2^LOGN (0: smallest secure one that fits)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var thr, lat henn.Mode
	switch *mode {
	case "packed":
		thr, lat = henn.Packed, henn.Packed
	case "slots":
		thr, lat = henn.Slots, henn.Slots
	case "auto":
		thr, lat = henn.Slots, henn.Packed
	default:
		return fmt.Errorf("%w: --mode %q: want packed, slots or auto", errUsage, *mode)
	}
	n, te, t, err := imgLoadModel(*model, *task, *arch, *limit)
	if err != nil {
		return err
	}
	t0 := time.Now()
	plainLogits, err := n.Logits(te.X)
	if err != nil {
		return err
	}
	plainSecs := time.Since(t0).Seconds()
	plain := nn.Argmax(plainLogits)
	rep := inferReport{Model: *model, Task: string(t), Arch: n.Arch, Images: te.Len(),
		PlainAcc: nn.Accuracy(plain, te.Y)}
	if !*encrypted {
		rep.Accuracy, rep.Agreement = rep.PlainAcc, 1
		rep.Amortized = plainSecs / float64(te.Len())
		t1 := time.Now()
		if _, err := n.Logits(te.X.Slice(0, 1, 0, n.InputDim).(*mat.Dense)); err != nil {
			return err
		}
		rep.Latency = time.Since(t1).Seconds()
		return printInfer(stdout, rep, *asJSON)
	}
	hn, err := n.HENN()
	if err != nil {
		return err
	}
	rep.Encrypted, rep.Mode, rep.LatencyMode = true, thr.String(), lat.String()
	images := make([][]float64, te.Len())
	for i := range images {
		images[i] = te.X.RawRowView(i)
	}
	// Throughput: every image, in chunks of whole ciphertext groups so that
	// memory stays bounded.
	run, err := imgSetup(hn, henn.Options{Mode: thr, LogN: *logN})
	if err != nil {
		return err
	}
	rep.Preset, rep.LogN, rep.Depth, rep.SetupSeconds = run.model.Preset(), run.model.Params().LogN(), run.model.Depth(), run.setup
	rep.KeyBytes = run.keyBytes
	rep.PerCt = run.model.Layout().PerCiphertext()
	chunk := rep.PerCt * max(1, 256/rep.PerCt)
	var enc []int
	var total, server float64
	for s := 0; s < len(images); s += chunk {
		r, err := run.classify(images[s:min(s+chunk, len(images))])
		if err != nil {
			return err
		}
		for i, l := range r.logits {
			enc = append(enc, argmax(l))
			for j, v := range l {
				rep.MaxLogitErr = math.Max(rep.MaxLogitErr, math.Abs(v-plainLogits.At(s+i, j)))
			}
		}
		total += r.seconds
		server += r.server
		rep.InBytes += r.inBytes
		rep.OutBytes += r.outBytes
	}
	rep.Accuracy, rep.Agreement = nn.Accuracy(enc, te.Y), nn.Accuracy(enc, plain)
	rep.Amortized, rep.ServerPerImg = total/float64(len(images)), server/float64(len(images))
	rep.CtBytes = rep.InBytes / int64(len(images))
	// Latency: one image alone, end to end (encrypt, evaluate, decrypt).
	if lat != thr {
		if run, err = imgSetup(hn, henn.Options{Mode: lat, LogN: *logN}); err != nil {
			return err
		}
	}
	r, err := run.classify(images[:1])
	if err != nil {
		return err
	}
	rep.Latency, rep.LatKeyBytes = r.seconds, run.keyBytes
	return printInfer(stdout, rep, *asJSON)
}

type imgRun struct {
	model    *henn.Model
	client   *henn.Client
	server   *henn.Server
	keyBytes int64
	setup    float64
}

type imgResult struct {
	logits            [][]float64
	seconds, server   float64
	inBytes, outBytes int64
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// imgSetup compiles the network and does the client's and server's
// one-time work: keys, and the server's encoded weights.
func imgSetup(hn henn.Network, opts henn.Options) (*imgRun, error) {
	t0 := time.Now()
	m, err := henn.Compile(hn, opts)
	if err != nil {
		return nil, err
	}
	c, err := henn.NewClient(m.Params())
	if err != nil {
		return nil, err
	}
	evk, err := c.EvaluationKeys(m.Rotations())
	if err != nil {
		return nil, err
	}
	var cw countWriter
	if _, err := evk.WriteTo(&cw); err != nil {
		return nil, err
	}
	s, err := henn.NewServer(m, evk)
	if err != nil {
		return nil, err
	}
	return &imgRun{model: m, client: c, server: s, keyBytes: cw.n, setup: time.Since(t0).Seconds()}, nil
}

func (r *imgRun) classify(images [][]float64) (*imgResult, error) {
	t0 := time.Now()
	ct, err := r.client.EncryptBatch(r.model.Layout(), images)
	if err != nil {
		return nil, err
	}
	t1 := time.Now()
	out, err := r.server.Evaluate(ct)
	if err != nil {
		return nil, err
	}
	t2 := time.Now()
	l, err := r.client.DecryptLogits(r.model.Layout(), out)
	if err != nil {
		return nil, err
	}
	if len(l) != len(images) {
		return nil, fmt.Errorf("henn returned %d logit vectors for %d images", len(l), len(images))
	}
	return &imgResult{logits: l, seconds: time.Since(t0).Seconds(), server: t2.Sub(t1).Seconds(),
		inBytes: ct.BinarySize(), outBytes: out.BinarySize()}, nil
}

func argmax(v []float64) int {
	k := 0
	for i, x := range v {
		if x > v[k] {
			k = i
		}
	}
	return k
}

func printInfer(w io.Writer, r inferReport, asJSON bool) error {
	if asJSON {
		return writeJSON(w, r)
	}
	if !r.Encrypted {
		fmt.Fprintf(w, "%s (%s, %s), plaintext: accuracy %.2f%% on %d test images, %.3g s/image, single-image latency %.3g s\n",
			r.Model, r.Arch, r.Task, 100*r.Accuracy, r.Images, r.Amortized, r.Latency)
		return nil
	}
	fmt.Fprintf(w, "%s (%s, %s), encrypted (%s, LogN %d, depth %d, %d images per ciphertext):\n", r.Model, r.Arch, r.Task, r.Preset, r.LogN, r.Depth, r.PerCt)
	fmt.Fprintf(w, "  accuracy %.2f%% (plaintext %.2f%%), agreement with plaintext %.2f%%, max logit error %.3g, on %d test images\n",
		100*r.Accuracy, 100*r.PlainAcc, 100*r.Agreement, r.MaxLogitErr, r.Images)
	fmt.Fprintf(w, "  amortized %.4g s/image (%s; server %.4g s/image), single-image latency %.3g s (%s)\n",
		r.Amortized, r.Mode, r.ServerPerImg, r.Latency, r.LatencyMode)
	keys := fmt.Sprintf("%.1f MB (%s)", float64(r.KeyBytes)/1e6, r.Mode)
	if r.LatencyMode != r.Mode { // one layout (--mode packed|slots) has one key set
		keys += fmt.Sprintf(", %.1f MB (%s)", float64(r.LatKeyBytes)/1e6, r.LatencyMode)
	}
	fmt.Fprintf(w, "  ciphertexts: %.1f KB in per image, %.1f MB out in total; evaluation keys %s; setup %.1f s\n",
		float64(r.CtBytes)/1e3, float64(r.OutBytes)/1e6, keys, r.SetupSeconds)
	return nil
}

// sst2InferArgs recognises `krelu infer --task sst2 ...`, the spelling of
// issue 6, and rewrites it into the arguments of `krelu sst2 infer`
// (--model becomes -m; --task is dropped). ok is false for image tasks.
func sst2InferArgs(args []string) (rest []string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			rest = append(rest, a)
			continue
		}
		switch name {
		case "task":
			if !hasVal && i+1 < len(args) {
				i++
				val = args[i]
			}
			if val != "sst2" {
				return nil, false
			}
			ok = true
		case "model":
			if hasVal {
				rest = append(rest, "-m="+val)
			} else {
				rest = append(rest, "-m")
			}
		default:
			rest = append(rest, a)
		}
	}
	return rest, ok
}
