// Command serveload is the driver of scripts/serve_load.sh: it writes the
// load test's model checkpoint (-write-model), or drives a krelu serve
// server on loopback with concurrent encrypted clients classifying MNIST
// test images and prints the loadtest.Result as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/krelu/krelu/approx"
	"github.com/krelu/krelu/mnist"
	"github.com/krelu/krelu/nn"
	"github.com/krelu/krelu/serve/internal/loadtest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "serveload:", err)
		os.Exit(1)
	}
}

func run() error {
	writeModel := flag.String("write-model", "", "write the load test's 784-128-10 MNIST checkpoint (quadratic activation, seed 1, untrained: the same cost as a trained one) to FILE and exit")
	server := flag.String("server", "", "server URL on loopback, e.g. http://127.0.0.1:18080")
	model := flag.String("model", "", "the checkpoint the server holds: each answer's class is checked against its plaintext prediction")
	clients := flag.Int("clients", 8, "concurrent clients, 1…64")
	duration := flag.Duration("duration", 10*time.Minute, "how long to drive the server, (0, 1h]")
	maxReq := flag.Int("max-requests", 100000, "stop after this many inference requests, ≥ 1")
	batch := flag.Int("batch", 8, "images per request, 1…4096 (8 fill one packed ciphertext)")
	images := flag.Int("images", 1000, "MNIST test images cycled through, 1…10000")
	pid := flag.Int("pid", 0, "server process id, for its peak RSS (0: not reported)")
	flag.Parse()

	if *writeModel != "" {
		n, err := nn.NewMLP([]int{784, 128, 10}, approx.Poly{0.199471, 0.5, 0.199471}, 1)
		if err != nil {
			return err
		}
		n.Task = string(mnist.MNIST)
		return n.SaveFile(*writeModel)
	}
	if *model == "" {
		return fmt.Errorf("-model is required (the checkpoint the server holds)")
	}
	if *images < 1 || *images > 10000 {
		return fmt.Errorf("-images %d: want 1…10000", *images)
	}
	if *batch < 1 || *batch > 4096 {
		return fmt.Errorf("-batch %d: want 1…4096", *batch)
	}
	n, err := nn.LoadFile(*model)
	if err != nil {
		return err
	}
	te, err := mnist.Load(mnist.MNIST, "", false)
	if err != nil {
		return err
	}
	te = te.Slice(0, *images)
	want, err := n.Predict(te.X)
	if err != nil {
		return err
	}
	in := make([][]float64, te.Len())
	for i := range in {
		in[i] = te.X.RawRowView(i)
	}
	res, err := loadtest.Run(context.Background(), loadtest.Options{URL: *server, Clients: *clients, Duration: *duration,
		MaxRequests: *maxReq, Batch: *batch, Inputs: in, Want: want, ServerPID: *pid})
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}
