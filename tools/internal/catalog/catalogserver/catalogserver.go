package catalogserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/operator-framework/operator-registry/pkg/api"
	"github.com/operator-framework/operator-registry/pkg/cache"
	"github.com/operator-framework/operator-registry/pkg/server"
	"google.golang.org/grpc"
	health "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

// DefaultAddr listens on a free loopback port.
const DefaultAddr = "127.0.0.1:0"

// Serve loads the catalog in dir (honouring .indexignore, as opm does) into a
// fresh cache and serves it on addr (DefaultAddr when empty) in the
// background. It returns the address it listens on and a stop function that
// stops the server and removes the cache; stop is idempotent, and is also
// called when ctx is done.
func Serve(ctx context.Context, dir, addr string) (string, func(), error) {
	if addr == "" {
		addr = DefaultAddr
	}
	if fi, err := os.Stat(dir); err != nil {
		return "", nil, fmt.Errorf("serve catalog: %w", err)
	} else if !fi.IsDir() {
		return "", nil, fmt.Errorf("serve catalog: %s is not a directory", dir)
	}
	cacheDir, err := os.MkdirTemp("", "catalog-cache-")
	if err != nil {
		return "", nil, fmt.Errorf("serve catalog: %w", err)
	}
	store, err := cache.New(cacheDir)
	if err != nil {
		_ = os.RemoveAll(cacheDir)
		return "", nil, fmt.Errorf("serve catalog: %w", err)
	}
	cleanup := func() {
		_ = store.Close()
		_ = os.RemoveAll(cacheDir)
	}
	if err := cache.LoadOrRebuild(ctx, store, os.DirFS(dir)); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("serve catalog %s: %w", dir, err)
	}
	lis, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("serve catalog: %w", err)
	}

	s := grpc.NewServer()
	api.RegisterRegistryServer(s, server.NewRegistryServer(store))
	api.RegisterExperimentalRegistryServer(s, server.NewExperimentalRegistryServer(store))
	health.RegisterHealthServer(s, server.NewHealthServer())
	reflection.Register(s)

	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := s.Serve(lis); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			fmt.Fprintf(os.Stderr, "catalog server %s: %v\n", lis.Addr(), err)
		}
	}()

	stop := sync.OnceFunc(func() {
		done := make(chan struct{})
		go func() {
			s.GracefulStop()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.Stop() // streams that do not end on their own
		}
		<-served
		cleanup()
	})
	context.AfterFunc(ctx, stop)
	return lis.Addr().String(), stop, nil
}
