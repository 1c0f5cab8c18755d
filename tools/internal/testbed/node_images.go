package testbed

import (
	"context"
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/example-inc/memcached-operator/tools/internal/images"
)

//go:embed pause/main.go
var pauseSource []byte

// ProgramImage compiles a one-file Go program (package main, standard
// library only) statically for NodePlatform into workDir/binary and
// returns a FROM-scratch image holding it as /binary, its entrypoint. The
// same source gives the same image digest. The real node's pause image is
// built this way, and tests build the small programs they run in pods.
func ProgramImage(ctx context.Context, source []byte, binary, workDir string) (v1.Image, error) {
	out := filepath.Join(workDir, binary)
	if err := buildProgram(ctx, source, out); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	tree := images.NewTree()
	if err := tree.AddFile("/"+binary, data, 0o755, images.Root); err != nil {
		return nil, err
	}
	return images.NewImage(NodePlatform, v1.Config{Entrypoint: []string{"/" + binary}},
		images.LayerSpec{Tree: tree, CreatedBy: "COPY " + binary + " /" + binary})
}

// buildProgram runs `go build` on the source outside any module (it needs
// none), with the build cache of the caller.
func buildProgram(ctx context.Context, source []byte, out string) error {
	src, err := os.MkdirTemp("", "program-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(src)
	if err := os.WriteFile(filepath.Join(src, "main.go"), source, 0o600); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "main.go")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+NodePlatform.OS, "GOARCH="+NodePlatform.Architecture,
		"GOWORK=off", "GOFLAGS=", "GO111MODULE=on")
	if output, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s: %w\n%s", filepath.Base(out), err, output)
	}
	return nil
}
