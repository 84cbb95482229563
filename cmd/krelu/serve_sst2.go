package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/krelu/krelu/henn"
	lg "github.com/krelu/krelu/internal/logits"
	"github.com/krelu/krelu/serve"
	"github.com/krelu/krelu/transformer"
)

// sst2ClientFlags are krelu client's flags for --task sst2.
type sst2ClientFlags struct {
	model     *string
	dev, text string
	devLimit  int
	devOffset int
	truncate  bool
}

func (f *sst2ClientFlags) register(fs *flag.FlagSet) {
	f.model = modelFlag(fs, "--task sst2: the client tables of the served model (krelu sst2 export --client), or the whole HE-friendly transformer file, which also gives the plaintext reference (required)")
	fs.StringVar(&f.dev, "dev", "", "--task sst2: SST-2 dev TSV (default: shared sst2/dev.tsv)")
	fs.IntVar(&f.devLimit, "dev-limit", 0, "--task sst2: classify only the first N dev sentences, 0 (all) … 16777216")
	fs.IntVar(&f.devOffset, "dev-offset", 0, "--task sst2: skip the first N dev sentences, 0 … 16777216")
	fs.StringVar(&f.text, "text", "", "--task sst2: classify this one sentence instead of the dev set")
	fs.BoolVar(&f.truncate, "truncate", false, "--task sst2: keep the first tokens of a sentence longer than the encoder holds instead of failing")
}

// onlyWithSST2 rejects the sst2 flags with another task.
func (f *sst2ClientFlags) onlyWithSST2(fs *flag.FlagSet) error {
	for _, n := range []string{"model", "dev", "dev-limit", "dev-offset", "text", "truncate"} {
		if err := needs(fs, n, false, "--task sst2"); err != nil {
			return err
		}
	}
	return nil
}

type sst2ClientReport struct {
	Server       string    `json:"server"`
	Task         string    `json:"task"`
	Preset       string    `json:"preset"`
	LogN         int       `json:"log_n"`
	Layers       int       `json:"layers"`
	RotationKeys int       `json:"rotation_keys"`
	Sentences    int       `json:"sentences"`
	Text         string    `json:"text,omitempty"`
	Label        string    `json:"label,omitempty"`
	Logits       []float64 `json:"logits,omitempty"`
	PlainLogits  []float64 `json:"plaintext_logits,omitempty"`
	Accuracy     *float64  `json:"accuracy,omitempty"`
	// The plaintext reference needs the whole model: with client tables
	// only (Reference false) these are absent.
	Reference         bool     `json:"plaintext_reference"`
	PlaintextAccuracy *float64 `json:"plaintext_accuracy,omitempty"`
	Agreement         *float64 `json:"agreement_with_plaintext,omitempty"`
	MaxLogitError     *float64 `json:"max_abs_logit_error,omitempty"`
	Setup             float64  `json:"session_setup_seconds"` // keygen + key upload + server setup
	SecondsMedian     float64  `json:"seconds_per_sentence_median"`
	SecondsMin        float64  `json:"seconds_per_sentence_min"`
	SecondsMax        float64  `json:"seconds_per_sentence_max"`
	KeyBytes          int64    `json:"evaluation_key_bytes"`
	ServerBytes       int64    `json:"server_session_bytes"` // the session's keys, as the server counts them
	SentPerSentence   int64    `json:"ciphertext_bytes_sent_per_sentence"`
	RecvPerSentence   int64    `json:"ciphertext_bytes_received_per_sentence"`
}

var sst2Labels = []string{"negative", "positive"}

// sst2Client is krelu client --task sst2: the server's encoder, the
// client's embedding lookup, encrypted end to end.
func sst2Client(fs *flag.FlagSet, server string, f *sst2ClientFlags, asJSON bool, stdout, stderr io.Writer) error {
	if err := firstErr(required("model", *f.model, "MODEL (the client tables, krelu sst2 export --client, or the whole model)"),
		intRange("dev-limit", f.devLimit, 0, 1<<24), intRange("dev-offset", f.devOffset, 0, 1<<24)); err != nil {
		return err
	}
	if f.text != "" && (isSet(fs, "dev") || isSet(fs, "dev-limit") || isSet(fs, "dev-offset")) {
		return fmt.Errorf("%w: --text classifies one sentence; it cannot come with --dev, --dev-limit or --dev-offset", errUsage)
	}
	// The client tables (the vocabulary and the embedding lookup), and the
	// model when the file is the whole model.
	tab, s, err := transformer.LoadClientFile(*f.model)
	if err != nil {
		return err
	}
	if err := tab.CheckTask(transformer.TaskSST2); err != nil {
		return fmt.Errorf("%s: %w", *f.model, err)
	}
	ctx := context.Background()
	c := &serve.Client{BaseURL: server, HTTP: &http.Client{Timeout: 30 * time.Minute}}
	// The model description first: a wrong task or kind of model is an
	// error before any key is made.
	info, err := c.Info(ctx)
	if err != nil {
		return err
	}
	if info.Task != "" && info.Task != transformer.TaskSST2 {
		return fmt.Errorf("the server's model was trained for %s; --task sst2 would classify sentences with it (use --task %s, or serve an HE-friendly SST-2 transformer)", info.Task, info.Task)
	}
	ei := info.Encoder
	if ei == nil {
		return fmt.Errorf("the server serves a %s network, not a transformer encoder; start it with krelu serve --model HEFRIENDLY.gob", info.Layout.Mode)
	}
	if tab.Dim != ei.Dim || tab.Heads != ei.Heads || tab.MaxTokens != ei.MaxTokens || tab.Layers != ei.Layers || tab.Classes != ei.Classes {
		return fmt.Errorf("%s (width %d, %d heads, %d tokens, %d layers, %d classes) is not the server's model (width %d, %d heads, %d tokens, %d layers, %d classes)",
			*f.model, tab.Dim, tab.Heads, tab.MaxTokens, tab.Layers, tab.Classes, ei.Dim, ei.Heads, ei.MaxTokens, ei.Layers, ei.Classes)
	}
	if fp := hex.EncodeToString(tab.Encoder[:]); fp != ei.Weights {
		return fmt.Errorf("%s belongs to another model: its encoder weights have SHA-256 %s, the server's %s (export the client tables of the model the server serves)", *f.model, fp, ei.Weights)
	}
	var e *henn.Encoder
	if s != nil {
		if e, err = s.Model.Encoder(); err != nil {
			return fmt.Errorf("%s: %w", *f.model, err)
		}
	}
	var ex []transformer.Example
	if f.text != "" {
		ex = []transformer.Example{{Sentence: f.text, Label: -1}}
	} else if ex, _, err = readSST2(f.dev, "dev.tsv", f.devOffset, f.devLimit, "dev-offset"); err != nil {
		return err
	}
	d := sst2Data{maxLen: tab.MaxTokens, truncate: f.truncate}
	ds, err := d.encode(tab.Vocab, ex, "sentences", stderr)
	if err != nil {
		return err
	}
	// The client's share: the embedding lookup.
	rows := make([][][]float64, len(ds.IDs))
	for i, ids := range ds.IDs {
		if rows[i], err = tab.TokenRows(ids); err != nil {
			return fmt.Errorf("sentence %d: %w", i, err)
		}
	}
	t0 := time.Now()
	sess, err := c.NewEncoderSession(ctx)
	if err != nil {
		return err
	}
	rep := sst2ClientReport{Server: server, Task: transformer.TaskSST2, Preset: info.Preset, LogN: info.LogN, Layers: ei.Layers,
		RotationKeys: len(info.Rotations), Sentences: len(rows), Setup: time.Since(t0).Seconds(), KeyBytes: sess.KeyBytes, ServerBytes: sess.ServerBytes,
		Reference: e != nil}
	sent0, recv0 := sess.Sent, sess.Received
	var secs []float64
	var ok, okPlain, agree int
	var maxErr float64
	for i, x := range rows {
		t := time.Now()
		got, err := sess.Classify(ctx, [][][]float64{x})
		if err != nil {
			return fmt.Errorf("sentence %d: %w", i, err)
		}
		secs = append(secs, time.Since(t).Seconds())
		p := lg.Argmax(got[0])
		if p == ds.Labels[i] {
			ok++
		}
		var want []float64
		if e != nil {
			// The plaintext reference (the rest of MODEL's weights).
			if want, err = e.Forward(x); err != nil {
				return err
			}
			q := lg.Argmax(want)
			if p == q {
				agree++
			}
			if q == ds.Labels[i] {
				okPlain++
			}
			for k := range want {
				maxErr = math.Max(maxErr, math.Abs(got[0][k]-want[k]))
			}
		}
		if f.text != "" {
			rep.Text, rep.Logits, rep.PlainLogits = f.text, got[0], want
			if p < len(sst2Labels) {
				rep.Label = sst2Labels[p]
			}
		}
	}
	n := float64(len(rows))
	if e != nil {
		a := float64(agree) / n
		rep.Agreement, rep.MaxLogitError = &a, &maxErr
	}
	if f.text == "" {
		acc := float64(ok) / n
		rep.Accuracy = &acc
		if e != nil {
			accPlain := float64(okPlain) / n
			rep.PlaintextAccuracy = &accPlain
		}
	}
	sort.Float64s(secs)
	rep.SecondsMin, rep.SecondsMax = secs[0], secs[len(secs)-1]
	rep.SecondsMedian = secs[len(secs)/2]
	if len(secs)%2 == 0 {
		rep.SecondsMedian = (secs[len(secs)/2-1] + secs[len(secs)/2]) / 2
	}
	rep.SentPerSentence = (sess.Sent - sent0) / int64(len(rows))
	rep.RecvPerSentence = (sess.Received - recv0) / int64(len(rows))
	if asJSON {
		return writeJSON(stdout, rep)
	}
	switch {
	case f.text != "" && e != nil:
		fmt.Fprintf(stdout, "%s via %s (%s, LogN %d): %s (logits %.4g; plaintext %.4g)\n",
			rep.Task, server, rep.Preset, rep.LogN, rep.Label, rep.Logits, rep.PlainLogits)
	case f.text != "":
		fmt.Fprintf(stdout, "%s via %s (%s, LogN %d): %s (logits %.4g)\n", rep.Task, server, rep.Preset, rep.LogN, rep.Label, rep.Logits)
	case e != nil:
		fmt.Fprintf(stdout, "%s via %s (%s, LogN %d, %d layer(s)): encrypted accuracy %.4f (plaintext %.4f), agreement with plaintext %.4f over %d sentences\n",
			rep.Task, server, rep.Preset, rep.LogN, rep.Layers, *rep.Accuracy, *rep.PlaintextAccuracy, *rep.Agreement, rep.Sentences)
	default:
		fmt.Fprintf(stdout, "%s via %s (%s, LogN %d, %d layer(s)): encrypted accuracy %.4f over %d sentences\n",
			rep.Task, server, rep.Preset, rep.LogN, rep.Layers, *rep.Accuracy, rep.Sentences)
	}
	if e != nil {
		fmt.Fprintf(stdout, "  max |logit error| %.2e; seconds per sentence median %.2f (min %.2f, max %.2f)\n",
			*rep.MaxLogitError, rep.SecondsMedian, rep.SecondsMin, rep.SecondsMax)
	} else {
		fmt.Fprintf(stdout, "  no plaintext reference: %s holds the client tables only (pass the whole model file to compare with plaintext); seconds per sentence median %.2f (min %.2f, max %.2f)\n",
			*f.model, rep.SecondsMedian, rep.SecondsMin, rep.SecondsMax)
	}
	fmt.Fprintf(stdout, "  session setup %.1f s (keygen + %.0f MB of keys, %d rotation keys); the server holds %.0f MB for the session (its keys; the encoded weights are shared)\n",
		rep.Setup, float64(rep.KeyBytes)/1e6, rep.RotationKeys, float64(rep.ServerBytes)/1e6)
	fmt.Fprintf(stdout, "  per sentence %.1f KB up, %.1f KB down\n", float64(rep.SentPerSentence)/1e3, float64(rep.RecvPerSentence)/1e3)
	return nil
}
