//go:build linux

package chaos

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/omnirank/omnirank/storage/s3gw"
)

// binaries are the programs the cluster runs, built once per test binary.
type binaries struct {
	omnirank, natsServer string
}

var (
	buildOnce sync.Once
	built     binaries
	buildErr  error
	binDir    string // removed by TestMain
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildBinaries builds omnirank (unless $OMNIRANK_BIN names one) and
// nats-server without the race detector, so that nine processes fit on
// a small machine.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "omnirank-chaos-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		root, err := moduleRoot()
		if err != nil {
			buildErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		build := func(out, pkg string) error {
			cmd := exec.CommandContext(ctx, "go", "build", "-o", out, pkg)
			cmd.Dir = root
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
			}
			return nil
		}
		built.natsServer = filepath.Join(dir, "nats-server")
		if buildErr = build(built.natsServer, "github.com/nats-io/nats-server/v2"); buildErr != nil {
			return
		}
		if built.omnirank = os.Getenv("OMNIRANK_BIN"); built.omnirank != "" {
			return
		}
		built.omnirank = filepath.Join(dir, "omnirank")
		buildErr = build(built.omnirank, "./cmd/omnirank")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// freePort asks the kernel for a free loopback port. Another process may
// take it before ours binds it; the cluster's ports are taken at once.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is one OS process of the cluster: started, SIGKILLed and started
// again with the same arguments (and so the same ports and data folder).
// Its output goes to a log file; it is ready when a line containing
// ready appears.
type proc struct {
	name, bin, ready, logPath string
	args                      []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	killing bool
	// died is set when the process exited without being killed.
	died error
}

// start runs the process and waits (at most within) until it is ready.
func (p *proc) start(within time.Duration) error {
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== start %s at %s\n", p.name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.bin, p.args...)
	// The process dies with the test, whatever ends it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	ready, exited := make(chan struct{}), make(chan struct{})
	p.mu.Lock()
	p.cmd, p.exited, p.killing = cmd, exited, false
	p.mu.Unlock()
	go func() {
		defer close(exited)
		defer logf.Close()
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		seen := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if !seen && strings.Contains(line, p.ready) {
				seen = true
				close(ready)
			}
		}
		werr := cmd.Wait()
		p.mu.Lock()
		if !p.killing {
			p.died = fmt.Errorf("%s exited by itself: %v", p.name, werr)
		}
		p.mu.Unlock()
	}()
	select {
	case <-ready:
		return nil
	case <-exited:
		return fmt.Errorf("%s exited before it was ready:\n%s", p.name, p.tail(30))
	case <-time.After(within):
		p.kill()
		return fmt.Errorf("%s not ready after %s:\n%s", p.name, within, p.tail(30))
	}
}

// kill sends SIGKILL and waits until the process is gone.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.killing = true
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// err is why the process died by itself, or nil.
func (p *proc) err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.died
}

// tail is the last n lines of the process's log.
func (p *proc) tail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	return string(bytes.Join(lines[max(0, len(lines)-n):], []byte("\n")))
}

// cluster is the running system: NATS nodes, the storage process and the
// role processes, by name.
type cluster struct {
	t       *testing.T
	dir     string
	bins    binaries
	nats    []*proc
	natsURL string
	s3Addr  string
	procs   map[string]*proc
	order   []string
	// grpc is the gRPC address of each process that serves the API.
	grpc map[string]string
	js   jetstream.JetStream
}

// Names of the role processes.
const (
	pStorage = "storage"
	pIngest  = "ingest"
	pText    = "extract-text"
	pImage   = "extract-image"
	pAudio   = "extract-audio"
	pFusion  = "fusion"
	pRanker1 = "ranker-1"
	pRanker2 = "ranker-2"
	pAPI     = "api"
)

var rankers = []string{pRanker1, pRanker2}

var extractors = []string{pText, pImage, pAudio}

// startCluster starts three NATS nodes, the storage process and the role
// processes; everything is killed at the end of the test.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, dir: workDir(t), bins: buildBinaries(t), procs: map[string]*proc{}, grpc: map[string]string{}}
	t.Cleanup(c.stop)
	c.startNATS()

	// The storage process serves the bucket; its credentials are written
	// into its data folder first, so the other processes can be given them.
	s3Dir := filepath.Join(c.dir, pStorage)
	access, secret, err := s3gw.LoadOrCreateCredentials(s3Dir)
	if err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(c.dir, "s3-secret")
	if err := os.WriteFile(secretFile, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	c.s3Addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	c.add(pStorage, "storage", "--s3-listen", c.s3Addr)
	if err := c.procs[pStorage].start(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	s3 := []string{"--s3-endpoint", c.s3Addr, "--s3-access-key", access, "--s3-secret-key-file", secretFile}
	c.add(pIngest, "ingest", s3...)
	c.add(pText, "extract:text", s3...)
	c.add(pImage, "extract:image", s3...)
	c.add(pAudio, "extract:audio", s3...)
	c.add(pFusion, "fusion", s3...)
	for _, name := range append([]string{pAPI}, rankers...) {
		role := "api"
		if name != pAPI {
			role = "ranker"
		}
		c.grpc[name] = fmt.Sprintf("127.0.0.1:%d", freePort(t))
		// Snapshots every few seconds: a restarted ranker loads one and
		// replays only what came after it.
		c.add(name, role, append([]string{"--grpc-addr", c.grpc[name], "--snapshot-every", "5s"}, s3...)...)
	}
	var g errgroup.Group
	for _, name := range c.order[1:] {
		g.Go(func() error { return c.procs[name].start(2 * time.Minute) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// workDir holds the processes' data and logs: a test temp folder, or one
// kept after the test when OMNIRANK_CHAOS_KEEP is set (to read the logs).
func workDir(t *testing.T) string {
	if os.Getenv("OMNIRANK_CHAOS_KEEP") == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp("", "omnirank-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("processes' data and logs kept in %s", dir)
	return dir
}

// add declares a role process (not started).
func (c *cluster) add(name, roles string, extra ...string) {
	data := filepath.Join(c.dir, name)
	args := []string{"serve", "--roles", roles, "--data-dir", data, "--nats-url", c.natsURL, "--nats-replicas", "3",
		"--http-addr=", "--grpc-addr", "127.0.0.1:0", "--device", "cpu", "--wordnet=", "--speech=false", "--log-level", "info",
		"--ack-wait", "10s", "--fusion-wait", "1s"}
	c.procs[name] = &proc{name: name, bin: c.bins.omnirank, args: append(args, extra...),
		ready: `msg="omnirank serving"`, logPath: filepath.Join(c.dir, name+".log")}
	c.order = append(c.order, name)
}

// startNATS starts a three-node JetStream cluster on loopback and waits
// until JetStream answers (a meta leader is elected).
func (c *cluster) startNATS() {
	t := c.t
	const nodes = 3
	clientPorts, routePorts := make([]int, nodes), make([]int, nodes)
	for i := range nodes {
		clientPorts[i], routePorts[i] = freePort(t), freePort(t)
	}
	var urls []string
	for i := range nodes {
		var routes []string
		for j := range nodes {
			if j != i {
				routes = append(routes, fmt.Sprintf("%q", fmt.Sprintf("nats-route://127.0.0.1:%d", routePorts[j])))
			}
		}
		store := filepath.Join(c.dir, fmt.Sprintf("nats-%d", i+1))
		conf := fmt.Sprintf(`server_name: "n%d"
listen: "127.0.0.1:%d"
max_payload: 8MB
jetstream { store_dir: %q }
cluster {
  name: "omnirank-chaos"
  listen: "127.0.0.1:%d"
  routes: [%s]
}
`, i+1, clientPorts[i], store, routePorts[i], strings.Join(routes, ", "))
		confPath := filepath.Join(c.dir, fmt.Sprintf("nats-%d.conf", i+1))
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("nats-%d", i+1)
		c.nats = append(c.nats, &proc{name: name, bin: c.bins.natsServer, args: []string{"-c", confPath},
			ready: "Server is ready", logPath: filepath.Join(c.dir, name+".log")})
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", clientPorts[i]))
	}
	c.natsURL = strings.Join(urls, ",")
	var g errgroup.Group
	for _, n := range c.nats {
		g.Go(func() error { return n.start(time.Minute) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(c.natsURL, nats.Name("chaos-test"), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.js.AccountInfo(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("JetStream cluster not ready after a minute: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// proc returns the process called name (a role process or a NATS node).
func (c *cluster) proc(name string) *proc {
	if p := c.procs[name]; p != nil {
		return p
	}
	for _, n := range c.nats {
		if n.name == name {
			return n
		}
	}
	c.t.Fatalf("no process %s", name)
	return nil
}

// deaths lists the processes that exited without being killed.
func (c *cluster) deaths() []string {
	var out []string
	for _, p := range append(append([]*proc{}, c.nats...), c.all()...) {
		if err := p.err(); err != nil {
			out = append(out, fmt.Sprintf("%v; log tail:\n%s", err, p.tail(20)))
		}
	}
	return out
}

func (c *cluster) all() []*proc {
	var out []*proc
	for _, name := range c.order {
		out = append(out, c.procs[name])
	}
	return out
}

// stop kills every process: role processes first, NATS last.
func (c *cluster) stop() {
	for _, p := range c.all() {
		p.kill()
	}
	for _, n := range c.nats {
		n.kill()
	}
	if c.t.Failed() {
		c.t.Logf("process logs are in %s (removed after the test; rerun with -v to see tails)", c.dir)
		for _, p := range append(append([]*proc{}, c.nats...), c.all()...) {
			c.t.Logf("--- %s (last lines)\n%s", p.name, p.tail(15))
		}
	}
}
