package main

import (
	"context"
	"errors"
	"fmt"
	lg "github.com/krelu/krelu/internal/logits"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"time"

	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/mnist"
	"github.com/krelu/krelu/nn"
	"github.com/krelu/krelu/serve"
	"github.com/krelu/krelu/transformer"
)

func init() {
	register(command{name: "serve", summary: "serve a model for encrypted inference over HTTP (the server never holds a secret key)", run: runServe})
	register(command{name: "client", summary: "classify test images through a krelu serve server, encrypted end to end", run: runClient})
}

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	setUsage(fs, stderr, "krelu serve --model MODEL [flags]",
		"MODEL is an MNIST checkpoint (polynomial activations of degree ≤ 2) or an HE-friendly SST-2\n"+
			"transformer (sst2 train --he-friendly), whose whole encoder is then served; its clients use\n"+
			"krelu client --task sst2.")
	model := fs.String("model", "", "model checkpoint: an MNIST network or an HE-friendly transformer (required)")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address host:port")
	mode := fs.String("mode", "packed", "encrypted layout of a network: packed (several images per ciphertext) or slots (one ciphertext per pixel; needs a larger --max-ct-mb)")
	sessions := fs.Int("max-sessions", serve.DefaultMaxSessions, "sessions (key sets) kept, 1…4096; idle ones are dropped least recently used first")
	keyMB := fs.Int64("max-key-mb", 0, "largest evaluation-key upload in MiB, 1…65536 (default: the served model's own evaluation-key set plus 1 MiB, rounded up)")
	ctMB := fs.Int64("max-ct-mb", serve.DefaultMaxCiphertextBytes>>20, "largest ciphertext batch in MiB, 1…65536")
	memMB := fs.Int64("max-key-memory-mb", 0, "key memory of all sessions together in MiB, 1…1048576; a session that does not fit gets 503 (default: 1024, or the upload limit when larger, so one key set of the model fits)")
	ttl := fs.Duration("session-ttl", serve.DefaultSessionTTL, "drop a session unused for this long (> 0)")
	readTimeout := fs.Duration("read-timeout", serve.DefaultReadTimeout, "time to receive one request's headers and body (> 0); a stalled client is cut off")
	timeout := fs.Duration("timeout", serve.DefaultTimeout, "time limit of one evaluation, waiting included (> 0)")
	evals := fs.Int("max-evaluations", runtime.GOMAXPROCS(0), "batches evaluated at once, 1…1024")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := serveConfig(*addr, *sessions, *keyMB, isSet(fs, "max-key-mb"), *ctMB, *memMB, isSet(fs, "max-key-memory-mb"), *evals, *ttl, *readTimeout, *timeout)
	if err != nil {
		return err
	}
	h, desc, err := serveHandler(*model, *mode, isSet(fs, "mode"), &cfg)
	if err != nil {
		return err
	}
	defer h.Close()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	task := cfg.Task
	if task == "" {
		task = "unknown task"
	}
	lim := h.Config()
	fmt.Fprintf(stdout, "serving %s (%s; %s) on http://%s\n", *model, task, desc, ln.Addr())
	fmt.Fprintf(stdout, "  limits: key upload %d MiB, key memory %d MiB, %d sessions; encoded weights %.0f MB, shared by all sessions\n",
		lim.MaxKeyBytes>>20, lim.MaxKeyMemory>>20, lim.MaxSessions, float64(h.Stats().WeightsBytes)/1e6)
	return serve.NewHTTPServer(h).Serve(ln)
}

// serveConfig checks every numeric flag of krelu serve before any model
// is loaded. The key limits are checked when set (keySet, memSet); unset,
// they stay 0 and serve sizes them to the model.
func serveConfig(addr string, sessions int, keyMB int64, keySet bool, ctMB, memMB int64, memSet bool, evals int, ttl, readTimeout, timeout time.Duration) (serve.Config, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return serve.Config{}, fmt.Errorf("%w: --addr %q: want host:port, e.g. 127.0.0.1:8080", errUsage, addr)
	}
	for _, f := range []struct {
		name    string
		v, l, h int64
		set     bool
	}{{"max-sessions", int64(sessions), 1, 4096, true}, {"max-key-mb", keyMB, 1, 1 << 16, keySet}, {"max-ct-mb", ctMB, 1, 1 << 16, true},
		{"max-key-memory-mb", memMB, 1, 1 << 20, memSet}, {"max-evaluations", int64(evals), 1, 1024, true}} {
		if f.set && (f.v < f.l || f.v > f.h) {
			return serve.Config{}, fmt.Errorf("%w: --%s %d: want %d…%d", errUsage, f.name, f.v, f.l, f.h)
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"session-ttl", ttl}, {"read-timeout", readTimeout}, {"timeout", timeout}} {
		if f.v <= 0 {
			return serve.Config{}, fmt.Errorf("%w: --%s %v: want a positive duration, e.g. 30s or 2m", errUsage, f.name, f.v)
		}
	}
	if keySet && memSet && keyMB > memMB {
		return serve.Config{}, fmt.Errorf("%w: --max-key-mb %d exceeds --max-key-memory-mb %d: want an upload limit ≤ the key memory (no key set that large could be kept)", errUsage, keyMB, memMB)
	}
	return serve.Config{MaxKeyBytes: keyMB << 20, MaxCiphertextBytes: ctMB << 20, MaxSessions: sessions,
		MaxKeyMemory: memMB << 20, SessionTTL: ttl, ReadTimeout: readTimeout, Timeout: timeout, MaxEvaluations: evals}, nil
}

// serveHandler loads a checkpoint and compiles it for the server; cfg.Task
// is set to the task the checkpoint records. It returns the handler and a
// one-line description. modeSet says whether --mode was given: it has no
// meaning for a transformer encoder.
func serveHandler(path, mode string, modeSet bool, cfg *serve.Config) (*serve.Handler, string, error) {
	if path == "" {
		return nil, "", fmt.Errorf("%w: --model MODEL is required", errUsage)
	}
	var opts henn.Options
	switch mode {
	case "packed":
		opts.Mode = henn.Packed
	case "slots":
		opts.Mode = henn.Slots
	default:
		return nil, "", fmt.Errorf("%w: --mode %q: want packed or slots", errUsage, mode)
	}
	s, err := transformer.LoadFile(path)
	switch {
	case err == nil:
		if modeSet {
			return nil, "", fmt.Errorf("%w: --mode applies to MNIST networks; %s is a transformer, whose encoder has its own layout", errUsage, path)
		}
		return serveEncoder(path, s, cfg)
	case !errors.Is(err, transformer.ErrNotModel):
		return nil, "", err
	}
	n, err := nn.LoadFile(path)
	if err != nil {
		return nil, "", err
	}
	cfg.Task = n.Task
	hn, err := n.HENN()
	if err != nil {
		return nil, "", err
	}
	m, err := henn.Compile(hn, opts)
	if err != nil {
		return nil, "", err
	}
	h, err := serve.New(m, *cfg)
	if err != nil {
		return nil, "", err
	}
	return h, fmt.Sprintf("%s, %s, LogN %d, depth %d, %d rotation keys", m.Layout().Mode, m.Preset(), m.Params().LogN(), m.Depth(), len(m.Rotations())), nil
}

// serveEncoder serves the whole encoder of an HE-friendly transformer.
// The server keeps the weights; clients get the public shape only.
func serveEncoder(path string, s *transformer.Saved, cfg *serve.Config) (*serve.Handler, string, error) {
	e, err := s.Model.Encoder()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	m, err := henn.CompileEncoder(e, henn.Options{})
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	cfg.Task = s.Task
	h, err := serve.NewEncoder(m, *cfg)
	if err != nil {
		return nil, "", err
	}
	l := m.Layout()
	return h, fmt.Sprintf("transformer encoder, %d layer(s), width %d, %d heads, ≤ %d tokens; %s, LogN %d, depth %d, %d rotation keys",
		l.Layers(), l.Dim, l.Heads, l.MaxTokens, m.Preset(), m.Params().LogN(), m.Depth(), len(m.Rotations())), nil
}

type clientReport struct {
	Server      string  `json:"server"`
	Task        string  `json:"task"`
	Mode        string  `json:"mode"`
	Preset      string  `json:"preset"`
	LogN        int     `json:"log_n"`
	Images      int     `json:"images"`
	Accuracy    float64 `json:"accuracy"`
	Setup       float64 `json:"session_setup_seconds"` // keygen + key upload
	Latency     float64 `json:"latency_seconds_single"`
	Amortized   float64 `json:"seconds_per_image_amortized"`
	KeyBytes    int64   `json:"evaluation_key_bytes"`
	BytesSent   int64   `json:"bytes_sent"`
	BytesRecv   int64   `json:"bytes_received"`
	SentPerImg  int64   `json:"ciphertext_bytes_sent_per_image"`
	RecvPerImg  int64   `json:"ciphertext_bytes_received_per_image"`
	BatchImages int     `json:"images_per_request"`
}

func runClient(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("client", stderr)
	setUsage(fs, stderr, "krelu client --server URL [--task mnist|fashion] [--limit N] [--batch N] [--json]\n"+
		"       krelu client --server URL --task sst2 --model MODEL [--dev TSV] [--dev-offset K] [--dev-limit N | --text SENTENCE] [--json]",
		"With --task sst2 the server serves an HE-friendly transformer's encoder: the client tokenizes,\n"+
			"looks up the token and position embeddings in MODEL (the vocabulary and embedding tables are\n"+
			"all it uses to encrypt; the other weights only give the plaintext reference it reports\n"+
			"agreement with), encrypts the token matrix and a length mask, and decrypts the logits.")
	server := fs.String("server", "", "server URL, e.g. http://127.0.0.1:8080 (required)")
	task := fs.String("task", "mnist", "test set: mnist, fashion or sst2 (must be the task the server's model was trained for)")
	limit := fs.Int("limit", 0, "classify only the first N test images, 0 (all 10,000) … 10000")
	batch := fs.Int("batch", 0, "images per request, 0 (a whole number of ciphertexts, about 256 images) … 65536")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var sc sst2ClientFlags
	sc.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *task == transformer.TaskSST2 {
		if err := firstErr(needs(fs, "limit", false, "--task mnist or fashion"), needs(fs, "batch", false, "--task mnist or fashion")); err != nil {
			return err
		}
		if err := checkServerURL(*server); err != nil {
			return err
		}
		return sst2Client(fs, *server, &sc, *asJSON, stdout, stderr)
	}
	if err := sc.onlyWithSST2(fs); err != nil {
		return err
	}
	if err := checkServerURL(*server); err != nil {
		return err
	}
	if *limit < 0 || *limit > 10000 {
		return fmt.Errorf("%w: --limit %d: want 0 (all) … 10000", errUsage, *limit)
	}
	if *batch < 0 || *batch > 65536 {
		return fmt.Errorf("%w: --batch %d: want 0 (automatic) … 65536", errUsage, *batch)
	}
	t, err := imgTask(*task)
	if err != nil {
		return fmt.Errorf("%w: --task %q: want mnist, fashion or sst2", errUsage, *task)
	}
	ctx := context.Background()
	c := &serve.Client{BaseURL: *server, HTTP: &http.Client{Timeout: 10 * time.Minute}}
	// The model description first: a wrong task or shape is an error
	// before any key is made.
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if info.Task != "" && info.Task != string(t) {
		return fmt.Errorf("the server's model was trained for %s; --task %s would classify %s images with it (use --task %s, or serve a %s model)",
			info.Task, t, t, info.Task, t)
	}
	if info.Encoder != nil {
		return fmt.Errorf("the server serves a transformer encoder, not an image classifier (use --task sst2 --model MODEL)")
	}
	if info.InputDim != mnist.Pixels || info.Classes != mnist.Classes {
		return fmt.Errorf("server model takes %d inputs and gives %d classes; %s images are %d pixels in %d classes",
			info.InputDim, info.Classes, t, mnist.Pixels, mnist.Classes)
	}
	te, err := mnist.Load(t, "", false)
	if err != nil {
		return err
	}
	if *limit > 0 && *limit < te.Len() {
		te = te.Slice(0, *limit)
	}
	t0 := time.Now()
	sess, err := c.NewSession(ctx)
	if err != nil {
		return err
	}
	rep := clientReport{Server: *server, Task: string(t), Mode: sess.Info.Layout.Mode, Preset: sess.Info.Preset,
		LogN: sess.Info.LogN, Images: te.Len(), Setup: time.Since(t0).Seconds(), KeyBytes: sess.KeyBytes}
	images := make([][]float64, te.Len())
	for i := range images {
		images[i] = te.X.RawRowView(i)
	}
	per := max(1, sess.Info.PerCiphertext)
	chunk := *batch
	if chunk == 0 {
		chunk = per * max(1, 256/per)
	}
	rep.BatchImages = chunk
	// Latency: one image alone, request and all.
	t0 = time.Now()
	if _, err := sess.Classify(ctx, images[:1]); err != nil {
		return err
	}
	rep.Latency = time.Since(t0).Seconds()
	sent0, recv0 := sess.Sent, sess.Received
	var pred []int
	t0 = time.Now()
	for s := 0; s < len(images); s += chunk {
		logits, err := sess.Classify(ctx, images[s:min(s+chunk, len(images))])
		if err != nil {
			return err
		}
		for _, l := range logits {
			pred = append(pred, lg.Argmax(l))
		}
	}
	rep.Amortized = time.Since(t0).Seconds() / float64(len(images))
	if len(pred) != len(images) {
		return errors.New("client: lost results")
	}
	rep.Accuracy = nn.Accuracy(pred, te.Y)
	rep.BytesSent, rep.BytesRecv = sess.Sent, sess.Received
	rep.SentPerImg = (sess.Sent - sent0) / int64(len(images))
	rep.RecvPerImg = (sess.Received - recv0) / int64(len(images))
	if *asJSON {
		return writeJSON(stdout, rep)
	}
	fmt.Fprintf(stdout, "%s via %s (%s, %s, LogN %d): accuracy %.2f%% on %d test images\n",
		rep.Task, rep.Server, rep.Mode, rep.Preset, rep.LogN, 100*rep.Accuracy, rep.Images)
	fmt.Fprintf(stdout, "  session setup %.2f s (keygen + %.1f MB keys), single-image latency %.3g s, amortized %.4g s/image (%d images per request)\n",
		rep.Setup, float64(rep.KeyBytes)/1e6, rep.Latency, rep.Amortized, rep.BatchImages)
	fmt.Fprintf(stdout, "  sent %.1f MB, received %.1f MB in total; per image %.1f KB up, %.1f KB down\n",
		float64(rep.BytesSent)/1e6, float64(rep.BytesRecv)/1e6, float64(rep.SentPerImg)/1e3, float64(rep.RecvPerImg)/1e3)
	return nil
}

func checkServerURL(server string) error {
	if server == "" {
		return fmt.Errorf("%w: --server URL is required", errUsage)
	}
	if u, err := url.Parse(server); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: --server %q: want an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080", errUsage, server)
	}
	return nil
}
