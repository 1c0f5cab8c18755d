//go:build e2e

package faults_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/example-inc/memcached-operator/tools/internal/bench"
	"github.com/example-inc/memcached-operator/tools/internal/render"
	"github.com/example-inc/memcached-operator/tools/internal/testbed"
)

// repoRoot is the repository root, from this package's directory.
var repoRoot = filepath.Join("..", "..", "..")

// TestMetricsEndpointAuth runs the manager with its metrics served as
// config/default serves them (--metrics-secure, the default: HTTPS behind
// authentication and authorization), on a loopback port: a scrape without a
// token is refused (401), one by a ServiceAccount without the metrics-reader
// ClusterRole is refused (403), and one by a ServiceAccount bound to
// config/rbac's metrics-reader gets the operator's metrics.
func TestMetricsEndpointAuth(t *testing.T) {
	ns := newNamespace(t, "metrics")
	port, err := testbed.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	startOperator(t, identity(t, "memcached-operator-metrics"), ns, "--metrics-bind-address="+addr, "--metrics-secure=true")
	want := bench.Want{"scraped": 1}
	createMemcacheds(t, ns, want)
	waitConverged(t, tracker(t, ns), want, "created")

	reader := clusterRoleOf(t, "config/default", func(o *unstructured.Unstructured) bool {
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		return strings.Contains(fmt.Sprint(rules), "/metrics")
	})
	scraper := serviceAccountToken(t, ns, "metrics-scraper", reader)
	stranger := serviceAccountToken(t, ns, "metrics-stranger", "")
	url := "https://" + addr + "/metrics"
	for _, c := range []struct {
		who, token string
		status     int
	}{
		{"no token", "", http.StatusUnauthorized},
		// controller-runtime's filter answers 500 when the TokenReview
		// rejects a token (it takes the rejection for an error): refused
		// all the same.
		{"a token that is not a ServiceAccount's", "not-a-token", http.StatusInternalServerError},
		{"a ServiceAccount without " + reader, stranger, http.StatusForbidden},
		{"a ServiceAccount bound to " + reader, scraper, http.StatusOK},
	} {
		status, body := scrape(t, url, c.token)
		if status != c.status {
			t.Errorf("scrape with %s: %d, want %d\n%.300s", c.who, status, c.status, body)
		}
		if status == http.StatusOK && !strings.Contains(body, `memcached_operator_desired_replicas{`) {
			t.Errorf("scrape with %s: no memcached_operator_desired_replicas in\n%.500s", c.who, body)
		}
		if status != http.StatusOK && strings.Contains(body, "memcached_operator_") {
			t.Errorf("scrape with %s: refused with %d, yet the body holds metrics", c.who, status)
		}
	}
}

// scrape GETs url with token (none when empty), retrying until the server
// answers, and returns the status and the body. The certificate is the one
// controller-runtime generates for itself: there is no CA to check it
// against, and what is tested is who may read, not the server's name.
func scrape(t *testing.T, url, token string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // self-signed, see above
	var status int
	var body string
	waitFor(t, "the metrics endpoint", shortTimeout, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		status, body = resp.StatusCode, string(data)
		return err
	})
	return status, body
}

// serviceAccountToken creates ServiceAccount name in namespace, bound to
// clusterRole (none when empty) until the test ends, and returns a token of
// it.
func serviceAccountToken(t *testing.T, namespace, name, clusterRole string) string {
	t.Helper()
	ctx := t.Context()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
	if _, err := env.Admin.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if clusterRole != "" {
		crb := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: namespace + "-" + name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: clusterRole},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: namespace}},
		}
		if _, err := env.Admin.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = env.Admin.RbacV1().ClusterRoleBindings().Delete(context.Background(), crb.Name, metav1.DeleteOptions{})
		})
	}
	id, err := env.Cluster.Identity(ctx, namespace, name)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", id.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.BearerToken
}

// clusterRoleOf renders dir (from the repository root) and returns the name
// of the one ClusterRole that match accepts.
func clusterRoleOf(t *testing.T, dir string, match func(*unstructured.Unstructured) bool) string {
	t.Helper()
	objs, err := render.Objects(filepath.Join(repoRoot, dir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		if o.GetKind() == "ClusterRole" && match(o) {
			names = append(names, o.GetName())
		}
	}
	if len(names) != 1 {
		t.Fatalf("%s: want one such ClusterRole, got %v", dir, names)
	}
	return names[0]
}

// TestNamespacedRBAC deploys config/namespaced's RBAC, renamed into a
// namespace of its own by an overlay as a user would, with its manager
// RoleBinding copied into a second namespace as config/namespaced says, and
// runs the manager as its ServiceAccount watching both: Memcacheds in each
// converge and the API server refuses none of its requests' writes; outside
// those namespaces the ServiceAccount may do nothing (a Deployment create is
// forbidden, and so is any cluster-wide list).
func TestNamespacedRBAC(t *testing.T) {
	own, other, outside := newNamespace(t, "nsrbac"), newNamespace(t, "nsrbac-other"), newNamespace(t, "nsrbac-outside")
	objs := renderNamespaced(t, own)
	binding := managerRoleBinding(t, objs)
	copied := binding.DeepCopy()
	copied.SetNamespace(other)
	applyRBAC(t, append(objs, copied))

	saName := ""
	for _, o := range objs {
		if o.GetKind() == "ServiceAccount" {
			saName = o.GetName()
		}
	}
	id, err := env.Cluster.Identity(t.Context(), own, saName)
	if err != nil {
		t.Fatal(err)
	}
	audit := auditFrom(t)
	startOperator(t, id, own+","+other, "--leader-elect", "--leader-election-namespace="+own)
	for ns, want := range map[string]bench.Want{own: {"own-0": 2, "own-1": 1}, other: {"other-0": 1}} {
		createMemcacheds(t, ns, want)
		waitConverged(t, tracker(t, ns), want, "in "+ns)
		requireOwnership(t, ns)
	}
	if r := refusedWrites(writesBy(auditEvents(t, audit), id.Username)); len(r) > 0 {
		t.Errorf("the API server refused %d of the operator's writes:\n  %s", len(r), describeWrites(r))
	}
	checkConfined(t, id, outside)
}

// checkConfined fails the test unless id may not create a Deployment in
// outside, nor list Deployments or Memcacheds across the cluster.
func checkConfined(t *testing.T, id *testbed.Identity, outside string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", id.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "intruder", Namespace: outside}}
	if _, err := c.AppsV1().Deployments(outside).Create(t.Context(), d, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsForbidden(err) {
		t.Errorf("creating a Deployment in %s as %s: %v, want Forbidden", outside, id.Username, err)
	}
	for _, attr := range []authorizationv1.ResourceAttributes{
		{Verb: "create", Group: "apps", Resource: "deployments", Namespace: outside},
		{Verb: "list", Group: "apps", Resource: "deployments"},
		{Verb: "watch", Group: "cache.example.com", Resource: "memcacheds"},
		{Verb: "patch", Group: "cache.example.com", Resource: "memcacheds", Subresource: "status", Namespace: outside},
	} {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &attr}}
		got, err := c.AuthorizationV1().SelfSubjectAccessReviews().Create(t.Context(), review, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Allowed {
			t.Errorf("%s may %s %s/%s in %q", id.Username, attr.Verb, attr.Group, attr.Resource, attr.Namespace)
		}
	}
}

// renderNamespaced renders config/namespaced through an overlay that moves
// it into namespace and prefixes its names with it, as a user's overlay
// would, and returns its RBAC objects.
func renderNamespaced(t *testing.T, namespace string) []*unstructured.Unstructured {
	t.Helper()
	overlay := t.TempDir()
	base, err := filepath.Abs(filepath.Join(repoRoot, "config", "namespaced"))
	if err != nil {
		t.Fatal(err)
	}
	rel, err := filepath.Rel(overlay, base) // kustomize takes relative bases only
	if err != nil {
		t.Fatal(err)
	}
	k := fmt.Sprintf("namespace: %s\nnamePrefix: %s-\nresources:\n- %s\n", namespace, namespace, rel)
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := render.Objects(overlay)
	if err != nil {
		t.Fatal(err)
	}
	var rbac []*unstructured.Unstructured
	for _, o := range objs {
		switch o.GetKind() {
		case "ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding":
			rbac = append(rbac, o)
		case "Deployment":
			containers, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
			if !strings.Contains(fmt.Sprint(containers), "fieldPath:metadata.namespace") {
				t.Fatalf("the rendered Deployment does not watch its own namespace: %v", containers)
			}
		}
	}
	return rbac
}

// managerRoleBinding returns the one binding of the manager's ClusterRole:
// a RoleBinding in config/namespaced.
func managerRoleBinding(t *testing.T, objs []*unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		ref, _, _ := unstructured.NestedString(o.Object, "roleRef", "name")
		if (o.GetKind() == "RoleBinding" || o.GetKind() == "ClusterRoleBinding") && strings.HasSuffix(ref, "-manager-role") {
			found = append(found, o)
		}
	}
	if len(found) != 1 || found[0].GetKind() != "RoleBinding" {
		t.Fatalf("config/namespaced: want one RoleBinding of the manager role and no ClusterRoleBinding, got %d bindings", len(found))
	}
	return found[0]
}

// applyRBAC applies objs, removing the cluster-scoped ones when the test
// ends (the namespaced ones go with their namespaces).
func applyRBAC(t *testing.T, objs []*unstructured.Unstructured) {
	t.Helper()
	if err := testbed.Apply(t.Context(), env.Client, "faults", objs...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, o := range objs {
			if o.GetNamespace() == "" {
				_ = env.Client.Delete(context.Background(), o)
			}
		}
	})
}
