package testbed

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/example-inc/memcached-operator/tools/internal/images/imagestest"
)

// unpackImage writes a node image's file system to a temporary directory.
func unpackImage(t *testing.T, ref string) string {
	t.Helper()
	img := builtNodeImages(t)[ref]
	if img == nil {
		t.Fatalf("no image %s", ref)
	}
	root := t.TempDir()
	imagestest.Unpack(t, img, root)
	return root
}

// inImage resolves a path of an unpacked image, links included, inside it
// (an absolute link points into the image, not into the host).
func inImage(t *testing.T, root, p string) string {
	t.Helper()
	chain, err := linkChain(root, p)
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(root, filepath.FromSlash(chain[len(chain)-1]))
}

// TestMemcachedImageRuns: memcached, run from the image's file system by
// the image's loader with the image's libraries only (as in a container,
// without chroot), answers `version` on a loopback port.
func TestMemcachedImageRuns(t *testing.T) {
	root := unpackImage(t, MemcachedImage)
	program := filepath.Join(root, filepath.FromSlash(MemcachedPath))
	_, interp, err := elfDeps(program)
	if err != nil || interp == "" {
		t.Fatalf("interpreter of %s: %q, %v", MemcachedPath, interp, err)
	}
	var dirs []string
	for _, d := range loaderDirs(root) {
		dirs = append(dirs, filepath.Join(root, d))
	}
	loader := []string{inImage(t, root, interp), "--inhibit-cache", "--library-path", strings.Join(dirs, ":")}
	list, err := exec.Command(loader[0], append(loader[1:], "--list", program)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s --list: %v\n%s", interp, err, list)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(list)), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[1] == "=>" && !strings.HasPrefix(f[2], root+"/") {
			t.Errorf("memcached loads %s from outside the image: %s", f[0], f[2])
		}
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	args := append(loader[1:], program, "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0")
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // memcached refuses to run as root
	}
	cmd := exec.Command(loader[0], args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	got := memcachedVersion(t, "127.0.0.1:"+strconv.Itoa(port), &out)
	want, _, _ := strings.Cut(debsOf(t).versions["memcached"], "-")
	if got != "VERSION "+want {
		t.Errorf("memcached answered %q, want %q", got, "VERSION "+want)
	}
}

func debsOf(t *testing.T) debs {
	t.Helper()
	d, err := readDebs(filepath.Join(testRepoRoot(t), "bin", "debs"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// memcachedVersion asks the memcached at addr for its version, waiting up
// to 10 seconds for it to listen.
func memcachedVersion(t *testing.T, addr string, log *bytes.Buffer) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			if time.Now().After(deadline) {
				t.Fatalf("memcached does not listen on %s: %v\n%s", addr, err, log)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte("version\r\n")); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			t.Fatalf("reading memcached's answer: %v\n%s", err, log)
		}
		return strings.TrimSpace(line)
	}
}

// TestBusyboxStandInsRun: the commands the pods run in the busybox-based
// stand-ins work with the image's busybox (its PATH only): scorecard's
// `tar xvzf`, the storage sidecar's `sh -c sleep`, operator-sdk's
// decompression `sh -c "cat | gzip -d -c >"`, OLM's `/bin/cp -Rv /bin/cpb
// /util/cpb`, and operator-sdk's registry pod `sh -c "opm ..."`.
func TestBusyboxStandInsRun(t *testing.T) {
	work := t.TempDir()
	payload := []byte("kind: ClusterServiceVersion\n")
	tgz := filepath.Join(work, "bundle.tar.gz")
	writeTarGz(t, tgz, "manifests/csv.yaml", payload)

	untar := unpackImage(t, ScorecardUntarImage)
	run(t, untar, "/bin", "tar", "xvzf", tgz, "-C", work)
	expectFile(t, filepath.Join(work, "manifests", "csv.yaml"), payload)
	run(t, untar, "/bin", "sh", "-c", "sleep 0 && tar cf - "+filepath.Join(work, "manifests")+" >/dev/null")

	ubi := unpackImage(t, DecompressionImage)
	run(t, ubi, "/bin", "sh", "-c", `f=`+tgz+`; file="${f%.*}"; cat ${f} | gzip -d -c > "${file}"`)
	if info, err := os.Stat(strings.TrimSuffix(tgz, ".gz")); err != nil || info.Size() == 0 {
		t.Errorf("gzip -d wrote nothing: %v", err)
	}

	util := unpackImage(t, OLMUtilImage)
	chain, err := linkChain(util, "/bin/cp")
	if err != nil || len(chain) != 3 {
		t.Fatalf("/bin/cp: %v, %v", chain, err)
	}
	// chain[1] is BusyboxDir/cp: busybox runs the applet its name says.
	run(t, util, BusyboxDir, strings.TrimPrefix(chain[1], BusyboxDir+"/"), "-Rv", filepath.Join(util, CpbPath), filepath.Join(work, "cpb"))
	cpb, _ := os.ReadFile(filepath.Join(util, CpbPath))
	expectFile(t, filepath.Join(work, "cpb"), cpb)

	opm := unpackImage(t, OpmImage)
	out := run(t, opm, BusyboxDir, "sh", "-c", "PATH="+filepath.Join(opm, "bin")+":$PATH; opm version")
	if !strings.Contains(out, "OpmVersion") {
		t.Errorf("opm version printed %q", out)
	}
}

// run runs the applet (or program) name of the image's dir with the
// image's dir alone on PATH, and returns its output.
func run(t *testing.T, root, dir, name string, args ...string) string {
	t.Helper()
	bin := filepath.Join(root, filepath.FromSlash(dir))
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = []string{"PATH=" + bin}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func expectFile(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s: %d bytes, %v; want %d bytes", path, len(got), err, len(want))
	}
}

func writeTarGz(t *testing.T, path, name string, data []byte) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNodeImageProgramsLink: every program in every node image is static,
// or finds its loader and every library it links inside the same image.
func TestNodeImageProgramsLink(t *testing.T) {
	seen := map[string]bool{}
	for ref, img := range builtNodeImages(t) {
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		if seen[d.String()] {
			continue
		}
		seen[d.String()] = true
		root := unpackImage(t, ref)
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || !isELF(p) {
				return err
			}
			rel := "/" + filepath.ToSlash(strings.TrimPrefix(p, root+string(filepath.Separator)))
			needed, interp, err := elfDeps(p)
			if err != nil {
				return err
			}
			if interp == "" && len(needed) > 0 && !strings.Contains(rel, ".so") {
				t.Errorf("%s: %s links %v without an interpreter", ref, rel, needed)
			}
			if _, err := libraryClosure(root, rel); err != nil {
				t.Errorf("%s: %v", ref, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func isELF(path string) bool {
	f, err := elf.Open(path)
	if err != nil {
		return false
	}
	_ = f.Close()
	return true
}
