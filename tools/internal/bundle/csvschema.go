package bundle

import (
	"fmt"
	"strings"
	"sync"

	"github.com/operator-framework/api/crds"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"

	"github.com/example-inc/memcached-operator/tools/internal/problem"
)

// csvSchema is OLM's own ClusterServiceVersion schema, the one the API
// server validates a CSV with on create (operator-framework/api's
// crds/operators.coreos.com_clusterserviceversions.yaml).
var csvSchema = sync.OnceValues(func() (*sampleSchema, error) {
	crd := crds.ClusterServiceVersion()
	for _, v := range crd.Spec.Versions {
		if v.Storage && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			return newSampleSchema(v.Schema.OpenAPIV3Schema)
		}
	}
	return nil, fmt.Errorf("operator-framework/api's ClusterServiceVersion CRD has no stored schema")
})

// checkSchema validates the CSV object against OLM's CSV schema, as the
// API server would when OLM creates it, and reports every violation
// (webhookdefinitions[0].containerPort: 70000, an install mode without
// type, ...). Unknown fields are parseCSV's.
func checkSchema(obj map[string]any, file string) problem.List {
	var ps problem.List
	const check = "csv-schema"
	s, err := csvSchema()
	if err != nil {
		ps.Errorf(check, file, "", "%v", err)
		return ps
	}
	for _, e := range apiservervalidation.ValidateCustomResource(nil, obj, s.validator) {
		ps.Errorf(check, file, e.Field, "%s (OLM's ClusterServiceVersion schema: the API server would refuse the CSV)", strings.TrimPrefix(e.ErrorBody(), e.Field+": "))
	}
	return ps
}
