// Command probe is what the real node's end-to-end tests run in pods (and,
// through the cluster-DNS wrapper, on the host): a small HTTP server and a
// few one-shot checks, standard library only, so that it builds as one
// static file into a FROM-scratch image.
//
//	probe serve ADDR     serve "hello from probe" on ADDR, logging each request
//	probe echo ARGS...   print ARGS (what `kubectl exec` runs)
//	probe get URL        GET URL with the pod's ServiceAccount token and CA, print the body
//	probe resolve NAME   print NAME's addresses from the resolver in /etc/resolv.conf
//
// It must not do anything else: it is test scaffolding, not a tool.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe serve ADDR | echo ARGS... | get URL | resolve NAME")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; {
	case cmd == "serve" && len(args) == 1:
		err = serve(args[0])
	case cmd == "echo":
		fmt.Println(strings.Join(args, " "))
	case cmd == "get" && len(args) == 1:
		err = get(args[0])
	case cmd == "resolve" && len(args) == 1:
		err = resolve(args[0])
	default:
		err = fmt.Errorf("unknown command %q", strings.Join(os.Args[1:], " "))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
		os.Exit(1)
	}
}

func serve(addr string) error {
	fmt.Printf("serving on %s\n", addr)
	return http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("%s %s from %s\n", r.Method, r.URL.Path, r.RemoteAddr)
		fmt.Fprintln(w, "hello from probe")
	}))
}

// get is what an in-cluster client does: trust the ServiceAccount's CA and
// send its token.
func get(url string) error {
	ca, err := os.ReadFile(serviceAccountDir + "/ca.crt")
	if err != nil {
		return err
	}
	token, err := os.ReadFile(serviceAccountDir + "/token")
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	_, err = os.Stdout.Write(body)
	return err
}

// resolve uses Go's own resolver, as the OLM catalog operator does.
func resolve(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	addrs, err := (&net.Resolver{PreferGo: true}).LookupHost(ctx, name)
	if err != nil {
		return err
	}
	fmt.Println(strings.Join(addrs, " "))
	return nil
}
