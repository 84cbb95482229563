package he

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/big"
	"sync"

	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/ring"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// Serialized objects start with a 32-byte header:
//
//	0..5   magic "KRELHE"
//	6..7   format version, little endian (FormatVersion)
//	8      kind (KindParameters, …)
//	9..11  zero
//	12..19 parameter fingerprint (first 8 bytes of SHA-256 of the
//	       parameters' JSON; zero for KindParameters)
//	20..27 payload length, little endian
//	28..31 CRC-32C of the payload
//
// The payload of every kind has a shape fixed by the parameters, and the
// readers check it before Lattigo allocates anything, so corrupt or hostile
// input yields an error, never a panic or a huge allocation. Secret keys
// have no kind: they cannot be written.
const (
	magic         = "KRELHE"
	headerSize    = 32
	FormatVersion = 1
)

// Kind identifies what a serialized object holds.
type Kind uint8

// The serializable kinds.
const (
	KindParameters     Kind = 1
	KindPublicKey      Kind = 2
	KindEvaluationKeys Kind = 3
	KindCiphertext     Kind = 4
)

// String names the kind as error messages print it.
func (k Kind) String() string {
	switch k {
	case KindParameters:
		return "parameters"
	case KindPublicKey:
		return "public key"
	case KindEvaluationKeys:
		return "evaluation keys"
	case KindCiphertext:
		return "ciphertext"
	case KindBootstrapKeys:
		return "bootstrapping keys"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

// ErrCorrupt wraps every decoding failure caused by the data itself.
var ErrCorrupt = errors.New("he: corrupt data")

// ErrOtherParameters is returned when an object was made under other
// parameters than the reader's.
var ErrOtherParameters = errors.New("he: object belongs to other parameters")

func corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Fingerprint identifies a parameter set: the first 8 bytes of the
// SHA-256 of its JSON form.
func Fingerprint(params ckks.Parameters) [8]byte {
	b, err := params.MarshalJSON()
	if err != nil {
		// MarshalJSON of a valid literal cannot fail; keep the zero
		// fingerprint, which no reader accepts for keyed kinds.
		return [8]byte{}
	}
	s := sha256.Sum256(b)
	var f [8]byte
	copy(f[:], s[:8])
	return f
}

func writeFrame(w io.Writer, kind Kind, fp [8]byte, payload []byte) (int64, error) {
	var h [headerSize]byte
	copy(h[:6], magic)
	binary.LittleEndian.PutUint16(h[6:8], FormatVersion)
	h[8] = byte(kind)
	copy(h[12:20], fp[:])
	binary.LittleEndian.PutUint64(h[20:28], uint64(len(payload)))
	binary.LittleEndian.PutUint32(h[28:32], crc32.Checksum(payload, crcTable))
	n, err := w.Write(h[:])
	if err != nil {
		return int64(n), err
	}
	m, err := w.Write(payload)
	return int64(n + m), err
}

// readFrame reads one object of the given kind whose payload is at most
// maxLen bytes. The payload is read incrementally, so a lying length
// cannot force a large allocation.
func readFrame(r io.Reader, kind Kind, maxLen uint64) (fp [8]byte, payload []byte, err error) {
	fp, n, sum, err := readHeader(r, kind, maxLen)
	if err != nil {
		return fp, nil, err
	}
	payload, err = readPayload(r, kind, n, sum)
	return fp, payload, err
}

// readHeader reads and checks a frame header and returns the fingerprint,
// payload length and checksum it announces.
func readHeader(r io.Reader, kind Kind, maxLen uint64) (fp [8]byte, n uint64, sum uint32, err error) {
	var h [headerSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return fp, 0, 0, corrupt("reading %s header: %v", kind, err)
	}
	if string(h[:6]) != magic {
		return fp, 0, 0, corrupt("not a krelu HE object (bad magic %q)", h[:6])
	}
	if v := binary.LittleEndian.Uint16(h[6:8]); v != FormatVersion {
		return fp, 0, 0, fmt.Errorf("he: unsupported format version %d (this build reads %d)", v, FormatVersion)
	}
	if got := Kind(h[8]); got != kind {
		return fp, 0, 0, fmt.Errorf("he: object is a %s, want a %s", got, kind)
	}
	if h[9]|h[10]|h[11] != 0 {
		return fp, 0, 0, corrupt("reserved header bytes are not zero")
	}
	copy(fp[:], h[12:20])
	n = binary.LittleEndian.Uint64(h[20:28])
	if n > maxLen {
		return fp, 0, 0, corrupt("%s payload of %d bytes exceeds the %d possible", kind, n, maxLen)
	}
	return fp, n, binary.LittleEndian.Uint32(h[28:32]), nil
}

// readPayload reads n bytes and checks their checksum. The buffer grows
// with the bytes actually received (by append's factor, not bytes.Buffer's
// doubling: a 69 MB key set used to peak at a 128 MB buffer).
func readPayload(r io.Reader, kind Kind, n uint64, sum uint32) ([]byte, error) {
	payload := make([]byte, 0, min(n, 1<<20))
	for uint64(len(payload)) < n {
		if len(payload) == cap(payload) {
			payload = append(payload, 0)[:len(payload)]
		}
		k := min(uint64(cap(payload)-len(payload)), n-uint64(len(payload)))
		m, err := io.ReadFull(r, payload[len(payload):len(payload)+int(k)])
		payload = payload[:len(payload)+m]
		if err != nil {
			return nil, corrupt("%s truncated: %d of %d bytes", kind, len(payload), n)
		}
	}
	if crc32.Checksum(payload, crcTable) != sum {
		return nil, corrupt("%s checksum mismatch", kind)
	}
	return payload, nil
}

// WriteParameters writes params with a versioned header.
func WriteParameters(w io.Writer, params ckks.Parameters) (int64, error) {
	b, err := params.MarshalJSON()
	if err != nil {
		return 0, fmt.Errorf("he: %w", err)
	}
	return writeFrame(w, KindParameters, [8]byte{}, b)
}

const maxParamsJSON = 1 << 16

// ReadParameters reads parameters written by WriteParameters and rejects
// insecure ones.
func ReadParameters(r io.Reader) (ckks.Parameters, error) {
	_, b, err := readFrame(r, KindParameters, maxParamsJSON)
	if err != nil {
		return ckks.Parameters{}, err
	}
	return decodeParameters(b)
}

// decodeParameters validates the literal before Lattigo sees it: Lattigo
// would otherwise generate primes or allocate rings for any LogN.
func decodeParameters(b []byte) (p ckks.Parameters, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = ckks.Parameters{}, corrupt("parameters: %v", r)
		}
	}()
	var lit ckks.ParametersLiteral
	if err := json.Unmarshal(b, &lit); err != nil {
		return ckks.Parameters{}, corrupt("parameters: %v", err)
	}
	bound, ok := MaxLogQP(lit.LogN)
	if !ok {
		return ckks.Parameters{}, fmt.Errorf("he: parameters: LogN %d outside the security standard's table (10…16)", lit.LogN)
	}
	if len(lit.LogQ) != 0 || len(lit.LogP) != 0 {
		return ckks.Parameters{}, corrupt("parameters: serialized parameters must list the moduli explicitly")
	}
	if len(lit.Q) < 1 || len(lit.Q) > 64 || len(lit.P) < 1 || len(lit.P) > 16 {
		return ckks.Parameters{}, corrupt("parameters: %d Q and %d P moduli", len(lit.Q), len(lit.P))
	}
	if lit.RingType != ring.Standard && lit.RingType != ring.ConjugateInvariant {
		return ckks.Parameters{}, corrupt("parameters: ring type %v", lit.RingType)
	}
	// The conjugate-invariant ring (henn's N real slots) works modulo a
	// 4N-th root of unity, the standard ring modulo a 2N-th.
	wantRoot := lit.LogN + 1
	if lit.RingType == ring.ConjugateInvariant {
		wantRoot = lit.LogN + 2
	}
	if lit.LogNthRoot != 0 && lit.LogNthRoot != wantRoot {
		return ckks.Parameters{}, corrupt("parameters: LogNthRoot %d (want %d for this ring)", lit.LogNthRoot, wantRoot)
	}
	if lit.LogDefaultScale < 1 || lit.LogDefaultScale > 120 {
		return ckks.Parameters{}, corrupt("parameters: LogDefaultScale %d", lit.LogDefaultScale)
	}
	var logQP float64
	for _, q := range append(append([]uint64(nil), lit.Q...), lit.P...) {
		if q < 3 || q > 1<<61 {
			return ckks.Parameters{}, corrupt("parameters: modulus %d out of range", q)
		}
		logQP += math.Log2(float64(q))
	}
	if logQP > bound+1 {
		return ckks.Parameters{}, fmt.Errorf("he: parameters: log2(QP) = %.1f exceeds the 128-bit bound %.0f for LogN %d", logQP, bound, lit.LogN)
	}
	return NewParameters(lit)
}

// WritePublicKey writes pk, made under params, with a versioned header.
func WritePublicKey(w io.Writer, params ckks.Parameters, pk *rlwe.PublicKey) (int64, error) {
	b, err := pk.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("he: %w", err)
	}
	return writeFrame(w, KindPublicKey, Fingerprint(params), b)
}

// ReadPublicKey reads a public key made under params.
func ReadPublicKey(r io.Reader, params ckks.Parameters) (*rlwe.PublicKey, error) {
	tpl := templatesFor(params)
	fp, b, err := readFrame(r, KindPublicKey, uint64(tpl.pk.size))
	if err != nil {
		return nil, err
	}
	if fp != Fingerprint(params) {
		return nil, fmt.Errorf("%w: public key", ErrOtherParameters)
	}
	return decodePublicKey(params, b)
}

func decodePublicKey(params ckks.Parameters, b []byte) (pk *rlwe.PublicKey, err error) {
	tpl := templatesFor(params)
	if err := tpl.pk.check(b, "public key"); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			pk, err = nil, corrupt("public key: %v", r)
		}
	}()
	pk = rlwe.NewPublicKey(params)
	if err := pk.UnmarshalBinary(b); err != nil {
		return nil, corrupt("public key: %v", err)
	}
	if err := checkVectorQP(params, pk.Value); err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return pk, nil
}

// WriteTo writes the evaluation keys (parameters included) with a
// versioned header.
func (ek *EvaluationKeys) WriteTo(w io.Writer) (int64, error) {
	var buf bytes.Buffer
	pb, err := ek.Params.MarshalJSON()
	if err != nil {
		return 0, fmt.Errorf("he: %w", err)
	}
	putBlob(&buf, pb)
	kb, err := ek.Public.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("he: %w", err)
	}
	putBlob(&buf, kb)
	rb, err := ek.Relin.MarshalBinary()
	if err != nil {
		return 0, fmt.Errorf("he: %w", err)
	}
	putBlob(&buf, rb)
	gals := ek.GaloisElements()
	_ = binary.Write(&buf, binary.LittleEndian, uint32(len(gals)))
	for _, g := range gals {
		gb, err := ek.galois[g].MarshalBinary()
		if err != nil {
			return 0, fmt.Errorf("he: %w", err)
		}
		_ = binary.Write(&buf, binary.LittleEndian, g)
		putBlob(&buf, gb)
	}
	return writeFrame(w, KindEvaluationKeys, Fingerprint(ek.Params), buf.Bytes())
}

// maxEvalKeys bounds a serialized key set (1 GiB): enough for dozens of
// rotation keys at LogN 16.
const maxEvalKeys = 1 << 30

// ReadEvaluationKeys reads evaluation keys written by
// EvaluationKeys.WriteTo; the parameters travel with them and are checked
// for security.
func ReadEvaluationKeys(r io.Reader) (*EvaluationKeys, error) {
	fp, b, err := readFrame(r, KindEvaluationKeys, maxEvalKeys)
	if err != nil {
		return nil, err
	}
	return decodeEvaluationKeys(fp, b)
}

// ReadEvaluationKeysFor reads evaluation keys that must be for params. A
// key set for other parameters is rejected from its header, before its
// payload is read or any parameter-sized structure is allocated: a server
// should use this, not ReadEvaluationKeys, on keys uploaded by clients.
func ReadEvaluationKeysFor(r io.Reader, params ckks.Parameters) (*EvaluationKeys, error) {
	want := Fingerprint(params)
	fp, n, sum, err := readHeader(r, KindEvaluationKeys, maxEvalKeys)
	if err != nil {
		return nil, err
	}
	if fp != want {
		return nil, fmt.Errorf("%w: evaluation keys are for parameters %x, want %x", ErrOtherParameters, fp, want)
	}
	b, err := readPayload(r, KindEvaluationKeys, n, sum)
	if err != nil {
		return nil, err
	}
	ek, err := decodeEvaluationKeys(fp, b)
	if err != nil {
		return nil, err
	}
	if !ek.Params.Equal(&params) {
		return nil, fmt.Errorf("%w: evaluation keys", ErrOtherParameters)
	}
	return ek, nil
}

// minKeyBytes is a lower bound on the serialized public and
// relinearization keys of params, computed without allocating them:
// decodeEvaluationKeys checks it before building parameter-sized templates,
// so a few bytes naming LogN 16 parameters cannot make it allocate
// gigabytes.
func minKeyBytes(params ckks.Parameters) uint64 {
	n := uint64(params.N())
	limbs := uint64(params.QCount() + params.PCount())
	dnum := uint64(params.BaseRNSDecompositionVectorSize(params.MaxLevelQ(), params.MaxLevelP()))
	return 8 * n * limbs * 2 * (1 + dnum)
}

func decodeEvaluationKeys(fp [8]byte, b []byte) (ek *EvaluationKeys, err error) {
	rd := bytes.NewReader(b)
	pb, err := getBlob(rd, maxParamsJSON, "parameters")
	if err != nil {
		return nil, err
	}
	params, err := decodeParameters(pb)
	if err != nil {
		return nil, err
	}
	if Fingerprint(params) != fp {
		return nil, corrupt("evaluation keys: header fingerprint does not match the embedded parameters")
	}
	if need := minKeyBytes(params); uint64(rd.Len()) < need {
		return nil, corrupt("evaluation keys: %d bytes cannot hold the keys of these parameters (at least %d)", rd.Len(), need)
	}
	tpl := templatesFor(params)
	kb, err := getBlob(rd, tpl.pk.size, "public key")
	if err != nil {
		return nil, err
	}
	pk, err := decodePublicKey(params, kb)
	if err != nil {
		return nil, err
	}
	rb, err := getBlob(rd, tpl.rlk.size, "relinearization key")
	if err != nil {
		return nil, err
	}
	if err := tpl.rlk.check(rb, "relinearization key"); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			ek, err = nil, corrupt("evaluation keys: %v", r)
		}
	}()
	rlk := rlwe.NewRelinearizationKey(params)
	if err := rlk.UnmarshalBinary(rb); err != nil {
		return nil, corrupt("relinearization key: %v", err)
	}
	if err := checkGadget(params, rlk.GadgetCiphertext); err != nil {
		return nil, fmt.Errorf("relinearization key: %w", err)
	}
	var n uint32
	if err := binary.Read(rd, binary.LittleEndian, &n); err != nil {
		return nil, corrupt("evaluation keys: Galois key count: %v", err)
	}
	if uint64(n)*uint64(tpl.rlk.size) > uint64(rd.Len()) {
		return nil, corrupt("evaluation keys: %d Galois keys cannot fit in %d bytes", n, rd.Len())
	}
	ek = &EvaluationKeys{Params: params, Public: pk, Relin: rlk, galois: map[uint64]*rlwe.GaloisKey{}}
	for i := uint32(0); i < n; i++ {
		var g uint64
		if err := binary.Read(rd, binary.LittleEndian, &g); err != nil {
			return nil, corrupt("evaluation keys: Galois element: %v", err)
		}
		if g&1 == 0 || g >= uint64(1)<<params.LogNthRoot() { // 2N, or 4N on the conjugate-invariant ring
			return nil, corrupt("evaluation keys: invalid Galois element %d", g)
		}
		if _, dup := ek.galois[g]; dup {
			return nil, corrupt("evaluation keys: Galois element %d twice", g)
		}
		gb, err := getBlob(rd, tpl.rlk.size+64, "Galois key")
		if err != nil {
			return nil, err
		}
		if err := tpl.gal.check(gb, "Galois key"); err != nil {
			return nil, err
		}
		gk := rlwe.NewGaloisKey(params)
		if err := gk.UnmarshalBinary(gb); err != nil {
			return nil, corrupt("Galois key: %v", err)
		}
		if gk.GaloisElement != g {
			return nil, corrupt("Galois key for element %d filed under %d", gk.GaloisElement, g)
		}
		if err := checkGadget(params, gk.GadgetCiphertext); err != nil {
			return nil, fmt.Errorf("Galois key: %w", err)
		}
		ek.galois[g] = gk
	}
	if rd.Len() != 0 {
		return nil, corrupt("evaluation keys: %d trailing bytes", rd.Len())
	}
	return ek, nil
}

func putBlob(buf *bytes.Buffer, b []byte) {
	_ = binary.Write(buf, binary.LittleEndian, uint64(len(b)))
	buf.Write(b)
}

func getBlob(rd *bytes.Reader, max int, what string) ([]byte, error) {
	var n uint64
	if err := binary.Read(rd, binary.LittleEndian, &n); err != nil {
		return nil, corrupt("%s length: %v", what, err)
	}
	if n > uint64(max) || n > uint64(rd.Len()) {
		return nil, corrupt("%s length %d (at most %d, %d bytes left)", what, n, max, rd.Len())
	}
	b := make([]byte, n)
	_, _ = io.ReadFull(rd, b)
	return b, nil
}

// WriteCiphertext writes ct, made under params, with a versioned header.
// The payload is: level (1 byte), log2 slots (1), flags (1: bit 0 NTT,
// bit 1 Montgomery), scale length (2) and the scale as text (big.Float 'p'
// format), then
// the 2·(level+1)·N coefficients as little-endian uint64.
func WriteCiphertext(w io.Writer, params ckks.Parameters, ct *rlwe.Ciphertext) (int64, error) {
	if err := CheckCiphertext(params, ct); err != nil {
		return 0, err
	}
	// The scale is written exactly, as a hexadecimal mantissa and binary
	// exponent ("0x.8p+41"), which parses back into a well-formed value
	// whatever the bytes (big.Float's gob form does not: a corrupt
	// mantissa makes Float64 panic).
	sb := []byte(ct.Scale.Value.Text('p', 0))
	if len(sb) > maxScaleBytes {
		return 0, fmt.Errorf("he: scale %v too long to serialize", &ct.Scale.Value)
	}
	if ct.Scale.Mod != nil {
		return 0, fmt.Errorf("he: ciphertext has a modular scale (not CKKS)")
	}
	level := ct.Level()
	b := make([]byte, 0, 5+len(sb)+2*(level+1)*params.N()*8)
	var flags byte
	if ct.IsNTT {
		flags |= 1
	}
	if ct.IsMontgomery {
		flags |= 2
	}
	b = append(b, byte(level), byte(ct.LogDimensions.Cols), flags)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(sb)))
	b = append(b, sb...)
	for _, p := range ct.Value {
		for _, row := range p.Coeffs[:level+1] {
			for _, c := range row {
				b = binary.LittleEndian.AppendUint64(b, c)
			}
		}
	}
	return writeFrame(w, KindCiphertext, Fingerprint(params), b)
}

const maxScaleBytes = 96

// ReadCiphertext reads a ciphertext written by WriteCiphertext and checks
// it belongs to params.
func ReadCiphertext(r io.Reader, params ckks.Parameters) (*rlwe.Ciphertext, error) {
	maxLen := uint64(5 + maxScaleBytes + 2*(params.MaxLevel()+1)*params.N()*8)
	fp, b, err := readFrame(r, KindCiphertext, maxLen)
	if err != nil {
		return nil, err
	}
	if fp != Fingerprint(params) {
		return nil, fmt.Errorf("%w: ciphertext", ErrOtherParameters)
	}
	return decodeCiphertext(params, b)
}

func decodeCiphertext(params ckks.Parameters, b []byte) (*rlwe.Ciphertext, error) {
	if len(b) < 5 {
		return nil, corrupt("ciphertext: %d bytes", len(b))
	}
	level, logSlots, flags := int(b[0]), int(b[1]), b[2]
	if level > params.MaxLevel() {
		return nil, fmt.Errorf("%w: ciphertext level %d above the parameters' maximum %d", ErrOtherParameters, level, params.MaxLevel())
	}
	if logSlots > params.LogMaxSlots() {
		return nil, corrupt("ciphertext: 2^%d slots, parameters hold 2^%d", logSlots, params.LogMaxSlots())
	}
	if flags&^3 != 0 {
		return nil, corrupt("ciphertext: unknown flags %#x", flags)
	}
	sl := int(binary.LittleEndian.Uint16(b[3:5]))
	if sl > maxScaleBytes || 5+sl > len(b) {
		return nil, corrupt("ciphertext: scale of %d bytes", sl)
	}
	sv, _, err := big.ParseFloat(string(b[5:5+sl]), 0, 128, big.ToNearestEven)
	if err != nil {
		return nil, corrupt("ciphertext: scale: %v", err)
	}
	if sv.IsInf() || sv.Sign() <= 0 {
		return nil, corrupt("ciphertext: scale %v", sv)
	}
	if f, _ := sv.Float64(); f < 1 || math.IsInf(f, 0) {
		return nil, corrupt("ciphertext: scale %v out of range", f)
	}
	coeffs := b[5+sl:]
	n := params.N()
	if want := 2 * (level + 1) * n * 8; len(coeffs) != want {
		return nil, corrupt("ciphertext: %d coefficient bytes, want %d for level %d", len(coeffs), want, level)
	}
	ct := ckks.NewCiphertext(params, 1, level)
	ct.IsNTT = flags&1 != 0
	ct.IsMontgomery = flags&2 != 0
	if ct.IsNTT != params.NTTFlag() || ct.IsMontgomery {
		return nil, corrupt("ciphertext: NTT=%v Montgomery=%v does not match CKKS", ct.IsNTT, ct.IsMontgomery)
	}
	ct.LogDimensions = ring.Dimensions{Rows: 0, Cols: logSlots}
	ct.Scale = rlwe.NewScale(sv)
	qs := params.Q()
	off := 0
	for _, p := range ct.Value {
		for i, row := range p.Coeffs[:level+1] {
			for j := range row {
				c := binary.LittleEndian.Uint64(coeffs[off:])
				off += 8
				if c >= qs[i] {
					return nil, corrupt("ciphertext: coefficient %d of limb %d is %d ≥ q_%d", j, i, c, i)
				}
				row[j] = c
			}
		}
	}
	return ct, nil
}

// template records the layout of an object serialized under some
// parameters: its size and its structure bytes (lengths, flags), found as
// the bytes where a zero object and the same object with every coefficient
// set to all ones agree. Only those runs are kept: whole copies of a key
// take megabytes, and keeping two per Galois element let uploads naming
// many elements grow a server's memory without bound.
type template struct {
	size int
	runs []structRun
}

type structRun struct {
	off int
	b   []byte
}

func newTemplate(zero, ones []byte) template {
	t := template{size: len(zero)}
	for i := 0; i < len(zero); {
		if zero[i] != ones[i] {
			i++
			continue
		}
		j := i
		for j < len(zero) && zero[j] == ones[j] {
			j++
		}
		t.runs = append(t.runs, structRun{off: i, b: bytes.Clone(zero[i:j])})
		i = j
	}
	return t
}

func (t template) check(b []byte, what string) error {
	if len(b) != t.size {
		return corrupt("%s of %d bytes, want %d for these parameters", what, len(b), t.size)
	}
	for _, r := range t.runs {
		got := b[r.off : r.off+len(r.b)]
		if bytes.Equal(got, r.b) {
			continue
		}
		for i := range got {
			if got[i] != r.b[i] {
				return corrupt("%s: structure byte %d differs from the parameters' layout", what, r.off+i)
			}
		}
	}
	return nil
}

// templates are the layouts of one parameter set's keys. gal has no
// structure in its Galois-element bytes; the decoder checks the element.
type templates struct {
	pk, rlk, gal template
}

// maxTemplateSets bounds the cache: ReadEvaluationKeys accepts any secure
// parameters, so the set of keys is chosen by whoever sends the bytes.
const maxTemplateSets = 16

var (
	tplMu    sync.Mutex
	tplCache = map[[8]byte]*templates{}
)

func templatesFor(params ckks.Parameters) *templates {
	fp := Fingerprint(params)
	tplMu.Lock()
	defer tplMu.Unlock()
	if t, ok := tplCache[fp]; ok {
		return t
	}
	if len(tplCache) >= maxTemplateSets {
		clear(tplCache)
	}
	t := &templates{}
	pk0, pk1 := rlwe.NewPublicKey(params), rlwe.NewPublicKey(params)
	fillVectorQP(pk1.Value)
	t.pk = newTemplate(mustMarshal(pk0), mustMarshal(pk1))
	r0, r1 := rlwe.NewRelinearizationKey(params), rlwe.NewRelinearizationKey(params)
	fillGadget(r1.GadgetCiphertext)
	t.rlk = newTemplate(mustMarshal(r0), mustMarshal(r1))
	g0, g1 := rlwe.NewGaloisKey(params), rlwe.NewGaloisKey(params)
	g0.GaloisElement, g1.GaloisElement = 0, math.MaxUint64
	fillGadget(g1.GadgetCiphertext)
	t.gal = newTemplate(mustMarshal(g0), mustMarshal(g1))
	tplCache[fp] = t
	return t
}

func mustMarshal(m interface{ MarshalBinary() ([]byte, error) }) []byte {
	b, err := m.MarshalBinary()
	if err != nil {
		// Marshaling a freshly allocated key into memory cannot fail.
		panic(fmt.Sprintf("he: marshaling a key template: %v", err))
	}
	return b
}

func fillPoly(p ring.Poly) {
	for _, row := range p.Coeffs {
		for j := range row {
			row[j] = math.MaxUint64
		}
	}
}

func fillVectorQP(v rlwe.VectorQP) {
	for i := range v {
		fillPoly(v[i].Q)
		fillPoly(v[i].P)
	}
}

func fillGadget(g rlwe.GadgetCiphertext) {
	for _, row := range g.Value {
		for _, v := range row {
			fillVectorQP(v)
		}
	}
}

func checkPolyRange(p ring.Poly, mods []uint64) error {
	for i, row := range p.Coeffs {
		if i >= len(mods) {
			return corrupt("polynomial has %d limbs, modulus chain %d", len(p.Coeffs), len(mods))
		}
		for j, c := range row {
			if c >= mods[i] {
				return corrupt("coefficient %d of limb %d out of range", j, i)
			}
		}
	}
	return nil
}

func checkVectorQP(params ckks.Parameters, v rlwe.VectorQP) error {
	for i := range v {
		if err := checkPolyRange(v[i].Q, params.Q()); err != nil {
			return err
		}
		if err := checkPolyRange(v[i].P, params.P()); err != nil {
			return err
		}
	}
	return nil
}

func checkGadget(params ckks.Parameters, g rlwe.GadgetCiphertext) error {
	for _, row := range g.Value {
		for _, v := range row {
			if err := checkVectorQP(params, v); err != nil {
				return err
			}
		}
	}
	return nil
}
