package transformer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/krelu/krelu/internal/shareddata"
)

func sst2Path(t *testing.T, name string) string {
	t.Helper()
	p, err := shareddata.Path("sst2", name)
	if err != nil {
		t.Fatalf("real SST-2 data: %v", err)
	}
	return p
}

func TestReadSST2RealFiles(t *testing.T) {
	for _, c := range []struct {
		name  string
		n     int
		first string
		label int
	}{
		{"train.tsv", 67349, "hide new secretions from the parental units ", 0},
		{"dev.tsv", 872, "it 's a charming and often affecting journey . ", 1},
	} {
		ex, err := ReadSST2File(sst2Path(t, c.name))
		if err != nil {
			t.Fatal(err)
		}
		if len(ex) != c.n {
			t.Errorf("%s: %d examples, want %d", c.name, len(ex), c.n)
		}
		if ex[0].Sentence != c.first || ex[0].Label != c.label {
			t.Errorf("%s: first example %+v", c.name, ex[0])
		}
		pos := 0
		for _, e := range ex {
			pos += e.Label
		}
		if f := float64(pos) / float64(len(ex)); f < 0.5 || f > 0.6 {
			t.Errorf("%s: positive fraction %.3f, SST-2 has about 0.51–0.56", c.name, f)
		}
	}
}

func TestTokenizeRealDev(t *testing.T) {
	ex, err := ReadSST2File(sst2Path(t, "dev.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	got := Tokenize(ex[0].Sentence)
	want := []string{"it", "'s", "a", "charming", "and", "often", "affecting", "journey", "."}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tokens %q, want %q", got, want)
	}
	longest := 0
	for _, e := range ex {
		longest = max(longest, len(Tokenize(e.Sentence)))
	}
	if longest > 64 || longest < 40 {
		t.Errorf("longest dev sentence has %d tokens; SST-2 dev's has 47", longest)
	}
	v := NewVocab(Words(ex[:100]))
	ds, err := v.EncodeAll(ex, EncodeOptions{MaxLen: 64})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Unknown == 0 || ds.Unknown >= ds.Tokens {
		t.Errorf("%d of %d tokens unknown with a 100-sentence vocabulary", ds.Unknown, ds.Tokens)
	}
	if _, err := v.EncodeAll(ex, EncodeOptions{MaxLen: 20}); !errors.Is(err, ErrTooLong) {
		t.Errorf("max length 20 on dev: error %v, want ErrTooLong", err)
	}
	ds, err = v.EncodeAll(ex, EncodeOptions{MaxLen: 20, Truncate: true})
	if err != nil || ds.Truncated == 0 {
		t.Errorf("truncation: %v, %d truncated", err, ds.Truncated)
	}
}

func TestReadSST2Errors(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "empty file"},
		{"text\tlabel\nfoo\t1\n", "header"},
		{"sentence\tlabel\ngood film\t1\nbad\tfilm\t0\n", "line 3: 3 tab-separated fields"},
		{"sentence\tlabel\ngood film\n", "line 2: 1 tab-separated fields"},
		{"sentence\tlabel\ngood film\tpositive\n", `line 2: label "positive"`},
		{"sentence\tlabel\ngood film\t2\n", `label "2"`},
		{"sentence\tlabel\n  \t1\n", "line 2: sst2: empty sentence"},
	} {
		_, err := ReadSST2(strings.NewReader(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadSST2(%q): error %v, want one containing %q", c.in, err, c.want)
		}
	}
	_, err := ReadSST2File(filepath.Join(t.TempDir(), "missing.tsv"))
	if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing.tsv") {
		t.Errorf("missing file: %v", err)
	}
}

func TestEncode(t *testing.T) {
	v := NewVocab([]string{"good", "film", "good", UnkToken})
	if v.Len() != 3 {
		t.Fatalf("vocabulary %v", v.Words)
	}
	e, err := v.Encode("A Good  film", EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(e.IDs) != "[0 1 2]" || e.Unknown != 1 {
		t.Errorf("encoded %+v", e)
	}
	if _, err := v.Encode(" \t ", EncodeOptions{}); !errors.Is(err, ErrEmptySentence) {
		t.Errorf("empty sentence: %v", err)
	}
	if _, err := v.Encode("good good good", EncodeOptions{MaxLen: 2}); !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "3 tokens > 2") {
		t.Errorf("over-long: %v", err)
	}
	e, err = v.Encode("good film good", EncodeOptions{MaxLen: 2, Truncate: true})
	if err != nil || e.Truncated != 1 || len(e.IDs) != 2 {
		t.Errorf("truncate: %+v %v", e, err)
	}
}

func ExampleVocab_Encode() {
	v := NewVocab([]string{"a", "charming", "journey"})
	e, _ := v.Encode("It 's a charming journey", EncodeOptions{MaxLen: 64})
	fmt.Println(e.IDs, "unknown:", e.Unknown)
	// Output: [0 0 1 2 3] unknown: 2
}
