// Package problem is the one problem type of bundle and catalog
// validation: every check adds Problems to a List instead of stopping at
// the first one, and the List turns into one error that names, for each
// problem, its file, its package, channel and bundle, its field and the
// check that found it (the style of operator-registry's declcfg/model
// validation: plain data, every problem at once, deterministic output).
//
// It is plain data: it must not read files, run checks or import any other
// package of this module, so that every validator can use it.
package problem
