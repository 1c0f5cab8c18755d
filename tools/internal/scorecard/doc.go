// Package scorecard makes, offline and against a bundle directory, the
// checks of operator-sdk's six default scorecard tests (basic-check-spec and
// the olm suite), so that `tools bundle validate` fails on what
// `operator-sdk scorecard` would fail on, without a cluster. It also checks
// that the bundle's scorecard configuration runs those six tests.
//
// As in operator-sdk, the custom resources checked are the CSV's
// alm-examples.
//
// It must not run anything in a cluster (`make scorecard` runs
// operator-sdk's own tests as pods) nor read anything but the bundle
// directory it is given.
package scorecard
