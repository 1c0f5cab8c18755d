package testbed

import (
	"slices"
	"strings"
	"testing"
)

// TestSelectImages: NodeImagesOptions.Only keeps the images pushed under
// the references it names, an image with several references whole, and
// refuses a reference no image has, naming it.
func TestSelectImages(t *testing.T) {
	decls := []nodeImage{{refs: []string{"a:1"}}, {refs: []string{"b:1", "b:latest"}}, {refs: []string{"c:1"}}}
	refsOf := func(ds []nodeImage) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.refs...)
		}
		return out
	}
	for _, tc := range []struct {
		only, want []string
	}{
		{nil, []string{"a:1", "b:1", "b:latest", "c:1"}},
		{[]string{"c:1", "a:1"}, []string{"a:1", "c:1"}},
		{[]string{"b:latest"}, []string{"b:1", "b:latest"}},
	} {
		got, err := selectImages(decls, tc.only)
		if err != nil || !slices.Equal(refsOf(got), tc.want) {
			t.Errorf("selectImages(%v) = %v, %v; want %v", tc.only, refsOf(got), err, tc.want)
		}
	}
	if _, err := selectImages(decls, []string{"a:1", "d:1"}); err == nil || !strings.Contains(err.Error(), "d:1") {
		t.Errorf("selectImages with an unknown reference: %v, want an error naming d:1", err)
	}
}
