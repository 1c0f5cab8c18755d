package images

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/operator-framework/operator-registry/alpha/declcfg"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/catalogserver"
	"github.com/example-inc/memcached-operator/tools/internal/images/imagestest"
)

func TestCatalogImage(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t)
	catalogDir := snapshot(t, DefaultCatalogDir)
	binaries, realBinaries := realOrFakeBinaries(t)
	platforms, err := ParsePlatforms(DefaultPlatforms)
	if err != nil {
		t.Fatal(err)
	}
	opts := CatalogOptions{Dir: catalogDir, Platforms: platforms, Binaries: binaries}
	start := time.Now()
	idx, err := CatalogImage(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built for %d platforms in %s", len(platforms), time.Since(start).Round(time.Millisecond))
	ref := host + "/memcached-operator-catalog:v0.1.0"
	pushed, err := Push(ctx, anonymous, ref, idx)
	if err != nil {
		t.Fatal(err)
	}

	desc, err := imagestest.Pull(ctx, anonymous, ref)
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != types.OCIImageIndex {
		t.Fatalf("catalog image is a %s, want an OCI index", desc.MediaType)
	}
	pulledIdx, err := desc.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := pulledIdx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range im.Manifests {
		got = append(got, PlatformString(*m.Platform))
	}
	if want := strings.Split(DefaultPlatforms, ","); !slices.Equal(got, want) {
		t.Fatalf("platforms %v, want %v", got, want)
	}

	wantConfigs := readDirFiles(t, catalogDir, nil)
	var contentDigest v1.Hash
	var hostImage v1.Image
	for _, m := range im.Manifests {
		p := PlatformString(*m.Platform)
		img, err := pulledIdx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if PlatformString(*m.Platform) == PlatformString(hostPlatform) {
			hostImage = img
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if c.User != "1001" {
			t.Errorf("%s: user %q", p, c.User)
		}
		if !slices.Equal(c.Entrypoint, []string{"/bin/opm"}) || !slices.Equal(c.Cmd, []string{"serve", "/configs", "--cache-dir=/tmp/cache"}) {
			t.Errorf("%s: entrypoint %q cmd %q", p, c.Entrypoint, c.Cmd)
		}
		if c.Labels[LabelConfigs] != "/configs" || len(c.Labels) != 1 {
			t.Errorf("%s: labels %v", p, c.Labels)
		}
		if !slices.Contains(c.Env, DefaultPath) {
			t.Errorf("%s: env %v has no PATH (OLM execs grpc_health_probe)", p, c.Env)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(layers) != 2 {
			t.Fatalf("%s: %d layers, want 2", p, len(layers))
		}

		// Layer 1: the programs.
		entries, order := layerEntries(t, layers[0])
		if want := []string{"bin/", "bin/grpc_health_probe", "bin/opm", "etc/", "etc/nsswitch.conf", "tmp/"}; !slices.Equal(order, want) {
			t.Errorf("%s: layer 1 holds %v, want %v", p, order, want)
		}
		b, _ := binaries(*m.Platform)
		if !bytes.Equal(entries["bin/opm"].Data, b.Opm) || entries["bin/opm"].Mode != 0o755 {
			t.Errorf("%s: /bin/opm is not the platform's opm", p)
		}
		if !bytes.Equal(entries["bin/grpc_health_probe"].Data, b.HealthProbe) || entries["bin/grpc_health_probe"].Mode != 0o755 {
			t.Errorf("%s: /bin/grpc_health_probe is not the platform's", p)
		}
		if string(entries["etc/nsswitch.conf"].Data) != "hosts: files dns\n" {
			t.Errorf("%s: nsswitch.conf %q", p, entries["etc/nsswitch.conf"].Data)
		}
		if entries["tmp/"].Mode != 0o1777 {
			t.Errorf("%s: /tmp mode %o", p, entries["tmp/"].Mode)
		}

		// Layer 2: the catalog and its cache, the same blob for every platform.
		d, _ := layers[1].Digest()
		if contentDigest == (v1.Hash{}) {
			contentDigest = d
		} else if d != contentDigest {
			t.Errorf("%s: the content layer %s differs from the first platform's %s", p, d, contentDigest)
		}
		entries, _ = layerEntries(t, layers[1])
		gotConfigs := map[string][]byte{}
		cacheFiles := 0
		for name, e := range entries {
			switch {
			case strings.HasPrefix(name, "configs/"):
				if !strings.HasSuffix(name, "/") {
					gotConfigs[strings.TrimPrefix(name, "configs/")] = e.Data
				}
				if e.UID != 0 || e.GID != 0 {
					t.Errorf("%s: %s owned by %d:%d", p, name, e.UID, e.GID)
				}
			case strings.HasPrefix(name, "tmp/cache/"):
				cacheFiles++
				if e.UID != 1001 || e.GID != 0 {
					t.Errorf("%s: %s owned by %d:%d, want 1001:0 (the opm image's user)", p, name, e.UID, e.GID)
				}
			case name == "tmp/":
			default:
				t.Errorf("%s: unexpected %s in the content layer", p, name)
			}
		}
		if diff := diffFiles(wantConfigs, gotConfigs); len(diff) > 0 {
			t.Errorf("%s: /configs is not catalog/: %v", p, diff)
		}
		if _, ok := entries["tmp/cache/digest"]; !ok || cacheFiles < 3 {
			t.Errorf("%s: no serve cache in /tmp/cache (%d entries)", p, cacheFiles)
		}
	}
	if hostImage == nil {
		t.Fatalf("no image for the host platform %s", PlatformString(hostPlatform))
	}

	// The cache is the catalog's, as `opm serve --cache-dir` checks at start.
	root := t.TempDir()
	unpack(t, hostImage, root)
	configs, cache := filepath.Join(root, "configs"), filepath.Join(root, "tmp", "cache")
	if err := CheckServeCache(ctx, configs, cache); err != nil {
		t.Fatalf("the image's serve cache: %v", err)
	}

	// Deterministic: rebuilt, the same digest.
	idx2, err := CatalogImage(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if d2, _ := idx2.Digest(); d2 != pushed.Digest {
		t.Errorf("rebuilt catalog image %s, first %s", d2, pushed.Digest)
	}

	// opm (the host's, make olm-binaries) takes the pushed image for a
	// catalog (the index.configs.v1 label) and renders /configs.
	t.Run("opm render", func(t *testing.T) {
		out := hostOpm(t).render(t, ref, "--use-http")
		var metas []declcfg.Meta
		dec := json.NewDecoder(bytes.NewReader(out))
		for dec.More() {
			var m declcfg.Meta
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			metas = append(metas, m)
		}
		want, err := declcfg.LoadFS(ctx, os.DirFS(catalogDir))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(want.Packages) + len(want.Channels) + len(want.Bundles) + len(want.Deprecations) + len(want.Others); len(metas) != n {
			t.Errorf("opm render of the catalog image: %d blobs, catalog/ has %d", len(metas), n)
		}
		if len(metas) == 0 || metas[0].Schema != declcfg.SchemaPackage {
			t.Errorf("opm render of the catalog image does not start with an olm.package: %.300s", out)
		}
	})

	if !realBinaries {
		t.Log("fake opm: `opm serve` of the image's catalog and cache not run")
		return
	}
	t.Run("opm serve", func(t *testing.T) { runImageOpm(t, root) })
}

// runImageOpm runs the image's own opm (the host platform's) as the
// registry pod starts it, with the cache's integrity enforced, and its
// grpc_health_probe against a catalog server on loopback.
func runImageOpm(t *testing.T, root string) {
	configs, cache := filepath.Join(root, "configs"), filepath.Join(root, "tmp", "cache")
	opm := filepath.Join(root, "bin", "opm")
	serve := func() ([]byte, error) {
		cmd := exec.Command(opm, "serve", configs, "--cache-dir="+cache,
			"--cache-only", "--cache-enforce-integrity=true", "--pprof-addr=", "-t", filepath.Join(t.TempDir(), "termination-log"))
		return cmd.CombinedOutput()
	}
	if out, err := serve(); err != nil {
		t.Fatalf("opm serve --cache-enforce-integrity of the image's catalog: %v\n%s", err, out)
	}
	// A changed catalog fails the same check: it is a real one.
	f := filepath.Join(configs, "memcached-operator", "catalog.yaml")
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f, append(data, []byte("\n# changed\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := serve(); err == nil || !strings.Contains(string(out), "integrity") {
		t.Errorf("opm accepted a stale cache: %v\n%s", err, out)
	}
	if err := os.WriteFile(f, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// grpc_health_probe, as OLM's probes exec it.
	addr, stop, err := catalogserver.Serve(context.Background(), configs, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	out, err := exec.Command(filepath.Join(root, "bin", "grpc_health_probe"), "-addr="+addr, "-rpc-timeout=5s").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SERVING") {
		t.Errorf("grpc_health_probe -addr=%s: %v\n%s", addr, err, out)
	}
}

func TestBuildServeCacheDeterministic(t *testing.T) {
	ctx := context.Background()
	catalogDir := snapshot(t, DefaultCatalogDir)
	var digests []v1.Hash
	for i := 0; i < 2; i++ {
		tree, err := catalogContent(ctx, catalogDir)
		if err != nil {
			t.Fatal(err)
		}
		l, err := tree.Layer()
		if err != nil {
			t.Fatal(err)
		}
		d, _ := l.Digest()
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Errorf("the catalog content layer is not reproducible: %v", digests)
	}

	// A catalog opm cannot load fails the build.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "catalog.yaml"), []byte("schema: olm.bundle\nname: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := catalogContent(ctx, bad); err == nil {
		t.Error("an invalid catalog gave a serve cache")
	}
}
