package henn

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/krelu/krelu/he"
	"github.com/tuneinsight/lattigo/v6/core/rlwe"
	"github.com/tuneinsight/lattigo/v6/schemes/ckks"
)

// wireMagic opens a serialized Ciphertexts; the version changes with the
// layout of the header, the ciphertexts themselves carry he's own header.
const wireMagic = "krelu.henn.ciphertexts/v1\n"

// maxWireCount bounds the counts read back, so a corrupt header cannot make
// ReadCiphertexts allocate without limit.
const maxWireCount = 1 << 20

// WriteTo writes c in a versioned format: a header line, the group count,
// then per group its input count, sentence length and ciphertexts (written
// by he.WriteCiphertext, which checks them against params).
func (c *Ciphertexts) WriteTo(w io.Writer, params ckks.Parameters) (int64, error) {
	if c == nil || len(c.Counts) != len(c.Groups) || (c.Lengths != nil && len(c.Lengths) != len(c.Groups)) {
		return 0, errors.New("henn: malformed ciphertexts")
	}
	bw := bufio.NewWriter(w)
	n, _ := bw.WriteString(wireMagic)
	total := int64(n)
	var buf [binary.MaxVarintLen64]byte
	put := func(v int) {
		k := binary.PutUvarint(buf[:], uint64(v))
		bw.Write(buf[:k])
		total += int64(k)
	}
	put(len(c.Groups))
	for g, group := range c.Groups {
		length := 0
		if c.Lengths != nil {
			length = c.Lengths[g]
		}
		put(c.Counts[g])
		put(length)
		put(len(group))
		for _, ct := range group {
			k, err := he.WriteCiphertext(bw, params, ct)
			total += k
			if err != nil {
				return total, err
			}
		}
	}
	return total, bw.Flush()
}

// ReadCiphertexts reads what [Ciphertexts.WriteTo] wrote, checking every
// ciphertext against params.
func ReadCiphertexts(r io.Reader, params ckks.Parameters) (*Ciphertexts, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(wireMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != wireMagic {
		return nil, fmt.Errorf("henn: not a serialized ciphertext batch (want header %q)", wireMagic[:len(wireMagic)-1])
	}
	get := func(what string) (int, error) {
		v, err := binary.ReadUvarint(br)
		if err != nil {
			return 0, fmt.Errorf("henn: reading %s: %w", what, err)
		}
		if v > maxWireCount {
			return 0, fmt.Errorf("henn: %s %d is implausibly large", what, v)
		}
		return int(v), nil
	}
	groups, err := get("group count")
	if err != nil {
		return nil, err
	}
	c := &Ciphertexts{}
	hasLengths := false
	for g := 0; g < groups; g++ {
		count, err := get("input count")
		if err != nil {
			return nil, err
		}
		length, err := get("sentence length")
		if err != nil {
			return nil, err
		}
		k, err := get("ciphertext count")
		if err != nil {
			return nil, err
		}
		group := make([]*rlwe.Ciphertext, k)
		for i := range group {
			if group[i], err = he.ReadCiphertext(br, params); err != nil {
				return nil, fmt.Errorf("henn: group %d ciphertext %d: %w", g, i, err)
			}
		}
		c.Groups = append(c.Groups, group)
		c.Counts = append(c.Counts, count)
		c.Lengths = append(c.Lengths, length)
		hasLengths = hasLengths || length > 0
	}
	if !hasLengths {
		c.Lengths = nil
	}
	return c, nil
}
