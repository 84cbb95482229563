package llama2c

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
)

// Write writes m in llama2.c's legacy (version 0) format, the format Read
// and llama2.c's run.c read: the header (vocab_size negative when the
// classifier is separate), then the float32 weights in file order.
func (m *Model) Write(w io.Writer) error {
	if err := m.Config.Validate(); err != nil {
		return err
	}
	if len(m.Layers) != m.NLayers {
		return fmt.Errorf("llama2c: model has %d layers, header says %d", len(m.Layers), m.NLayers)
	}
	bw := bufio.NewWriter(w)
	vocab := int32(m.VocabSize)
	if !m.SharedClassifier {
		vocab = -vocab
	}
	hdr := []int32{int32(m.Dim), int32(m.HiddenDim), int32(m.NLayers), int32(m.NHeads), int32(m.NKVHeads), vocab, int32(m.SeqLen)}
	if err := binary.Write(bw, binary.LittleEndian, hdr); err != nil {
		return fmt.Errorf("llama2c: writing header: %w", err)
	}
	d, h, kv, half := m.Dim, m.HiddenDim, m.KVDim(), m.HeadSize()/2
	var buf [4]byte
	put := func(name string, s []float32, n int) error {
		if len(s) != n {
			return fmt.Errorf("llama2c: %s has %d weights, want %d", name, len(s), n)
		}
		for _, v := range s {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return fmt.Errorf("llama2c: %s holds a non-finite weight %v", name, v)
			}
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			if _, err := bw.Write(buf[:]); err != nil {
				return fmt.Errorf("llama2c: writing %s: %w", name, err)
			}
		}
		return nil
	}
	if err := put("token_embedding", m.TokenEmbedding, m.VocabSize*d); err != nil {
		return err
	}
	per := []struct {
		name string
		n    int
		get  func(*Layer) []float32
	}{
		{"rms_att", d, func(L *Layer) []float32 { return L.RMSAtt }},
		{"wq", d * d, func(L *Layer) []float32 { return L.WQ }},
		{"wk", kv * d, func(L *Layer) []float32 { return L.WK }},
		{"wv", kv * d, func(L *Layer) []float32 { return L.WV }},
		{"wo", d * d, func(L *Layer) []float32 { return L.WO }},
		{"rms_ffn", d, func(L *Layer) []float32 { return L.RMSFFN }},
		{"w1", h * d, func(L *Layer) []float32 { return L.W1 }},
		{"w2", d * h, func(L *Layer) []float32 { return L.W2 }},
		{"w3", h * d, func(L *Layer) []float32 { return L.W3 }},
	}
	for _, p := range per {
		for l := range m.Layers {
			if err := put(fmt.Sprintf("layer %d %s", l, p.name), p.get(&m.Layers[l]), p.n); err != nil {
				return err
			}
		}
	}
	if err := put("rms_final", m.RMSFinal, d); err != nil {
		return err
	}
	if err := put("freq_cis_real", m.FreqCisReal, m.SeqLen*half); err != nil {
		return err
	}
	if err := put("freq_cis_imag", m.FreqCisImag, m.SeqLen*half); err != nil {
		return err
	}
	if !m.SharedClassifier {
		if err := put("wcls", m.Classifier, m.VocabSize*d); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteFile writes m to path (see Write).
func (m *Model) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("llama2c: %w", err)
	}
	err = m.Write(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
