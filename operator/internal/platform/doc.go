// Package platform tells what kind of cluster the operator runs on, where
// that changes what it creates.
package platform
