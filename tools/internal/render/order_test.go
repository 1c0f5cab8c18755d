package render

import (
	"path/filepath"
	"testing"
)

// TestNamespaceComesFirst: config/default renders as `kustomize build`
// orders it, the Namespace before every object it holds, so that `make
// deploy` (kubectl apply of the stream) works on a cluster without it.
func TestNamespaceComesFirst(t *testing.T) {
	objs, err := Objects(filepath.Join("..", "..", "..", "config", "default"))
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			created[o.GetName()] = true
		}
		if ns := o.GetNamespace(); ns != "" && !created[ns] {
			t.Errorf("%s %s/%s comes before its Namespace", o.GetKind(), ns, o.GetName())
		}
	}
	if len(created) != 1 {
		t.Errorf("config/default renders %d Namespaces, want 1", len(created))
	}
}
