package render

import (
	"bytes"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"
)

// FuzzParseImage feeds arbitrary --image values to ParseImage: it must not
// panic, and what it accepts must be what it was given, split correctly.
//
//	go test ./tools/internal/render -run '^$' -fuzz FuzzParseImage -fuzztime 60s
func FuzzParseImage(f *testing.F) {
	digest := "sha256:" + strings.Repeat("0123456789abcdef", 4)
	for _, seed := range []string{
		"controller=quay.io/example/op:v0.1.0",
		"controller=quay.io/example/op@" + digest,
		"controller=registry.local:5000/op",
		"controller=registry.local:5000/op:1.2",
		"controller=op:tag@" + digest,
		"memcached=docker.io/library/memcached:1.6.38-alpine",
		"controller=",
		"=quay.io/op",
		"controller",
		"controller=:tag",
		"controller=op@sha256:abc",
		"controller=op@md5:" + strings.Repeat("0", 64),
		"a=b=c",
		"controller=op:",
		"0=::",
		"controller=@" + digest,
		"x=/",
		"x=@",
		"",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		img, err := ParseImage(s)
		if err != nil {
			if img != (Image{}) {
				t.Fatalf("error %v with a non-zero image %+v", err, img)
			}
			return
		}
		name, ref, ok := strings.Cut(s, "=")
		if !ok || name == "" || ref == "" {
			t.Fatalf("accepted %q, which is not NAME=REFERENCE", s)
		}
		// An empty repository passes with a digest only ("NAME=@sha256:..."
		// pins the digest of the image kept as it is, as kustomize allows);
		// "NAME=:TAG" is refused.
		if img.Name != name || (img.NewName == "" && img.Digest == "") {
			t.Fatalf("%q: got %+v", s, img)
		}
		if img.NewTag != "" && img.Digest != "" {
			t.Fatalf("%q: both a tag and a digest: %+v", s, img)
		}
		if img.Digest != "" && (!strings.HasPrefix(img.Digest, "sha256:") || len(img.Digest) != len(digest)) {
			t.Fatalf("%q: digest %q is not sha256:<64>", s, img.Digest)
		}
		if strings.Contains(img.NewTag, "/") {
			t.Fatalf("%q: the tag %q holds a slash: a registry port was taken for a tag", s, img.NewTag)
		}
		if strings.ContainsAny(img.NewName+img.NewTag, " \t\n@=") {
			t.Fatalf("%q: a character no reference has was accepted: %+v", s, img)
		}
		// The parts put back together are the input.
		back := format(img)
		if back != s {
			t.Fatalf("%q parsed as %+v, which reads back as %q", s, img, back)
		}
		again, err := ParseImage(back)
		if err != nil || again != img {
			t.Fatalf("%q: %+v reads back as %q, which parses as %+v, %v", s, img, back, again, err)
		}
	})
}

func format(img Image) string {
	s := img.Name + "=" + img.NewName
	if img.NewTag != "" {
		s += ":" + img.NewTag
	}
	if img.Digest != "" {
		s += "@" + img.Digest
	}
	return s
}

// FuzzDecode feeds arbitrary multi-document YAML to Decode: it must not
// panic, every object it returns is non-empty, and writing the objects back
// as YAML and decoding that again gives the same objects.
//
//	go test ./tools/internal/render -run '^$' -fuzz FuzzDecode -fuzztime 60s
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: memcached-operator-system\n",
		"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: \"1\"\n---\n\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n",
		`{"apiVersion":"v1","kind":"List","items":[]}`,
		"spec:\n  size: 3\n  nested: {a: [1, 2.5, true, null, \"x\"]}\n",
		"- a\n- b\n",
		"just a scalar\n",
		"key: [unclosed\n",
		"a: 1\n---\nb: 2\n...\n",
		"\ufeffapiVersion: v1\nkind: Secret\n",
		"big: 123456789012345678901234567890\nneg: -0\nexp: 1e300\n",
		"1: integer key\ntrue: bool key\n",
		"anchors: &a {x: 1}\nref: *a\n",
		"\t tab: indented\n",
		"---\n---\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Decode(data)
		if err != nil {
			return
		}
		if docs := bytes.Count(data, []byte("\n")) + 1; len(objs) > docs {
			t.Fatalf("%d objects from %d lines", len(objs), docs)
		}
		var out bytes.Buffer
		for _, o := range objs {
			if len(o.Object) == 0 {
				t.Fatal("an empty object")
			}
			doc, err := yaml.Marshal(o.Object)
			if err != nil {
				t.Fatalf("an object Decode returned cannot be written back: %v", err)
			}
			out.WriteString("---\n")
			out.Write(doc)
		}
		again, err := Decode(out.Bytes())
		if err != nil {
			t.Fatalf("the objects written back do not decode: %v\n%s", err, out.Bytes())
		}
		if len(again) != len(objs) {
			t.Fatalf("%d objects written back decode as %d", len(objs), len(again))
		}
		for i := range objs {
			if !equality.Semantic.DeepEqual(objs[i].Object, again[i].Object) {
				t.Fatalf("object %d changed on a round trip:\n%v\n%v", i, objs[i].Object, again[i].Object)
			}
		}
	})
}
