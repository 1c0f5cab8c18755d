package catalogserver

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/blang/semver/v4"
	"github.com/operator-framework/operator-registry/pkg/api"
	"github.com/sirupsen/logrus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	health "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/example-inc/memcached-operator/tools/internal/catalog"
	"github.com/example-inc/memcached-operator/tools/internal/catalog/internal/fixture"
)

func TestMain(m *testing.M) {
	logrus.SetLevel(logrus.WarnLevel)
	os.Exit(m.Run())
}

const pkg = "memcached-operator"

func name(v string) string { return pkg + ".v" + v }

// TestServeAnswersAsOLMAsks renders a three-release catalog (0.1.0 and 0.1.1
// in candidate; 0.2.0 in candidate and stable) from fixture bundle directories,
// serves it on loopback, and queries it as OLM's resolver does: packages,
// channel heads, and every version's upgrade path to its channel head.
func TestServeAnswersAsOLMAsks(t *testing.T) {
	for _, embed := range []bool{false, true} {
		t.Run(map[bool]string{false: "published", true: "embedded"}[embed], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			root := t.TempDir()
			template, releasesDir, err := fixture.WriteRepo(root, fixture.ThreeReleases()...)
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, "served")
			if _, err := catalog.Render(ctx, catalog.RenderOptions{Template: template, ReleasesDir: releasesDir, OutputDir: dir, EmbedBundles: embed}); err != nil {
				t.Fatal(err)
			}

			addr, stop, err := Serve(ctx, dir, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
				t.Fatalf("address %q", addr)
			}
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			checkHealthAndReflection(ctx, t, conn)
			checkRegistry(ctx, t, api.NewRegistryClient(conn), embed)

			stop()
			stop() // idempotent
			hc := health.NewHealthClient(conn)
			short, cancelShort := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancelShort()
			if _, err := hc.Check(short, &health.HealthCheckRequest{}); err == nil {
				t.Error("the server still answers after stop")
			}
		})
	}
}

func checkHealthAndReflection(ctx context.Context, t *testing.T, conn *grpc.ClientConn) {
	t.Helper()
	hr, err := health.NewHealthClient(conn).Check(ctx, &health.HealthCheckRequest{})
	if err != nil || hr.GetStatus() != health.HealthCheckResponse_SERVING {
		t.Fatalf("health: %v, %v", hr, err)
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	if !slices.Contains(services, "api.Registry") || !slices.Contains(services, "grpc.health.v1.Health") {
		t.Errorf("reflection lists %v", services)
	}
	_ = stream.CloseSend()
}

func checkRegistry(ctx context.Context, t *testing.T, c api.RegistryClient, embed bool) {
	t.Helper()
	// ListPackages
	lp, err := c.ListPackages(ctx, &api.ListPackageRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var pkgs []string
	for {
		p, err := lp.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p.GetName())
	}
	if !slices.Equal(pkgs, []string{pkg}) {
		t.Fatalf("ListPackages = %v", pkgs)
	}

	// GetPackage: default channel and heads.
	p, err := c.GetPackage(ctx, &api.GetPackageRequest{Name: pkg})
	if err != nil {
		t.Fatal(err)
	}
	heads := map[string]string{}
	for _, ch := range p.GetChannels() {
		heads[ch.GetName()] = ch.GetCsvName()
	}
	if p.GetDefaultChannelName() != "stable-v0" || heads["candidate-v0"] != name("0.2.0") || heads["stable-v0"] != name("0.2.0") || len(heads) != 2 {
		t.Fatalf("GetPackage = default %q, heads %v", p.GetDefaultChannelName(), heads)
	}

	// GetBundleForChannel, as OLM asks for the head of a subscription's channel.
	for ch, head := range heads {
		//nolint:staticcheck // OLM's resolver still calls it.
		b, err := c.GetBundleForChannel(ctx, &api.GetBundleInChannelRequest{PkgName: pkg, ChannelName: ch})
		if err != nil {
			t.Fatal(err)
		}
		if b.GetCsvName() != head || b.GetVersion() != "0.2.0" || b.GetCsvJson() == "" {
			t.Errorf("GetBundleForChannel(%s) = %s %s, csvJson %d bytes", ch, b.GetCsvName(), b.GetVersion(), len(b.GetCsvJson()))
		}
		wantPath := fixture.Image("0.2.0")
		if embed {
			wantPath = "" // OLM then installs from the embedded objects, no unpack Job
		}
		if b.GetBundlePath() != wantPath || (embed && len(b.GetObject()) < 2) {
			t.Errorf("GetBundleForChannel(%s): bundlePath %q, %d objects", ch, b.GetBundlePath(), len(b.GetObject()))
		}
		if !slices.ContainsFunc(b.GetProvidedApis(), func(g *api.GroupVersionKind) bool {
			return g.GetGroup() == "cache.example.com" && g.GetVersion() == "v1" && g.GetKind() == "Memcached"
		}) {
			t.Errorf("GetBundleForChannel(%s) provides %v", ch, b.GetProvidedApis())
		}
	}

	// Every version's upgrade path along replaces and skips, to its
	// channel's head. 0.1.1 and 0.2.0 both skip 0.1.0, and the registry
	// answers with either.
	paths := map[string][][]string{
		"candidate-v0/0.1.0": {{name("0.1.0"), name("0.1.1"), name("0.2.0")}, {name("0.1.0"), name("0.2.0")}},
		"candidate-v0/0.1.1": {{name("0.1.1"), name("0.2.0")}},
		"candidate-v0/0.2.0": {{name("0.2.0")}},
		"stable-v0/0.2.0":    {{name("0.2.0")}},
	}
	for key, want := range paths {
		ch, v, _ := strings.Cut(key, "/")
		path := []string{name(v)}
		for cur := name(v); ; {
			next, err := c.GetBundleThatReplaces(ctx, &api.GetReplacementRequest{CsvName: cur, PkgName: pkg, ChannelName: ch})
			if err != nil {
				break // nothing replaces cur: it is the head
			}
			cur = next.GetCsvName()
			path = append(path, cur)
			if len(path) > 10 {
				t.Fatalf("upgrade path from %s loops: %v", key, path)
			}
		}
		if !slices.ContainsFunc(want, func(w []string) bool { return slices.Equal(path, w) }) || path[len(path)-1] != heads[ch] {
			t.Errorf("upgrade path from %s = %v, want %v", key, path, want)
		}
	}

	// GetChannelEntriesThatReplace: who replaces 0.1.1, in every channel.
	stream, err := c.GetChannelEntriesThatReplace(ctx, &api.GetAllReplacementsRequest{CsvName: name("0.1.1")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		e, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.GetChannelName()+"/"+e.GetBundleName()+" replaces "+e.GetReplaces())
	}
	if !slices.Equal(got, []string{"candidate-v0/" + name("0.2.0") + " replaces " + name("0.1.1")}) {
		t.Errorf("GetChannelEntriesThatReplace(0.1.1) = %v", got)
	}

	// OLM's resolver: from every version, the newest bundle of the channel
	// that replaces, skips or skipRange-covers it is where one upgrade step
	// leads. 0.1.0 goes straight to 0.2.0.
	lb, err := c.ListBundles(ctx, &api.ListBundlesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var bundles []*api.Bundle
	for {
		b, err := lb.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		bundles = append(bundles, b)
	}
	if len(bundles) != 4 { // 3 in candidate-v0, 1 in stable-v0
		t.Fatalf("ListBundles returned %d bundles", len(bundles))
	}
	step := func(ch, v string) string {
		best, bestV := "", semver.Version{}
		cur := semver.MustParse(v)
		for _, b := range bundles {
			if b.GetChannelName() != ch || b.GetCsvName() == name(v) {
				continue
			}
			covers := b.GetReplaces() == name(v) || slices.Contains(b.GetSkips(), name(v))
			if r, err := semver.ParseRange(b.GetSkipRange()); err == nil && b.GetSkipRange() != "" && r(cur) {
				covers = true
			}
			if bv := semver.MustParse(b.GetVersion()); covers && bv.GT(bestV) {
				best, bestV = b.GetCsvName(), bv
			}
		}
		return best
	}
	for _, tc := range []struct{ ch, from, to string }{
		{"candidate-v0", "0.1.0", name("0.2.0")},
		{"candidate-v0", "0.1.1", name("0.2.0")},
		{"candidate-v0", "0.2.0", ""},
		{"stable-v0", "0.2.0", ""},
	} {
		if got := step(tc.ch, tc.from); got != tc.to {
			t.Errorf("resolver step from %s in %s = %q, want %q", tc.from, tc.ch, got, tc.to)
		}
	}
}

func TestServeErrors(t *testing.T) {
	ctx := context.Background()
	if _, _, err := Serve(ctx, filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Error("serving a missing directory succeeded")
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "catalog.yaml"), []byte("schema: olm.channel\nname: alpha\npackage: nope\nentries: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Serve(ctx, bad, ""); err == nil {
		t.Error("serving an invalid catalog succeeded")
	}
}
