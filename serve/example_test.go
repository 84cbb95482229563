package serve_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/henn"
	"github.com/krelu/krelu/serve"
)

// A server holding a model and a client holding the secret key, over
// loopback.
func Example() {
	net := henn.Network{InputDim: 2, Layers: []henn.Layer{
		henn.Dense{W: [][]float64{{1, -1}, {0.5, 0.5}}},
		henn.Poly{Coeffs: approx.Poly{0, 0.5, 0.25}},
		henn.Dense{W: [][]float64{{1, 0}, {0, 1}}},
	}}
	m, err := henn.Compile(net, henn.Options{Mode: henn.Slots})
	if err != nil {
		fmt.Println(err)
		return
	}
	h, err := serve.New(m, serve.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ts := httptest.NewServer(h)
	defer ts.Close()

	c := &serve.Client{BaseURL: ts.URL, HTTP: ts.Client()}
	sess, err := c.NewSession(context.Background()) // keys made here; only evaluation keys are sent
	if err != nil {
		fmt.Println(err)
		return
	}
	logits, err := sess.Classify(context.Background(), [][]float64{{1, 0.2}})
	if err != nil {
		fmt.Println(err)
		return
	}
	want, _ := net.Forward([]float64{1, 0.2})
	fmt.Printf("encrypted %.3f, plaintext %.3f\n", logits[0], want)
	// Output: encrypted [0.560 0.390], plaintext [0.560 0.390]
}
