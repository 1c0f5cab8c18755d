package catalog

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/operator-framework/operator-registry/alpha/declcfg"
	"github.com/operator-framework/operator-registry/pkg/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/example-inc/memcached-operator/tools/internal/catalog/catalogserver"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/graph"
)

// repoRoot is the repository root, from this package's directory.
var repoRoot = filepath.Join("..", "..", "..")

// TestCommittedCatalogIsFreshRender checks that catalog/ is exactly what
// rendering catalog/template.yaml with releases/ produces, and that it is
// valid: nobody edited the generated catalog by hand or forgot to render.
func TestCommittedCatalogIsFreshRender(t *testing.T) {
	ctx := context.Background()
	template := filepath.Join(repoRoot, DefaultTemplate)
	releases := filepath.Join(repoRoot, DefaultReleasesDir)
	if _, err := os.Stat(template); err != nil {
		t.Fatalf("no catalog template: %v (make catalog releases the first version)", err)
	}
	res, err := Render(ctx, RenderOptions{Template: template, ReleasesDir: releases, Check: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Bundles) == 0 {
		t.Fatal("the committed catalog has no bundle")
	}
	if err := ValidateDir(ctx, filepath.Dir(template), releases); err != nil {
		t.Fatal(err)
	}

	// opm serves catalog/ as it is, template included (.indexignore).
	addr, stop, err := catalogserver.Serve(ctx, filepath.Dir(template), "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	p, err := api.NewRegistryClient(conn).GetPackage(ctx, &api.GetPackageRequest{Name: "memcached-operator"})
	if err != nil {
		t.Fatal(err)
	}
	if p.GetDefaultChannelName() != "stable-v0" {
		t.Errorf("served default channel %q, want stable-v0", p.GetDefaultChannelName())
	}
	for _, ch := range p.GetChannels() {
		if !slices.Contains(res.Bundles, ch.GetCsvName()) {
			t.Errorf("channel %s head %s is not a rendered bundle", ch.GetName(), ch.GetCsvName())
		}
	}
}

// TestEveryReleaseReachesTheDefaultChannelHead proves what the move from
// the channel `candidate` (every release up to 0.3.1) to the semver
// template's channels needs: a cluster that runs any released version and
// switches its Subscription to the default channel finds its CSV there (OLM
// upgrades from the installed CSV only along the new channel's edges), and
// reaches the channel head from it in one upgrade.
func TestEveryReleaseReachesTheDefaultChannelHead(t *testing.T) {
	ctx := context.Background()
	cfg, err := declcfg.LoadFS(ctx, os.DirFS(filepath.Join(repoRoot, "catalog")))
	if err != nil {
		t.Fatal(err)
	}
	g, problems := graph.Analyze(cfg)
	if len(problems) > 0 {
		t.Fatal(problems.Err("graph"))
	}
	tmpl, err := LoadTemplate(filepath.Join(repoRoot, DefaultTemplate))
	if err != nil {
		t.Fatal(err)
	}
	def := cfg.Packages[0].DefaultChannel
	head := g.Heads["memcached-operator"][def]
	for _, r := range tmpl.Releases {
		name := "memcached-operator.v" + r.Version
		if name == head {
			continue
		}
		if !slices.ContainsFunc(g.Edges, func(e graph.Edge) bool { return e.Channel == def && e.From == name && e.To == head }) {
			t.Errorf("release %s: no edge to %s, the head of the default channel %s", r.Version, head, def)
		}
	}
	if len(tmpl.Releases) < 5 {
		t.Errorf("the template lists %d releases; 0.1.0 to 0.3.1 were released in channel candidate", len(tmpl.Releases))
	}
}

// TestCatalogDockerfile checks the catalog image serves catalog/ with opm
// as the catalog's layout needs.
func TestCatalogDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "catalog.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"FROM quay.io/operator-framework/opm:v1.73.0",
		`ENTRYPOINT ["/bin/opm"]`,
		`CMD ["serve", "/configs", "--cache-dir=/tmp/cache"]`,
		"COPY catalog /configs",
		`RUN ["/bin/opm", "serve", "/configs", "--cache-dir=/tmp/cache", "--cache-only"]`,
		"LABEL operators.operatorframework.io.index.configs.v1=/configs",
	} {
		if !strings.Contains(string(data), want+"\n") {
			t.Errorf("catalog.Dockerfile lacks %q", want)
		}
	}
}
