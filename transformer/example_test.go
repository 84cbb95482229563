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
