package he

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/tuneinsight/lattigo/v6/circuits/ckks/bootstrapping"
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
// [ErrOtherParameters], corrupt data [ErrCorrupt]. The payload is streamed
// into the keys (no second copy in memory) and its length and checksum are
// verified before the keys are returned.
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
	keys := new(bootstrapping.EvaluationKeys)
	got, err := keys.ReadFrom(io.TeeReader(lr, crc))
	if err != nil {
		return nil, corrupt("bootstrapping keys: %v", err)
	}
	if uint64(got) != n || lr.N != 0 {
		return nil, corrupt("bootstrapping keys: read %d of %d bytes", got, n)
	}
	if crc.Sum32() != binary.LittleEndian.Uint32(h[28:32]) {
		return nil, corrupt("bootstrapping keys: checksum mismatch")
	}
	if err := checkBootstrapKeys(bp, keys); err != nil {
		return nil, err
	}
	return &BootstrapKeys{params: bp, keys: keys}, nil
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
