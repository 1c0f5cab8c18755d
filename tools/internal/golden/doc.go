// Package golden compares a test's output with a golden file under the
// package's testdata/ and rewrites the file when the test runs with
// -update (the flag is registered here, once per test binary), as
// prometheus-operator's and kubebuilder's golden tests do. Test code only.
package golden
