// Package scope decides what the operator's cache holds: which namespaces it
// watches (from WATCH_NAMESPACE, which OLM sets from the OperatorGroup's
// olm.targetNamespaces) and, within them, which Deployments and Pods.
package scope
