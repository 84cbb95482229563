package he

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/tuneinsight/lattigo/v6/circuits/ckks/bootstrapping"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// KindBootstrapKeys is the serialized kind of [BootstrapKeys]. Its payload
// is Lattigo's binary form of the bootstrapping evaluation keys; the
// header's fingerprint is that of the circuit parameters, which contain
// the residual chain.
const KindBootstrapKeys Kind = 5

// WriteTo writes the bootstrapping keys with the versioned header of
// [WriteParameters]. The keys are streamed twice (once for the checksum,
// once to w) rather than buffered: they take gigabytes.
func (bk *BootstrapKeys) WriteTo(w io.Writer) (int64, error) {
	crc := crc32.New(crcTable)
	if _, err := bk.keys.WriteTo(crc); err != nil {
		return 0, fmt.Errorf("he: bootstrapping keys: %w", err)
	}
	var h [headerSize]byte
	copy(h[:6], magic)
	binary.LittleEndian.PutUint16(h[6:8], FormatVersion)
	h[8] = byte(KindBootstrapKeys)
	fp := Fingerprint(bk.params.Circuit())
	copy(h[12:20], fp[:])
	binary.LittleEndian.PutUint64(h[20:28], uint64(bk.keys.BinarySize()))
	binary.LittleEndian.PutUint32(h[28:32], crc.Sum32())
	n, err := w.Write(h[:])
	if err != nil {
		return int64(n), err
	}
	m, err := bk.keys.WriteTo(w)
	return int64(n) + m, err
}

// maxBootstrapKeys bounds a bootstrapping key payload. It is computed from
// the parameters: every key is a gadget ciphertext of at most
// 2·dnum·(#Q+#P)·N words, and the circuit needs #Galois + 3 of them
// (relinearization and the two encapsulation keys).
func (bp *BootstrapParams) maxBootstrapKeys() uint64 {
	p := bp.Circuit()
	dnum := uint64((p.QCount() + p.PCount() - 1) / p.PCount())
	perKey := 2 * dnum * uint64(p.QCount()+p.PCount()) * uint64(p.N()) * 8
	nKeys := uint64(len(bp.btp.GaloisElements(p)) + 4)
	return nKeys*perKey + perKey/8 + 1<<20
}

// ReadBootstrapKeys reads keys written by [BootstrapKeys.WriteTo] and
// checks that they belong to bp: other parameters give
// [ErrOtherParameters], corrupt data [ErrCorrupt]. The payload is read one
// key at a time (at most one key's bytes are buffered), its framing and
// layout are checked before anything is allocated from it, and its length
// and checksum are verified before the keys are returned.
func ReadBootstrapKeys(r io.Reader, bp *BootstrapParams) (bk *BootstrapKeys, err error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, corrupt("reading %s header: %v", KindBootstrapKeys, err)
	}
	if string(h[:6]) != magic {
		return nil, corrupt("not a krelu HE object (bad magic %q)", h[:6])
	}
	if v := binary.LittleEndian.Uint16(h[6:8]); v != FormatVersion {
		return nil, fmt.Errorf("he: unsupported format version %d (this build reads %d)", v, FormatVersion)
	}
	if got := Kind(h[8]); got != KindBootstrapKeys {
		return nil, fmt.Errorf("he: object is %s, want %s", got, KindBootstrapKeys)
	}
	if h[9]|h[10]|h[11] != 0 {
		return nil, corrupt("reserved header bytes are not zero")
	}
	if fp := Fingerprint(bp.Circuit()); string(h[12:20]) != string(fp[:]) {
		return nil, fmt.Errorf("%w: bootstrapping keys were made for other parameters than preset %s", ErrOtherParameters, bp.Preset)
	}
	n := binary.LittleEndian.Uint64(h[20:28])
	if max := bp.maxBootstrapKeys(); n > max {
		return nil, corrupt("bootstrapping keys: payload of %d bytes exceeds the %d possible", n, max)
	}
	crc := crc32.New(crcTable)
	lr := &io.LimitedReader{R: r, N: int64(n)}
	defer func() {
		if rec := recover(); rec != nil {
			bk, err = nil, corrupt("bootstrapping keys: %v", rec)
		}
	}()
	keys, err := readBootstrapPayload(io.TeeReader(lr, crc), bp, lr)
	if err != nil {
		return nil, err
	}
	if lr.N != 0 {
		return nil, corrupt("bootstrapping keys: %d trailing bytes", lr.N)
	}
	if crc.Sum32() != binary.LittleEndian.Uint32(h[28:32]) {
		return nil, corrupt("bootstrapping keys: checksum mismatch")
	}
	if err := checkBootstrapKeys(bp, keys); err != nil {
		return nil, err
	}
	return &BootstrapKeys{params: bp, keys: keys}, nil
}

// readBootstrapPayload decodes the payload [bootstrapping.EvaluationKeys]
// writes, one key at a time. Lattigo's own ReadFrom allocates whatever
// lengths the stream names (a 200 KB input asked it for 140 TB, found by
// FuzzReadBootstrapKeys), so the framing — presence flags, the Galois key
// count and elements — is read here and checked against the parameters,
// and each key is read as a blob of exactly its parameters' size, checked
// against the layout template of its shape (see [template]), and only
// then unmarshaled. left is the payload still unread, so that no blob
// larger than the payload is allocated.
func readBootstrapPayload(r io.Reader, bp *BootstrapParams, left *io.LimitedReader) (*bootstrapping.EvaluationKeys, error) {
	p := bp.Circuit()
	tpl := templatesFor(p)
	sparse := sparseTemplateFor(p)
	flag := func(want byte, what string) error {
		var b [1]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return corrupt("bootstrapping keys: %s: %v", what, err)
		}
		if b[0] != want {
			return corrupt("bootstrapping keys: %s flag %d, want %d for preset %s", what, b[0], want, bp.Preset)
		}
		return nil
	}
	blob := func(t template, what string) ([]byte, error) {
		if int64(t.size) > left.N {
			return nil, corrupt("bootstrapping keys: %s needs %d bytes, %d left", what, t.size, left.N)
		}
		b := make([]byte, t.size)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, corrupt("bootstrapping keys: %s: %v", what, err)
		}
		if err := t.check(b, "bootstrapping "+what); err != nil {
			return nil, err
		}
		return b, nil
	}
	// The ring-switching keys exist only when the residual ring differs
	// from the circuit's, which NewBootstrapParams refuses.
	for _, what := range []string{"N1→N2 key", "N2→N1 key", "real→complex key", "complex→real key"} {
		if err := flag(0, what); err != nil {
			return nil, err
		}
	}
	keys := new(bootstrapping.EvaluationKeys)
	for _, k := range []struct {
		what string
		t    template
		dst  **rlwe.EvaluationKey
	}{{"dense→sparse key", sparse, &keys.EvkDenseToSparse}, {"sparse→dense key", tpl.rlk, &keys.EvkSparseToDense}} {
		if err := flag(1, k.what); err != nil {
			return nil, err
		}
		b, err := blob(k.t, k.what)
		if err != nil {
			return nil, err
		}
		evk := new(rlwe.EvaluationKey)
		if err := evk.UnmarshalBinary(b); err != nil {
			return nil, corrupt("bootstrapping %s: %v", k.what, err)
		}
		if err := checkGadget(p, evk.GadgetCiphertext); err != nil {
			return nil, fmt.Errorf("bootstrapping %s: %w", k.what, err)
		}
		*k.dst = evk
	}
	if err := flag(1, "key set"); err != nil {
		return nil, err
	}
	if err := flag(1, "relinearization key"); err != nil {
		return nil, err
	}
	b, err := blob(tpl.rlk, "relinearization key")
	if err != nil {
		return nil, err
	}
	rlk := new(rlwe.RelinearizationKey)
	if err := rlk.UnmarshalBinary(b); err != nil {
		return nil, corrupt("bootstrapping relinearization key: %v", err)
	}
	if err := flag(1, "Galois keys"); err != nil {
		return nil, err
	}
	want := map[uint64]bool{p.GaloisElementForComplexConjugation(): true}
	for _, g := range bp.btp.GaloisElements(p) {
		want[g] = true
	}
	var cnt uint32
	if err := binary.Read(r, binary.LittleEndian, &cnt); err != nil {
		return nil, corrupt("bootstrapping keys: Galois key count: %v", err)
	}
	if int(cnt) > len(want) {
		return nil, corrupt("bootstrapping keys: %d Galois keys, preset %s has %d", cnt, bp.Preset, len(want))
	}
	gks := make([]*rlwe.GaloisKey, 0, cnt)
	seen := map[uint64]bool{}
	for i := uint32(0); i < cnt; i++ {
		var g uint64
		if err := binary.Read(r, binary.LittleEndian, &g); err != nil {
			return nil, corrupt("bootstrapping keys: Galois element: %v", err)
		}
		if !want[g] || seen[g] {
			return nil, corrupt("bootstrapping keys: unexpected or repeated Galois element %d", g)
		}
		seen[g] = true
		b, err := blob(tpl.gal, "Galois key")
		if err != nil {
			return nil, err
		}
		gk := new(rlwe.GaloisKey)
		if err := gk.UnmarshalBinary(b); err != nil {
			return nil, corrupt("bootstrapping Galois key: %v", err)
		}
		if gk.GaloisElement != g {
			return nil, corrupt("bootstrapping keys: Galois key for element %d filed under %d", gk.GaloisElement, g)
		}
		gks = append(gks, gk)
	}
	keys.MemEvaluationKeySet = rlwe.NewMemEvaluationKeySet(rlk, gks...)
	return keys, nil
}

var (
	sparseTplMu    sync.Mutex
	sparseTplCache = map[[8]byte]template{}
)

// sparseTemplateFor is the layout of the dense→sparse encapsulation key
// of circuit parameters p: an evaluation key under p's first Q and P
// primes only (see Lattigo's bootstrapping key generation).
func sparseTemplateFor(p ckks.Parameters) template {
	fp := Fingerprint(p)
	sparseTplMu.Lock()
	defer sparseTplMu.Unlock()
	if t, ok := sparseTplCache[fp]; ok {
		return t
	}
	ps, err := rlwe.NewParametersFromLiteral(rlwe.ParametersLiteral{LogN: p.LogN(), Q: p.Q()[:1], P: p.P()[:1]})
	if err != nil {
		// p's own first primes form valid parameters.
		panic(fmt.Sprintf("he: encapsulation key parameters: %v", err))
	}
	k0, k1 := rlwe.NewEvaluationKey(ps), rlwe.NewEvaluationKey(ps)
	fillGadget(k1.GadgetCiphertext)
	t := newTemplate(mustMarshal(k0), mustMarshal(k1))
	if len(sparseTplCache) >= maxTemplateSets {
		clear(sparseTplCache)
	}
	sparseTplCache[fp] = t
	return t
}

// checkBootstrapKeys checks the shape and coefficient ranges of every key
// against the circuit parameters, so a well-checksummed but foreign key
// set fails here rather than inside the evaluator.
func checkBootstrapKeys(bp *BootstrapParams, keys *bootstrapping.EvaluationKeys) error {
	p := bp.Circuit()
	if keys.MemEvaluationKeySet == nil || keys.RelinearizationKey == nil {
		return corrupt("bootstrapping keys: no relinearization key")
	}
	if keys.EvkDenseToSparse == nil || keys.EvkSparseToDense == nil {
		return corrupt("bootstrapping keys: encapsulation keys missing")
	}
	check := func(what string, n int, g func() error) error {
		if n != p.N() {
			return fmt.Errorf("%w: bootstrapping %s has ring degree %d, preset %s has %d", ErrOtherParameters, what, n, bp.Preset, p.N())
		}
		return g()
	}
	rlk := keys.RelinearizationKey.GadgetCiphertext
	if err := check("relinearization key", rlk.Value[0][0][0].Q.N(), func() error { return checkGadget(p, rlk) }); err != nil {
		return err
	}
	for _, gal := range bp.btp.GaloisElements(p) {
		gk, err := keys.GetGaloisKey(gal)
		if err != nil {
			return corrupt("bootstrapping keys: Galois key %d missing", gal)
		}
		g := gk.GadgetCiphertext
		if err := check("Galois key", g.Value[0][0][0].Q.N(), func() error { return checkGadget(p, g) }); err != nil {
			return err
		}
	}
	return nil
}
