package transformer_test

import (
	"fmt"
	"strings"

	"github.com/krelu/krelu/transformer"
)

func ExampleReadSST2() {
	tsv := "sentence\tlabel\nit 's a charming and often affecting journey . \t1\nunflinchingly bleak and desperate \t0\n"
	ex, err := transformer.ReadSST2(strings.NewReader(tsv))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range ex {
		fmt.Println(e.Label, transformer.Tokenize(e.Sentence))
	}
	_, err = transformer.ReadSST2(strings.NewReader("sentence\tlabel\ngood\tyes\n"))
	fmt.Println(err)
	// Output:
	// 1 [it 's a charming and often affecting journey .]
	// 0 [unflinchingly bleak and desperate]
	// sst2: line 2: label "yes", want 0 or 1
}

// What a model owner hands to the clients of an encrypted encoder: the
// client tables, without any layer weight; the client's embedding lookup
// is the model's, bit for bit, and the fingerprint ties the tables to the
// encoder the server serves.
func ExampleSaved_ClientTables() {
	var s *transformer.Saved // transformer.LoadFile("he.gob") of an HE-friendly model
	c, err := s.ClientTables()
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := c.SaveFile("client.gob"); err != nil { // krelu sst2 export --client
		fmt.Println(err)
		return
	}
	// The client:
	tab, _, _ := transformer.LoadClientFile("client.gob")
	ids, _ := tab.Vocab.Encode("a gorgeous movie", transformer.EncodeOptions{MaxLen: tab.MaxTokens})
	rows, _ := tab.TokenRows(ids.IDs)
	fmt.Printf("%x %d\n", tab.Encoder, len(rows))
}
