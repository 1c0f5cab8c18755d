package images

import (
	"bytes"
	"context"
	"debug/elf"
	"slices"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/example-inc/memcached-operator/tools/internal/images/imagestest"
)

// checkOperatorIndex pulls the operator image and checks the index and
// every platform's image; it returns the manager binary of each platform.
func checkOperatorIndex(t *testing.T, ref string, platforms []v1.Platform, version string) map[string][]byte {
	t.Helper()
	desc, err := imagestest.Pull(context.Background(), anonymous, ref)
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != types.OCIImageIndex {
		t.Fatalf("%s is a %s, want an OCI image index", ref, desc.MediaType)
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range im.Manifests {
		if m.Platform == nil {
			t.Fatalf("manifest %s has no platform", m.Digest)
		}
		if m.MediaType != types.OCIManifestSchema1 {
			t.Errorf("manifest %s is a %s, want an OCI manifest", m.Digest, m.MediaType)
		}
		got = append(got, PlatformString(*m.Platform))
	}
	var want []string
	for _, p := range platforms {
		want = append(want, PlatformString(p))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("index platforms %v, want %v", got, want)
	}
	binaries := map[string][]byte{}
	for _, m := range im.Manifests {
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		p := PlatformString(*m.Platform)
		if cf.OS != m.Platform.OS || cf.Architecture != m.Platform.Architecture || cf.Variant != m.Platform.Variant {
			t.Errorf("%s: config says %s/%s/%s", p, cf.OS, cf.Architecture, cf.Variant)
		}
		c := cf.Config
		if c.User != "65532:65532" {
			t.Errorf("%s: user %q", p, c.User)
		}
		if !slices.Equal(c.Entrypoint, []string{"/manager"}) || len(c.Cmd) != 0 {
			t.Errorf("%s: entrypoint %q cmd %q", p, c.Entrypoint, c.Cmd)
		}
		if c.WorkingDir != "/" {
			t.Errorf("%s: working dir %q", p, c.WorkingDir)
		}
		for k, v := range map[string]string{
			LabelTitle:   "memcached-operator",
			LabelSource:  DefaultSource,
			LabelVersion: version,
		} {
			if c.Labels[k] != v {
				t.Errorf("%s: label %s=%q, want %q", p, k, c.Labels[k], v)
			}
		}
		if !cf.Created.Time.Equal(Epoch) {
			t.Errorf("%s: created %s", p, cf.Created.Time)
		}
		mf, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if mf.MediaType != types.OCIManifestSchema1 || mf.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: manifest %s, config %s", p, mf.MediaType, mf.Config.MediaType)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(layers) != 1 {
			t.Fatalf("%s: %d layers, want 1", p, len(layers))
		}
		if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
			t.Errorf("%s: layer media type %s", p, mt)
		}
		entries, order := layerEntries(t, layers[0])
		if !slices.Equal(order, []string{"manager"}) {
			t.Fatalf("%s: layer holds %v, want only manager", p, order)
		}
		e := entries["manager"]
		if e.Mode != 0o755 || e.UID != 0 || e.GID != 0 {
			t.Errorf("%s: /manager mode %o owner %d:%d", p, e.Mode, e.UID, e.GID)
		}
		binaries[p] = e.Data
	}
	return binaries
}

// TestOperatorImageAssembly builds the multi-platform index of every
// PLATFORMS with a fake builder, pushes it and checks what is pulled back.
func TestOperatorImageAssembly(t *testing.T) {
	ctx := context.Background()
	host := startRegistry(t)
	platforms, err := ParsePlatforms(DefaultPlatforms)
	if err != nil {
		t.Fatal(err)
	}
	opts := OperatorOptions{Platforms: platforms, Version: "0.1.0", Build: fakeBuild}
	idx, err := OperatorImage(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/memcached-operator:v0.1.0"
	p, err := Push(ctx, anonymous, ref, idx)
	if err != nil {
		t.Fatal(err)
	}
	binaries := checkOperatorIndex(t, ref, platforms, "0.1.0")
	for _, pl := range platforms {
		if want := "manager for " + PlatformString(pl); !bytes.Contains(binaries[PlatformString(pl)], []byte(want)) {
			t.Errorf("%s: /manager is %q", PlatformString(pl), binaries[PlatformString(pl)])
		}
	}

	// Rebuilt: the same digest; pushed again: nothing changes.
	idx2, err := OperatorImage(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	d2, _ := idx2.Digest()
	if d2 != p.Digest {
		t.Errorf("rebuilt index %s, first %s", d2, p.Digest)
	}
	p2, err := Push(ctx, anonymous, ref, idx2)
	if err != nil || p2.Digest != p.Digest {
		t.Errorf("pushed again: %v %v", p2, err)
	}

	// Another version label is another image.
	opts.Version = "0.2.0"
	idx3, err := OperatorImage(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if d3, _ := idx3.Digest(); d3 == p.Digest {
		t.Error("the version label does not change the digest")
	}

	// A failing build fails the image, naming the platform.
	opts.Build = func(ctx context.Context, p v1.Platform, out string) error {
		if p.Architecture == "s390x" {
			return context.DeadlineExceeded
		}
		return fakeBuild(ctx, p, out)
	}
	if _, err := OperatorImage(ctx, opts); err == nil {
		t.Error("a failed build gave an image")
	}
}

// TestOperatorImageGoBuild builds the real manager (./operator/cmd) for
// linux/amd64 and linux/arm64 (cross-compiling all PLATFORMS takes too long
// here), pushes the index, and checks the binaries are static executables
// for their platforms, and that the build is reproducible.
func TestOperatorImageGoBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the manager twice for two platforms")
	}
	ctx := context.Background()
	host := startRegistry(t)
	platforms := []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}
	opts := OperatorOptions{
		Platforms: platforms,
		Version:   "0.1.0",
		// A copy: operator/ may change while the test builds it twice.
		ModuleDir: snapshot(t, DefaultOperatorModuleDir),
		Log:       t.Logf,
	}
	start := time.Now()
	idx, err := OperatorImage(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built for 2 platforms in %s", time.Since(start).Round(time.Millisecond))
	ref := host + "/memcached-operator:v0.1.0"
	p, err := Push(ctx, anonymous, ref, idx)
	if err != nil {
		t.Fatal(err)
	}
	binaries := checkOperatorIndex(t, ref, platforms, "0.1.0")
	for plat, machine := range map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64} {
		f, err := elf.NewFile(bytes.NewReader(binaries[plat]))
		if err != nil {
			t.Fatalf("%s: /manager is not an ELF executable: %v", plat, err)
		}
		if f.Machine != machine {
			t.Errorf("%s: /manager is for %s", plat, f.Machine)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("%s: /manager is dynamically linked", plat)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s: /manager needs %v", plat, libs)
		}
	}

	start = time.Now()
	idx2, err := OperatorImage(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rebuilt in %s", time.Since(start).Round(time.Millisecond))
	if d2, _ := idx2.Digest(); d2 != p.Digest {
		t.Errorf("the build is not reproducible: %s, then %s", p.Digest, d2)
	}
}
