package envtest_test

// The tests in this file check extraArgs against the real memcached:
// Debian's package, unpacked (never installed) into bin/debs by
// hack/debs.sh, which `make test` runs first. Two checks guard extraArgs:
// the CRD's rule, 0.3.1's unchanged (OLM v1 refuses an upgrade that changes
// a CEL rule, docs/crd-upgrade-safety.md), refuses the flags the operator
// manages when named directly; the operator's allow-list
// (controller.ExtraArgAllowed) leaves any other option out of memcached's
// command line and names it in the Degraded condition. The tests prove that
// what passes both leaves what the operator manages as the operator set it
// and memcached serving in the foreground, that the command line the
// operator builds from what the API server accepts but the allow-list
// refuses does too, and that what is refused would indeed have changed it.

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cachev1 "github.com/example-inc/memcached-operator/operator/api/v1"
	"github.com/example-inc/memcached-operator/operator/internal/controller"
)

// memcachedBinEnv names a memcached to use instead of bin/debs/memcached.
const memcachedBinEnv = "MEMCACHED_BIN"

// guardedSettings are the `stats settings` that an accepted extraArgs must
// leave as the operator's command line set them: what the spec manages,
// where memcached listens, and what lets a client stop it or locks clients
// out.
var guardedSettings = []string{
	"maxbytes", "maxconns", "num_threads", "item_size_max", "verbosity",
	"tcpport", "udpport", "inter", "domain_socket",
	"shutdown_command", "auth_enabled_sasl", "auth_enabled_ascii", "ssl_enabled", "memory_file",
}

// vettedOptions are the memcached options the allow-list accepts, by short
// name, with the value this test gives those that take one.
var vettedOptions = map[string]string{
	"o": "modern", "f": "1.25", "n": "48", "R": "20", "b": "1024", "B": "auto", "D": ":",
	"M": "", "C": "", "F": "", "X": "", "W": "", "L": "",
}

// managedOptions are the short names of the flags the operator sets from the
// spec, which the CRD's rule refuses when an argument names them directly.
const managedOptions = "mctIpUlv"

// TestExtraArgsAgainstMemcached puts every option the real memcached lists
// in its help, in each form getopt reads it (alone, with its value apart or
// attached, grouped behind -M, long, long with =value, abbreviated),
// through the API server and the operator's allow-list: the API server must
// refuse exactly the forms that name a managed flag directly, the allow-list
// must accept exactly the vetted options, and each form both accept must
// leave the guarded settings as the operator set them and memcached running
// in the foreground. The forms of an option that only the API server
// accepts go, together, into one Memcached: the operator must leave each
// out and name it, and the command line it builds must be harmless too.
func TestExtraArgsAgainstMemcached(t *testing.T) {
	t.Parallel()
	bin, ns, baseline := startExtraArgsTest(t)
	for i, o := range memcachedOptions(t, bin) {
		value, vetted := vettedOptions[o.short]
		var extra, refused []string // the forms only the API server accepts
		for _, f := range optionForms(o, value, vetted) {
			t.Run(strings.Join(f.args, " "), func(t *testing.T) { checkForm(t, bin, ns, f, baseline) })
			if f.schema && !f.allowed {
				extra, refused = append(extra, f.args...), append(refused, f.args[0])
			}
		}
		if len(extra) == 0 {
			continue
		}
		t.Run("the operator leaves out "+strings.Join(refused, " "), func(t *testing.T) {
			args := checkOperatorArgs(t, ns, fmt.Sprintf("option-%d", i), extra, refused)
			checkHarmless(t, runMemcached(t, bin, args, ""), baseline)
		})
	}
}

// startExtraArgsTest finds memcached, creates a namespace for the test with
// an operator watching it, and runs memcached with the operator's arguments
// alone: the baseline each run is compared with.
func startExtraArgsTest(t *testing.T) (bin, ns string, baseline memcachedRun) {
	t.Helper()
	bin = memcachedBinary(t)
	ns = newNamespace(t)
	startOperator(t, []string{ns}, defaultOperand())
	baseline = runMemcached(t, bin, withExtraArgs(nil), "")
	if baseline.exited || baseline.settings == nil {
		t.Fatalf("memcached with the operator's arguments alone did not serve: %s", baseline.output)
	}
	return bin, ns, baseline
}

// checkForm checks one form of an option against the API server (a dry
// run) and the allow-list, and runs it through memcached when both accept
// it.
func checkForm(t *testing.T, bin, ns string, f form, baseline memcachedRun) {
	t.Helper()
	if accepted := extraArgsAccepted(t, ns, f.args); accepted != f.schema {
		t.Fatalf("the API server accepted it: %t, want %t (the CRD's rule refuses a managed flag named directly)", accepted, f.schema)
	}
	if got := !slices.ContainsFunc(f.args, func(a string) bool { return !controller.ExtraArgAllowed(a) }); got != f.allowed {
		t.Errorf("controller.ExtraArgAllowed accepts it: %t, want %t", got, f.allowed)
	}
	if f.schema && f.allowed {
		checkHarmless(t, runMemcached(t, bin, withExtraArgs(f.args), ""), baseline)
	}
}

// TestRefusedExtraArgsHarmMemcached runs refused arguments through the real
// memcached as 0.3.1's operator did (it passed on whatever its CRD
// accepted), to show what each would have done: override a setting the spec
// manages, or stop, detach or expose memcached. Those that name a managed
// flag directly the API server must refuse; the others it accepts, and the
// operator must leave them out, name them, and build a harmless command
// line instead.
func TestRefusedExtraArgsHarmMemcached(t *testing.T) {
	t.Parallel()
	bin, ns, baseline := startExtraArgsTest(t)
	socket := filepath.Join(worldWritableDir(t), "memcached.sock")
	for i, tc := range []struct {
		args []string
		// schema: the CRD's rule refuses it; else the operator's
		// allow-list does, which refuses args[0] and keeps the rest.
		schema bool
		// harm reports what the run changed, nil when nothing.
		harm func(run memcachedRun) error
	}{
		{[]string{"-Mm2"}, false, changed(baseline, "maxbytes", "2097152")},
		{[]string{"-Cm", "2"}, false, changed(baseline, "maxbytes", "2097152")},
		{[]string{"--memory-limit=2"}, true, changed(baseline, "maxbytes", "2097152")},
		{[]string{"--memory-l=2"}, true, changed(baseline, "maxbytes", "2097152")},
		{[]string{"-MCt1"}, false, changed(baseline, "num_threads", "1")},
		{[]string{"-c", "4096"}, true, changed(baseline, "maxconns", "4096")},
		{[]string{"-I2m"}, true, changed(baseline, "item_size_max", "2097152")},
		{[]string{"-Mvv"}, false, changed(baseline, "verbosity", "2")},
		{[]string{"-l", "127.0.0.2"}, true, changed(baseline, "inter", "127.0.0.1,127.0.0.2")},
		{[]string{"-A"}, false, changed(baseline, "shutdown_command", "yes")},
		{[]string{"-MA"}, false, changed(baseline, "shutdown_command", "yes")},
		{[]string{"-V"}, false, exitedAtOnce},
		{[]string{"-h"}, false, exitedAtOnce},
		{[]string{"-i"}, false, exitedAtOnce},
		// The test adds -A, so that it can stop the detached memcached.
		{[]string{"-Md"}, false, detached},
		{[]string{"--daemon"}, false, detached},
		{[]string{"-s", socket}, false, noTCP(socket)},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			if tc.schema {
				if extraArgsAccepted(t, ns, tc.args) {
					t.Errorf("the API server accepted it")
				}
			} else {
				args := checkOperatorArgs(t, ns, fmt.Sprintf("harm-%d", i), tc.args, tc.args[:1])
				checkHarmless(t, runMemcached(t, bin, args, ""), baseline)
			}
			args, socketOf := tc.args, ""
			switch {
			case slices.Contains(args, "-Md") || slices.Contains(args, "--daemon"):
				args = append(slices.Clone(args), "-A")
			case slices.Contains(args, "-s"):
				socketOf = socket
			}
			if err := tc.harm(runMemcached(t, bin, withExtraArgs(args), socketOf)); err != nil {
				t.Errorf("no harm seen: %v", err)
			}
		})
	}
}

// ---------------------------------------------------------------------------
// What the API server says

// extraArgsAccepted tells whether the API server accepts a Memcached with
// args as its extraArgs (a dry run: nothing is stored), failing the test on
// any other error than the extraArgs rule's.
func extraArgsAccepted(t *testing.T, ns string, args []string) bool {
	t.Helper()
	list := make([]any, len(args))
	for i := range args {
		list[i] = args[i]
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": cachev1.GroupVersion.String(),
		"kind":       "Memcached",
		"metadata":   map[string]any{"namespace": ns, "name": "args"},
		"spec":       map[string]any{"size": int64(1), "extraArgs": list},
	}}
	err := k8sClient.Create(t.Context(), u, client.DryRunAll)
	if err == nil {
		return true
	}
	checkRefusal(t, err, "spec.extraArgs", managedFlagMessage)
	return false
}

// checkOperatorArgs creates the Memcached name with extra as its extraArgs,
// which the API server must accept, and waits until the operator's
// Deployment runs memcached with the operator's own arguments followed by
// extra without the arguments in refused (their values apart stay, as
// arguments memcached ignores), and the Memcached is Degraded with reason
// InvalidExtraArgs naming each refused argument with its index and no
// other, or not Degraded when refused is empty. It returns the Deployment's
// memcached arguments.
func checkOperatorArgs(t *testing.T, ns, name string, extra, refused []string) []string {
	t.Helper()
	if err := createMemcachedSpec(t, ns, name, map[string]any{"size": int64(1), "extraArgs": slices.Clone(extra)}); err != nil {
		t.Fatalf("the API server refused extraArgs %q: %v", extra, err)
	}
	key := types.NamespacedName{Namespace: ns, Name: name}
	want := withExtraArgs(nil)
	var named, kept []string
	for i, a := range extra {
		if slices.Contains(refused, a) {
			named = append(named, fmt.Sprintf("spec.extraArgs[%d] %q", i, a))
		} else {
			want = append(want, a)
			kept = append(kept, fmt.Sprintf("spec.extraArgs[%d] ", i))
		}
	}
	d := waitForDeployment(t, key, "memcached's arguments without "+strings.Join(refused, " "), func(d *appsv1.Deployment) error {
		cs := d.Spec.Template.Spec.Containers
		if len(cs) == 0 {
			return fmt.Errorf("no container")
		}
		if !slices.Equal(cs[0].Args, want) {
			return fmt.Errorf("memcached's arguments are %q, want %q", cs[0].Args, want)
		}
		return nil
	})
	waitForMemcached(t, key, "Degraded naming each argument left out", func(m *cachev1.Memcached) error {
		if len(named) == 0 {
			return checkConditions(m, wantCondition{cachev1.ConditionDegraded, metav1.ConditionFalse, cachev1.ReasonAsExpected})
		}
		if err := checkConditions(m, wantCondition{cachev1.ConditionDegraded, metav1.ConditionTrue, cachev1.ReasonInvalidExtraArgs}); err != nil {
			return err
		}
		message := findCondition(m, cachev1.ConditionDegraded).Message
		for _, n := range named {
			if !strings.Contains(message, n) {
				return fmt.Errorf("the Degraded message %q does not name %s", message, n)
			}
		}
		for _, k := range kept {
			if strings.Contains(message, k) {
				return fmt.Errorf("the Degraded message %q names %s, which is kept", message, k)
			}
		}
		return nil
	})
	return memcachedContainer(t, d).Args
}

// ---------------------------------------------------------------------------
// The options memcached has

// memcachedOption is one option of memcached's help: its short name and its
// long one, empty when it has none.
type memcachedOption struct{ short, long string }

// helpOption matches an option line of `memcached -h`: "-p, --port=<num>",
// "-W  --disable-watch", "-D <char>".
var helpOption = regexp.MustCompile(`^-([A-Za-z])(?:,?\s+--([a-z_-]+))?`)

// memcachedOptions are the options the binary lists in its help, each once.
func memcachedOptions(t *testing.T, bin string) []memcachedOption {
	t.Helper()
	out, err := exec.Command(bin, "-h").Output()
	if err != nil {
		t.Fatalf("%s -h: %v", bin, err)
	}
	var options []memcachedOption
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		m := helpOption.FindStringSubmatch(line)
		if m == nil || seen[m[1]] {
			continue
		}
		seen[m[1]] = true
		options = append(options, memcachedOption{short: m[1], long: m[2]})
	}
	// The help's layout is the test's input: make sure it was understood.
	for _, want := range []string{"m", "o", "d", "M", "D"} {
		if !seen[want] {
			t.Fatalf("-%s not found among the %d options of %s -h:\n%s", want, len(options), bin, out)
		}
	}
	return options
}

// form is one way of passing an option: whether the CRD's rule accepts it
// (schema), and whether the operator's allow-list does (allowed).
type form struct {
	args    []string
	schema  bool
	allowed bool
}

// optionForms are the ways getopt reads o: alone (with its value apart),
// with its value attached, grouped behind -M, long, long with =value, and
// long abbreviated. The allow-list accepts a vetted option in every form but
// the abbreviated one, and any other in no form. The CRD's rule, 0.3.1's,
// refuses a managed option in every form that names it directly (all but
// the grouped one) and accepts every other form.
func optionForms(o memcachedOption, value string, vetted bool) []form {
	managed := strings.Contains(managedOptions, o.short)
	v := value
	if !vetted {
		v = "1" // a value for the forms that take one
	}
	short := "-" + o.short
	var forms []form
	add := func(allowed, grouped bool, args ...string) {
		forms = append(forms, form{args: args, schema: grouped || !managed, allowed: allowed})
	}
	if vetted && value == "" {
		add(true, false, short)
		add(true, true, "-M"+o.short)
	} else {
		add(vetted, false, short, v)
		add(vetted, false, short+v)
		add(vetted, true, "-M"+o.short+v)
	}
	if !vetted {
		add(false, false, short)
	}
	if o.long == "" {
		return forms
	}
	long := "--" + o.long
	if vetted && value == "" {
		add(true, false, long)
	} else {
		add(vetted, false, long, v)
		add(vetted, false, long+"="+v)
	}
	if len(o.long) > 3 {
		add(false, false, long[:len(long)-1]+"="+v)
	}
	return forms
}

// ---------------------------------------------------------------------------
// Running memcached

// memcachedBinary is the memcached to run: $MEMCACHED_BIN, or the one
// hack/debs.sh unpacked into bin/debs.
func memcachedBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv(memcachedBinEnv)
	if bin == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(root, "bin", "debs", "memcached")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("memcached not found (%v): run `make debs` (make test does), or set %s", err, memcachedBinEnv)
	}
	return bin
}

// memcachedRun is what one run of memcached showed.
type memcachedRun struct {
	// port is the TCP port it was told to listen on.
	port int
	// pid is the process the test started.
	pid int
	// exited: the process ended before it served; err is how.
	exited bool
	err    error
	// settings are its `stats settings`, nil when it exited first.
	settings map[string]string
	output   string
}

// runMemcached runs memcached with args, a command line as the operator
// builds it, except that it listens on 127.0.0.1 and a free port, and
// returns what it showed: its settings once it serves (on socket when set,
// else over TCP), or that it exited first. As root it runs as nobody:
// memcached refuses to run as root, and the pod never does.
func runMemcached(t *testing.T, bin string, args []string, socket string) memcachedRun {
	t.Helper()
	run := memcachedRun{port: freePort(t)}
	cmd := exec.Command(bin, listenLocally(t, args, run.port)...)
	var output syncBuffer
	cmd.Stdout, cmd.Stderr = &output, &output
	// A detached memcached may keep the output open a moment longer.
	cmd.WaitDelay = time.Second
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	run.pid = cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		if !run.exited {
			_ = cmd.Process.Kill()
			<-done
		}
	}()

	network, addr := "tcp", tcpAddr(run.port)
	if socket != "" {
		network, addr = "unix", socket
	}
	eventually(t, "memcached to serve or exit", func() error {
		select {
		case run.err = <-done:
			run.exited = true
			return nil
		default:
		}
		var err error
		run.settings, err = statsSettings(network, addr)
		return err
	})
	run.output = output.String()
	return run
}

func tcpAddr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// withExtraArgs is the command line the operator builds for a Memcached
// without extraArgs, followed by extra as it is: what 0.3.1's operator ran
// for extra, and what this one runs when the allow-list accepts all of it.
func withExtraArgs(extra []string) []string {
	m := &cachev1.Memcached{Spec: cachev1.MemcachedSpec{Size: 1}}
	d := controller.DesiredDeployment(m, controller.OperandOptions{})
	return append(slices.Clone(d.Spec.Template.Spec.Containers[0].Args), extra...)
}

// listenLocally is args listening on 127.0.0.1:port instead of the pod's
// port on every interface.
func listenLocally(t *testing.T, args []string, port int) []string {
	t.Helper()
	i := slices.Index(args, "-p")
	if i < 0 || i+1 >= len(args) {
		t.Fatalf("no -p <port> in memcached's arguments %q", args)
	}
	args = slices.Clone(args)
	args[i+1] = strconv.Itoa(port)
	return slices.Insert(args, i+2, "-l", "127.0.0.1")
}

// statsSettings asks the memcached at addr for `stats settings`.
func statsSettings(network, addr string) (map[string]string, error) {
	return stats(network, addr, "stats settings")
}

// stats sends command (`stats`, `stats settings`) to the memcached at addr
// and returns the STAT lines of its answer.
func stats(network, addr, command string) (map[string]string, error) {
	conn, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte(command + "\r\n")); err != nil {
		return nil, err
	}
	settings := map[string]string{}
	scanner := bufio.NewScanner(conn)
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		if line == "END" {
			return settings, nil
		}
		if f := strings.SplitN(line, " ", 3); len(f) == 3 && f[0] == "STAT" {
			settings[f[1]] = f[2]
		}
	}
	return nil, fmt.Errorf("no END in the answer of %s: %v", addr, scanner.Err())
}

// shutdown asks the memcached at addr to stop (it must run with -A).
func shutdown(network, addr string) {
	if conn, err := net.DialTimeout(network, addr, time.Second); err == nil {
		_, _ = conn.Write([]byte("shutdown\r\n"))
		_ = conn.Close()
	}
}

// checkHarmless fails the test unless run served in the foreground with the
// guarded settings of baseline.
func checkHarmless(t *testing.T, run, baseline memcachedRun) {
	t.Helper()
	if run.exited {
		t.Fatalf("memcached exited (%v), or detached: %s", run.err, run.output)
	}
	for _, k := range guardedSettings {
		want := baseline.settings[k]
		if k == "tcpport" {
			want = strconv.Itoa(run.port) // each run has a port of its own
		}
		if run.settings[k] != want {
			t.Errorf("setting %s is %q, the operator's command line sets %q", k, run.settings[k], want)
		}
	}
}

// changed is the harm of a run whose setting key is want instead of the
// baseline's.
func changed(baseline memcachedRun, key, want string) func(memcachedRun) error {
	return func(run memcachedRun) error {
		if run.exited || run.settings[key] != want || baseline.settings[key] == want {
			return fmt.Errorf("%s is %q (baseline %q), want %q; exited %t: %s",
				key, run.settings[key], baseline.settings[key], want, run.exited, run.output)
		}
		return nil
	}
}

// exitedAtOnce is the harm of a run that ended before it served: the
// container's process would exit.
func exitedAtOnce(run memcachedRun) error {
	if !run.exited || run.settings != nil {
		return fmt.Errorf("exited %t, served %t: %s", run.exited, run.settings != nil, run.output)
	}
	return nil
}

// detached is the harm of a run whose process exited at once, with status
// 0, while a memcached it detached serves: the container's process would
// exit. The detached one runs with -A, and is shut down here.
//
// The started process may still be exiting when its detached child already
// serves, so the child is told apart by its pid, not by the parent's exit.
func detached(run memcachedRun) error {
	if run.err != nil {
		return fmt.Errorf("exited %t (%v): %s", run.exited, run.err, run.output)
	}
	deadline := time.Now().Add(waitTimeout)
	for {
		settings, err := statsSettings("tcp", tcpAddr(run.port))
		if err == nil && settings["shutdown_command"] == "yes" {
			st, statsErr := stats("tcp", tcpAddr(run.port), "stats")
			shutdown("tcp", tcpAddr(run.port))
			if statsErr != nil {
				return fmt.Errorf("reading the serving memcached's pid: %w", statsErr)
			}
			if st["pid"] == strconv.Itoa(run.pid) {
				return fmt.Errorf("memcached serves in the foreground (pid %d): %s", run.pid, run.output)
			}
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no detached memcached serves on port %d (%v): %s", run.port, err, run.output)
		}
		time.Sleep(pollInterval)
	}
}

// noTCP is the harm of a run that serves on the unix socket instead of TCP:
// the Service, the probes and the exporter reach nothing.
func noTCP(socket string) func(memcachedRun) error {
	return func(run memcachedRun) error {
		if run.exited || run.settings["domain_socket"] != socket {
			return fmt.Errorf("exited %t, domain_socket %q: %s", run.exited, run.settings["domain_socket"], run.output)
		}
		if _, err := statsSettings("tcp", tcpAddr(run.port)); err == nil {
			return fmt.Errorf("it serves on TCP port %d too", run.port)
		}
		return nil
	}
}

// ---------------------------------------------------------------------------
// Helpers

// freePort is a TCP port on 127.0.0.1 that nothing listened on a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// worldWritableDir is a temporary directory memcached can write in when it
// runs as nobody.
func worldWritableDir(t *testing.T) string {
	t.Helper()
	// Not under t.TempDir(), whose parent only its owner may enter.
	dir, err := os.MkdirTemp("", "memcached-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}

// syncBuffer is a bytes.Buffer that memcached's stdout and stderr may write
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
