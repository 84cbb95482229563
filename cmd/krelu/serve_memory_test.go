package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/serve"
	"github.com/krelu/krelu/transformer"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
)

// TestServeSST2Memory measures what `krelu serve` holds for a real
// HE-friendly SST-2 model with one and with two sessions that classify a
// sentence at the same time: the live heap after a full collection (the
// server's retained memory, independent of the collector's settings), the
// server's own accounting (Stats) and the process's peak resident set
// (VmHWM, which depends on GOGC/GOMEMLIMIT and includes the in-process
// client's key generation). It needs the model, so it runs only when
// KRELU_SST2_MODEL names one (docs/serve.md, "Memory per session"):
//
//	KRELU_SST2_MODEL=out/sst2he/he1_c5_1.gob GOMEMLIMIT=4GiB nice -n 10 go test -run TestServeSST2Memory -v ./cmd/krelu
//
// The limits are set explicitly (1 GiB upload, 4 GiB key memory) so that
// the same test runs on servers whose defaults differ (it was run on the
// commit before the encoded diagonals were shared, too).
func TestServeSST2Memory(t *testing.T) {
	path := os.Getenv("KRELU_SST2_MODEL")
	if path == "" {
		t.Skip("KRELU_SST2_MODEL is not set: no real model to measure")
	}
	const mb = 1e6
	live := func() float64 {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return float64(ms.HeapAlloc) / mb
	}
	base0 := live()
	// Long deadlines: on a shared machine an evaluation can take minutes.
	cfg := serve.Config{MaxKeyBytes: 1 << 30, MaxKeyMemory: 4 << 30, Timeout: time.Hour, ReadTimeout: 10 * time.Minute}
	h, desc, err := serveHandler(path, "packed", false, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	ts := httptest.NewServer(h)
	defer ts.Close()
	base := live()
	st := h.Stats()
	t.Logf("%s: %s", path, desc)
	t.Logf("model loaded: live heap +%.0f MB; encoded weights shared by all sessions %.0f MB", base-base0, float64(st.WeightsBytes)/mb)

	s, err := transformer.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := s.Vocab.EncodeAll([]transformer.Example{{Sentence: "a gorgeous , witty , seductive movie .", Label: 1}}, transformer.EncodeOptions{MaxLen: s.Model.Cfg.MaxLen})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := s.Model.TokenRows(ds.IDs[0])
	if err != nil {
		t.Fatal(err)
	}
	e, err := s.Model.Encoder()
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.Forward(rows)
	if err != nil {
		t.Fatal(err)
	}
	// One client key set, uploaded once per session from a file (the
	// server decodes each upload into its own copy, as for two clients),
	// so that the in-process client holds no key set while the server's
	// memory is measured.
	c := &serve.Client{BaseURL: ts.URL, HTTP: ts.Client()}
	ctx := context.Background()
	info, layout, err := c.EncoderModel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := henn.NewClient(layout.Params)
	if err != nil {
		t.Fatal(err)
	}
	evk, err := hc.EvaluationKeys(info.Rotations)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "keys.bin")
	kf, err := os.Create(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := evk.WriteTo(kf); err != nil {
		t.Fatal(err)
	}
	if err := kf.Close(); err != nil {
		t.Fatal(err)
	}
	evk = nil
	in, err := hc.EncryptEncoderInput(layout, rows)
	if err != nil {
		t.Fatal(err)
	}
	var batch bytes.Buffer
	if _, err := (&henn.Ciphertexts{Groups: [][]*rlwe.Ciphertext{{in.X, in.Mask}}, Counts: []int{1}}).WriteTo(&batch, layout.Params); err != nil {
		t.Fatal(err)
	}
	post := func(path string, body io.Reader, size int64) ([]byte, error) {
		req, err := http.NewRequest(http.MethodPost, ts.URL+path, body)
		if err != nil {
			return nil, err
		}
		req.ContentLength = size
		req.Header.Set("Content-Type", serve.ContentType)
		resp, err := ts.Client().Do(req)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode/100 != 2 {
			err = fmt.Errorf("%s: %s", resp.Status, b)
		}
		return b, err
	}
	var ids []string
	for n := 1; n <= 2; n++ {
		kf, err := os.Open(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := kf.Stat()
		if err != nil {
			t.Fatal(err)
		}
		b, err := post("/v1/session", kf, fi.Size())
		kf.Close()
		if err != nil {
			t.Fatal(err)
		}
		var sr struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &sr); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sr.ID)
		// Every session classifies the sentence, all at once.
		var wg sync.WaitGroup
		errs := make([]error, len(ids))
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b, err := post("/v1/session/"+id+"/infer", bytes.NewReader(batch.Bytes()), int64(batch.Len()))
				if err != nil {
					errs[i] = err
					return
				}
				out, err := henn.ReadCiphertexts(bytes.NewReader(b), layout.Params)
				if err != nil {
					errs[i] = err
					return
				}
				got, err := hc.DecryptEncoderLogits(layout, out.Groups[0][0])
				if err != nil {
					errs[i] = err
					return
				}
				for k := range want {
					if d := math.Abs(got[k] - want[k]); d > 1e-2 {
						t.Errorf("session %d logit %d: encrypted %g, plaintext %g", i, k, got[k], want[k])
					}
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		grown := live() - base
		st := h.Stats()
		t.Logf("%d session(s), each classified a sentence concurrently: live heap +%.0f MB over the loaded model (%.0f MB per session); the server counts %.0f MB of session memory (%.0f MB per session) and %.0f MB of shared encoded weights; process peak RSS %s",
			n, grown, grown/float64(n), float64(st.KeyBytes)/mb, float64(st.KeyBytes)/mb/float64(n), float64(st.WeightsBytes)/mb, vmHWM())
	}
	runtime.KeepAlive(hc)
}

// vmHWM is the process's peak resident set from /proc/self/status.
func vmHWM() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return strconv.FormatFloat(kb/1e6, 'f', 2, 64) + " GB"
		}
	}
	return "unknown"
}
